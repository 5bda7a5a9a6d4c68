package main

import (
	"strings"
	"testing"
)

func TestQuoteTableName(t *testing.T) {
	good := map[string]string{
		"tweets":                 `"tweets"`,
		"eutweets.europe_tweets": `"eutweets"."europe_tweets"`,
		"_t$1":                   `"_t$1"`,
		"EuropeTweets":           `"EuropeTweets"`,
		strings.Repeat("a", 63):  `"` + strings.Repeat("a", 63) + `"`,
	}
	for in, want := range good {
		got, err := quoteTableName(in)
		if err != nil || got != want {
			t.Errorf("quoteTableName(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	bad := []string{
		"", ".", "a.", ".a", "a.b.c", "1tweets", "$t", "tweets-eu", "tweets eu", `"tweets"`,
		"tweets;drop table x", "twéets", "a\x00b", strings.Repeat("a", 64), "public.",
	}
	for _, in := range bad {
		if got, err := quoteTableName(in); err == nil {
			t.Errorf("quoteTableName(%q) = %q, want an error", in, got)
		}
	}
}

func FuzzQuoteTableName(f *testing.F) {
	for _, s := range []string{"tweets", "a.b", `a"b`, "a.b.c", "x;y"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		q, err := quoteTableName(s)
		if err != nil {
			return
		}
		// Whatever is accepted quotes to "part" or "part"."part" with no quote inside a part.
		inner := strings.Split(q, `"."`)
		if len(inner) > 2 || !strings.HasPrefix(q, `"`) || !strings.HasSuffix(q, `"`) ||
			strings.Count(q, `"`) != 2*len(inner) {
			t.Fatalf("quoteTableName(%q) = %s", s, q)
		}
	})
}
