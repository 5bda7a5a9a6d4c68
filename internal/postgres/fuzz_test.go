package postgres

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

// unquoteIdent reverses Ident, failing on anything Ident cannot have produced.
func unquoteIdent(t *testing.T, q string) string {
	t.Helper()
	if len(q) < 2 || q[0] != '"' || q[len(q)-1] != '"' {
		t.Fatalf("identifier %q is not double-quoted", q)
	}
	inner := q[1 : len(q)-1]
	if strings.Contains(strings.ReplaceAll(inner, `""`, ""), `"`) {
		t.Fatalf("identifier %q has an unescaped quote", q)
	}
	return strings.ReplaceAll(inner, `""`, `"`)
}

// unquoteLiteral reverses Literal: '...' with ” for a quote, or  E'...' with \\ too.
func unquoteLiteral(t *testing.T, q string) string {
	t.Helper()
	escaped := strings.HasPrefix(q, " E'")
	if escaped {
		q = q[2:]
	}
	if len(q) < 2 || q[0] != '\'' || q[len(q)-1] != '\'' {
		t.Fatalf("literal %q is not quoted", q)
	}
	inner := q[1 : len(q)-1]
	var b strings.Builder
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		switch {
		case c == '\'' && i+1 < len(inner) && inner[i+1] == '\'':
			b.WriteByte('\'')
			i++
		case c == '\'':
			t.Fatalf("literal %q has an unescaped quote", q)
		case escaped && c == '\\' && i+1 < len(inner) && inner[i+1] == '\\':
			b.WriteByte('\\')
			i++
		case escaped && c == '\\':
			t.Fatalf("literal %q has a lone backslash", q)
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// FuzzOptionsClause: whatever the key and value, the rendered OPTIONS clause quotes them
// so that they read back exactly and nothing escapes into the statement.
func FuzzOptionsClause(f *testing.F) {
	for _, seed := range [][2]string{{"host", "a"}, {"x", "a'b"}, {`k"ey`, `v\al`}, {"k", "'; DROP TABLE t; --"}, {"k", "$$x$$"}} {
		f.Add(seed[0], seed[1])
	}
	f.Fuzz(func(t *testing.T, key, value string) {
		if strings.ContainsRune(key, 0) || strings.ContainsRune(value, 0) || !utf8.ValidString(key) || !utf8.ValidString(value) || key == "" {
			t.Skip() // rejected at plan time: identifiers and values never hold NUL
		}
		clause := CreateOptionsClause(map[string]string{key: value})
		body := strings.TrimSuffix(strings.TrimPrefix(clause, " OPTIONS ("), ")")
		qk := Ident(key)
		if !strings.HasPrefix(body, qk+" ") {
			t.Fatalf("clause %q does not start with the quoted key %q", clause, qk)
		}
		if got := unquoteIdent(t, qk); got != key {
			t.Fatalf("key %q read back as %q", key, got)
		}
		if got := unquoteLiteral(t, strings.TrimPrefix(body[len(qk):], " ")); got != value {
			t.Fatalf("value %q read back as %q from %q", value, got, clause)
		}
		changes := diffOptions(nil, map[string]string{key: value})
		if !reflect.DeepEqual(changes, []OptionChange{{Op: "ADD", Key: key, Value: value}}) {
			t.Fatalf("diff %+v", changes)
		}
	})
}

// FuzzSplitID: JoinID and SplitID are inverses for any two non-empty parts.
func FuzzSplitID(f *testing.F) {
	f.Add("europe", "app")
	f.Add(`a/b`, `"c`)
	f.Add(`"`, `""`)
	f.Fuzz(func(t *testing.T, a, b string) {
		if a == "" || b == "" {
			t.Skip()
		}
		id := JoinID('/', a, b)
		got, err := SplitID(id, '/', 2)
		if err != nil || !reflect.DeepEqual(got, []string{a, b}) {
			t.Fatalf("JoinID(%q, %q) = %q, split back to %q, %v", a, b, id, got, err)
		}
	})
}
