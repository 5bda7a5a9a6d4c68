package postgres

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Bound is a partition bound: exactly one of DEFAULT, IN (...), FROM (...) TO (...) or
// WITH (MODULUS m, REMAINDER r). Values are the text of SQL literals (unquoted); the
// keywords MINVALUE and MAXVALUE stand for themselves in range bounds, and an unquoted
// NULL for the null value in a list.
type Bound struct {
	Default   bool
	In        []string
	From, To  []string
	Modulus   int64
	Remainder int64
	none      bool // NoBound: admits no row
}

// Kind names the bound kind: default, list, range or hash.
func (b Bound) Kind() string {
	switch {
	case b.Default:
		return "default"
	case b.Modulus > 0:
		return "hash"
	case len(b.From) > 0 || len(b.To) > 0:
		return "range"
	default:
		return "list"
	}
}

// String is the bound as PostgreSQL prints it, for messages.
func (b Bound) String() string { return b.SQL() }

// Equal reports whether two bounds admit the same rows (list values in any order).
func (b Bound) Equal(o Bound) bool {
	if b.Kind() == "list" && o.Kind() == "list" {
		return sameValues(b.In, o.In)
	}
	return b.SQL() == o.SQL()
}

func sameValues(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	seen := map[string]int{}
	for _, v := range a {
		seen[v]++
	}
	for _, v := range b {
		if seen[v] == 0 {
			return false
		}
		seen[v]--
	}
	return true
}

// NullValue is how a NULL list value is written.
const NullValue = "NULL"

// isInfinity reports whether a range bound value is MINVALUE or MAXVALUE, in any case.
func isInfinity(v string) bool {
	return strings.EqualFold(v, "MINVALUE") || strings.EqualFold(v, "MAXVALUE")
}

func boundValue(v string, keywords bool) string {
	if keywords && isInfinity(v) {
		return strings.ToUpper(v)
	}
	if v == NullValue {
		return "NULL"
	}
	return Literal(v)
}

func boundValues(vs []string, keywords bool) string {
	out := make([]string, len(vs))
	for i, v := range vs {
		out[i] = boundValue(v, keywords)
	}
	return "(" + strings.Join(out, ", ") + ")"
}

// SQL renders the bound as it follows PARTITION OF parent or ATTACH PARTITION x.
func (b Bound) SQL() string {
	switch b.Kind() {
	case "default":
		return "DEFAULT"
	case "hash":
		return fmt.Sprintf("FOR VALUES WITH (MODULUS %d, REMAINDER %d)", b.Modulus, b.Remainder)
	case "range":
		return "FOR VALUES FROM " + boundValues(b.From, true) + " TO " + boundValues(b.To, true)
	default:
		return "FOR VALUES IN " + boundValues(b.In, false)
	}
}

// parseBound reads the bound as pg_get_expr(relpartbound) prints it.
func parseBound(s string) (Bound, error) {
	s = strings.TrimSpace(s)
	if s == "DEFAULT" {
		return Bound{Default: true}, nil
	}
	rest, ok := strings.CutPrefix(s, "FOR VALUES ")
	if !ok {
		return Bound{}, fmt.Errorf("unrecognised partition bound %q", s)
	}
	var b Bound
	var err error
	switch {
	case strings.HasPrefix(rest, "IN "):
		b.In, rest, err = parseValueList(strings.TrimPrefix(rest, "IN "))
	case strings.HasPrefix(rest, "FROM "):
		b.From, rest, err = parseValueList(strings.TrimPrefix(rest, "FROM "))
		if err == nil {
			rest, ok = strings.CutPrefix(strings.TrimSpace(rest), "TO ")
			if !ok {
				return Bound{}, fmt.Errorf("range bound %q has no TO", s)
			}
			b.To, rest, err = parseValueList(rest)
		}
	case strings.HasPrefix(rest, "WITH "):
		var m, r int64
		if _, err := fmt.Sscanf(strings.ToLower(rest), "with (modulus %d, remainder %d)", &m, &r); err != nil {
			return Bound{}, fmt.Errorf("unrecognised hash bound %q", s)
		}
		return Bound{Modulus: m, Remainder: r}, nil
	default:
		return Bound{}, fmt.Errorf("unrecognised partition bound %q", s)
	}
	if err != nil {
		return Bound{}, fmt.Errorf("partition bound %q: %w", s, err)
	}
	if strings.TrimSpace(rest) != "" {
		return Bound{}, fmt.Errorf("partition bound %q has trailing %q", s, rest)
	}
	return b, nil
}

