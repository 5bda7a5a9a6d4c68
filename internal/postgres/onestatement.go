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
type oneStatementConnector struct{ inner driver.Connector }

func (c oneStatementConnector) Driver() driver.Driver { return c.inner.Driver() }

func (c oneStatementConnector) Connect(ctx context.Context) (driver.Conn, error) {
	conn, err := c.inner.Connect(ctx)
	if err != nil {
		return nil, err
	}
	inner, ok := conn.(pqConn)
	if !ok {
		return nil, errors.Join(fmt.Errorf("postgres: driver connection %T lacks an interface of lib/pq's", conn), conn.Close())
	}
	return &oneStatementConn{inner: inner}, nil
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
type oneStatementConn struct{ inner pqConn }

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
func (c *oneStatementConn) Close() error                              { return c.inner.Close() }

//lint:ignore SA1019 required by driver.Conn
func (c *oneStatementConn) Begin() (driver.Tx, error) { return c.inner.Begin() } //nolint:staticcheck

func (c *oneStatementConn) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	return c.inner.BeginTx(ctx, opts)
}

func (c *oneStatementConn) PrepareContext(ctx context.Context, query string) (driver.Stmt, error) {
	return c.inner.PrepareContext(ctx, query)
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
		return c.inner.ExecContext(ctx, query, args)
	}
	st, err := c.prepareOne(ctx, query)
	if err != nil {
		return nil, err
	}
	res, err := st.ExecContext(ctx, nil)
	return res, errors.Join(err, st.Close())
}

// QueryContext is ExecContext for statements that return rows; the prepared statement is
// closed with the rows.
func (c *oneStatementConn) QueryContext(ctx context.Context, query string, args []driver.NamedValue) (driver.Rows, error) {
	if len(args) > 0 {
		return c.inner.QueryContext(ctx, query, args)
	}
	st, err := c.prepareOne(ctx, query)
	if err != nil {
		return nil, err
	}
	rows, err := st.QueryContext(ctx, nil)
	if err != nil {
		return nil, errors.Join(err, st.Close())
	}
	return &stmtRows{Rows: rows, stmt: st}, nil
}

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
