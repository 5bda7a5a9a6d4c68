// Package postgrestest starts real, throw-away local PostgreSQL clusters for
// tests (no mocks) and locates a Terraform CLI for acceptance tests.
//
// Clusters listen on 127.0.0.1 only, on a free port, with scram-sha-256
// password authentication for TCP connections. When the test process runs
// as root, the PostgreSQL server runs as the unprivileged system user
// ServerUserName (falling back to "nobody"), because PostgreSQL refuses to
// run as root.
//
// A cluster's server runs from the host's PostgreSQL binaries when they are
// installed, else in a Docker container of the PostgreSQL image that
// `bash scripts/demo.sh prepare` (or `make postgres-image`) builds, so that
// Go and Docker are enough for the tests. The container shares the host's
// network (127.0.0.1:<port> is the same server inside every container and
// outside, so one cluster's foreign servers reach another's), runs as the
// same OS user, and bind-mounts the root directory at the same path, so
// DataDir, LogFile and the TLS files are the same paths for the tests and
// for every server.
//
// Environment variables:
//
//	PGSHARD_PG_BACKEND  "host" or "docker" forces where servers run
//	                    (default: host binaries when BinDir finds them,
//	                    else Docker)
//	PGSHARD_PG_BIN      directory with initdb/pg_ctl/postgres (default
//	                    /usr/lib/postgresql/15/bin, else the newest
//	                    /usr/lib/postgresql/*/bin, else PATH); one without
//	                    them means Docker, unless the backend is "host"
//	PGSHARD_PG_IMAGE    the PostgreSQL image of the Docker backend (default
//	                    $PGSHARD_E2E_POSTGRES_IMAGE, which make test sets,
//	                    else pgshard/postgres:17-local); never pulled
//	PGSHARD_TEST_DIR    directory under which cluster directories are
//	                    created (default $TMPDIR/pgshard-test); with Docker,
//	                    the engine must see it at the same path
//	PGSHARD_CACHE       cache directory for the Terraform binary and CLI
//	                    config
package postgrestest

import (
	"bufio"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/lib/pq"
)

const (
	// Superuser is the name of the bootstrap superuser of every cluster.
	Superuser = "postgres"

	// AdminDatabase is the database the harness itself connects to for
	// readiness checks and CREATE DATABASE. Connections made by the harness
	// therefore show up in CountConnections(AdminDatabase).
	AdminDatabase = "postgres"

	// StaleAge is the age after which a cluster directory whose owning test
	// process cannot be verified is considered a leftover and removed.
	StaleAge = 6 * time.Hour

	ownerFileName  = "pgshard-owner"
	defaultPGMajor = "15"
	startAttempts  = 5
	readyTimeout   = 60 * time.Second
	logTailBytes   = 6 << 10
)

// Cluster is one running local PostgreSQL server listening on 127.0.0.1 only.
type Cluster struct {
	Name     string // e.g. "base", "shard1"
	Host     string // "127.0.0.1"
	Port     int
	User     string // superuser name, "postgres"
	Password string // random, scram-sha-256
	DataDir  string
	LogFile  string // server log path (log_connections=on so tests can count connections)

	dir     string // per-cluster directory holding DataDir, LogFile and the socket
	backend backend
	owner   *osUser
	// container is the Docker backend's container for this cluster ("" before the
	// first start and with the host backend).
	container string

	mu        sync.Mutex // serialises start/stop/destroy
	destroyed bool
}

var (
	registryMu sync.Mutex
	liveSet    = map[*Cluster]struct{}{}
	usedPorts  = map[int]bool{}

	staleOnce sync.Once
)

