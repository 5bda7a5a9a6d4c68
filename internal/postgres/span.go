package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
)

// A change that spans the base database and its shards has one outcome: it happens on all
// of them or on none. The base's part runs in a transaction on one pinned session; each
// shard's part is collected and, once the base's part has run, sent through dblink from
// that session as one remote transaction that ends in PREPARE TRANSACTION. Only when every
// shard has prepared does the base commit; then the shards' prepared transactions commit.
// A failure before the base commit rolls back the base and every prepared part; a crash
// between the base commit and COMMIT PREPARED leaves prepared transactions that the next
// change through that shard, or the next refresh of a shard table the provider manages,
// resolves from the base's own commit log (pg_xact_status of the base transaction, whose
// id is in the prepared transaction's name): committed there, committed on the shard;
// aborted there, rolled back on the shard.
//
// A shard whose max_prepared_transactions is 0 cannot prepare. Its part then runs as a
// plain remote transaction after every other part has prepared and just before the base
// commits: a statement it refuses still rolls everything back, but a failure of the base
// commit itself after it committed leaves that shard changed alone (its foreign partition
// shows it in remote_drift, and the next apply finishes or repairs it).

// Span is one change across the base and its shards. Make it with BeginSpan; the base's
// statements run in Tx; OnShard adds a shard's part; Commit ends it.
type Span struct {
	conn  *sql.Conn
	Tx    *sql.Tx
	db    *sql.DB
	base  string // this base's part of prepared transactions' names (baseIdentity)
	gid   string // prefix of this change's prepared transactions' names
	parts []*spanPart
	done  bool
	// leftover are the shards where an aborted span may have left a prepared part.
	leftover []string
}

type spanPart struct {
	server   string
	stmts    []string
	remote   *ShardSession
	twoPhase bool
	gid      string
	prepared bool
}

// gidPrefix starts the name of every prepared transaction the provider makes on a shard.
const gidPrefix = "pgshard_"

// beginSpan starts a change across the base and its shards on a session of its own.
func beginSpan(ctx context.Context, db *sql.DB) (*Span, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, err
	}
	base, err := baseIdentity(ctx, conn)
	if err != nil {
		conn.Close()
		return nil, err
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		conn.Close()
		return nil, err
	}
	var xid string
	if err := tx.QueryRowContext(ctx, `SELECT pg_current_xact_id()::text`).Scan(&xid); err != nil {
		_ = tx.Rollback()
		conn.Close()
		return nil, err
	}
	return &Span{conn: conn, Tx: tx, db: db, base: base, gid: base + xid + "_"}, nil
}

// baseIdentity names this base database in prepared transactions' names, so that a shard
// that several bases use resolves only its own: the cluster's system identifier where the
// role may read it (pg_control_system), else 0, and the database's oid.
func baseIdentity(ctx context.Context, q Querier) (string, error) {
	var may bool
	if err := q.QueryRowContext(ctx, `SELECT has_function_privilege('pg_catalog.pg_control_system()', 'EXECUTE')`).Scan(&may); err != nil {
		return "", err
	}
	system := "0"
	if may {
		if err := q.QueryRowContext(ctx, `SELECT system_identifier::text FROM pg_control_system()`).Scan(&system); err != nil {
			return "", err
		}
	}
	var oid string
	err := q.QueryRowContext(ctx, `SELECT oid::text FROM pg_database WHERE datname = current_database()`).Scan(&oid)
	return gidPrefix + system + "_" + oid + "_", err
}

// OnShard adds statements to the shard behind server's part of the change; they run, in
// order, in one remote transaction when the change commits.
func (s *Span) OnShard(server string, stmts ...string) {
	for _, p := range s.parts {
		if p.server == server {
			p.stmts = append(p.stmts, stmts...)
			return
		}
	}
	s.parts = append(s.parts, &spanPart{server: server, stmts: stmts})
}

// Servers lists the shards that have a part in the change.
func (s *Span) Servers() []string {
	out := make([]string, len(s.parts))
	for i, p := range s.parts {
		out[i] = p.server
	}
	return out
}

// PartError is a shard's refusal of its part: nothing of the change committed anywhere.
type PartError struct {
	Server string
	Err    error
}

