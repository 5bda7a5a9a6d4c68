// Package postgres is the PostgreSQL layer of the provider: pools, quoting, catalog reads
// and DDL for each object. It knows nothing of Terraform: functions take a
// context.Context and a querier (*sql.DB, *sql.Conn or *sql.Tx) and return plain structs.
// Every SQL text the provider sends is built here, from quoted identifiers, quoted literals,
// bind parameters, or text the server itself printed; the Terraform layer above never
// builds SQL. Errors are classified here (KindOf, errors.go), so the layer above never reads
// a SQLSTATE.
package postgres

import (
	"context"
	"database/sql"
	"errors"

	"github.com/lib/pq"
)

// ErrNotFound says the object does not exist (dropped out of band, or never created).
var ErrNotFound = errors.New("not found")

// inTx runs fn in a transaction, committing when it returns nil. A lock wait that timed
// out is explained after the rollback, which frees the connection to look with.
func inTx(ctx context.Context, db *sql.DB, fn func(tx *sql.Tx) error) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if err := fn(tx); err != nil {
		_ = tx.Rollback()
		return ExplainLockTimeout(ctx, db, err)
	}
	return tx.Commit()
}

// queryCurrentUser returns the role the connection runs as.
func queryCurrentUser(ctx context.Context, q Querier) (string, error) {
	var u string
	err := q.QueryRowContext(ctx, "SELECT current_user").Scan(&u)
	return u, err
}

type stepLoggerKey struct{}

// Step is one step the provider takes, as the log tells it: what it does to which object.
// It never holds a value that could be secret: no option value, no password.
type Step struct {
	Text, Object string
	// Progress marks a step of a change that runs for long (a move of rows), which a user
	// follows as it goes; the others are the DDL of a change.
	Progress bool
}

// StepLogger hears of each step the provider takes.
type StepLogger func(ctx context.Context, s Step)

// WithStepLogger returns a context whose steps are reported to log.
func WithStepLogger(ctx context.Context, log StepLogger) context.Context {
	return context.WithValue(ctx, stepLoggerKey{}, log)
}

// logStep reports a DDL step to the context's StepLogger, if it has one.
func logStep(ctx context.Context, text, object string) {
	if log, ok := ctx.Value(stepLoggerKey{}).(StepLogger); ok {
		log(ctx, Step{Text: text, Object: object})
	}
}

// logProgress reports a step of a long change (a move of rows) as progress.
func logProgress(ctx context.Context, text, object string) {
	if log, ok := ctx.Value(stepLoggerKey{}).(StepLogger); ok {
		log(ctx, Step{Text: text, Object: object, Progress: true})
	}
}

// ServerError is what the server said of a failed statement: its SQLSTATE, message,
// detail and hint.
type ServerError struct{ Code, Message, Detail, Hint string }

// ServerErrorOf finds the server's error in err's chain; nil when the server said nothing
// (a connection that failed, an error of the provider's own).
func ServerErrorOf(err error) *ServerError {
	e := pq.As(err)
	if e == nil {
		return nil
	}
	return &ServerError{Code: string(e.Code), Message: e.Message, Detail: e.Detail, Hint: e.Hint}
}

// DB is a pool of connections to one database as the Terraform layer holds it: it passes
// the pool to this package's functions, which own every statement and transaction, and
// never runs SQL on it itself.
type DB = sql.DB