// StartCluster creates a new cluster with initdb and starts it on a free
// port, waiting until a password-authenticated TCP connection succeeds.
// The caller owns the cluster and must call Destroy (RunMain also destroys
// clusters still alive when the tests finish). Errors include initdb output
// or the tail of the server log.
func StartCluster(ctx context.Context, name string) (*Cluster, error) {
	if Unit() {
		return nil, errUnit("a PostgreSQL cluster")
	}
	owner := serverUser()
	backend, err := selectBackend()
	if err != nil {
		return nil, err
	}
	root, err := RootDir()
	if err != nil {
		return nil, err
	}
	staleOnce.Do(func() {
		// Containers first: a leftover's server must stop before its directory goes.
		sweepContainers(time.Now())
		// Leftovers of a run on the host's binaries are stopped with them, whatever runs now.
		binDir, _ := BinDir()
		cleanupStale(root, binDir, time.Now())
	})

	dir, err := os.MkdirTemp(root, sanitizeName(name)+"-*")
	if err != nil {
		return nil, fmt.Errorf("postgrestest: create cluster dir: %w", err)
	}
	if err := writeOwnerFile(dir); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("postgrestest: %w", err)
	}
	if err := owner.chown(dir); err != nil {
		_ = os.RemoveAll(dir)
		return nil, fmt.Errorf("postgrestest: chown %s to %s: %w", dir, owner.Name, err)
	}
	pw, err := randomPassword()
	if err != nil {
		_ = os.RemoveAll(dir)
		return nil, err
	}
	c := &Cluster{
		Name:     name,
		Host:     "127.0.0.1",
		User:     Superuser,
		Password: pw,
		DataDir:  filepath.Join(dir, "data"),
		LogFile:  filepath.Join(dir, "server.log"),
		dir:      dir,
		backend:  backend,
		owner:    owner,
	}
	registryMu.Lock()
	liveSet[c] = struct{}{}
	registryMu.Unlock()

	if err := c.startFresh(ctx); err != nil {
		if derr := c.Destroy(); derr != nil {
			err = errors.Join(err, derr)
		}
		return nil, err
	}
	return c, nil
}

func (c *Cluster) startFresh(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if err := c.initdb(ctx); err != nil {
		return err
	}
	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		port, err := freePort()
		if err != nil {
			return fmt.Errorf("postgrestest: cluster %q: %w", c.Name, err)
		}
		c.Port = port
		lastErr = c.start(ctx)
		if lastErr == nil {
			return nil
		}
		var se *startError
		if !errors.As(lastErr, &se) || !se.addrInUse {
			return lastErr
		}
		releasePort(port)
	}
	return lastErr
}