func (e *PartError) Error() string {
	return fmt.Sprintf("the shard behind server %q refused its part of the change, so nothing was changed on the base or any shard: %s", e.Server, reasonOf(e.Err))
}

func (e *PartError) Unwrap() error { return e.Err }

// Commit runs every shard's part and commits the change everywhere, or nowhere. The
// error says which shard refused; after a refusal nothing has changed.
func (s *Span) Commit(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			s.abort(ctx)
			// Closed first: a part's remote session, left in its failed transaction,
			// would otherwise be listed among the holders of the shard's locks.
			s.close()
			s.resolveLeftovers(ctx)
			err = ExplainLockTimeout(ctx, s.db, err)
		}
		s.close()
	}()
	timeout, err := sessionLockTimeout(ctx, s.Tx)
	if err != nil {
		return err
	}
	var plain []*spanPart
	for i, p := range s.parts {
		if len(p.stmts) == 0 {
			continue
		}
		p.gid = s.gid + strconv.Itoa(i)
		if err := s.open(ctx, p); err != nil {
			return &PartError{Server: p.server, Err: err}
		}
		if !p.twoPhase {
			plain = append(plain, p)
			continue
		}
		logStep(ctx, "prepare the shard's part of the change (two-phase commit)", p.server)
		if err := p.remote.run(ctx, "BEGIN", timeout, p.stmts, "PREPARE TRANSACTION "+Literal(p.gid)); err != nil {
			return &PartError{Server: p.server, Err: err}
		}
		p.prepared = true
	}
	// Shards that cannot prepare run their parts last, each left open on its own connection
	// where it can be, and commit together right before the base, so that a refusal by any
	// still stops everything. (An unnamed connection, which lasts one call, commits at once.)
	for _, p := range plain {
		logStep(ctx, "run the shard's part of the change (the shard has max_prepared_transactions = 0)", p.server)
		end := "COMMIT"
		if p.remote.named {
			end = "SELECT 1"
		}
		if err := p.remote.run(ctx, "BEGIN", timeout, p.stmts, end); err != nil {
			return &PartError{Server: p.server, Err: err}
		}
	}
	for _, p := range plain {
		if !p.remote.named {
			continue
		}
		logStep(ctx, "commit the shard's part of the change (the shard has max_prepared_transactions = 0)", p.server)
		if err := p.remote.control(ctx, "COMMIT"); err != nil {
			return &PartError{Server: p.server, Err: err}
		}
	}
	logStep(ctx, "commit the base's part of the change", "")
	if err := s.Tx.Commit(); err != nil {
		return err
	}
	s.done = true
	for _, p := range s.parts {
		if p.remote != nil {
			p.remote.tx = nil // the shard statements that follow run on the session, outside the base transaction
		}
	}
	var failed []string
	for _, p := range s.parts {
		if !p.prepared {
			continue
		}
		logStep(ctx, "commit the shard's prepared part", p.server)
		err := p.remote.control(context.WithoutCancel(ctx), "COMMIT PREPARED "+Literal(p.gid))
		// Gone already: a refresh or another change through this shard saw the base commit
		// and committed it first.
		if err != nil && pq.As(err, "42704") == nil {
			failed = append(failed, fmt.Sprintf("server %q: %s", p.server, reasonOf(err)))
		}
	}
	if len(failed) > 0 {
		// The base committed, so the change is decided: the next refresh or change through
		// these shards commits what they prepared.
		return &ShardError{Failed: failed}
	}
	return nil
}

// open connects the part's shard from the span's session, finds whether it can prepare,
// and resolves what earlier changes left prepared there.
func (s *Span) open(ctx context.Context, p *spanPart) error {
	r, err := connectShard(ctx, s.Tx, p.server)
	if err != nil {
		return err
	}
	r.conn, r.tx = s.conn, s.Tx
	p.remote = r
	if p.twoPhase, err = r.canPrepare(ctx); err != nil || !p.twoPhase {
		return err
	}
	return r.resolvePrepared(ctx, s.base)
}

