package postgrestest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/lib/pq"
)

// sharedDirs records the directories of the Shared clusters so TestMain can
// verify that RunMain removed them.
var (
	sharedDirsMu sync.Mutex
	sharedDirs   []string
)

func TestMain(m *testing.M) {
	code := RunMain(m)
	sharedDirsMu.Lock()
	defer sharedDirsMu.Unlock()
	for _, d := range sharedDirs {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			fmt.Fprintf(os.Stderr, "FAIL: RunMain left shared cluster dir %s behind (stat err=%v)\n", d, err)
			code = 1
		}
	}
	if n := len(liveClusters()); n != 0 {
		fmt.Fprintf(os.Stderr, "FAIL: %d clusters still alive after RunMain\n", n)
		code = 1
	}
	os.Exit(code)
}

func TestClusterLifecycle(t *testing.T) {
	Needs(t, "PostgreSQL clusters")
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()

	start := time.Now()
	c, err := StartCluster(ctx, "harness")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Destroy() })
	t.Logf("cluster %q started on %s:%d in %v (dir %s, %v)", c.Name, c.Host, c.Port, time.Since(start), c.dir, c.backend)

	if c.Host != "127.0.0.1" || c.Port <= 0 || c.User != "postgres" || len(c.Password) < 16 {
		t.Fatalf("unexpected cluster fields: host=%q port=%d user=%q len(password)=%d", c.Host, c.Port, c.User, len(c.Password))
	}
	if _, err := os.Stat(filepath.Join(c.DataDir, "PG_VERSION")); err != nil {
		t.Fatalf("data dir not initialised: %v", err)
	}
	if _, err := os.Stat(filepath.Join(c.dir, "pwfile")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("password file was not removed: %v", err)
	}
	if os.Geteuid() == 0 {
		fi, err := os.Stat(c.DataDir)
		if err != nil {
			t.Fatal(err)
		}
		if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid == 0 {
			t.Errorf("data dir owned by root (or no owner in %T); server must run unprivileged", fi.Sys())
		}
		if uid := postmasterUID(t, c); uid == 0 {
			t.Errorf("postmaster runs as root")
		}
	}

	// A database name that needs quoting everywhere.
	dbName := `harness db-"1"`
	if err := c.CreateDatabase(ctx, dbName); err != nil {
		t.Fatal(err)
	}
	if err := c.CreateDatabase(ctx, dbName); err != nil {
		t.Fatalf("CreateDatabase on existing database: %v", err)
	}

	n0, err := c.CountConnections(dbName)
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, dbName, `CREATE TABLE t (id int PRIMARY KEY, v text); INSERT INTO t VALUES (1, 'one')`); err != nil {
		t.Fatal(err)
	}
	if err := c.Exec(ctx, dbName, `INSERT INTO t VALUES ($1, $2)`, 2, "two"); err != nil {
		t.Fatal(err)
	}
	n1, err := c.CountConnections(dbName)
	if err != nil {
		t.Fatal(err)
	}
	if n1 != n0+2 {
		t.Errorf("CountConnections(%q): before=%d after two Exec calls=%d, want +2", dbName, n0, n1)
	}
	if other, _ := c.CountConnections("harness"); other != 0 {
		t.Errorf("CountConnections matched a prefix of another database name: %d", other)
	}

	db, err := c.Open(dbName)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var (
		curDB, listen, pwEnc, dataDir string
		versionNum, rows              int
	)
	err = db.QueryRowContext(ctx, `SELECT current_database(), current_setting('server_version_num')::int,
		current_setting('listen_addresses'), current_setting('password_encryption'),
		current_setting('data_directory'), (SELECT count(*) FROM t)`).
		Scan(&curDB, &versionNum, &listen, &pwEnc, &dataDir, &rows)
	if err != nil {
		t.Fatal(err)
	}
	if curDB != dbName || versionNum < 150000 || listen != "127.0.0.1" || pwEnc != "scram-sha-256" || dataDir != c.DataDir || rows != 2 {
		t.Errorf("got db=%q version=%d listen=%q pwenc=%q datadir=%q rows=%d", curDB, versionNum, listen, pwEnc, dataDir, rows)
	}
	if _, err := db.ExecContext(ctx, `CREATE EXTENSION postgres_fdw; CREATE EXTENSION dblink`); err != nil {
		t.Errorf("contrib extensions: %v", err)
	}
	db.Close()

	// Password authentication is really enforced over TCP.
	bad := &Cluster{Name: c.Name, Host: c.Host, Port: c.Port, User: c.User, Password: "wrong'pass\\word"}
	bdb, err := bad.Open(dbName)
	if err != nil {
		t.Fatal(err)
	}
	err = bdb.PingContext(ctx)
	bdb.Close()
	var pqErr *pq.Error
	if !errors.As(err, &pqErr) || pqErr.SQLState() != "28P01" {
		t.Errorf("connecting with a wrong password: got %v, want invalid_password (28P01)", err)
	}

	// Fault injection: stop, verify it is down, start again on the same port.
	nBeforeStop, err := c.CountConnections(dbName)
	if err != nil {
		t.Fatal(err)
	}
	port := c.Port
	if err := c.StopServer(); err != nil {
		t.Fatal(err)
	}
	if c.Running() {
		t.Fatal("Running() = true after StopServer")
	}
	if err := c.Exec(ctx, dbName, "SELECT 1"); err == nil {
		t.Fatal("Exec succeeded while the server is stopped")
	}
	if err := c.StopServer(); err != nil {
		t.Fatalf("second StopServer: %v", err)
	}
	if err := c.StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	if c.Port != port {
		t.Fatalf("port changed across restart: %d -> %d", port, c.Port)
	}
	if err := c.Exec(ctx, dbName, "INSERT INTO t VALUES (3, 'three')"); err != nil {
		t.Fatalf("after restart: %v", err)
	}
	n2, err := c.CountConnections(dbName)
	if err != nil {
		t.Fatal(err)
	}
	if n2 != nBeforeStop+1 {
		t.Errorf("CountConnections after restart = %d, want %d (log must survive restarts)", n2, nBeforeStop+1)
	}

	// Destroy removes everything and is idempotent.
	if err := c.Destroy(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(c.dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("cluster dir still exists after Destroy: %v", err)
	}
	if c.Running() {
		t.Error("Running() = true after Destroy")
	}
	if err := c.Destroy(); err != nil {
		t.Errorf("second Destroy: %v", err)
	}
	if err := c.StopServer(); err != nil {
		t.Errorf("StopServer after Destroy: %v", err)
	}
}

