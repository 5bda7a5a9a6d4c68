package postgres

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/lib/pq"
)

var constraintInMessage = regexp.MustCompile(`check constraint "([^"]+)"`)

// racedSwitch reports a write of a moving key routed to its partition before the switch
// and written after it: PostgreSQL refuses it with the partition's constraint.
func racedSwitch(e *pq.Error) bool {
	return e != nil && strings.Contains(e.Message, "violates partition constraint")
}

// Writes during a move, through the base and straight to the shard, to a key that moves
// and to one that does not: every write that succeeded is seen through the parent exactly
// once after the move, every write refused (by the constraint that fences the moving keys,
// naming it) is seen nowhere, and no write to the key that does not move is refused.
func TestMoveAccountsForEveryWrite(t *testing.T) {
	f := startKillClusters(t)
	defer func(n int64) { moveBatchRows = n }(moveBatchRows)
	moveBatchRows = 20 // many batches, so that the writes overlap every step
	for _, dir := range []string{"to", "from"} {
		t.Run(dir, func(t *testing.T) {
			dsn, _ := f.prepare(t, dir)
			name := dsnDatabase(t, dsn)
			base, shard := f.open(t, f.base, name), f.open(t, f.shard, name)
			type write struct {
				id         int
				via, key   string
				err        error
				took       time.Duration
				constraint string
				moving     bool
			}
			var mu sync.Mutex
			var writes []write
			ctx, stop := context.WithCancel(t.Context())
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				for id := 100000; ctx.Err() == nil; id++ {
					w := write{id: id, via: []string{"base", "shard"}[id%2], key: []string{"europe", "eu"}[(id/2)%2]}
					w.moving = w.key == "eu"
					db := base
					if w.via == "shard" {
						db = shard
					}
					began := time.Now()
					_, w.err = db.ExecContext(context.WithoutCancel(ctx), `INSERT INTO `+map[string]string{"base": "tweets", "shard": "eu"}[w.via]+` VALUES ($1, $2, 'during')`, id, w.key)
					w.took = time.Since(began)
					if e := pq.As(w.err, "23514"); e != nil {
						// Through postgres_fdw the shard's error keeps only its message.
						w.constraint = e.Constraint
						if m := constraintInMessage.FindStringSubmatch(e.Message); w.constraint == "" && m != nil {
							w.constraint = m[1]
						}
					}
					mu.Lock()
					writes = append(writes, w)
					mu.Unlock()
					time.Sleep(2 * time.Millisecond)
				}
			}()
			time.Sleep(50 * time.Millisecond)
			db, err := sql.Open("postgres", dsn)
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			_, err = runKillMove(t.Context(), db, dir)
			time.Sleep(50 * time.Millisecond)
			stop()
			wg.Wait()
			if err != nil {
				t.Fatal(err)
			}
			var accepted, refused []int64
			var longest time.Duration
			kinds := map[string]int{}
			for _, w := range writes {
				longest = max(longest, w.took)
				switch {
				case w.err == nil:
					accepted = append(accepted, int64(w.id))
					kinds[fmt.Sprintf("%s %s accepted", w.via, w.key)]++
				case (w.constraint != "" || racedSwitch(pq.As(w.err, "23514"))) && w.moving:
					refused = append(refused, int64(w.id))
					kinds[fmt.Sprintf("%s %s refused by %s", w.via, w.key, w.constraint)]++
				default:
					t.Errorf("write %d (%s, key %s) failed: %v", w.id, w.via, w.key, w.err)
				}
			}
			t.Logf("%d writes, longest %s: %v", len(writes), longest.Round(time.Millisecond), kinds)
			// A refused write proves that writes overlapped the move's fences; without one, many
			// writes must have run (a busy machine makes each write slow, and fewer).
			if len(accepted) == 0 || len(refused) == 0 && len(writes) < 20 {
				t.Fatalf("too few writes overlapped the move: %v", kinds)
			}
			expectCount(t, base, int64(len(accepted)), `SELECT count(*) FROM tweets WHERE id = ANY($1)`, pq.Array(accepted))
			expectCount(t, base, int64(len(accepted)), `SELECT count(DISTINCT id) FROM tweets WHERE id = ANY($1)`, pq.Array(accepted))
			expectCount(t, base, 0, `SELECT count(*) FROM tweets WHERE id = ANY($1)`, pq.Array(refused))
			expectCount(t, base, int64(killRows+len(accepted)), `SELECT count(*) FROM tweets`)
			// Every row where the bound says: after a move to DEFAULT, no eu row on the shard.
			if dir == "to" {
				expectCount(t, shard, 0, `SELECT count(*) FROM eu WHERE location = 'eu'`)
			} else {
				expectCount(t, base, 0, `SELECT count(*) FROM `+onBase+` WHERE location = 'eu'`)
			}
		})
	}
}

