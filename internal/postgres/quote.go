package postgres

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/lib/pq"
)

// MaxIdentifierLength is PostgreSQL's NAMEDATALEN-1: longer names are silently truncated
// by the server, so the provider rejects them instead.
const MaxIdentifierLength = 63

// TruncateIdentifier returns name+suffix cut to at most MaxIdentifierLength bytes. Only
// name is shortened, and at a character boundary: the server rejects a name holding half a
// UTF-8 character instead of truncating it.
func TruncateIdentifier(name, suffix string) string {
	keep := max(MaxIdentifierLength-len(suffix), 0)
	if len(name) <= keep {
		return name + suffix
	}
	for keep > 0 && !utf8.RuneStart(name[keep]) {
		keep--
	}
	return name[:keep] + suffix
}

// Ident quotes a name as an SQL identifier.
func Ident(name string) string { return pq.QuoteIdentifier(name) }

// Literal quotes a value as an SQL string literal.
func Literal(value string) string { return pq.QuoteLiteral(value) }

// QualifiedIdent quotes schema.name.
func QualifiedIdent(schema, name string) string {
	return pq.QuoteIdentifier(schema) + "." + pq.QuoteIdentifier(name)
}

// roleIdent quotes a role name, keeping PUBLIC as the keyword it is in USER MAPPING FOR.
func roleIdent(role string) string {
	if role == PublicRole {
		return "PUBLIC"
	}
	return pq.QuoteIdentifier(role)
}

// PublicRole is how the provider names the PUBLIC pseudo-role of a user mapping.
const PublicRole = "PUBLIC"

// CheckIdentifier says why name cannot be a PostgreSQL identifier, or returns nil.
func CheckIdentifier(name string) error {
	switch {
	case name == "":
		return fmt.Errorf("must not be empty")
	case len(name) > MaxIdentifierLength:
		return fmt.Errorf("is %d bytes long; PostgreSQL identifiers are at most %d bytes (longer names are truncated by the server), so choose a shorter name", len(name), MaxIdentifierLength)
	case strings.ContainsRune(name, 0):
		return fmt.Errorf("contains a NUL character, which PostgreSQL identifiers cannot hold")
	}
	return nil
}

// SplitID splits an import ID such as `schema.name` or `server/role` on sep. Each part
// may be double-quoted (with "" for a quote inside) so that it can contain sep itself.
// Unquoted parts are taken verbatim (no case folding). It returns exactly n parts.
func SplitID(id string, sep byte, n int) ([]string, error) {
	var parts []string
	var cur strings.Builder
	quoted, inQuotes, start := false, false, true
	// Byte-wise: the quote and separator are ASCII, which never occurs inside a
	// multi-byte UTF-8 sequence, so any other bytes pass through untouched.
	rs := []byte(id)
	for i := 0; i < len(rs); i++ {
		r := rs[i]
		switch {
		case inQuotes && r == '"' && i+1 < len(rs) && rs[i+1] == '"':
			cur.WriteByte('"')
			i++
		case inQuotes && r == '"':
			inQuotes = false
		case start && r == '"':
			inQuotes, quoted = true, true
		case !inQuotes && r == sep && len(parts) < n-1:
			parts = append(parts, cur.String())
			cur.Reset()
			quoted, start = false, true
			continue
		case !inQuotes && quoted:
			return nil, fmt.Errorf("unexpected %q after a closing quote in %q", string(r), id)
		default:
			cur.WriteByte(r)
		}
		start = false
	}
	if inQuotes {
		return nil, fmt.Errorf("unterminated quote in %q", id)
	}
	parts = append(parts, cur.String())
	if len(parts) != n {
		return nil, fmt.Errorf("%q has %d part(s) separated by %q, want %d", id, len(parts), string(sep), n)
	}
	for _, p := range parts {
		if p == "" {
			return nil, fmt.Errorf("%q has an empty part", id)
		}
	}
	return parts, nil
}

// JoinID is the inverse of SplitID: parts that contain sep or start with a quote are quoted.
func JoinID(sep byte, parts ...string) string {
	out := make([]string, len(parts))
	for i, p := range parts {
		if strings.IndexByte(p, sep) >= 0 || strings.HasPrefix(p, `"`) {
			p = `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
		}
		out[i] = p
	}
	return strings.Join(out, string(sep))
}
