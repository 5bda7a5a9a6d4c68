package postgres

import "testing"

func TestSameType(t *testing.T) {
	same := [][2]string{
		{"int4", "integer"}, {"int", "integer"}, {"INT8", "bigint"}, {"int2", "smallint"},
		{"varchar", "character varying"}, {"varchar(20)", "character varying(20)"},
		{"numeric(10,2)", "numeric(10, 2)"}, {"decimal(10,2)", "numeric(10,2)"}, {"numeric(10)", "numeric(10,0)"},
		{"timestamptz", "timestamp with time zone"}, {"timestamp", "timestamp without time zone"},
		{"timestamp(3) with time zone", "timestamptz(3)"},
		{"bool", "boolean"}, {"float8", "double precision"}, {"float", "double precision"}, {"float(10)", "real"},
		{"float4", "real"}, {"text[]", "_text"}, {"int4[]", "integer[]"}, {"integer ARRAY", "int[]"},
		{"serial4", "serial"}, {"serial8", "bigserial"}, {"char", "character(1)"}, {"bpchar(3)", "char(3)"},
		{"pg_catalog.int4", "integer"}, {"  text  ", "TEXT"},
	}
	for _, c := range same {
		if !sameType(c[0], c[1]) {
			t.Errorf("%q and %q should be the same type (%q vs %q)", c[0], c[1], CanonicalType(c[0]), CanonicalType(c[1]))
		}
	}
	different := [][2]string{
		{"int4", "int8"}, {"varchar(20)", "varchar(30)"}, {"varchar", "text"}, {"timestamp", "timestamptz"},
		{"integer", "integer[]"}, {"serial", "integer"}, {"numeric", "numeric(10,2)"}, {"char(2)", "char"},
	}
	for _, c := range different {
		if sameType(c[0], c[1]) {
			t.Errorf("%q and %q should differ", c[0], c[1])
		}
	}
}

func TestCheckType(t *testing.T) {
	for _, ok := range []string{"text", "int4", "varchar(20)", "numeric(10, 2)", "timestamp with time zone", "timestamp(3) with time zone", "text[]", "int[3]", "public.my_type", "double precision"} {
		if err := CheckType(ok); err != nil {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "text; DROP TABLE x", "int'", `"text"`, "text -- x", "varchar(20", "int)", "text DEFAULT 1", "int primary key", "int references t"} {
		if CheckType(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestCheckExpression(t *testing.T) {
	for _, ok := range []string{"0", "now()", "'europe'", "'it''s; fine'", `lower("Location")`, "(a + b) * 2", "'a--b'", "nextval('s'::regclass)", "x->>'k'", "a - -1"} {
		if err := CheckExpression(ok); err != nil {
			t.Errorf("%q rejected: %v", ok, err)
		}
	}
	for _, bad := range []string{"", "0); DROP TABLE t; --(", "1; select 1", "1 -- c", "1 /* c */", "(1", "1)", "'open", "$$x$$", "$tag$x$tag$", `"open`} {
		if CheckExpression(bad) == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestSameExpression(t *testing.T) {
	same := [][2]string{
		{"'europe'", "'europe'::text"}, {"'europe'", "'europe'::character varying"}, {"0", "0"}, {"(0)", "0"},
		{"now()", "now()"}, {"CURRENT_TIMESTAMP", "CURRENT_TIMESTAMP"}, {"'a b'", "('a b'::text)"},
		{"'{}'::text[]", "'{}'"}, {"NOW()", "now()"},
	}
	for _, c := range same {
		if !sameExpression(c[0], c[1]) {
			t.Errorf("%q and %q should be the same (%q vs %q)", c[0], c[1], normalizeExpression(c[0]), normalizeExpression(c[1]))
		}
	}
	for _, c := range [][2]string{{"'Europe'", "'europe'"}, {"0", "1"}, {"now()", "clock_timestamp()"}} {
		if sameExpression(c[0], c[1]) {
			t.Errorf("%q and %q should differ", c[0], c[1])
		}
	}
}