// A new partition that takes DEFAULT's rows of its bound (move_rows_from_default): while
// the rows move, DEFAULT refuses new rows of the bound, naming the move's constraint, and
// takes every other row; every accepted write is seen once afterwards, on the right side.
func TestCreateMovingDefaultRowsAccountsForEveryWrite(t *testing.T) {
	base, shard := shardFixture(t)
	ctx := t.Context()
	mustExec(t, base, `CREATE TABLE tweets (id int, location text, body text) PARTITION BY LIST (location)`)
	mustExec(t, base, `CREATE TABLE tweets_default PARTITION OF tweets DEFAULT`)
	mustExec(t, base, `INSERT INTO tweets SELECT g, CASE WHEN g % 2 = 0 THEN 'asia' ELSE 'other' END, 'b' || g FROM generate_series(1, 20000) g`)
	mustExec(t, shard, `CREATE TABLE asia (id int, location text, body text)`)
	parent, err := ReadTable(ctx, base, "public", "tweets")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var accepted, refused []int64
	other := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for id := 100000; ; id++ {
			select {
			case <-stop:
				return
			default:
			}
			key := []string{"asia", "other"}[id%2]
			_, err := base.ExecContext(ctx, `INSERT INTO tweets VALUES ($1, $2, 'during')`, id, key)
			mu.Lock()
			switch e := pq.As(err, "23514"); {
			case err == nil:
				accepted = append(accepted, int64(id))
				if key == "other" {
					other++
				}
			case e != nil && key == "asia" && (e.Constraint == fenceName(Partition{Schema: "public", Name: "asia"}) || racedSwitch(e)):
				refused = append(refused, int64(id))
			default:
				t.Errorf("write %d (%s) failed: %v", id, key, err)
			}
			mu.Unlock()
			time.Sleep(time.Millisecond)
		}
	}()
	time.Sleep(30 * time.Millisecond)
	p := Partition{Schema: "public", Name: "asia", ParentSchema: "public", ParentName: "tweets", Foreign: true, Server: "europe",
		Bound: Bound{In: []string{"asia"}}, Options: map[string]string{"table_name": "asia"}}
	err = CreateForeignPartition(ctx, base, p, parent, true)
	time.Sleep(30 * time.Millisecond)
	close(stop)
	wg.Wait()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d writes accepted (%d of key other), %d refused", len(accepted), other, len(refused))
	if other == 0 {
		t.Fatal("no write of another key overlapped the create")
	}
	expectCount(t, base, int64(len(accepted)), `SELECT count(*) FROM tweets WHERE id = ANY($1)`, pq.Array(accepted))
	expectCount(t, base, 0, `SELECT count(*) FROM tweets WHERE id = ANY($1)`, pq.Array(refused))
	expectCount(t, base, 0, `SELECT count(*) FROM `+onBase+` WHERE location = 'asia'`)
	expectCount(t, shard, 10000+int64(len(accepted)-other), `SELECT count(*) FROM asia`)
	expectCount(t, base, 0, `SELECT count(*) FROM pg_constraint WHERE conname LIKE 'pgshard_moving%'`)
}

// A move constraint on DEFAULT that no attached partition owns (a create killed before its
// commit) is dropped by the parent's refresh; one an attached partition owns is left to
// that partition's refresh, and none is dropped while a move of the parent's rows runs.
func TestDropStrayFences(t *testing.T) {
	base, _ := shardFixture(t)
	ctx := t.Context()
	mustExec(t, base, `CREATE TABLE tweets (id int, location text) PARTITION BY LIST (location)`)
	mustExec(t, base, `CREATE TABLE tweets_default PARTITION OF tweets DEFAULT`)
	mustExec(t, base, `CREATE TABLE tweets_eu PARTITION OF tweets FOR VALUES IN ('eu')`)
	stray := fenceName(Partition{Schema: "public", Name: "asia"})
	owned := fenceName(Partition{Schema: "public", Name: "tweets_eu"})
	for _, f := range []string{stray, owned} {
		mustExec(t, base, `ALTER TABLE tweets_default ADD CONSTRAINT `+Ident(f)+` CHECK (location <> 'zz') NOT VALID`)
	}
	// While a move of the parent's rows runs, nothing goes.
	holder, err := base.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(`SELECT pg_advisory_xact_lock(hashtextextended($1, 0))`, parentMovesKey("public", "tweets")); err != nil {
		t.Fatal(err)
	}
	if _, err := DropStrayFences(ctx, base, "public", "tweets"); !errors.Is(err, ErrMoveRunning) {
		t.Fatalf("with a move running: %v", err)
	}
	_ = holder.Rollback()
	dropped, err := DropStrayFences(ctx, base, "public", "tweets")
	if err != nil || len(dropped) != 1 || dropped[0] != stray {
		t.Fatalf("dropped %q, %v", dropped, err)
	}
	expectCount(t, base, 1, `SELECT count(*) FROM pg_constraint WHERE conname LIKE 'pgshard_moving%'`)
	expectCount(t, base, 1, `SELECT count(*) FROM pg_constraint WHERE conname = $1`, owned)
}
