package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// The kill-and-resume tests: a move is interrupted at each of its steps, by killing the
// provider's process (a child test process that SIGKILLs itself when it reaches the step),
// by crashing the base or the shard server (pg_ctl stop -m immediate), or by canceling the
// context (what Ctrl-C does: Terraform calls StopProvider, which cancels every request's
// context). The crashed server is started again and the move is run again, as the next
// apply would, by a new process. Every row must then be where the new bound says, exactly
// once, with the same count and checksum through the parent as before the move.

const (
	moveChildEnv = "PGSHARD_MOVE_CHILD" // "to" or "from": this process is a child that moves
	moveDSNEnv   = "PGSHARD_MOVE_DSN"
	moveStepEnv  = "PGSHARD_MOVE_STEP"
	killRows     = 1000
)

// The steps a move logs, by prefix (see move.go): a kill at a step lands just before what
// it announces.
var (
	stepsToDefault = []string{
		"refuse new rows of the leaving keys", // the shard's CHECK narrows (NOT VALID)
		"copy ",                               // the journal is filled and committed
		"put the move's constraint",           // the journal is committed; DEFAULT's constraint goes on (NOT VALID)
		"delete the ",                         // the moving transaction has counted the journal
		"check that DEFAULT holds no row",     // the shard's rows are deleted, not committed
		"switch to the new bound and commit",  // DEFAULT's constraint is validated
		"validate the shard's CHECK",          // committed, the journal attached as the holding partition; the shard's CHECK is not validated yet
	}
	stepsFromDefault = []string{
		"widen the shard's CHECK",            // nothing moved yet
		"put the move's constraint",          // the shard's CHECK is wider
		"move ",                              // DEFAULT refuses new rows of the moving keys
		"copied ",                            // one batch is on the shard, not committed
		"delete the ",                        // every row is on the shard, verified; DEFAULT still holds them
		"check that DEFAULT holds no row",    // DEFAULT's rows are deleted, not committed
		"switch to the new bound and commit", // DEFAULT's constraint is validated
	}
	killVictims = []string{"provider", "base", "shard", "cancel"}
)

var (
	killBoth   = Bound{In: []string{"europe", "eu"}}
	killEurope = Bound{In: []string{"europe"}}
)

func killPartition(dir string) (Partition, Bound) {
	p := Partition{Schema: "public", Name: "eu", ParentSchema: "public", ParentName: "tweets", Foreign: true, Server: "europe",
		Options: map[string]string{"table_name": "eu"}}
	if dir == "to" {
		p.Bound = killEurope
		return p, killBoth
	}
	p.Bound = killBoth
	return p, killEurope
}

func runKillMove(ctx context.Context, db *sql.DB, dir string) (MoveResult, error) {
	p, from := killPartition(dir)
	if dir == "to" {
		return MoveToDefault(ctx, db, p, from, true)
	}
	return MoveFromDefault(ctx, db, p, from, true)
}

