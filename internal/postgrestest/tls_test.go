package postgrestest

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/lib/pq"
)

// EnableTLS turns SSL on without a restart: verify-full with the cluster's CA connects
// over TLS to 127.0.0.1, another CA is refused, a client certificate is verified, and the
// files belong to the cluster's OS user with the keys private.
func TestEnableTLS(t *testing.T) {
	Needs(t, "a PostgreSQL cluster")
	t.Parallel()
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	c, err := StartCluster(ctx, "tls")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Destroy() })
	pid := postmasterPID(t, c)

	tls, err := c.EnableTLS(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := postmasterPID(t, c); got != pid {
		t.Fatalf("the server restarted (postmaster pid %d, then %d); a reload is enough", pid, got)
	}
	for file, perm := range map[string]os.FileMode{
		tls.CA.CertFile: 0o644, c.DataDir + "/server.crt": 0o644, c.DataDir + "/server.key": 0o600,
	} {
		assertOwned(t, c, file, perm)
	}

	verifyFull := func(rootCert string, extra ...string) string {
		return fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=postgres sslmode=verify-full sslrootcert=%s connect_timeout=10 %s",
			dsnQuote(c.Host), c.Port, dsnQuote(c.User), dsnQuote(c.Password), dsnQuote(rootCert), strings.Join(extra, " "))
	}
	st, err := sslStatus(ctx, verifyFull(tls.CA.CertFile))
	if err != nil {
		t.Fatal(err)
	}
	if !st.ssl || !strings.HasPrefix(st.version, "TLS") || st.clientDN.Valid {
		t.Fatalf("pg_stat_ssl: %+v", st)
	}
	// localhost is the DNS name on the certificate (verify-full checks it); the cluster
	// listens on 127.0.0.1 only, so hostaddr says where to go.
	if _, err := sslStatus(ctx, strings.Replace(verifyFull(tls.CA.CertFile), "host='127.0.0.1'", "host=localhost hostaddr=127.0.0.1", 1)); err != nil {
		t.Fatalf("verify-full with host localhost: %v", err)
	}

	other, err := NewCA(t.TempDir(), "other CA")
	if err != nil {
		t.Fatal(err)
	}
	_, err = sslStatus(ctx, verifyFull(other.CertFile))
	if err == nil || !strings.Contains(err.Error(), "certificate signed by unknown authority") {
		t.Fatalf("verify-full with another CA: want an unknown authority error, got %v", err)
	}

	cert, key, err := tls.ClientCert("postgres")
	if err != nil {
		t.Fatal(err)
	}
	assertOwned(t, c, key, 0o600)
	if st, err = sslStatus(ctx, verifyFull(tls.CA.CertFile, "sslcert="+dsnQuote(cert), "sslkey="+dsnQuote(key))); err != nil {
		t.Fatal(err)
	}
	if !st.clientDN.Valid || !strings.Contains(st.clientDN.String, "CN=postgres") {
		t.Fatalf("client_dn = %v, want the client certificate's CN=postgres", st.clientDN)
	}

	conns, err := c.LoggedConnections("postgres")
	if err != nil {
		t.Fatal(err)
	}
	var over, plain int
	for _, lc := range conns {
		if lc.SSL {
			over++
		} else {
			plain++
		}
	}
	if over < 3 || plain == 0 {
		t.Fatalf("logged connections: %d over SSL, %d without; want at least 3 and some (the harness's own)", over, plain)
	}
}

func TestParseConnectionLine(t *testing.T) {
	for line, want := range map[string]LoggedConnection{
		"2024-01-01 00:00:00.000 UTC [42] LOG:  connection authorized: user=postgres database=acc_x application_name=terraform-provider-pgshard SSL enabled (protocol=TLSv1.3, cipher=TLS_AES_256_GCM_SHA384, bits=256)": {
			User: "postgres", Database: "acc_x", Application: "terraform-provider-pgshard", SSL: true, Protocol: "TLSv1.3"},
		"2024-01-01 00:00:00.000 UTC [43] LOG:  connection authorized: user=app database=shard": {User: "app", Database: "shard"},
		"2024-01-01 00:00:00.000 UTC [44] LOG:  connection received: host=127.0.0.1 port=5555":  {},
	} {
		got, ok := parseConnectionLine(line)
		if got != want || ok != (want.User != "") {
			t.Errorf("parseConnectionLine(%q) = %+v, %v; want %+v", line, got, ok, want)
		}
	}
}

// sslRow is pg_stat_ssl's row for a connection.
type sslRow struct {
	ssl      bool
	version  string
	clientDN sql.NullString
}

// sslStatus opens a connection to dsn and reads its pg_stat_ssl row.
func sslStatus(ctx context.Context, dsn string) (sslRow, error) {
	var st sslRow
	conn, err := pq.NewConnector(dsn)
	if err != nil {
		return st, err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	err = db.QueryRowContext(ctx, `SELECT ssl, version, client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()`).
		Scan(&st.ssl, &st.version, &st.clientDN)
	return st, err
}

func postmasterPID(t *testing.T, c *Cluster) int {
	t.Helper()
	pid, err := c.serverPID()
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func assertOwned(t *testing.T, c *Cluster, path string, perm os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		t.Fatalf("%s: no owner in %T", path, fi.Sys())
	}
	if fi.Mode().Perm() != perm || st.Uid != c.owner.UID {
		t.Errorf("%s: mode %v owner %d; want %v owned by %s (%d)", path, fi.Mode().Perm(), st.Uid, perm, c.owner.Name, c.owner.UID)
	}
}
