package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/lib/pq"
)

// Settings are the configuration parameters PostgreSQL sets at login for one database and
// role pair (ALTER DATABASE ... SET, ALTER ROLE ... [IN DATABASE ...] SET): one row of
// pg_db_role_setting. An empty Database means every database (a role's own settings), an
// empty Role every role (a database's own settings).
type Settings struct {
	Database string
	Role     string
	Values   map[string]string // parameter name -> value as the catalog holds it
}

// Object names the pair in words, for messages.
func (s Settings) Object() string {
	switch {
	case s.Role == "":
		return fmt.Sprintf("settings of database %q", s.Database)
	case s.Database == "":
		return fmt.Sprintf("settings of role %q", s.Role)
	}
	return fmt.Sprintf("settings of role %q in database %q", s.Role, s.Database)
}

// parameterName is a configuration parameter as the server stores it: lower case, with an
// extension's prefix before a dot (pg_stat_statements.max).
var parameterName = regexp.MustCompile(`^[a-z_][a-z0-9_$]*(\.[a-z_][a-z0-9_$]*)*$`)

// CheckParameterName refuses a name the server would store differently or not at all.
func CheckParameterName(name string) error {
	if !parameterName.MatchString(name) {
		return fmt.Errorf("is not a configuration parameter name: use the lower-case name pg_settings shows (such as enable_partitionwise_aggregate), with an extension's prefix before a dot")
	}
	switch {
	case name == "role" || name == "session_authorization":
		// Setting either in the write's own transaction would change who runs the ALTER.
		return fmt.Errorf("changes who a session is: pgshard_settings does not set it; use ALTER ROLE ... SET %s outside Terraform", name)
	case strings.HasPrefix(name, "transaction_"):
		return fmt.Errorf("belongs to a transaction, not to a login: set default_%s instead", name)
	}
	return nil
}

// parameterSQL quotes each dotted part of a parameter name.
func parameterSQL(name string) string {
	parts := strings.Split(name, ".")
	for i, p := range parts {
		parts[i] = Ident(p)
	}
	return strings.Join(parts, ".")
}

// alterSQL is the ALTER that changes the pair's settings.
func (s Settings) alterSQL() string {
	switch {
	case s.Role == "":
		return "ALTER DATABASE " + Ident(s.Database)
	case s.Database == "":
		return "ALTER ROLE " + Ident(s.Role)
	}
	return "ALTER ROLE " + Ident(s.Role) + " IN DATABASE " + Ident(s.Database)
}

// ReadSettings reads the pair's settings; ErrNotFound when it has none, or its database or
// role does not exist.
func ReadSettings(ctx context.Context, q Querier, database, role string) (*Settings, error) {
	var config []string
	err := q.QueryRowContext(ctx, `
SELECT s.setconfig FROM pg_db_role_setting s
WHERE s.setdatabase = CASE WHEN $1 = '' THEN 0 ELSE (SELECT oid FROM pg_database WHERE datname = $1) END
  AND s.setrole = CASE WHEN $2 = '' THEN 0 ELSE (SELECT oid FROM pg_roles WHERE rolname = $2) END`,
		database, role).Scan(pq.Array(&config))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("reading the %s: %w", Settings{Database: database, Role: role}.Object(), err)
	}
	s := &Settings{Database: database, Role: role, Values: map[string]string{}}
	for _, kv := range config {
		name, value, _ := strings.Cut(kv, "=")
		s.Values[name] = value
	}
	if len(s.Values) == 0 {
		return nil, ErrNotFound
	}
	return s, nil
}

// UpdateSettings makes the pair's settings to.Values, in one transaction: what the catalog
// holds and to lacks is reset, what to has is set. The catalog is read under the pair's
// lock, so what is reset is what is there, whatever wrote it since the last refresh.
func UpdateSettings(ctx context.Context, db *sql.DB, to Settings) error {
	return inTx(ctx, db, func(tx *sql.Tx) error {
		if err := lockPair(ctx, tx, to); err != nil {
			return err
		}
		from, err := ReadSettings(ctx, tx, to.Database, to.Role)
		if errors.Is(err, ErrNotFound) {
			from, err = &Settings{}, nil
		}
		if err != nil {
			return err
		}
		return applySettings(ctx, tx, *from, to)
	})
}

// ErrSettingsExist is CreateSettings' answer for a pair that has settings already.
var ErrSettingsExist = errors.New("the pair has settings already")

// CreateSettings sets the settings of a pair that has none, and returns ErrSettingsExist
// with how many parameters it has when it has some. The check runs under the pair's lock,
// in the transaction that writes, so two creates of one pair (two resources of one apply)
// take turns and the second sees the first's row.
func CreateSettings(ctx context.Context, db *sql.DB, to Settings) (existing int, err error) {
	err = inTx(ctx, db, func(tx *sql.Tx) error {
		if err := lockPair(ctx, tx, to); err != nil {
			return err
		}
		s, err := ReadSettings(ctx, tx, to.Database, to.Role)
		switch {
		case err == nil:
			existing = len(s.Values)
			return ErrSettingsExist
		case !errors.Is(err, ErrNotFound):
			return err
		}
		return applySettings(ctx, tx, Settings{}, to)
	})
	return existing, err
}

