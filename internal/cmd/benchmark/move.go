package main

import (
	"cmp"
	"context"
	"fmt"
	"log"
	"os"
	"os/exec"
	"strconv"
	"sync"
	"time"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// benchMove moves rows of one key from one shard to another (part 4): the provider's move
// (shard -> DEFAULT -> shard: journal, verify, switch, clean up, both ways) against two
// floors that only copy: INSERT INTO target SELECT FROM source through postgres_fdw with
// batch_size 1000, and COPY from the source piped into COPY to the target (psql).
func benchMove(ctx context.Context, base, shard *postgrestest.Cluster, rows int) error {
	db := "move_base"
	for _, name := range []string{"move_a", "move_b"} {
		if err := shard.CreateDatabase(ctx, name); err != nil {
			return err
		}
	}
	if err := base.CreateDatabase(ctx, db); err != nil {
		return err
	}
	pools := postgres.NewPools()
	defer pools.Close()
	pool, err := pools.DB(postgres.ConnConfig{Host: base.Host, Port: base.Port, Database: db, User: base.User, Password: base.Password, SSLMode: "disable", LockTimeout: "0"})
	if err != nil {
		return err
	}
	port := strconv.Itoa(shard.Port)
	for _, stmt := range []string{
		"CREATE EXTENSION postgres_fdw", "CREATE EXTENSION dblink",
		"CREATE SERVER a FOREIGN DATA WRAPPER postgres_fdw" + postgres.CreateOptionsClause(map[string]string{"host": shard.Host, "port": port, "dbname": "move_a", "batch_size": "1000", "fetch_size": "10000"}),
		"CREATE SERVER b FOREIGN DATA WRAPPER postgres_fdw" + postgres.CreateOptionsClause(map[string]string{"host": shard.Host, "port": port, "dbname": "move_b", "batch_size": "1000", "fetch_size": "10000"}),
		"CREATE USER MAPPING FOR CURRENT_USER SERVER a" + postgres.CreateOptionsClause(map[string]string{"user": shard.User, "password": shard.Password}),
		"CREATE USER MAPPING FOR CURRENT_USER SERVER b" + postgres.CreateOptionsClause(map[string]string{"user": shard.User, "password": shard.Password}),
		"CREATE TABLE t (id bigint, k text, body text) PARTITION BY LIST (k)",
		"CREATE TABLE t_default PARTITION OF t DEFAULT",
	} {
		if _, err := pool.ExecContext(ctx, stmt); err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
	}
	for _, s := range []struct{ db, check string }{{"move_a", "k IN ('a', 'moving')"}, {"move_b", "k IN ('b')"}} {
		// A primary key, as real shard tables have: the probe's point query finds its row by
		// it. (Without one, a scan of the target shard's table also reads past the rows being
		// copied into it, uncommitted, and slows with them: 2.9 s at 10 million.)
		if err := shard.Exec(ctx, s.db, "CREATE TABLE t_"+s.db[5:]+" (id bigint PRIMARY KEY, k text, body text, CONSTRAINT t_"+s.db[5:]+"_bound CHECK ("+s.check+"))"); err != nil {
			return err
		}
	}
	if err := shard.Exec(ctx, "move_a", fmt.Sprintf("INSERT INTO t_a SELECT g, 'moving', md5(g::text) FROM generate_series(1, %d) g", rows)); err != nil {
		return err
	}
	if err := shard.Exec(ctx, "move_b", "INSERT INTO t_b SELECT -g, 'b', md5(g::text) FROM generate_series(1, 1000) g"); err != nil {
		return err
	}
	for _, stmt := range []string{
		"CREATE FOREIGN TABLE t_a PARTITION OF t FOR VALUES IN ('a', 'moving') SERVER a OPTIONS (table_name 't_a')",
		"CREATE FOREIGN TABLE t_b PARTITION OF t FOR VALUES IN ('b') SERVER b OPTIONS (table_name 't_b')",
	} {
		if _, err := pool.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	a := postgres.Partition{Schema: "public", Name: "t_a", ParentSchema: "public", ParentName: "t", Foreign: true, Server: "a", Options: map[string]string{"table_name": "t_a"}}
	b := postgres.Partition{Schema: "public", Name: "t_b", ParentSchema: "public", ParentName: "t", Foreign: true, Server: "b", Options: map[string]string{"table_name": "t_b"}}

	// Each step of the move, with the time since the previous one, on stderr.
	last := time.Now()
	ctx = postgres.WithStepLogger(ctx, func(_ context.Context, s postgres.Step) {
		log.Printf("  +%s\t%s\t(%s)", time.Since(last).Round(time.Millisecond), s.Text, time.Now().Format("15:04:05.000"))
		last = time.Now()
	})
	// The probe: every 100 ms a point query through the base on a key that does not move,
	// and a count of the moving key through the parent, on sessions of their own.
	probeCtx, stopProbe := context.WithCancel(ctx)
	defer stopProbe()
	p := newProbe()
	var probing sync.WaitGroup
	probing.Add(1)
	go func() { defer probing.Done(); p.run(probeCtx, pool, int64(rows)) }()
	start := time.Now()
	a.Bound = postgres.Bound{In: []string{"a"}}
	out, err := postgres.MoveToDefault(ctx, pool, a, postgres.Bound{In: []string{"a", "moving"}}, true)
	if err != nil {
		return err
	}
	half := time.Since(start)
	b.Bound = postgres.Bound{In: []string{"b", "moving"}}
	p.mark("into the other shard")
	in, err := postgres.MoveFromDefault(ctx, pool, b, postgres.Bound{In: []string{"b"}}, true)
	if err != nil {
		return err
	}
	move := time.Since(start)
	stopProbe()
	probing.Wait()
	log.Printf("move of %d rows: to DEFAULT %s, into the other shard %s (%d and %d rows)", rows, half.Round(time.Millisecond), (move - half).Round(time.Millisecond), out.Rows, in.Rows)

	// Floor 1: the same rows copied shard to shard through postgres_fdw (batch_size 1000).
	for _, stmt := range []string{
		"CREATE FOREIGN TABLE src (id bigint, k text, body text) SERVER b OPTIONS (table_name 't_b')",
		"CREATE FOREIGN TABLE dst (id bigint, k text, body text) SERVER a OPTIONS (table_name 't_copy')",
	} {
		if _, err := pool.ExecContext(ctx, stmt); err != nil {
			return err
		}
	}
	if err := shard.Exec(ctx, "move_a", "CREATE TABLE t_copy (id bigint PRIMARY KEY, k text, body text)"); err != nil {
		return err
	}
	start = time.Now()
	if _, err := pool.ExecContext(ctx, "INSERT INTO dst SELECT * FROM src"); err != nil {
		return err
	}
	fdw := time.Since(start)

	// Floor 2: COPY out of one shard piped into COPY into the other.
	if err := shard.Exec(ctx, "move_a", "CREATE TABLE t_copy2 (id bigint PRIMARY KEY, k text, body text)"); err != nil {
		return err
	}
	start = time.Now()
	const script = `psql -X -q "$SRC" -c "COPY t_b TO STDOUT" | psql -X -q "$DST" -c "COPY t_copy2 FROM STDIN"`
	pipe := exec.CommandContext(ctx, "bash", "-c", script)
	if _, err := exec.LookPath("psql"); err != nil {
		// No psql here (a machine with only Go and Docker): run the pipe in a container of
		// the PostgreSQL image the harness uses, on the host's network.
		image := cmp.Or(os.Getenv("PGSHARD_PG_IMAGE"), os.Getenv("PGSHARD_E2E_POSTGRES_IMAGE"), "pgshard/postgres:17-local")
		pipe = exec.CommandContext(ctx, "docker", "run", "--rm", "--network", "host", "-e", "SRC", "-e", "DST", "--entrypoint", "sh", image, "-c", script)
		log.Printf("no psql on PATH: the COPY floor runs psql in a container of %s (its time includes the container's start)", image)
	}
	pipe.Env = append(os.Environ(), "SRC="+shard.DSN("move_b"), "DST="+shard.DSN("move_a"))
	if b, err := pipe.CombinedOutput(); err != nil {
		return fmt.Errorf("COPY pipe: %v: %s", err, b)
	}
	copyTook := time.Since(start)

	// The same move back, without the probe: the probe's counts of the moving key read every
	// row each time, on the same two cores as the move, and the floors run without them.
	ctx = postgres.WithStepLogger(ctx, func(context.Context, postgres.Step) {})
	start = time.Now()
	b.Bound = postgres.Bound{In: []string{"b"}}
	if _, err := postgres.MoveToDefault(ctx, pool, b, postgres.Bound{In: []string{"b", "moving"}}, true); err != nil {
		return err
	}
	a.Bound = postgres.Bound{In: []string{"a", "moving"}}
	if _, err := postgres.MoveFromDefault(ctx, pool, a, postgres.Bound{In: []string{"a"}}, true); err != nil {
		return err
	}
	quiet := time.Since(start)

	rate := func(d time.Duration) float64 { return float64(rows) / d.Seconds() }
	floor := min(fdw, copyTook)
	fmt.Printf("\n## Moving %d rows of one key between two shards\n\n", rows)
	fmt.Println("| how | time | rows/s | vs the faster floor |")
	fmt.Println("|---|---:|---:|---:|")
	fmt.Printf("| pgshard move (shard -> DEFAULT -> shard, journal, verified both ways) | %s | %.0f | %.2fx |\n", move.Round(10*time.Millisecond), rate(move), floor.Seconds()/move.Seconds())
	fmt.Printf("| pgshard move back, without the probe | %s | %.0f | %.2fx |\n", quiet.Round(10*time.Millisecond), rate(quiet), floor.Seconds()/quiet.Seconds())
	fmt.Printf("| floor: INSERT ... SELECT through postgres_fdw, batch_size 1000 | %s | %.0f | %.2fx |\n", fdw.Round(10*time.Millisecond), rate(fdw), floor.Seconds()/fdw.Seconds())
	fmt.Printf("| floor: COPY piped shard to shard | %s | %.0f | %.2fx |\n", copyTook.Round(10*time.Millisecond), rate(copyTook), floor.Seconds()/copyTook.Seconds())
	fmt.Printf("\nThe move took %.2fx the fdw copy's time and %.2fx the COPY pipe's with the probe running, %.2fx and %.2fx without.\n",
		move.Seconds()/fdw.Seconds(), move.Seconds()/copyTook.Seconds(), quiet.Seconds()/fdw.Seconds(), quiet.Seconds()/copyTook.Seconds())
	p.report()
	return nil
}

// probe queries the table through the base during a move: a point query on a key that does
// not move, and a count of the moving key, every 100 ms each.
type probe struct {
	mu      sync.Mutex
	phase   string
	longest map[string]time.Duration // per phase: the longest point query
	counts  map[string]int           // per phase: moving-key counts taken
	wrong   map[string][]int64       // per phase: moving-key counts that were not the rows moved
	errs    []string
}

func newProbe() *probe {
	return &probe{phase: "to DEFAULT", longest: map[string]time.Duration{}, counts: map[string]int{}, wrong: map[string][]int64{}}
}

func (p *probe) mark(phase string) { p.mu.Lock(); p.phase = phase; p.mu.Unlock() }

func (p *probe) run(ctx context.Context, db *postgres.DB, rows int64) {
	var wg sync.WaitGroup
	wg.Add(2)
	// Each kind of query runs every 100 ms; one that takes longer delays its next one.
	every := func(query func(phase string)) {
		defer wg.Done()
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			p.mu.Lock()
			phase := p.phase
			p.mu.Unlock()
			query(phase)
		}
	}
	var point int64
	go every(func(phase string) { // a row of a key that does not move, by its primary key
		point = point%1000 + 1
		began := time.Now()
		var body string
		err := db.QueryRowContext(context.WithoutCancel(ctx), "SELECT body FROM t WHERE k = 'b' AND id = $1", -point).Scan(&body)
		took := time.Since(began)
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil {
			p.errs = append(p.errs, err.Error())
		}
		p.longest[phase] = max(p.longest[phase], took)
		if took > 250*time.Millisecond {
			log.Printf("  point query on a key that does not move took %s (began %s)", took.Round(time.Millisecond), began.Format("15:04:05.000"))
		}
	})
	go every(func(phase string) { // the moving key: every row, exactly once
		var n int64
		err := db.QueryRowContext(context.WithoutCancel(ctx), "SELECT count(*) FROM t WHERE k = 'moving'").Scan(&n)
		p.mu.Lock()
		defer p.mu.Unlock()
		if err != nil {
			p.errs = append(p.errs, err.Error())
			return
		}
		p.counts[phase]++
		if n != rows {
			p.wrong[phase] = append(p.wrong[phase], n)
		}
	})
	wg.Wait()
}

func (p *probe) report() {
	fmt.Println("\nProbes through the base during the move (every 100 ms: a point query on a key that does not move, and a count of the moving key):")
	fmt.Println("\n| half of the move | longest point query | moving-key counts | counts that differed |")
	fmt.Println("|---|---:|---:|---:|")
	for _, phase := range []string{"to DEFAULT", "into the other shard"} {
		fmt.Printf("| %s | %s | %d | %d %v |\n", phase, p.longest[phase].Round(time.Millisecond), p.counts[phase], len(p.wrong[phase]), p.wrong[phase])
	}
	if len(p.errs) > 0 {
		fmt.Printf("\n%d probe errors, the first: %s\n", len(p.errs), p.errs[0])
	}
}
