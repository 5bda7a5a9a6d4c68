package postgres

import "testing"

// postgres_fdw wants a password in the mapping of every role but a superuser, unless the
// mapping sets password_required to false (read as PostgreSQL reads a boolean).
func TestMappingNeedsPassword(t *testing.T) {
	db := freshDB(t)
	ctx := t.Context()
	mustExec(t, db, `CREATE ROLE needs_pw_plain`)
	mustExec(t, db, `CREATE ROLE needs_pw_super SUPERUSER`)
	t.Cleanup(func() { mustExec(t, db, `DROP ROLE needs_pw_plain, needs_pw_super`) })
	for _, c := range []struct {
		role, passwordRequired string
		want                   bool
	}{
		{"needs_pw_plain", "", true},
		{"needs_pw_plain", "true", true},
		{"needs_pw_plain", "false", false},
		{"needs_pw_plain", "OFF", false},
		{"needs_pw_super", "", false},
		{PublicRole, "", true},
		{PublicRole, "no", false},
		{"no_such_role", "", true},
	} {
		got, err := MappingNeedsPassword(ctx, db, c.role, c.passwordRequired)
		if err != nil || got != c.want {
			t.Errorf("MappingNeedsPassword(%q, %q) = %v, %v; want %v", c.role, c.passwordRequired, got, err, c.want)
		}
	}
	if _, err := MappingNeedsPassword(ctx, db, "needs_pw_plain", "maybe"); err == nil {
		t.Error("password_required 'maybe' was read as a boolean")
	}
}
