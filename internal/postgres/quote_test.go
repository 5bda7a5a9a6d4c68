package postgres

import (
	"reflect"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestSplitID(t *testing.T) {
	cases := []struct {
		id   string
		sep  byte
		n    int
		want []string
		err  bool
	}{
		{"europe/app", '/', 2, []string{"europe", "app"}, false},
		{"europe/PUBLIC", '/', 2, []string{"europe", "PUBLIC"}, false},
		{"europe/a.b", '/', 2, []string{"europe", "a.b"}, false},
		{`europe/"we""ird"`, '/', 2, []string{"europe", `we"ird`}, false},
		{`europe/we"ird`, '/', 2, []string{"europe", `we"ird`}, false},
		{`"a/b"/role/x`, '/', 2, []string{"a/b", "role/x"}, false},
		{"public.tweets", '.', 2, []string{"public", "tweets"}, false},
		{`"my.schema"."Tweets"`, '.', 2, []string{"my.schema", "Tweets"}, false},
		{"tweets", '.', 2, nil, true},
		{"/role", '/', 2, nil, true},
		{`"open/x`, '/', 2, nil, true},
		{`"a"b/x`, '/', 2, nil, true},
	}
	for _, c := range cases {
		got, err := SplitID(c.id, c.sep, c.n)
		if c.err {
			if err == nil {
				t.Errorf("SplitID(%q) = %q, want error", c.id, got)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, c.want) {
			t.Errorf("SplitID(%q) = %q, %v; want %q", c.id, got, err, c.want)
		}
	}
}

func TestJoinIDRoundTrip(t *testing.T) {
	for _, parts := range [][]string{{"a", "b"}, {"a/b", "c"}, {`"x`, "y/z"}, {"europe", `we"ird`}} {
		id := JoinID('/', parts...)
		got, err := SplitID(id, '/', 2)
		if err != nil || !reflect.DeepEqual(got, parts) {
			t.Errorf("round trip of %q via %q = %q, %v", parts, id, got, err)
		}
	}
}

func TestCheckIdentifier(t *testing.T) {
	if err := CheckIdentifier(strings.Repeat("a", 63)); err != nil {
		t.Errorf("63 bytes rejected: %v", err)
	}
	if err := CheckIdentifier(strings.Repeat("a", 64)); err == nil || !strings.Contains(err.Error(), "64 bytes") {
		t.Errorf("64 bytes: %v", err)
	}
	// 32 two-byte runes are 64 bytes.
	if err := CheckIdentifier(strings.Repeat("é", 32)); err == nil {
		t.Errorf("64-byte non-ASCII name accepted")
	}
	for _, bad := range []string{"", "a\x00b"} {
		if CheckIdentifier(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestRoleIdent(t *testing.T) {
	if got := roleIdent("PUBLIC"); got != "PUBLIC" {
		t.Errorf("PUBLIC -> %s", got)
	}
	if got := roleIdent(`a"b`); got != `"a""b"` {
		t.Errorf(`a"b -> %s`, got)
	}
}

func TestTruncateIdentifier(t *testing.T) {
	cases := []struct {
		name, suffix, want string
	}{
		{"tweets", "_bound", "tweets_bound"},
		{strings.Repeat("a", 57), "_bound", strings.Repeat("a", 57) + "_bound"},
		{strings.Repeat("a", 63), "_bound", strings.Repeat("a", 57) + "_bound"},
		// 63 bytes of two-byte characters: 57 would cut the 29th in half.
		{strings.Repeat("é", 31) + "x", "_bound", strings.Repeat("é", 28) + "_bound"},
		{"x" + strings.Repeat("é", 31), "_bound", "x" + strings.Repeat("é", 28) + "_bound"},
		// Three-byte characters: 57 bytes is 19 of them exactly; one byte more cuts nothing.
		{strings.Repeat("€", 21), "_bound", strings.Repeat("€", 19) + "_bound"},
		{"a" + strings.Repeat("€", 20), "_bound", "a" + strings.Repeat("€", 18) + "_bound"},
		// Four-byte characters: 57 bytes holds 14 of them and one byte of the 15th.
		{strings.Repeat("🐘", 15), "_bound", strings.Repeat("🐘", 14) + "_bound"},
		{strings.Repeat("🐘", 15), "", strings.Repeat("🐘", 15)},
		{strings.Repeat("🐘", 16), "", strings.Repeat("🐘", 15)},
		{"", "_bound", "_bound"},
	}
	for _, c := range cases {
		got := TruncateIdentifier(c.name, c.suffix)
		if got != c.want {
			t.Errorf("TruncateIdentifier(%q, %q) = %q, want %q", c.name, c.suffix, got, c.want)
		}
		if len(got) > MaxIdentifierLength || !utf8.ValidString(got) || !strings.HasSuffix(got, c.suffix) {
			t.Errorf("TruncateIdentifier(%q, %q) = %q: %d bytes, valid UTF-8 %v", c.name, c.suffix, got, len(got), utf8.ValidString(got))
		}
	}
}
