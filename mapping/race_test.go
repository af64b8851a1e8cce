//go:build race

package mapping

// raceEnabled: the race detector drops sync.Pool items at random (regexp
// keeps its matchers in one), so allocation counts are not checked.
const raceEnabled = true
