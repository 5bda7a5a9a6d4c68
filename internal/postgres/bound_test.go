package postgres

import (
	"reflect"
	"testing"
)

func TestBoundSQLAndParse(t *testing.T) {
	cases := []struct {
		b   Bound
		sql string
	}{
		{Bound{Default: true}, "DEFAULT"},
		{Bound{In: []string{"europe", "it's"}}, "FOR VALUES IN ('europe', 'it''s')"},
		{Bound{In: []string{"x", NullValue}}, "FOR VALUES IN ('x', NULL)"},
		{Bound{From: []string{"MINVALUE"}, To: []string{"10"}}, "FOR VALUES FROM (MINVALUE) TO ('10')"},
		{Bound{From: []string{"a", "MAXVALUE"}, To: []string{"b", "MINVALUE"}}, "FOR VALUES FROM ('a', MAXVALUE) TO ('b', MINVALUE)"},
		{Bound{Modulus: 4, Remainder: 3}, "FOR VALUES WITH (MODULUS 4, REMAINDER 3)"},
	}
	for _, c := range cases {
		if got := c.b.SQL(); got != c.sql {
			t.Errorf("%+v renders %q, want %q", c.b, got, c.sql)
		}
	}
	// As pg_get_expr prints them.
	parsed := map[string]Bound{
		"DEFAULT":                                          {Default: true},
		"FOR VALUES IN ('europe')":                         {In: []string{"europe"}},
		"FOR VALUES IN ('a''b', 'c,d')":                    {In: []string{"a'b", "c,d"}},
		"FOR VALUES IN (1, -2, NULL)":                      {In: []string{"1", "-2", "NULL"}},
		"FOR VALUES FROM (MINVALUE) TO (10)":               {From: []string{"MINVALUE"}, To: []string{"10"}},
		"FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')": {From: []string{"2024-01-01"}, To: []string{"2025-01-01"}},
		"FOR VALUES FROM (1, MINVALUE) TO (1, MAXVALUE)":   {From: []string{"1", "MINVALUE"}, To: []string{"1", "MAXVALUE"}},
		"FOR VALUES WITH (modulus 8, remainder 5)":         {Modulus: 8, Remainder: 5},
	}
	for s, want := range parsed {
		got, err := parseBound(s)
		if err != nil || !reflect.DeepEqual(got, want) {
			t.Errorf("ParseBound(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	for _, bad := range []string{"", "FOR VALUES IN ('x'", "FOR VALUES IN (x)", "FOR VALUES FROM (1)", "FOR VALUES WITH (modulus x)"} {
		if _, err := parseBound(bad); err == nil {
			t.Errorf("ParseBound(%q) accepted", bad)
		}
	}
}

func TestBoundCheckSQL(t *testing.T) {
	k := []string{`"location"`}
	k2 := []string{`"a"`, `"b"`}
	cases := []struct {
		b    Bound
		key  []string
		want string
	}{
		{Bound{In: []string{"europe"}}, k, `"location" IN ('europe')`},
		{Bound{In: []string{"a", NullValue}}, k, `"location" IN ('a') OR "location" IS NULL`},
		{Bound{Default: true}, k, ""},
		{Bound{Modulus: 2}, k, ""},
		{Bound{From: []string{"1"}, To: []string{"10"}}, k, `"location" >= '1' AND "location" < '10'`},
		{Bound{From: []string{"MINVALUE"}, To: []string{"10"}}, k, `"location" < '10'`},
		{Bound{From: []string{"5"}, To: []string{"MAXVALUE"}}, k, `"location" >= '5'`},
		{Bound{From: []string{"1", "MINVALUE"}, To: []string{"1", "MAXVALUE"}}, k2, `"a" >= '1' AND "a" <= '1'`},
		{Bound{From: []string{"1", "MAXVALUE"}, To: []string{"2", "MINVALUE"}}, k2, `"a" > '1' AND "a" < '2'`},
		{Bound{From: []string{"1", "2"}, To: []string{"3", "4"}}, k2, `ROW("a", "b") >= ROW('1', '2') AND ROW("a", "b") < ROW('3', '4')`},
	}
	for _, c := range cases {
		if got := c.b.CheckSQL(c.key); got != c.want {
			t.Errorf("%+v: CheckSQL = %q, want %q", c.b, got, c.want)
		}
	}
}
