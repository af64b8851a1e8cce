package idl

import (
	"fmt"
	"strings"
)

// Pos is a position in a source file. Line and Col count from 1; Col
// counts bytes.
type Pos struct {
	File string
	Line int
	Col  int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Error is a syntax or semantic error at a position. Error() reads
// "file:line:col: message".
type Error struct {
	Pos Pos
	Msg string
}

func (e *Error) Error() string { return e.Pos.String() + ": " + e.Msg }

func errorf(p Pos, format string, args ...any) *Error {
	return &Error{Pos: p, Msg: fmt.Sprintf(format, args...)}
}

type tokKind int

const (
	tEOF tokKind = iota
	tIdent
	tInt
	tFloat
	tString
	tPunct   // one of { } ( ) < > [ ] ; , = : -
	tInclude // #include
)

type token struct {
	kind tokKind
	text string // identifier, punctuation, number text, or the unquoted string
	pos  Pos
}

func (t token) describe() string {
	switch t.kind {
	case tEOF:
		return "end of file"
	case tString:
		return fmt.Sprintf("string %q", t.text)
	case tInclude:
		return "#include"
	}
	return fmt.Sprintf("%q", t.text)
}

type lexer struct {
	file string
	src  []byte
	off  int
	line int
	col  int
}

func (l *lexer) pos() Pos { return Pos{File: l.file, Line: l.line, Col: l.col} }

func (l *lexer) advance(n int) {
	for i := 0; i < n && l.off < len(l.src); i++ {
		if l.src[l.off] == '\n' {
			l.line++
			l.col = 1
		} else {
			l.col++
		}
		l.off++
	}
}

// skipSpace skips white space and comments.
func (l *lexer) skipSpace() *Error {
	for l.off < len(l.src) {
		c := l.src[l.off]
		switch {
		case c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\f' || c == '\v':
			l.advance(1)
		case c == '/' && l.off+1 < len(l.src) && l.src[l.off+1] == '/':
			for l.off < len(l.src) && l.src[l.off] != '\n' {
				l.advance(1)
			}
		case c == '/' && l.off+1 < len(l.src) && l.src[l.off+1] == '*':
			start := l.pos()
			l.advance(2)
			for {
				if l.off >= len(l.src) {
					return errorf(start, "unterminated block comment")
				}
				if l.src[l.off] == '*' && l.off+1 < len(l.src) && l.src[l.off+1] == '/' {
					l.advance(2)
					break
				}
				l.advance(1)
			}
		default:
			return nil
		}
	}
	return nil
}

func isLetter(c byte) bool { return c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') }
func isDigit(c byte) bool  { return c >= '0' && c <= '9' }

func (l *lexer) next() (token, *Error) {
	if err := l.skipSpace(); err != nil {
		return token{}, err
	}
	p := l.pos()
	if l.off >= len(l.src) {
		return token{kind: tEOF, pos: p}, nil
	}
	c := l.src[l.off]
	switch {
	case isLetter(c):
		start := l.off
		for l.off < len(l.src) && (isLetter(l.src[l.off]) || isDigit(l.src[l.off])) {
			l.advance(1)
		}
		return token{kind: tIdent, text: string(l.src[start:l.off]), pos: p}, nil
	case isDigit(c) || (c == '.' && l.off+1 < len(l.src) && isDigit(l.src[l.off+1])):
		return l.number(p)
	case c == '"':
		return l.str(p)
	case c == '#':
		start := l.off
		l.advance(1)
		for l.off < len(l.src) && isLetter(l.src[l.off]) {
			l.advance(1)
		}
		if w := string(l.src[start:l.off]); w != "#include" {
			return token{}, errorf(p, "unknown directive %q", w)
		}
		return token{kind: tInclude, text: "#include", pos: p}, nil
	case strings.IndexByte("{}()<>[];,=:-+", c) >= 0:
		l.advance(1)
		return token{kind: tPunct, text: string(c), pos: p}, nil
	}
	return token{}, errorf(p, "unexpected character %q", rune(c))
}

func (l *lexer) number(p Pos) (token, *Error) {
	start := l.off
	kind := tInt
	if l.src[l.off] == '0' && l.off+1 < len(l.src) && (l.src[l.off+1] == 'x' || l.src[l.off+1] == 'X') {
		l.advance(2)
		n := 0
		for l.off < len(l.src) && strings.IndexByte("0123456789abcdefABCDEF", l.src[l.off]) >= 0 {
			l.advance(1)
			n++
		}
		if n == 0 {
			return token{}, errorf(p, "malformed hexadecimal number")
		}
	} else {
		for l.off < len(l.src) && isDigit(l.src[l.off]) {
			l.advance(1)
		}
		if l.off < len(l.src) && l.src[l.off] == '.' {
			kind = tFloat
			l.advance(1)
			for l.off < len(l.src) && isDigit(l.src[l.off]) {
				l.advance(1)
			}
		}
		if l.off < len(l.src) && (l.src[l.off] == 'e' || l.src[l.off] == 'E') {
			kind = tFloat
			l.advance(1)
			if l.off < len(l.src) && (l.src[l.off] == '+' || l.src[l.off] == '-') {
				l.advance(1)
			}
			n := 0
			for l.off < len(l.src) && isDigit(l.src[l.off]) {
				l.advance(1)
				n++
			}
			if n == 0 {
				return token{}, errorf(p, "malformed exponent")
			}
		}
	}
	// Suffixes like 1.5f are accepted and dropped.
	if l.off < len(l.src) && (l.src[l.off] == 'f' || l.src[l.off] == 'F') && kind == tFloat {
		l.advance(1)
		return token{kind: kind, text: string(l.src[start : l.off-1]), pos: p}, nil
	}
	if l.off < len(l.src) && (isLetter(l.src[l.off]) || isDigit(l.src[l.off])) {
		return token{}, errorf(l.pos(), "unexpected character %q after number", rune(l.src[l.off]))
	}
	return token{kind: kind, text: string(l.src[start:l.off]), pos: p}, nil
}

func (l *lexer) str(p Pos) (token, *Error) {
	l.advance(1)
	var b strings.Builder
	for {
		if l.off >= len(l.src) || l.src[l.off] == '\n' {
			return token{}, errorf(p, "unterminated string")
		}
		c := l.src[l.off]
		if c == '"' {
			l.advance(1)
			return token{kind: tString, text: b.String(), pos: p}, nil
		}
		if c == '\\' {
			if l.off+1 >= len(l.src) {
				return token{}, errorf(p, "unterminated string")
			}
			e := l.src[l.off+1]
			switch e {
			case 'n':
				b.WriteByte('\n')
			case 't':
				b.WriteByte('\t')
			case 'r':
				b.WriteByte('\r')
			case '0':
				b.WriteByte(0)
			case '\\', '"', '\'':
				b.WriteByte(e)
			default:
				return token{}, errorf(l.pos(), "unknown escape \\%c in string", rune(e))
			}
			l.advance(2)
			continue
		}
		b.WriteByte(c)
		l.advance(1)
	}
}
