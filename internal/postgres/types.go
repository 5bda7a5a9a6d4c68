package postgres

import (
	"fmt"
	"regexp"
	"strings"
)

var (
	typeSyntax   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_$]*(\.[A-Za-z_][A-Za-z0-9_$]*)?( [A-Za-z_][A-Za-z0-9_]*)*(\(\s*\d+\s*(,\s*-?\d+\s*)?\))?( [A-Za-z_][A-Za-z0-9_]*)*(\[\d*\])*$`)
	typmodRE     = regexp.MustCompile(`\(\s*(\d+)\s*(?:,\s*(-?\d+)\s*)?\)`)
	spacesRE     = regexp.MustCompile(`\s+`)
	typeSynonyms = map[string]string{
		"int": "integer", "int4": "integer", "integer": "integer",
		"int2": "smallint", "smallint": "smallint",
		"int8": "bigint", "bigint": "bigint",
		"serial": "serial", "serial4": "serial",
		"bigserial": "bigserial", "serial8": "bigserial",
		"smallserial": "smallserial", "serial2": "smallserial",
		"float8": "double precision", "double precision": "double precision", "float": "double precision",
		"float4": "real", "real": "real",
		"bool": "boolean", "boolean": "boolean",
		"varchar": "character varying", "character varying": "character varying",
		"char": "character", "character": "character", "bpchar": "character",
		"decimal": "numeric", "numeric": "numeric",
		"timestamptz": "timestamp with time zone", "timestamp with time zone": "timestamp with time zone",
		"timestamp": "timestamp without time zone", "timestamp without time zone": "timestamp without time zone",
		"timetz": "time with time zone", "time with time zone": "time with time zone",
		"time": "time without time zone", "time without time zone": "time without time zone",
		"varbit": "bit varying", "bit varying": "bit varying",
	}
)

// CheckType says why s cannot be a column type, or returns nil. Types are written as SQL
// (they cannot be quoted as identifiers), so only the shapes PostgreSQL's type names take
// are accepted: words, an optional schema, an optional (n) or (p,s) modifier, array brackets.
func CheckType(s string) error {
	t := strings.TrimSpace(spacesRE.ReplaceAllString(s, " "))
	if t == "" {
		return fmt.Errorf("must not be empty")
	}
	bad := fmt.Errorf("is not a PostgreSQL type name (such as text, integer, varchar(20), numeric(10,2), timestamptz or text[])")
	if !typeSyntax.MatchString(t) {
		return bad
	}
	// Only the words of PostgreSQL's multi-word type names may follow the first word.
	words := strings.Fields(typmodRE.ReplaceAllString(strings.Split(t, "[")[0], " "))
	for _, w := range words[1:] {
		switch strings.ToLower(w) {
		case "varying", "precision", "with", "without", "time", "zone", "array":
		default:
			return bad
		}
	}
	return nil
}

// CanonicalType renders a type name in one spelling per meaning, so that int4, integer and
// int compare equal, as do varchar(20) and character varying(20), or _int4 and integer[].
// It is for comparison only.
func CanonicalType(s string) string {
	t := strings.ToLower(strings.TrimSpace(spacesRE.ReplaceAllString(s, " ")))
	dims := 0
	for strings.HasSuffix(t, "]") {
		i := strings.LastIndex(t, "[")
		if i < 0 {
			break
		}
		t = strings.TrimSpace(t[:i])
		dims++
	}
	if strings.HasPrefix(t, "_") {
		t = t[1:]
		dims++
	}
	if strings.HasSuffix(t, " array") {
		t = strings.TrimSuffix(t, " array")
		dims++
	}
	mod := ""
	if m := typmodRE.FindStringSubmatch(t); m != nil {
		mod = "(" + m[1]
		if m[2] != "" {
			mod += "," + m[2]
		}
		mod += ")"
		t = strings.TrimSpace(spacesRE.ReplaceAllString(typmodRE.ReplaceAllString(t, " "), " "))
	}
	t = strings.TrimPrefix(t, "pg_catalog.")
	if syn, ok := typeSynonyms[t]; ok {
		t = syn
	}
	switch {
	case t == "double precision" && mod != "":
		// float(p): 1..24 is real, 25..53 double precision.
		var p int
		_, _ = fmt.Sscanf(mod, "(%d)", &p) // typmodRE matched digits; of "(p,s)" p is read all the same
		if p <= 24 {
			t = "real"
		}
		mod = ""
	case t == "character" && mod == "":
		mod = "(1)" // char means char(1)
	case t == "numeric" && mod != "" && !strings.Contains(mod, ","):
		mod = strings.TrimSuffix(mod, ")") + ",0)"
	}
	return t + mod + strings.Repeat("[]", dims)
}

// sameType reports whether two type names mean the same type.
func sameType(a, b string) bool { return CanonicalType(a) == CanonicalType(b) }

// serialBase maps a serial pseudo-type to the integer type it creates.
var serialBase = map[string]string{"serial": "integer", "bigserial": "bigint", "smallserial": "smallint"}

// CheckExpression says why s cannot be used as a default or partition key expression, or
// returns nil. Expressions are SQL by nature; this makes sure one stays one balanced
// expression: no statement separator or comment outside quotes, parentheses balanced. It
// is rendered in parentheses, so it cannot end the clause around it.
//
// The check must find string and identifier boundaries exactly where PostgreSQL's lexer
// does. It refuses what would make the two disagree rather than re-implementing every
// rule: a backslash anywhere (escape strings E'...' end at a quote that a backslash does
// not escape, and standard_conforming_strings decides whether '...' does too) and '$'
// anywhere outside quotes (dollar quotes, whose tags may start with any letter, including
// non-ASCII ones, and parameters). Without them, '...', E'...', U&'...', B'...', X'...'
// and "..." all end at the first quote that is not doubled, which is what this scans for.
func CheckExpression(s string) error {
	if strings.TrimSpace(s) == "" {
		return fmt.Errorf("must not be empty")
	}
	if strings.ContainsRune(s, 0) {
		return fmt.Errorf("contains a NUL character")
	}
	if strings.ContainsRune(s, '\\') {
		return fmt.Errorf("contains a backslash, which is not supported here (escape strings such as E'\\n' are refused); write the character with chr(), such as chr(10) for a newline or chr(92) for a backslash")
	}
	depth := 0
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '\'', '"':
			j := i + 1
			for ; j < len(s); j++ {
				if s[j] == c {
					if j+1 < len(s) && s[j+1] == c {
						j++
						continue
					}
					break
				}
			}
			if j >= len(s) {
				return fmt.Errorf("has an unterminated %c quote", c)
			}
			i = j
		case '(':
			depth++
		case ')':
			depth--
			if depth < 0 {
				return fmt.Errorf("has a ')' without a matching '('")
			}
		case ';':
			return fmt.Errorf("contains ';': it must be a single expression, not statements")
		case '$':
			return fmt.Errorf("contains '$' outside a quoted string (dollar quoting and parameters are not supported here); use a quoted string")
		case '-':
			if i+1 < len(s) && s[i+1] == '-' {
				return fmt.Errorf("contains a -- comment")
			}
		case '/', '*':
			if i+1 < len(s) && (c == '/' && s[i+1] == '*' || c == '*' && s[i+1] == '/') {
				return fmt.Errorf("contains a /* comment */")
			}
		}
	}
	if depth != 0 {
		return fmt.Errorf("has unbalanced parentheses")
	}
	return nil
}

func isIdentChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
}

var castSuffix = regexp.MustCompile(`::("?[A-Za-z_][A-Za-z0-9_ ."]*"?)(\(\d+(,\d+)?\))?(\[\])*$`)