// postmasterUID returns the real uid of the postmaster process of c.
func postmasterUID(t *testing.T, c *Cluster) int {
	t.Helper()
	pid, err := c.serverPID()
	if err != nil {
		t.Fatal(err)
	}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		t.Skipf("cannot read /proc: %v", err)
	}
	for _, line := range strings.Split(string(status), "\n") {
		if f := strings.Fields(line); len(f) >= 2 && f[0] == "Uid:" {
			uid, _ := strconv.Atoi(f[1])
			return uid
		}
	}
	t.Fatal("no Uid line in /proc status")
	return -1
}

func TestShared(t *testing.T) {
	t.Parallel()
	start := time.Now()
	env := Shared(t)
	t.Logf("shared env started in %v", time.Since(start))
	if again := Shared(t); again != env {
		t.Fatal("Shared returned a different Env on second call")
	}
	sharedDirsMu.Lock()
	for _, c := range env.Clusters() {
		sharedDirs = append(sharedDirs, c.dir)
	}
	sharedDirsMu.Unlock()

	ctx := t.Context()
	ports := map[int]string{}
	for _, c := range env.Clusters() {
		if prev, dup := ports[c.Port]; dup {
			t.Fatalf("clusters %s and %s share port %d", prev, c.Name, c.Port)
		}
		ports[c.Port] = c.Name
		db, err := c.Open("postgres")
		if err != nil {
			t.Fatal(err)
		}
		var port int
		err = db.QueryRowContext(ctx, "SELECT current_setting('port')::int").Scan(&port)
		db.Close()
		if err != nil {
			t.Fatalf("%s: %v", c.Name, err)
		}
		if port != c.Port {
			t.Errorf("%s: server reports port %d, Cluster.Port=%d", c.Name, port, c.Port)
		}
	}
	if env.Base.Name != "base" || env.Shard1.Name != "shard1" || env.Shard2.Name != "shard2" {
		t.Errorf("unexpected names %q %q %q", env.Base.Name, env.Shard1.Name, env.Shard2.Name)
	}
}

