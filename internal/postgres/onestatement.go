package postgres

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
)

// Every statement the provider sends can only ever be one statement. lib/pq sends a query
// without arguments with the simple query protocol, which runs every statement of the
// string; a prepared statement (the extended protocol's Parse message) holds exactly one,
// and the server refuses a second ("cannot insert multiple commands into a prepared
// statement") before anything runs. oneStatementConn sends argument-less statements
// through Prepare, so that no text, whatever a checker missed, can run a second statement.

// oneStatementConnector wraps a connector so that every connection is a oneStatementConn.
// Its gate, when set, hears of every connection opened and closed (gate.go).
type oneStatementConnector struct {
	inner driver.Connector
	gate  *gate
}

func (c oneStatementConnector) Driver() driver.Driver { return c.inner.Driver() }

func (c oneStatementConnector) Connect(ctx context.Context) (driver.Conn, error) {
	if c.gate != nil {
		c.gate.connectStart()
	}
	conn, err := c.connect(ctx)
	if c.gate != nil {
		c.gate.connectDone(err == nil)
	}
	return conn, err
}

func (c oneStatementConnector) connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	inner, ok := conn.(pqConn)
	if !ok {
		return nil, errors.Join(fmt.Errorf("postgres: driver connection %T lacks an interface of lib/pq's", conn), conn.Close())
	}
	return &oneStatementConn{inner: inner, gate: c.gate}, nil
}

// pqConn is what lib/pq's connection implements and oneStatementConn passes through.
type pqConn interface {
	driver.Conn
	driver.ConnBeginTx
	driver.ConnPrepareContext
	driver.ExecerContext
	driver.QueryerContext
	driver.NamedValueChecker
	driver.Pinger
	driver.SessionResetter
	driver.Validator
}

// pqStmt is what lib/pq's prepared statement implements and oneStatementConn runs.
type pqStmt interface {
	driver.Stmt
	driver.StmtExecContext
	driver.StmtQueryContext
}

// oneStatementConn is a lib/pq connection whose Exec and Query never use the simple query
// protocol. The other optional driver interfaces are passed through.
type oneStatementConn struct {
	inner pqConn
	gate  *gate // told of the Close, when set
}

var (
	_ driver.ConnBeginTx        = (*oneStatementConn)(nil)
	_ driver.ConnPrepareContext = (*oneStatementConn)(nil)
	_ driver.ExecerContext      = (*oneStatementConn)(nil)
	_ driver.QueryerContext     = (*oneStatementConn)(nil)
	_ driver.NamedValueChecker  = (*oneStatementConn)(nil)
	_ driver.Pinger             = (*oneStatementConn)(nil)
	_ driver.SessionResetter    = (*oneStatementConn)(nil)
	_ driver.Validator          = (*oneStatementConn)(nil)
)

func (c *oneStatementConn) Prepare(query string) (driver.Stmt, error) { return c.inner.Prepare(query) }
func (c *oneStatementConn) Close() error {
	if c.gate != nil {
		c.gate.closed()
	}
	return c.inner.Close()
}

//lint:ignore SA1019 required by driver.Conn
func (c *oneStatementConn) Begin() (driver.Tx, error) { return c.inner.Begin() } //nolint:staticcheck

func (c *oneStatementConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	tx, err := c.inner.BeginTx(ctx, opts)
	return tx, interrupted(ctx, err)
}

func (c *oneStatementConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	st, err := c.inner.PrepareContext(ctx, query)
	return st, interrupted(ctx, err)
}

// prepareOne prepares query for ExecContext and QueryContext.
func (c *oneStatementConn) prepareOne(ctx context.Context, query string) (pqStmt, error) {
	st, err := c.inner.PrepareContext(ctx, query)
	if err != nil {
		return nil, err
	}
	one, ok := st.(pqStmt)
	if !ok {
		return nil, errors.Join(fmt.Errorf("postgres: prepared statement %T lacks an interface of lib/pq's", st), st.Close())
	}
	return one, nil
}

// ExecContext runs a statement with arguments as lib/pq does (the extended protocol), and
// one without through a prepared statement.
func (c *oneStatementConn) ExecContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Result, error) {
	if len(args) > 0 {
		res, err := c.inner.ExecContext(ctx, query, args)
		return res, interrupted(ctx, err)
	}
	st, err := c.prepareOne(ctx, query)
	if err != nil {
		return nil, interrupted(ctx, err)
	}
	res, err := st.ExecContext(ctx, nil)
	return res, interrupted(ctx, errors.Join(err, st.Close()))
}

// QueryContext is ExecContext for statements that return rows; the prepared statement is
// closed with the rows.
func (c *oneStatementConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) > 0 {
		rows, err := c.inner.QueryContext(ctx, query, args)
		return rows, interrupted(ctx, err)
	}
	st, err := c.prepareOne(ctx, query)
	if err != nil {
		return nil, interrupted(ctx, err)
	}
	rows, err := st.QueryContext(ctx, nil)
	if err != nil {
		return nil, interrupted(ctx, errors.Join(err, st.Close()))
	}
	return &stmtRows{Rows: rows, stmt: st}, nil
}

// interrupted makes an error that came while ctx was canceled (Ctrl-C: Terraform stops the
// provider, which cancels the request's context) say so. lib/pq marks a connection whose
// context was canceled as bad, so the statement may fail with "driver: bad connection" or
// "canceling statement due to user request" instead of context.Canceled, depending on which
// of lib/pq's goroutines wins; the caller must learn the cause either way. The driver's own
// error stays in the chain (database/sql still sees driver.ErrBadConn).
func interrupted(ctx context.Context, err error) error {
	if err == nil || ctx.Err() == nil || errors.Is(err, ctx.Err()) {
		return err
	}
	return &InterruptedError{Cause: ctx.Err(), Err: err}
}

// InterruptedError is an error of a statement whose context was canceled.
type InterruptedError struct {
	Cause error // the context's error: context.Canceled or context.DeadlineExceeded
	Err   error // what the driver said
}

func (e *InterruptedError) Error() string {
	return "interrupted (" + e.Cause.Error() + "): " + e.Err.Error()
}

// Unwrap lets errors.Is find both the context's error and the driver's.
func (e *InterruptedError) Unwrap() []error { return []error{e.Cause, e.Err} }

func (c *oneStatementConn) CheckNamedValue(nv *driver.NamedValue) error {
	return c.inner.CheckNamedValue(nv)
}

func (c *oneStatementConn) Ping(ctx context.Context) error {
	return c.inner.Ping(ctx)
}

func (c *oneStatementConn) ResetSession(ctx context.Context) error {
	return c.inner.ResetSession(ctx)
}

func (c *oneStatementConn) IsValid() bool { return c.inner.IsValid() }

// stmtRows closes the statement its rows came from.
type stmtRows struct {
	driver.Rows
	stmt driver.Stmt
}

func (r *stmtRows) Close() error { return errors.Join(r.Rows.Close(), r.stmt.Close()) }

// CheckOneStatement asks the server to parse text as one prepared statement (the Parse
// message only: nothing is planned or run) and returns its refusal when text holds more
// than one statement or does not parse. Text bound for a shard goes through dblink, which
// runs every statement of a string, so it is checked here first, on the base server.
func CheckOneStatement(ctx context.Context, q Preparer, text string) error {
	st, err := q.PrepareContext(ctx, text)
	if err != nil {
		return err
	}
	return st.Close()
}

// Preparer is a *sql.DB, *sql.Conn or *sql.Tx.
type Preparer interface {
	PrepareContext(ctx context.Context, query string) (*sql.Stmt, error)
}
