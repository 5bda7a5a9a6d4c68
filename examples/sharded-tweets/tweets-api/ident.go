package main

import (
	"fmt"
	"strings"

	"github.com/lib/pq"
)

// maxIdentifierLength is PostgreSQL's NAMEDATALEN-1: longer names are silently truncated by the
// server, so a longer TWEETS_TABLE would name a different table than the one written.
const maxIdentifierLength = 63

// quoteTableName validates name as `table` or `schema.table` and returns it quoted for SQL.
//
// Each part must be a plain identifier: a letter or underscore, then letters, digits,
// underscores or dollar signs, at most 63 bytes. Each part is quoted with pq.QuoteIdentifier,
// so its case is kept exactly as written (EuropeTweets names "EuropeTweets", not
// europetweets); the pgshard provider creates tables with quoted names too.
func quoteTableName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("table name is empty")
	}
	parts := strings.Split(name, ".")
	if len(parts) > 2 {
		return "", fmt.Errorf("table name %q: want table or schema.table", name)
	}
	quoted := make([]string, len(parts))
	for i, p := range parts {
		if err := checkIdentifier(p); err != nil {
			return "", fmt.Errorf("table name %q: %w", name, err)
		}
		quoted[i] = pq.QuoteIdentifier(p)
	}
	return strings.Join(quoted, "."), nil
}

func checkIdentifier(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("empty identifier")
	case len(s) > maxIdentifierLength:
		return fmt.Errorf("identifier %q is longer than %d bytes", s, maxIdentifierLength)
	}
	for i, r := range s {
		letter := r == '_' || ('a' <= r && r <= 'z') || ('A' <= r && r <= 'Z')
		if letter || (i > 0 && (r == '$' || ('0' <= r && r <= '9'))) {
			continue
		}
		return fmt.Errorf("identifier %q: character %q at byte %d is not allowed (want a letter or _ first, then letters, digits, _ or $)", s, r, i)
	}
	return nil
}