// abort rolls back the base (when it has not committed) and every part prepared so far.
func (s *Span) abort(ctx context.Context) {
	ctx = context.WithoutCancel(ctx)
	if !s.done {
		_ = s.Tx.Rollback()
	}
	for _, p := range s.parts {
		if p.remote != nil {
			p.remote.tx = nil
		}
	}
	for _, p := range s.parts {
		if p.gid == "" || !p.twoPhase || s.done {
			continue
		}
		// A part may also be prepared on the shard without this side knowing (dblink raised a
		// cancel after the shard prepared), and the span's session may be broken (lib/pq marks
		// a canceled connection bad): whatever is left is resolved from the base's commit log,
		// on a session of the pool, once the base transaction has ended.
		if p.prepared && p.remote.control(ctx, "ROLLBACK PREPARED "+Literal(p.gid)) == nil {
			continue
		}
		s.leftover = append(s.leftover, p.server)
	}
}

// resolveLeftovers finishes, from the base's commit log, what an aborted span may have
// left prepared, retrying briefly while the base transaction is still ending.
func (s *Span) resolveLeftovers(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	for _, server := range s.leftover {
		for try := 0; try < 5; try++ {
			left, err := resolvePreparedOf(ctx, s.db, server, s.base, s.gid)
			if err == nil && !left {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	s.leftover = nil
}

// Rollback ends a span that will not commit; nothing of it is changed anywhere.
func (s *Span) Rollback(ctx context.Context) {
	if s.conn == nil {
		return
	}
	s.abort(ctx)
	s.close()
	s.resolveLeftovers(ctx)
}

// close ends the span's shard connections (a remote transaction left open rolls back) and
// returns its session to the pool.
func (s *Span) close() {
	if s.conn == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, p := range s.parts {
		if p.remote != nil && p.remote.named {
			_, _ = s.conn.ExecContext(ctx, `SELECT `+p.remote.close+`($1)`, p.remote.name)
		}
	}
	s.conn.Close()
	s.conn = nil
}

// runSpan runs fn, which makes the base's part in s.Tx and adds the shards' parts, and
// commits the change everywhere or nowhere.
func runSpan(ctx context.Context, db *sql.DB, fn func(s *Span) error) error {
	s, err := beginSpan(ctx, db)
	if err != nil {
		return err
	}
	if err := fn(s); err != nil {
		s.Rollback(ctx)
		return ExplainLockTimeout(ctx, db, err)
	}
	return s.Commit(ctx)
}

// sessionLockTimeout is the base session's lock_timeout, which the shards' parts take too.
func sessionLockTimeout(ctx context.Context, q Querier) (string, error) {
	var timeout string
	err := q.QueryRowContext(ctx, `SELECT current_setting('lock_timeout')`).Scan(&timeout)
	return timeout, err
}

// run sends one remote transaction: begin, the session's lock_timeout, the statements,
// end (PREPARE TRANSACTION or COMMIT). Each statement is first parsed on the base as one
// prepared statement, so that no text can hold a second.
func (r *ShardSession) run(ctx context.Context, begin, lockTimeout string, stmts []string, end string) error {
	for _, stmt := range stmts {
		if err := CheckOneStatement(ctx, r.session(), stmt); err != nil {
			return fmt.Errorf("refusing to send a statement to the shard through server %q: %w", r.server, err)
		}
	}
	// The statements were parsed on the base with standard_conforming_strings on; the shard
	// must read them the same way.
	text := begin + ";\nSET LOCAL lock_timeout = " + Literal(lockTimeout) + ";\nSET LOCAL standard_conforming_strings = on;\n" +
		strings.Join(stmts, ";\n") + ";\n" + end
	logStep(ctx, fmt.Sprintf("run %d statement(s) on the shard through server %q", len(stmts), r.server), firstWords(stmts))
	// A refusal leaves a named connection's remote session in a failed transaction block;
	// the span's close disconnects it, which rolls it back.
	if _, err := r.session().ExecContext(ctx, `SELECT `+r.exec+`($1, $2)`, r.name, text); err != nil {
		return r.fail(fmt.Errorf("on the shard through server %q: %w", r.server, err))
	}
	return nil
}

// control runs one transaction-control statement (COMMIT PREPARED, ROLLBACK PREPARED) on
// the shard, outside any transaction.
func (r *ShardSession) control(ctx context.Context, stmt string) error {
	_, err := r.session().ExecContext(ctx, `SELECT `+r.exec+`($1, $2)`, r.name, stmt)
	return err
}

// queryRow reads one value from the shard.
func (r *ShardSession) queryRow(ctx context.Context, query string, dest any) error {
	return r.session().QueryRowContext(ctx, `SELECT v FROM `+r.dblink+`($1, $2) AS t(v text)`, r.name, r.bounded("SELECT ("+query+")::text")).Scan(dest)
}

// resolvePrepared finishes the prepared transactions an interrupted change of the base
// named base left on the shard: committed where the base committed the change, rolled
// back where the base rolled it back. One still in progress on the base (another apply) is
// left alone; one too old for the base to remember (pg_xact_status is NULL) needs a person,
// and the error says so.
func (r *ShardSession) resolvePrepared(ctx context.Context, base string) error {
	// Only this base's, and only those this shard user made (the others it could not finish).
	list := `SELECT coalesce(string_agg(gid, ' '), '') FROM pg_prepared_xacts WHERE database = current_database() AND owner = current_user AND starts_with(gid, ` + Literal(base) + `)`
	var gids string
	if err := r.queryRow(ctx, list, &gids); err != nil {
		return err
	}
	for _, gid := range strings.Fields(gids) {
		var status sql.NullString
		// The base transaction's id follows the base's identity, then the part's index.
		xid := leadingDigits(strings.TrimPrefix(gid, base))
		// A base transaction id past the base's next one was lost in a crash of the base
		// before its commit became durable: it never committed.
		if err := r.session().QueryRowContext(ctx, `SELECT CASE WHEN $1::xid8 >= pg_snapshot_xmax(pg_current_snapshot()) THEN 'aborted'
			ELSE pg_xact_status($1::xid8) END`, xid).Scan(&status); err != nil {
			return err
		}
		switch status.String {
		case "committed":
			logStep(ctx, "commit a prepared part left by an interrupted change (the base committed it)", r.server)
			if err := r.control(ctx, "COMMIT PREPARED "+Literal(gid)); err != nil {
				return err
			}
		case "aborted":
			logStep(ctx, "roll back a prepared part left by an interrupted change (the base rolled it back)", r.server)
			if err := r.control(ctx, "ROLLBACK PREPARED "+Literal(gid)); err != nil {
				return err
			}
		case "in progress":
		default:
			return fmt.Errorf("the shard holds the prepared transaction %q of a change too old for the base to know whether it committed; "+
				"finish it by hand on the shard (COMMIT PREPARED or ROLLBACK PREPARED) after checking the shard table", gid)
		}
	}
	return nil
}

// resolvePrepared finishes what interrupted changes of this base left prepared on the
// shard behind server (see resolvePrepared). It is a no-op for a shard that cannot prepare.
func resolvePrepared(ctx context.Context, db *sql.DB, server string) error {
	base, err := baseIdentity(ctx, db)
	if err != nil {
		return err
	}
	return withShardSession(ctx, db, server, func(r *ShardSession) error { return r.resolveIfTwoPhase(ctx, base) })
}

// resolvePreparedOf resolves what changes of the base named base left prepared on the
// shard behind server, and reports whether a part of the change whose names start with
// gid is still left there (its base transaction still ending).
func resolvePreparedOf(ctx context.Context, db *sql.DB, server, base, gid string) (left bool, err error) {
	err = withShardSession(ctx, db, server, func(r *ShardSession) error {
		if err := r.resolvePrepared(ctx, base); err != nil {
			return err
		}
		var n int
		err := r.queryRow(ctx, `SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database() AND starts_with(gid, `+Literal(gid)+`)`, &n)
		left = n > 0
		return err
	})
	return left, err
}

// resolveIfTwoPhase reports whether the shard can prepare, resolving what is left there.
func (r *ShardSession) resolveIfTwoPhase(ctx context.Context, base string) error {
	twoPhase, err := r.canPrepare(ctx)
	if err != nil || !twoPhase {
		return err
	}
	return r.resolvePrepared(ctx, base)
}

func (r *ShardSession) canPrepare(ctx context.Context) (bool, error) {
	var n int
	err := r.queryRow(ctx, `SELECT current_setting('max_prepared_transactions')::int`, &n)
	return n > 0, err
}

func leadingDigits(s string) string {
	i := 0
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	return s[:i]
}
