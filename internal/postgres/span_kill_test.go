package postgres

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"
)

// A change across the base and a shard interrupted at each of its steps (the provider's
// process killed, the base or the shard crashed, the context canceled) leaves base and
// shard agreeing once what it left prepared is resolved, and the next apply of the same
// change finishes it: the column exists once on both, and no prepared transaction is left.

const spanChildEnv = "PGSHARD_SPAN_CHILD" // the step at which this child process kills itself

var spanSteps = []string{
	"prepare the shard's part",         // the shard's part has not run yet
	"commit the base's part",           // the shard has prepared; the base has not committed
	"commit the shard's prepared part", // the base has committed; the shard's part is still prepared
}

var spanChange = Table{Schema: "public", Name: "tweets", Columns: []Column{
	{Name: "id", Type: "integer"}, {Name: "location", Type: "text"}, {Name: "body", Type: "text"}, {Name: "lang", Type: "text", Default: "'en'::text"}}}

func spanChild() int {
	db, err := sql.Open("postgres", os.Getenv(moveDSNEnv))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 2
	}
	step := os.Getenv(spanChildEnv)
	ctx := WithStepLogger(context.Background(), func(_ context.Context, s Step) {
		if strings.HasPrefix(s.Text, step) {
			_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
			time.Sleep(time.Minute)
		}
	})
	_, err = AlterPartitionedTable(ctx, db, "public", "tweets", spanChange, false)
	fmt.Fprintf(os.Stderr, "the change never reached step %q: %v\n", step, err)
	return 3
}

func TestSpanInterruptedAtEachStep(t *testing.T) {
	f := startKillClusters(t)
	for _, step := range spanSteps {
		for _, victim := range killVictims {
			t.Run(strings.Fields(step)[0]+"_"+strings.Fields(step)[2]+"/"+victim, func(t *testing.T) {
				dsn, _ := f.prepare(t, "to")
				name := dsnDatabase(t, dsn)
				f.interruptSpan(t, dsn, step, victim)
				f.restart(t)
				base, shard := f.open(t, f.base, name), f.open(t, f.shard, name)
				hasLang := func(db *sql.DB, table string) int64 {
					var n int64
					if err := db.QueryRow(`SELECT count(*) FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'lang' AND NOT attisdropped`, table).Scan(&n); err != nil {
						t.Fatal(err)
					}
					return n
				}
				// What the next plan's refresh does first: resolve what is left prepared.
				if err := resolvePrepared(t.Context(), base, "europe"); err != nil {
					t.Fatal(err)
				}
				expectCount(t, shard, 0, `SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()`)
				if b, s := hasLang(base, "tweets"), hasLang(shard, "eu"); b != s {
					t.Fatalf("after the interruption and its resolution the base has the column %d times, the shard %d", b, s)
				}
				// The next apply finishes the change.
				if _, err := AlterPartitionedTable(t.Context(), base, "public", "tweets", spanChange, false); err != nil {
					t.Fatalf("the next apply failed: %v", err)
				}
				if b, s := hasLang(base, "tweets"), hasLang(shard, "eu"); b != 1 || s != 1 {
					t.Fatalf("after the next apply the base has the column %d times, the shard %d", b, s)
				}
				expectCount(t, shard, 0, `SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()`)
				expectCount(t, base, killRows, `SELECT count(*) FROM tweets WHERE lang = 'en'`)
			})
		}
	}
}

// interruptSpan runs the change and stops it at step by victim.
func (f *killFixture) interruptSpan(t *testing.T, dsn, step, victim string) {
	t.Helper()
	ran, err := f.stopAt(t, dsn, step, victim, []string{spanChildEnv + "=" + step, moveDSNEnv + "=" + dsn}, func(ctx context.Context, db *sql.DB) error {
		_, err := AlterPartitionedTable(ctx, db, "public", "tweets", spanChange, false)
		return err
	})
	if ran {
		t.Logf("interrupted: %v", err)
	}
}