// moveChild runs in the child process: the move, killing itself at the step.
func moveChild() int {
	db, err := sql.Open("postgres", os.Getenv(moveDSNEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	moveBatchRows = 100
	step := os.Getenv(moveStepEnv)
	ctx := WithStepLogger(context.Background(), func(_ context.Context, s Step) {
		if strings.HasPrefix(s.Text, step) {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
	})
	_, err = runKillMove(ctx, db, os.Getenv(moveChildEnv))
	fmt.Fprintf(os.Stderr, "the move never reached step %q: %v\n", step, err)
	return 3
}

type killFixture struct {
	base, shard *postgrestest.Cluster
	n           int
}

// prepare makes a fresh base database and shard database: the parent tweets with a DEFAULT
// partition, and the shard eu holding killRows rows (every third of location 'eu'), whose
// foreign partition admits europe and eu. For dir "from" the eu rows are moved into DEFAULT
// first. It returns the base database's DSN and the rows' checksum through the parent.
func (f *killFixture) prepare(t *testing.T, dir string) (dsn string, sum int64) {
	t.Helper()
	ctx := t.Context()
	f.n++
	name := fmt.Sprintf("kill_%d", f.n)
	for _, c := range []*postgrestest.Cluster{f.base, f.shard} {
		if err := c.CreateDatabase(ctx, name); err != nil {
			t.Fatal(err)
		}
	}
	base, shard := f.open(t, f.base, name), f.open(t, f.shard, name)
	mustExec(t, base, `CREATE EXTENSION postgres_fdw`)
	mustExec(t, base, `CREATE EXTENSION dblink`)
	mustExec(t, base, "CREATE SERVER europe FOREIGN DATA WRAPPER postgres_fdw"+CreateOptionsClause(map[string]string{
		"host": f.shard.Host, "port": itoa(f.shard.Port), "dbname": name, "batch_size": "50", "fetch_size": "100"}))
	mustExec(t, base, "CREATE USER MAPPING FOR CURRENT_USER SERVER europe"+CreateOptionsClause(map[string]string{
		"user": f.shard.User, "password": f.shard.Password}))
	mustExec(t, base, `CREATE TABLE tweets (id int, location text, body text) PARTITION BY LIST (location)`)
	mustExec(t, base, `CREATE TABLE tweets_default PARTITION OF tweets DEFAULT`)
	mustExec(t, shard, `CREATE TABLE eu (id int, location text, body text, CONSTRAINT `+Ident(BoundCheckName("eu"))+` CHECK (location IN ('europe', 'eu')))`)
	mustExec(t, shard, fmt.Sprintf(`INSERT INTO eu SELECT g, CASE WHEN g %% 3 = 0 THEN 'eu' ELSE 'europe' END,
		CASE WHEN g %% 7 = 0 THEN NULL WHEN g %% 5 = 0 THEN 'it''s $$ -- '||g ELSE 'b'||g END FROM generate_series(1, %d) g`, killRows))
	mustExec(t, base, `CREATE FOREIGN TABLE eu PARTITION OF tweets FOR VALUES IN ('europe', 'eu') SERVER europe OPTIONS (table_name 'eu')`)
	if dir == "from" {
		if _, err := runKillMove(ctx, base, "to"); err != nil {
			t.Fatal(err)
		}
	}
	return f.base.DSN(name), f.checksum(t, base)
}

func (f *killFixture) open(t *testing.T, c *postgrestest.Cluster, database string) *sql.DB {
	t.Helper()
	db, err := c.Open(database)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func (f *killFixture) checksum(t *testing.T, base *sql.DB) int64 {
	t.Helper()
	var sum int64
	if err := base.QueryRow(`SELECT sum(hashtextextended(t::text, 0)) % 9223372036854775807 FROM (SELECT id, location, body FROM tweets) t`).Scan(&sum); err != nil {
		t.Fatal(err)
	}
	return sum
}

// verify checks the end state of a finished move.
func (f *killFixture) verify(t *testing.T, dir, dsnBase string, sum int64) {
	t.Helper()
	name := dsnDatabase(t, dsnBase)
	base, shard := f.open(t, f.base, name), f.open(t, f.shard, name)
	expectCount(t, base, killRows, `SELECT count(*) FROM tweets`)
	expectCount(t, base, killRows, `SELECT count(DISTINCT id) FROM tweets`)
	if got := f.checksum(t, base); got != sum {
		t.Fatalf("checksum through the parent %d, before the move %d", got, sum)
	}
	eu := int64(killRows / 3)
	wantDefault, wantShard, bound := eu, int64(killRows)-eu, "FOR VALUES IN ('europe')"
	if dir == "from" {
		wantDefault, wantShard, bound = 0, killRows, "FOR VALUES IN ('europe', 'eu')"
	}
	expectCount(t, base, wantDefault, `SELECT count(*) FROM `+onBase)
	expectCount(t, shard, wantShard, `SELECT count(*) FROM eu`)
	expectCount(t, base, 0, `SELECT count(*) FROM pg_class WHERE relname LIKE 'pgshard_move%'`)
	expectCount(t, base, 0, `SELECT count(*) FROM pg_constraint WHERE conname LIKE 'pgshard_moving%'`)
	var got string
	if err := base.QueryRow(`SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = 'eu' AND relispartition`).Scan(&got); err != nil || got != bound {
		t.Fatalf("the partition's bound is %q (%v), want %q", got, err, bound)
	}
	var check string
	if err := shard.QueryRow(`SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1`, BoundCheckName("eu")).Scan(&check); err != nil ||
		strings.Contains(check, "NOT VALID") || (dir == "to") == strings.Contains(check, "'eu'") {
		t.Fatalf("the shard's bound CHECK is %q (%v)", check, err)
	}
}

func dsnDatabase(t *testing.T, dsn string) string {
	t.Helper()
	for _, f := range strings.Fields(dsn) {
		if v, ok := strings.CutPrefix(f, "dbname="); ok {
			return strings.Trim(v, "'")
		}
	}
	t.Fatalf("no dbname in %q", dsn)
	return ""
}

// interrupt runs the move and stops it at step by victim. It reports whether the step was
// reached.
func (f *killFixture) interrupt(t *testing.T, dir, dsn, step, victim string) {
	t.Helper()
	child := []string{moveChildEnv + "=" + dir, moveDSNEnv + "=" + dsn, moveStepEnv + "=" + step}
	ran, err := f.stopAt(t, dsn, step, victim, child, func(ctx context.Context, db *sql.DB) error {
		_, err := runKillMove(ctx, db, dir)
		return err
	})
	if !ran {
		return
	}
	t.Logf("interrupted: %v", err)
	// Canceled before its switch committed, the move puts the shard's CHECK back: the shard
	// admits exactly what the base still routes to it.
	if victim == "cancel" && !strings.HasPrefix(step, "validate") {
		shard := f.open(t, f.shard, dsnDatabase(t, dsn))
		var check string
		if err := shard.QueryRow(`SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1`, BoundCheckName("eu")).Scan(&check); err != nil ||
			strings.Contains(check, "NOT VALID") || (dir == "to") != strings.Contains(check, "'eu'") {
			t.Errorf("after the canceled move the shard's bound CHECK is %q (%v), want the old bound", check, err)
		}
	}
}

// stopAt runs a change and stops it at step by victim: for "provider", a child process of
// this test binary (with the environment child) that kills itself there; otherwise run in
// this process, stopped by crashing the base or the shard or by canceling its context. It
// returns whether run ran here, and its error.
func (f *killFixture) stopAt(t *testing.T, dsn, step, victim string, child []string, run func(context.Context, *sql.DB) error) (bool, error) {
	t.Helper()
	if victim == "provider" {
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), child...)
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		killed := false
		if errors.As(err, &ee) {
			status, ok := ee.Sys().(syscall.WaitStatus)
			killed = ok && status.Signal() == syscall.SIGKILL
		}
		if !killed {
			t.Fatalf("the child was not killed at step %q: %v\n%s", step, err, out)
		}
		return false, nil
	}
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	fired := false
	ctx = WithStepLogger(ctx, func(_ context.Context, s Step) {
		if fired || !strings.HasPrefix(s.Text, step) {
			return
		}
		fired = true
		var err error
		switch victim {
		case "base":
			err = f.base.CrashServer()
		case "shard":
			err = f.shard.CrashServer()
		case "cancel":
			cancel()
		}
		if err != nil {
			t.Error(err)
		}
	})
	err = run(ctx, db)
	if !fired {
		t.Fatalf("the change never reached step %q (%v)", step, err)
	}
	return true, err
}

// restart brings crashed servers back.
func (f *killFixture) restart(t *testing.T) {
	t.Helper()
	for _, c := range []*postgrestest.Cluster{f.base, f.shard} {
		if err := c.StartServer(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
}

// resume runs the move again in a new pool, as the next apply would.
func (f *killFixture) resume(t *testing.T, dir, dsn string) MoveResult {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	res, err := runKillMove(t.Context(), db, dir)
	if err != nil {
		t.Fatalf("the resumed move failed: %v", err)
	}
	return res
}

func startKillClusters(t *testing.T) *killFixture {
	t.Helper()
	postgrestest.Needs(t, "PostgreSQL clusters of its own")
	f := &killFixture{}
	var err error
	for _, c := range []struct {
		into **postgrestest.Cluster
		name string
	}{{&f.base, "killbase"}, {&f.shard, "killshard"}} {
		if *c.into, err = postgrestest.StartCluster(t.Context(), c.name); err != nil {
			t.Fatal(err)
		}
		cl := *c.into
		t.Cleanup(func() { _ = cl.Destroy() })
		// The harness turns synchronous_commit off for speed: a crash would then lose
		// commits that were acknowledged, which no real deployment does.
		if err := cl.Exec(t.Context(), postgrestest.AdminDatabase, `ALTER SYSTEM SET synchronous_commit = on`); err != nil {
			t.Fatal(err)
		}
		if err := cl.Exec(t.Context(), postgrestest.AdminDatabase, `SELECT pg_reload_conf()`); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

// Every step of both moves, interrupted by each victim, then resumed.
func TestMoveKilledAtEachStep(t *testing.T) {
	eachKillCase(t, func(string) bool { return true }, func(t *testing.T, f *killFixture, dir, step, victim string) {
		dsn, sum := f.prepare(t, dir)
		f.interrupt(t, dir, dsn, step, victim)
		f.restart(t)
		f.resume(t, dir, dsn)
		f.verify(t, dir, dsn, sum)
	})
}

// eachKillCase runs test for every direction, step (those steps keeps) and victim, as a
// subtest, on one pair of kill clusters and with small batches.
func eachKillCase(t *testing.T, keep func(step string) bool, test func(t *testing.T, f *killFixture, dir, step, victim string)) {
	f := startKillClusters(t)
	defer func(n int64) { moveBatchRows = n }(moveBatchRows)
	moveBatchRows = 100
	for _, dir := range []string{"to", "from"} {
		steps := stepsToDefault
		if dir == "from" {
			steps = stepsFromDefault
		}
		for _, step := range steps {
			if !keep(step) {
				continue
			}
			for _, victim := range killVictims {
				t.Run(fmt.Sprintf("%s/%s/%s", dir, strings.Join(strings.Fields(step), "_"), victim), func(t *testing.T) {
					test(t, f, dir, step, victim)
				})
			}
		}
	}
}

// The narrowest window: the shard has committed its part of the switch (postgres_fdw
// commits the remote transaction just before the local one) and the base crashes before its
// own commit. A deferred trigger on the shard holds the shard's commit open for a moment
// while the test crashes the base. The next move finishes from what is left: for a move to
// DEFAULT, from the journal (the shard's rows are gone, DEFAULT lost them); for a move from
// DEFAULT, without copying twice (the shard holds the rows, DEFAULT still does too).
func TestMoveBaseCrashesDuringShardCommit(t *testing.T) {
	f := startKillClusters(t)
	for _, c := range []struct{ dir, then string }{{"to", "resume"}, {"from", "resume"}, {"to", "abandon"}, {"from", "abandon"}} {
		dir := c.dir
		t.Run(dir+"/"+c.then, func(t *testing.T) {
			dsn, sum := f.prepare(t, dir)
			name := dsnDatabase(t, dsn)
			shard := f.open(t, f.shard, name)
			mustExec(t, shard, `CREATE FUNCTION slow_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF current_setting('pgshard_test.slept', true) IS DISTINCT FROM 'y' THEN
    PERFORM set_config('pgshard_test.slept', 'y', true);
    PERFORM pg_sleep(5);
  END IF;
  RETURN NULL;
END $$`)
			mustExec(t, shard, `CREATE CONSTRAINT TRIGGER slow_commit AFTER INSERT OR DELETE ON eu DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION slow_commit()`)
			watch, err := f.shard.Open(postgrestest.AdminDatabase)
			if err != nil {
				t.Fatal(err)
			}
			defer watch.Close()
			var wg sync.WaitGroup
			crashed := false
			db, err := sql.Open("postgres", dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			ctx := WithStepLogger(t.Context(), func(_ context.Context, s Step) {
				if !strings.HasPrefix(s.Text, "switch to the new bound and commit") {
					return
				}
				wg.Add(1)
				go func() {
					defer wg.Done()
					deadline := time.Now().Add(30 * time.Second)
					for time.Now().Before(deadline) {
						var n int
						if err := watch.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'`).Scan(&n); err == nil && n > 0 {
							crashed = f.base.CrashServer() == nil
							return
						}
						time.Sleep(20 * time.Millisecond)
					}
				}()
			})
			_, err = runKillMove(ctx, db, dir)
			wg.Wait()
			if !crashed || err == nil {
				t.Fatalf("the base was not crashed during the shard's commit (crashed %v, move error %v)", crashed, err)
			}
			// Wait for the shard's commit to finish, then look at what the crash left.
			for i := 0; i < 300; i++ {
				var n int
				if err := watch.QueryRow(`SELECT count(*) FROM pg_stat_activity WHERE wait_event = 'PgSleep'`).Scan(&n); err == nil && n == 0 {
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
			mustExec(t, shard, `DROP TRIGGER slow_commit ON eu`)
			f.restart(t)
			base := f.open(t, f.base, name)
			eu := int64(killRows / 3)
			if dir == "to" {
				expectCount(t, shard, 0, `SELECT count(*) FROM eu WHERE location = 'eu'`)
				expectCount(t, base, eu, `SELECT count(*) FROM pgshard_move_eu`)
				expectCount(t, base, 0, `SELECT count(*) FROM `+onBase)
			} else {
				expectCount(t, shard, eu, `SELECT count(*) FROM eu WHERE location = 'eu'`)
				expectCount(t, base, eu, `SELECT count(*) FROM `+onBase)
			}
			if c.then == "abandon" {
				// The configuration is put back to the old bound: the refresh undoes the move.
				found := f.undo(t, dsn)
				if dir == "to" && found.OnlyInJournal != eu || dir == "from" && found.Copies != eu {
					t.Errorf("the undo found %+v", found)
				}
				f.repairDrift(t, dsn, dir)
				f.verify(t, opposite(dir), dsn, sum)
				return
			}
			if res := f.resume(t, dir, dsn); !res.Resumed {
				t.Errorf("the second move did not say it resumed: %+v", res)
			}
			f.verify(t, dir, dsn, sum)
		})
	}
}

// A move interrupted at each step before its switch, by each victim, and then abandoned
// (the configuration put back to the old bound): the refresh's UndoMove leaves every row
// where it was before the move, once, and nothing of the move behind.
func TestMoveAbandonedAtEachStep(t *testing.T) {
	// After the switch committed, the move is done, not abandoned.
	keep := func(step string) bool { return !strings.HasPrefix(step, "validate") }
	eachKillCase(t, keep, func(t *testing.T, f *killFixture, dir, step, victim string) {
		dsn, sum := f.prepare(t, dir)
		f.interrupt(t, dir, dsn, step, victim)
		f.restart(t)
		f.undo(t, dsn)
		f.repairDrift(t, dsn, dir)
		f.verify(t, opposite(dir), dsn, sum)
		// A second refresh finds nothing to undo.
		if found := f.undo(t, dsn); !found.Empty() {
			t.Errorf("the second undo found %+v", found)
		}
	})
}

// undo runs what a refresh of the partition runs, in a new pool.
func (f *killFixture) undo(t *testing.T, dsn string) MoveLeftovers {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	found, err := UndoMove(t.Context(), db, "public", "eu", true)
	if err != nil {
		t.Fatalf("the undo failed: %v (found %+v)", err, found)
	}
	return found
}

// repairDrift does what the next apply does when the shard's bound CHECK is not the one the
// provider set (the move changes it first, and a kill or a shard down can keep it from being
// put back): the refresh shows it in remote_drift, and the apply sets it again. It checks
// first that there is such drift whenever the CHECK is not the old bound's.
func (f *killFixture) repairDrift(t *testing.T, dsn, dir string) {
	t.Helper()
	shard := f.open(t, f.shard, dsnDatabase(t, dsn))
	var check string
	if err := shard.QueryRow(`SELECT pg_get_constraintdef(oid) FROM pg_constraint WHERE conname = $1`, BoundCheckName("eu")).Scan(&check); err != nil {
		t.Fatal(err)
	}
	want := "CHECK ((location = ANY (ARRAY['europe'::text, 'eu'::text])))" // before a move to DEFAULT
	old := "location IN ('europe', 'eu')"
	if dir == "from" {
		want, old = "CHECK ((location = 'europe'::text))", "location IN ('europe')"
	}
	if check == want {
		return
	}
	t.Logf("the shard's CHECK is %q: remote_drift shows it and the apply sets it again", check)
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if err := setRemoteCheckOnline(t.Context(), db, ShardTable{Server: "europe", Schema: "public", Name: "eu", CheckName: BoundCheckName("eu")}, old); err != nil {
		t.Fatal(err)
	}
}

// opposite is the state before a move in dir: what the move the other way ends with.
func opposite(dir string) string {
	if dir == "to" {
		return "from"
	}
	return "to"
}