// lockPair takes a transaction-scoped advisory lock on the pair, which every write of its
// settings takes first.
func lockPair(ctx context.Context, tx *sql.Tx, s Settings) error {
	_, err := tx.ExecContext(ctx, `SELECT pg_advisory_xact_lock(hashtext('pgshard_settings'), hashtext($1 || '/' || $2))`, s.Database, s.Role)
	return err
}

func applySettings(ctx context.Context, tx *sql.Tx, from, to Settings) error {
	for _, name := range sortedKeys(from.Values) {
		if _, keep := to.Values[name]; keep {
			continue
		}
		logStep(ctx, "reset parameter "+name, to.Object())
		if _, err := tx.ExecContext(ctx, to.alterSQL()+" RESET "+parameterSQL(name)); err != nil {
			return fmt.Errorf("resetting %s: %w", name, err)
		}
	}
	for _, name := range sortedKeys(to.Values) {
		if err := setParameter(ctx, tx, to, name); err != nil {
			return err
		}
	}
	return nil
}

// quotedLists are the parameters whose value is a list of names the server quotes when it
// is given as one string: `SET search_path = 'a, b'` means one schema named "a, b". They
// are written by setting them in the transaction (set_config parses the list) and storing
// what that made (SET ... FROM CURRENT). Every other value is written as one literal, so
// that a value such as statement_timeout = '1ms' never applies to the write itself.
var quotedLists = map[string]bool{
	"search_path": true, "temp_tablespaces": true,
	"local_preload_libraries": true, "session_preload_libraries": true, "shared_preload_libraries": true,
}

// setParameter stores one parameter of the pair.
func setParameter(ctx context.Context, tx *sql.Tx, s Settings, name string) error {
	logStep(ctx, "set parameter "+name, s.Object())
	if !quotedLists[name] {
		if _, err := tx.ExecContext(ctx, s.alterSQL()+" SET "+parameterSQL(name)+" = "+Literal(s.Values[name])); err != nil {
			return fmt.Errorf("parameter %s = %q: %w", name, s.Values[name], err)
		}
		return nil
	}
	// The transaction's own value is put back after the ALTER, so the statements that follow
	// run under the session's.
	var prior sql.NullString
	if err := tx.QueryRowContext(ctx, `SELECT current_setting($1, true)`, name).Scan(&prior); err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, `SELECT set_config($1, $2, true)`, name, s.Values[name]); err != nil {
		return fmt.Errorf("parameter %s = %q: %w", name, s.Values[name], err)
	}
	if _, err := tx.ExecContext(ctx, s.alterSQL()+" SET "+parameterSQL(name)+" FROM CURRENT"); err != nil {
		return fmt.Errorf("setting %s: %w", name, err)
	}
	if prior.Valid {
		_, err := tx.ExecContext(ctx, `SELECT set_config($1, $2, true)`, name, prior.String)
		return err
	}
	return nil
}

// DropSettings resets every setting of the pair (RESET ALL): the resource owns the pair.
func DropSettings(ctx context.Context, db *sql.DB, s Settings) error {
	logStep(ctx, "reset all parameters", s.Object())
	_, err := db.ExecContext(ctx, s.alterSQL()+" RESET ALL")
	return err
}

// CanonicalSettings returns each value as the server prints it once set (on for true,
// 64MB for 65536kB), by the same mechanism the write uses, in a transaction rolled back. A
// value the server refuses is an error naming the parameter; a parameter this role may not
// set in a session (a superuser's) keeps its text.
func CanonicalSettings(ctx context.Context, db *sql.DB, values map[string]string) (map[string]string, error) {
	out := make(map[string]string, len(values))
	err := rolledBack(ctx, db, func(tx *sql.Tx) error {
		for _, name := range sortedKeys(values) {
			v, err := canonicalParameter(ctx, tx, name, values[name])
			if err != nil {
				return err
			}
			out[name] = v
		}
		return nil
	})
	return out, err
}

// timingProxies are parameters that, set in a session even for a moment, could end the
// session or its next statement (idle_in_transaction_session_timeout = '1ms'); each is read
// through lock_timeout, which takes the same values in the same unit and cannot.
var timingProxies = map[string]string{
	"statement_timeout": "lock_timeout", "idle_in_transaction_session_timeout": "lock_timeout",
	"idle_session_timeout": "lock_timeout", "transaction_timeout": "lock_timeout",
}

func canonicalParameter(ctx context.Context, tx *sql.Tx, name, value string) (string, error) {
	var out string
	as := name
	if proxy, ok := timingProxies[name]; ok {
		as = proxy
	}
	err := underSavepoint(ctx, tx, func() error {
		return tx.QueryRowContext(ctx, `SELECT set_config($1, $2, true)`, as, value).Scan(&out)
	})
	if e := ServerErrorOf(err); e != nil && e.Code == "42501" { // insufficient_privilege
		return value, nil
	}
	if err != nil {
		return "", fmt.Errorf("parameter %s = %q: %w", name, value, err)
	}
	return out, nil
}