// sameExpression reports whether two default expressions are the same once PostgreSQL's
// way of printing them is undone: white space, outer parentheses and trailing casts
// ('europe'::text is 'europe'; 0 is 0).
func sameExpression(a, b string) bool { return normalizeExpression(a) == normalizeExpression(b) }

func normalizeExpression(s string) string {
	s = strings.TrimSpace(s)
	for {
		prev := s
		s = strings.TrimSpace(castSuffix.ReplaceAllString(s, ""))
		if strings.HasPrefix(s, "(") && strings.HasSuffix(s, ")") && CheckExpression(s[1:len(s)-1]) == nil {
			s = strings.TrimSpace(s[1 : len(s)-1])
		}
		if s == prev {
			break
		}
	}
	// Outside quotes, case and spacing do not matter.
	var b strings.Builder
	inQuote := byte(0)
	space := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote != 0:
			b.WriteByte(c)
			if c == inQuote {
				inQuote = 0
			}
		case c == '\'' || c == '"':
			inQuote = c
			b.WriteByte(c)
		case c == ' ' || c == '\t' || c == '\n':
			space = true
			continue
		default:
			if space && b.Len() > 0 && isIdentChar(c) && isIdentChar(b.String()[b.Len()-1]) {
				b.WriteByte(' ')
			}
			b.WriteString(strings.ToLower(string(c)))
		}
		space = false
	}
	return b.String()
}
