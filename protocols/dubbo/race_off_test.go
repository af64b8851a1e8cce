//go:build !race

package dubbo_test

// raceDetector reports whether the tests run with -race.
const raceDetector = false
