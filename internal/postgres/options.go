package postgres

import (
	"fmt"
	"sort"
	"strings"
)

// OptionChange is one clause of ALTER ... OPTIONS (...).
type OptionChange struct {
	Op    string // ADD, SET or DROP
	Key   string
	Value string
}

// diffOptions returns the clauses that turn the options in from into those in to, in key
// order: ADD for a new key, SET for a changed value, DROP for a removed key (ADD fails
// for an existing key, SET and DROP for a missing one, so the split must be exact).
func diffOptions(from, to map[string]string) []OptionChange {
	keys := map[string]bool{}
	for k := range from {
		keys[k] = true
	}
	for k := range to {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	var out []OptionChange
	for _, k := range sorted {
		old, had := from[k]
		v, has := to[k]
		switch {
		case had && !has:
			out = append(out, OptionChange{Op: "DROP", Key: k})
		case !had && has:
			out = append(out, OptionChange{Op: "ADD", Key: k, Value: v})
		case old != v:
			out = append(out, OptionChange{Op: "SET", Key: k, Value: v})
		}
	}
	return out
}

// alterOptionsClause renders `OPTIONS (ADD k 'v', SET k 'v', DROP k)`, or "" for no change.
func alterOptionsClause(changes []OptionChange) string {
	if len(changes) == 0 {
		return ""
	}
	parts := make([]string, len(changes))
	for i, c := range changes {
		if c.Op == "DROP" {
			parts[i] = "DROP " + Ident(c.Key)
		} else {
			parts[i] = c.Op + " " + Ident(c.Key) + " " + Literal(c.Value)
		}
	}
	return "OPTIONS (" + strings.Join(parts, ", ") + ")"
}

// CreateOptionsClause renders ` OPTIONS (k 'v', ...)` in key order, or "" when empty.
func CreateOptionsClause(opts map[string]string) string {
	if len(opts) == 0 {
		return ""
	}
	keys := sortedKeys(opts)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = Ident(k) + " " + Literal(opts[k])
	}
	return " OPTIONS (" + strings.Join(parts, ", ") + ")"
}

// parseOptionArray turns a catalog options array ({key=value,...}, as scanned into
// []string) into a map. The key ends at the first '=': values may contain '='.
func parseOptionArray(items []string) map[string]string {
	out := make(map[string]string, len(items))
	for _, item := range items {
		k, v, _ := strings.Cut(item, "=")
		out[k] = v
	}
	return out
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// libpqServerOptions are the libpq connection keywords postgres_fdw accepts on a foreign
// server (PostgreSQL 13 to 17): libpq's keywords less user, password, sslpassword (user
// mapping only), client_encoding, fallback_application_name and the debug-only replication.
var libpqServerOptions = []string{
	"application_name", "channel_binding", "connect_timeout", "dbname", "gssdelegation",
	"gssencmode", "gsslib", "host", "hostaddr", "keepalives", "keepalives_count",
	"keepalives_idle", "keepalives_interval", "krbsrvname", "load_balance_hosts", "options",
	"passfile", "port", "require_auth", "requirepeer", "service", "ssl_max_protocol_version",
	"ssl_min_protocol_version", "sslcert", "sslcertmode", "sslcompression", "sslcrl",
	"sslcrldir", "sslkey", "sslmode", "sslnegotiation", "sslrootcert", "sslsni",
	"target_session_attrs", "tcp_user_timeout",
}

// fdwServerOptions are postgres_fdw's own server options (analyze_sampling and
// parallel_abort are PostgreSQL 16+).
var fdwServerOptions = []string{
	"analyze_sampling", "async_capable", "batch_size", "extensions", "fdw_startup_cost",
	"fdw_tuple_cost", "fetch_size", "keep_connections", "parallel_abort", "parallel_commit",
	"truncatable", "updatable", "use_remote_estimate",
}

// ServerOptionKeys lists the option keys postgres_fdw accepts on CREATE SERVER, sorted.
func ServerOptionKeys() []string {
	keys := append(append([]string{}, libpqServerOptions...), fdwServerOptions...)
	sort.Strings(keys)
	return keys
}

// CheckOptionValue validates the value of a postgres_fdw option whose syntax is fixed, so
// that a bad value is caught before any SQL runs.
func CheckOptionValue(key, value string) error {
	switch key {
	case "async_capable", "keep_connections", "parallel_abort", "parallel_commit", "truncatable", "updatable", "use_remote_estimate", "password_required":
		switch strings.ToLower(strings.TrimSpace(value)) {
		case "true", "false", "on", "off", "yes", "no", "1", "0", "t", "f", "y", "n":
			return nil
		}
		return fmt.Errorf("must be a boolean (true or false), got %q", value)
	case "fetch_size", "batch_size":
		var n int64
		if _, err := fmt.Sscanf(value, "%d", &n); err != nil || fmt.Sprint(n) != strings.TrimSpace(value) || n <= 0 {
			return fmt.Errorf("must be a positive integer, got %q", value)
		}
	case "fdw_startup_cost", "fdw_tuple_cost":
		var f float64
		if _, err := fmt.Sscanf(value, "%g", &f); err != nil || f < 0 {
			return fmt.Errorf("must be a non-negative number, got %q", value)
		}
	case "analyze_sampling":
		switch strings.ToLower(value) {
		case "off", "auto", "random", "system", "bernoulli":
			return nil
		}
		return fmt.Errorf("must be one of off, auto, random, system, bernoulli, got %q", value)
	}
	return nil
}