// initdb runs initdb and appends the harness settings to postgresql.conf.
func (c *Cluster) initdb(ctx context.Context) error {
	pwfile := filepath.Join(c.dir, "pwfile")
	if err := os.WriteFile(pwfile, []byte(c.Password+"\n"), 0o600); err != nil {
		return fmt.Errorf("postgrestest: write password file: %w", err)
	}
	defer os.Remove(pwfile)
	if err := c.owner.chown(pwfile); err != nil {
		return fmt.Errorf("postgrestest: chown password file: %w", err)
	}
	base := []string{
		"-D", c.DataDir, "-U", Superuser,
		"--auth-local=trust", "--auth-host=scram-sha-256",
		"--pwfile=" + pwfile, "-E", "UTF8", "--no-sync",
	}
	out, err := c.backend.initdb(ctx, c, append(base, "--locale=C.UTF-8")...)
	if err != nil {
		// C.UTF-8 may be missing on this system; retry without a locale.
		_ = os.RemoveAll(c.DataDir)
		out2, err2 := c.backend.initdb(ctx, c, append(base, "--no-locale")...)
		if err2 != nil {
			return fmt.Errorf("postgrestest: cluster %q: initdb failed: %v\n--- initdb --locale=C.UTF-8 output ---\n%s\n--- initdb --no-locale output ---\n%s",
				c.Name, err2, tail(out, logTailBytes), tail(out2, logTailBytes))
		}
	}

	sockDir := c.dir
	if len(sockDir)+len("/.s.PGSQL.65535") >= 100 { // sun_path limit
		sockDir = ""
	}
	conf := "\n# --- settings added by postgrestest ---\n" +
		"listen_addresses = '127.0.0.1'\n" +
		"unix_socket_directories = " + confQuote(sockDir) + "\n" +
		"log_connections = on\n" +
		"logging_collector = off\n" +
		"log_line_prefix = '%m [%p] '\n" +
		"lc_messages = 'C'\n" +
		"max_connections = 300\n" +
		"max_prepared_transactions = 64\n" + // changes across base and shards commit in two phases
		"fsync = off\n" +
		"synchronous_commit = off\n" +
		"full_page_writes = off\n" +
		"shared_buffers = 32MB\n" +
		"password_encryption = 'scram-sha-256'\n" +
		"dynamic_shared_memory_type = mmap\n"
	f, err := os.OpenFile(filepath.Join(c.DataDir, "postgresql.conf"), os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return fmt.Errorf("postgrestest: cluster %q: %w", c.Name, err)
	}
	if _, err := f.WriteString(conf); err != nil {
		f.Close()
		return fmt.Errorf("postgrestest: cluster %q: write postgresql.conf: %w", c.Name, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("postgrestest: cluster %q: write postgresql.conf: %w", c.Name, err)
	}
	return nil
}

// startError is returned when the server does not start.
type startError struct {
	msg       string
	addrInUse bool
}

func (e *startError) Error() string { return e.msg }

// newStartError says why c's server did not start: what, then the server log written since
// offset, in which a port another process took shows.
func newStartError(c *Cluster, offset int64, what string) *startError {
	logTail := readTailSince(c.LogFile, offset)
	return &startError{
		msg: fmt.Sprintf("postgrestest: cluster %q: %s\n--- server log tail (%s) ---\n%s",
			c.Name, what, c.LogFile, logTail),
		addrInUse: strings.Contains(logTail, "Address already in use") ||
			strings.Contains(logTail, "could not bind"),
	}
}

// start starts the server on c.Port and waits for a real connection. c.mu must be held.
func (c *Cluster) start(ctx context.Context) error {
	if err := c.backend.start(ctx, c); err != nil {
		return err
	}
	return c.waitReady(ctx)
}

// waitReady waits until a password-authenticated connection succeeds.
func (c *Cluster) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	var lastErr error
	for {
		lastErr = c.ping(ctx)
		if lastErr == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgrestest: cluster %q on port %d not accepting connections: %v (%v)\n--- server log tail (%s) ---\n%s",
				c.Name, c.Port, lastErr, ctx.Err(), c.LogFile, c.LogTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (c *Cluster) ping(ctx context.Context) error {
	db, err := c.Open(AdminDatabase)
	if err != nil {
		return err
	}
	defer db.Close()
	pctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	return db.PingContext(pctx)
}

// DSN returns a lib/pq key=value connection string for database on this
// cluster, connecting over TCP as the superuser with sslmode=disable. All
// values are quoted and escaped.
func (c *Cluster) DSN(database string) string {
	return fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=disable connect_timeout=10",
		dsnQuote(c.Host), c.Port, dsnQuote(c.User), dsnQuote(c.Password), dsnQuote(database))
}

// Open returns a *sql.DB (lib/pq) for database on this cluster. The caller
// must close it.
func (c *Cluster) Open(database string) (*sql.DB, error) {
	conn, err := pq.NewConnector(c.DSN(database))
	if err != nil {
		return nil, fmt.Errorf("postgrestest: cluster %q: %w", c.Name, err)
	}
	return sql.OpenDB(conn), nil
}

// OpenAs is Open as another role, with its password: what an application connecting as
// that role sees.
func (c *Cluster) OpenAs(database, user, password string) (*sql.DB, error) {
	conn, err := pq.NewConnector(fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=disable connect_timeout=10",
		dsnQuote(c.Host), c.Port, dsnQuote(user), dsnQuote(password), dsnQuote(database)))
	if err != nil {
		return nil, fmt.Errorf("postgrestest: cluster %q: %w", c.Name, err)
	}
	return sql.OpenDB(conn), nil
}

// CreateDatabase creates database name (quoted with pq.QuoteIdentifier). It
// succeeds if the database already exists, and retries while the template
// database is briefly busy.
func (c *Cluster) CreateDatabase(ctx context.Context, name string) error {
	db, err := c.Open(AdminDatabase)
	if err != nil {
		return err
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	exists := func() (bool, error) {
		var ok bool
		err := db.QueryRowContext(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", name).Scan(&ok)
		return ok, err
	}
	for attempt := 0; ; attempt++ {
		ok, err := exists()
		if err != nil {
			return fmt.Errorf("postgrestest: cluster %q: check database %q: %w", c.Name, name, err)
		}
		if ok {
			return nil
		}
		_, err = db.ExecContext(ctx, "CREATE DATABASE "+pq.QuoteIdentifier(name))
		if err == nil {
			return nil
		}
		var pqErr *pq.Error
		if errors.As(err, &pqErr) {
			switch pqErr.SQLState() {
			case "42P04", "23505": // duplicate_database, concurrent creator won
				return nil
			case "55006": // template database in use by another session
				if attempt < 50 {
					select {
					case <-ctx.Done():
						return ctx.Err()
					case <-time.After(200 * time.Millisecond):
					}
					continue
				}
			}
		}
		return fmt.Errorf("postgrestest: cluster %q: CREATE DATABASE %s: %w", c.Name, pq.QuoteIdentifier(name), err)
	}
}

// Exec runs sql in database on a fresh connection, which is closed
// afterwards. Without args the simple query protocol is used, so sql may
// contain several statements separated by semicolons.
func (c *Cluster) Exec(ctx context.Context, database, sql string, args ...any) error {
	db, err := c.Open(database)
	if err != nil {
		return err
	}
	defer db.Close()
	if _, err := db.ExecContext(ctx, sql, args...); err != nil {
		return fmt.Errorf("postgrestest: cluster %q database %q: %w", c.Name, database, err)
	}
	return nil
}

// StopServer stops the server with a fast shutdown (pg_ctl stop -m fast, or
// docker stop, which sends SIGINT), keeping the data directory, so StartServer can bring it back (for fault-injection tests).
// Stopping a server that is not running is not an error.
func (c *Cluster) StopServer() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return nil
	}
	return c.backend.stop(c, "fast")
}