func TestCleanupStale(t *testing.T) {
	t.Parallel()
	root := t.TempDir()

	// A finished process gives us a pid that is (almost certainly) dead.
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	deadPid := cmd.Process.Pid

	mk := func(name, owner string, age time.Duration) string {
		dir := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Join(dir, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
		if owner != "" {
			if err := os.WriteFile(filepath.Join(dir, ownerFileName), []byte(owner), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		mt := time.Now().Add(-age)
		if err := os.Chtimes(dir, mt, mt); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	self := fmt.Sprintf("%d %s\n", os.Getpid(), procStartTime(os.Getpid()))
	dead := mk("dead-owner", fmt.Sprintf("%d %s\n", deadPid, "1"), time.Minute)
	reused := mk("reused-pid", fmt.Sprintf("%d %s\n", os.Getpid(), "999999999999"), time.Minute)
	oldNoOwner := mk("old-no-owner", "", 7*time.Hour)
	live := mk("live-owner", self, 10*time.Hour)
	fresh := mk("fresh-no-owner", "", time.Minute)

	cleanupStale(root, "", time.Now())

	for _, d := range []string{dead, reused, oldNoOwner} {
		if _, err := os.Stat(d); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale dir %s not removed (err=%v)", filepath.Base(d), err)
		}
	}
	for _, d := range []string{live, fresh} {
		if _, err := os.Stat(d); err != nil {
			t.Errorf("dir %s of a live/concurrent run was removed: %v", filepath.Base(d), err)
		}
	}
}

func TestCountConnectionsParsing(t *testing.T) {
	t.Parallel()
	log := strings.Join([]string{
		`2024-01-01 00:00:00.000 UTC [10] LOG:  connection received: host=127.0.0.1 port=5000`,
		`2024-01-01 00:00:00.000 UTC [10] LOG:  connection authenticated: identity="postgres" method=scram-sha-256`,
		`2024-01-01 00:00:00.000 UTC [10] LOG:  connection authorized: user=postgres database=app application_name=x`,
		`2024-01-01 00:00:00.000 UTC [11] LOG:  connection authorized: user=postgres database=app`,
		`2024-01-01 00:00:00.000 UTC [12] LOG:  connection authorized: user=postgres database=app2 application_name=x`,
		`2024-01-01 00:00:00.000 UTC [13] LOG:  connection authorized: user=postgres database=my db application_name=`,
		`2024-01-01 00:00:00.000 UTC [15] LOG:  connection authorized: user=postgres database=my db x`,
		`2024-01-01 00:00:00.000 UTC [16] LOG:  connection authorized: user=postgres database=my`,
		`2024-01-01 00:00:00.000 UTC [14] LOG:  statement: SELECT 'connection authorized: user=a database=app'`,
	}, "\n")
	for db, want := range map[string]int{"app": 2, "app2": 1, "ap": 0, "my db": 1, "my": 1, "my db x": 1} {
		got, err := countConnections(strings.NewReader(log), db)
		if err != nil {
			t.Fatal(err)
		}
		if got != want {
			t.Errorf("countConnections(%q) = %d, want %d", db, got, want)
		}
	}
}

func TestDSNQuoting(t *testing.T) {
	t.Parallel()
	c := &Cluster{Host: "127.0.0.1", Port: 5432, User: "postgres", Password: `p'a\ss word`}
	got := c.DSN(`my 'db'`)
	want := `host='127.0.0.1' port=5432 user='postgres' password='p\'a\\ss word' dbname='my \'db\'' sslmode=disable connect_timeout=10`
	if got != want {
		t.Fatalf("DSN = %s\nwant  %s", got, want)
	}
	if _, err := pq.NewConnector(got); err != nil {
		t.Fatalf("lib/pq rejects DSN: %v", err)
	}
}

func TestVersionHelpers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		v, min string
		want   bool
	}{
		{"1.11.4", "1.5", true}, {"1.5.0", "1.5", true}, {"1.4.7", "1.5", false},
		{"0.15.5", "1.5", false}, {"2.0.0", "1.5", true}, {"1.6.0-beta1", "1.5", true},
		{"v1.5.7", "1.5", true}, {"garbage", "1.5", false},
	} {
		if got := versionAtLeast(tc.v, tc.min); got != tc.want {
			t.Errorf("versionAtLeast(%q, %q) = %v, want %v", tc.v, tc.min, got, tc.want)
		}
	}
	v, err := parseTerraformVersion([]byte(`{"terraform_version":"1.11.4","platform":"linux_amd64"}`))
	if err != nil || v != "1.11.4" {
		t.Errorf("parseTerraformVersion = %q, %v", v, err)
	}
	if !versionLess("9.6", "15") || versionLess("16", "15") {
		t.Error("versionLess ordering wrong")
	}
}