// parseValueList reads "(v1, v2, ...)" of SQL literals, returning the rest of the text.
func parseValueList(s string) ([]string, string, error) {
	s = strings.TrimSpace(s)
	if !strings.HasPrefix(s, "(") {
		return nil, s, fmt.Errorf("expected '(' at %q", s)
	}
	i := 1
	var out []string
	for {
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			return nil, "", fmt.Errorf("unterminated value list")
		}
		var v string
		switch {
		case s[i] == '\'' || strings.HasPrefix(s[i:], "E'"):
			if s[i] == 'E' {
				i++
			}
			j := i + 1
			var b strings.Builder
			for ; j < len(s); j++ {
				if s[j] == '\'' {
					if j+1 < len(s) && s[j+1] == '\'' {
						b.WriteByte('\'')
						j++
						continue
					}
					break
				}
				b.WriteByte(s[j])
			}
			if j >= len(s) {
				return nil, "", fmt.Errorf("unterminated string")
			}
			v = b.String()
			i = j + 1
			// A cast may follow: '1'::integer.
			for strings.HasPrefix(s[i:], "::") {
				i += 2
				for i < len(s) && s[i] != ',' && s[i] != ')' {
					i++
				}
			}
		default:
			j := i
			for j < len(s) && s[j] != ',' && s[j] != ')' {
				j++
			}
			v = strings.TrimSpace(s[i:j])
			if _, err := strconv.ParseFloat(v, 64); err != nil && v != "MINVALUE" && v != "MAXVALUE" && v != "NULL" && v != "true" && v != "false" {
				return nil, "", fmt.Errorf("unsupported bound value %q", v)
			}
			i = j
		}
		out = append(out, v)
		for i < len(s) && s[i] == ' ' {
			i++
		}
		if i >= len(s) {
			return nil, "", fmt.Errorf("unterminated value list")
		}
		if s[i] == ')' {
			return out, s[i+1:], nil
		}
		if s[i] != ',' {
			return nil, "", fmt.Errorf("expected ',' at %q", s[i:])
		}
		i++
	}
}

// PartitionCheckSQL is CheckSQL in the form that spares an ATTACH PARTITION with bound b its
// scan of the table once validated: PostgreSQL proves the partition constraint from the
// table's CHECK constraints only where a CHECK that passes also makes the partition
// constraint true, and a LIST or RANGE partition's constraint refuses NULL keys (a LIST
// bound's unless it lists NULL), which a CHECK of "key IN (...)" or "key >= ..." lets
// through (it is NULL, not false, for them). It adds "key IS NOT NULL" for each key column
// there; otherwise it is CheckSQL.
func (b Bound) PartitionCheckSQL(key []string) string {
	check := b.CheckSQL(key)
	switch {
	case check == "" || check == "false":
		return check
	case b.Kind() == "list" && slices.Contains(b.In, NullValue):
		return check
	case b.Kind() != "list" && b.Kind() != "range":
		return check
	}
	nots := make([]string, len(key))
	for i, k := range key {
		nots[i] = k + " IS NOT NULL"
	}
	return strings.Join(nots, " AND ") + " AND (" + check + ")"
}

// CheckSQL renders a CHECK constraint expression that holds exactly for the rows the
// bound admits, over the given key (already rendered SQL: quoted columns or expressions).
// It returns "" for bounds that have none (DEFAULT, HASH).
func (b Bound) CheckSQL(key []string) string {
	switch b.Kind() {
	case "list":
		if len(key) != 1 {
			return ""
		}
		var vals []string
		hasNull := false
		for _, v := range b.In {
			if v == NullValue {
				hasNull = true
				continue
			}
			vals = append(vals, Literal(v))
		}
		var parts []string
		if len(vals) > 0 {
			parts = append(parts, key[0]+" IN ("+strings.Join(vals, ", ")+")")
		}
		if hasNull {
			parts = append(parts, key[0]+" IS NULL")
		}
		return strings.Join(parts, " OR ")
	case "range":
		var parts []string
		if len(key) != len(b.From) || len(key) != len(b.To) {
			return ""
		}
		if lower := rangeSide(key, b.From, ">=", ">=", ">", "MINVALUE"); lower != "" {
			parts = append(parts, lower)
		}
		if upper := rangeSide(key, b.To, "<", "<=", "<", "MAXVALUE"); upper != "" {
			parts = append(parts, upper)
		}
		return strings.Join(parts, " AND ")
	}
	return ""
}

// rangeSide renders one side of a range bound as a comparison over the prefix of the key
// before the first MINVALUE/MAXVALUE. op is the operator for a fully concrete bound;
// openOp the one when the prefix is followed by the infinity named open (which, first,
// leaves the side unbounded), closedOp when followed by the other infinity (which, first,
// admits nothing). Lower: >=, open MINVALUE >=, closed MAXVALUE >. Upper: <, open MAXVALUE
// <=, closed MINVALUE <.
func rangeSide(key, values []string, op, openOp, closedOp, open string) string {
	n, useOp := len(values), op
	for i, v := range values {
		if isInfinity(v) {
			n = i
			if strings.EqualFold(v, open) {
				useOp = openOp
			} else {
				useOp = closedOp
			}
			break
		}
	}
	if n == 0 {
		if useOp == openOp && strings.EqualFold(values[0], open) {
			return "" // unbounded on this side
		}
		return "false"
	}
	lits := make([]string, n)
	for i := 0; i < n; i++ {
		lits[i] = Literal(values[i])
	}
	if n == 1 {
		return key[0] + " " + useOp + " " + lits[0]
	}
	return "ROW(" + strings.Join(key[:n], ", ") + ") " + useOp + " ROW(" + strings.Join(lits, ", ") + ")"
}