// StartServer starts a stopped server again on the same port and waits
// until it accepts connections. Starting a running server is a no-op.
func (c *Cluster) StartServer(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return fmt.Errorf("postgrestest: cluster %q: StartServer after Destroy", c.Name)
	}
	if c.backend.running(c) {
		return c.waitReady(ctx)
	}
	return c.start(ctx)
}

// Running reports whether the server process is running (pg_ctl status, or
// the container's state).
func (c *Cluster) Running() bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return !c.destroyed && c.backend.running(c)
}

// serverPID returns the host pid of the postmaster, which changes when the
// server restarts.
func (c *Cluster) serverPID() (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.backend.serverPID(c)
}

// Destroy stops the server (if running), removes its container (Docker
// backend) and its directory. It is
// idempotent and does not fail if the server is already stopped.
func (c *Cluster) Destroy() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.destroyed {
		return nil
	}
	c.destroyed = true
	stopErr := c.backend.discard(c)
	rmErr := os.RemoveAll(c.dir)
	if rmErr != nil {
		rmErr = fmt.Errorf("postgrestest: cluster %q: remove %s: %w", c.Name, c.dir, rmErr)
	}
	registryMu.Lock()
	delete(liveSet, c)
	delete(usedPorts, c.Port)
	registryMu.Unlock()
	return errors.Join(stopErr, rmErr)
}

// CountConnections counts "connection authorized: user=... database=<database>"
// lines in LogFile, i.e. the number of successful connections to database
// since the cluster was created (across restarts). Compare counts before and
// after an operation to see how many connections it opened. Connections made
// by the harness itself go to AdminDatabase.
func (c *Cluster) CountConnections(database string) (int, error) {
	f, err := os.Open(c.LogFile)
	if err != nil {
		return 0, fmt.Errorf("postgrestest: cluster %q: %w", c.Name, err)
	}
	defer f.Close()
	return countConnections(f, database)
}

func countConnections(r io.Reader, database string) (int, error) {
	const marker = "connection authorized: "
	n := 0
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		line := sc.Text()
		i := strings.Index(line, marker)
		if i < 0 {
			continue
		}
		rest := line[i+len(marker):]
		j := strings.Index(rest, " database=")
		if j < 0 {
			continue
		}
		rest = rest[j+len(" database="):]
		if rest == database {
			n++
			continue
		}
		// PostgreSQL 15 appends " application_name=..." and optionally
		// " SSL enabled (...)" / " GSS (...)" after the database name.
		if after, ok := strings.CutPrefix(rest, database+" "); ok {
			if strings.HasPrefix(after, "application_name=") || strings.HasPrefix(after, "SSL ") || strings.HasPrefix(after, "GSS ") {
				n++
			}
		}
	}
	return n, sc.Err()
}

// LogTail returns the last few kilobytes of the server log, for error
// messages.
func (c *Cluster) LogTail() string {
	return readTailSince(c.LogFile, 0)
}

var (
	rootDirOnce sync.Once
	rootDirVal  string
	rootDirErr  error
)

// RootDir returns (creating it, mode 0755) the directory under which the
// per-cluster directories are created: $PGSHARD_TEST_DIR, else
// os.TempDir()/pgshard-test (with a "-<uid>" suffix when not root).
func RootDir() (string, error) {
	rootDirOnce.Do(func() { rootDirVal, rootDirErr = makeRootDir() })
	return rootDirVal, rootDirErr
}

func makeRootDir() (string, error) {
	name := "pgshard-test"
	if os.Geteuid() != 0 {
		name += "-" + strconv.Itoa(os.Geteuid())
	}
	candidates := []string{filepath.Join(os.TempDir(), name), filepath.Join("/tmp", name)}
	if d := os.Getenv("PGSHARD_TEST_DIR"); d != "" {
		candidates = []string{d}
	}
	var lastErr error
	for _, dir := range candidates {
		dir, err := filepath.Abs(dir)
		if err != nil {
			lastErr = err
			continue
		}
		if err := os.MkdirAll(dir, 0o755); err != nil {
			lastErr = err
			continue
		}
		if fi, err := os.Stat(dir); err == nil {
			if st, ok := fi.Sys().(*syscall.Stat_t); ok && int(st.Uid) == os.Geteuid() && fi.Mode().Perm() != 0o755 {
				_ = os.Chmod(dir, 0o755)
			}
		}
		if os.Geteuid() == 0 && !traversableByOthers(dir) {
			lastErr = fmt.Errorf("%s is not traversable by unprivileged users", dir)
			continue
		}
		return dir, nil
	}
	return "", fmt.Errorf("postgrestest: no usable root directory: %w", lastErr)
}

// traversableByOthers reports whether every component of dir has the
// "others execute" bit, so the unprivileged server user can reach its
// cluster directory.
func traversableByOthers(dir string) bool {
	resolved, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return false
	}
	for p := resolved; ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o001 == 0 {
			return false
		}
		if p == filepath.Dir(p) {
			return true
		}
	}
}

// ListenLocal listens on a free TCP port of 127.0.0.1, and returns the listener and its port.
func ListenLocal() (net.Listener, int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, 0, err
	}
	addr, ok := l.Addr().(*net.TCPAddr)
	if !ok {
		return nil, 0, errors.Join(fmt.Errorf("listen: %v is not a TCP address", l.Addr()), l.Close())
	}
	return l, addr.Port, nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago and
// is not used by another cluster of this process.
func freePort() (int, error) {
	for i := 0; i < 20; i++ {
		l, port, err := ListenLocal()
		if err != nil {
			return 0, fmt.Errorf("find free port: %w", err)
		}
		l.Close()
		registryMu.Lock()
		if !usedPorts[port] {
			usedPorts[port] = true
			registryMu.Unlock()
			return port, nil
		}
		registryMu.Unlock()
	}
	return 0, errors.New("find free port: no unused port found")
}

func releasePort(port int) {
	registryMu.Lock()
	delete(usedPorts, port)
	registryMu.Unlock()
}

// liveClusters returns the clusters started by this process and not yet
// destroyed.
func liveClusters() []*Cluster {
	registryMu.Lock()
	defer registryMu.Unlock()
	out := make([]*Cluster, 0, len(liveSet))
	for c := range liveSet {
		out = append(out, c)
	}
	return out
}

// destroyAll destroys every live cluster of this process, in parallel.
func destroyAll() error {
	cs := liveClusters()
	errs := make([]error, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Destroy()
		}()
	}
	wg.Wait()
	return errors.Join(errs...)
}

// Small helpers.

func randomPassword() (string, error) {
	b := make([]byte, 18)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("postgrestest: random password: %w", err)
	}
	return hex.EncodeToString(b), nil
}

func sanitizeName(name string) string {
	var b strings.Builder
	for _, r := range name {
		if b.Len() >= 32 {
			break
		}
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_', r == '-':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	if b.Len() == 0 {
		return "cluster"
	}
	return b.String()
}

// dsnQuote quotes a value for a libpq/lib/pq key=value connection string.
func dsnQuote(s string) string {
	s = strings.ReplaceAll(s, `\`, `\\`)
	s = strings.ReplaceAll(s, `'`, `\'`)
	return "'" + s + "'"
}

// confQuote quotes a string for postgresql.conf.
func confQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

// readTailSince returns the last logTailBytes of path starting no earlier
// than offset.
func readTailSince(path string, offset int64) string {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	defer f.Close()
	size := fileSize(path)
	start := offset
	if size-start > logTailBytes {
		start = size - logTailBytes
	}
	if start < 0 {
		start = 0
	}
	b, err := io.ReadAll(io.NewSectionReader(f, start, size-start))
	if err != nil {
		return fmt.Sprintf("(cannot read log: %v)", err)
	}
	return string(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
