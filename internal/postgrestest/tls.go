package postgrestest

import (
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/lib/pq"
)

// CA is a throw-away certificate authority (ECDSA P-256) for tests.
type CA struct {
	// CertFile is the CA certificate in PEM, for sslrootcert.
	CertFile string

	cert  *x509.Certificate
	key   *ecdsa.PrivateKey
	owner *osUser // who must be able to read the files it writes
}

// NewCA makes a CA named name and writes its certificate to dir/name.crt (mode 0644).
// Only this process is sure to read it: a CA a cluster must read comes from EnableTLS.
func NewCA(dir, name string) (*CA, error) {
	return newCA(dir, name, &osUser{UID: uint32(os.Geteuid()), GID: uint32(os.Getegid())})
}

func newCA(dir, name string, owner *osUser) (*CA, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("postgrestest: CA key: %w", err)
	}
	template, err := certTemplate(name)
	if err != nil {
		return nil, err
	}
	template.IsCA = true
	template.BasicConstraintsValid = true
	template.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign
	der, err := x509.CreateCertificate(rand.Reader, template, template, &key.PublicKey, key)
	if err != nil {
		return nil, fmt.Errorf("postgrestest: CA certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("postgrestest: CA certificate: %w", err)
	}
	ca := &CA{CertFile: filepath.Join(dir, sanitizeName(name)+".crt"), cert: cert, key: key, owner: owner}
	if err := writeOwned(ca.CertFile, pemBlock("CERTIFICATE", der), 0o644, owner); err != nil {
		return nil, err
	}
	return ca, nil
}

// Issue signs a certificate for commonName with the given DNS and IP subject alternative
// names and writes it and its key to dir/<file>.crt and dir/<file>.key (mode 0600), both
// owned by the CA's owner.
func (ca *CA) Issue(dir, file, commonName string, dnsNames []string, ips []net.IP, usage x509.ExtKeyUsage) (certFile, keyFile string, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return "", "", fmt.Errorf("postgrestest: key for %s: %w", commonName, err)
	}
	template, err := certTemplate(commonName)
	if err != nil {
		return "", "", err
	}
	template.DNSNames, template.IPAddresses = dnsNames, ips
	template.KeyUsage = x509.KeyUsageDigitalSignature
	template.ExtKeyUsage = []x509.ExtKeyUsage{usage}
	der, err := x509.CreateCertificate(rand.Reader, template, ca.cert, &key.PublicKey, ca.key)
	if err != nil {
		return "", "", fmt.Errorf("postgrestest: certificate for %s: %w", commonName, err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", "", fmt.Errorf("postgrestest: key for %s: %w", commonName, err)
	}
	certFile, keyFile = filepath.Join(dir, file+".crt"), filepath.Join(dir, file+".key")
	if err := writeOwned(certFile, pemBlock("CERTIFICATE", der), 0o644, ca.owner); err != nil {
		return "", "", err
	}
	// PostgreSQL and libpq both refuse a key that group or others may read.
	if err := writeOwned(keyFile, pemBlock("PRIVATE KEY", keyDER), 0o600, ca.owner); err != nil {
		return "", "", err
	}
	return certFile, keyFile, nil
}

func certTemplate(commonName string) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return nil, fmt.Errorf("postgrestest: certificate serial: %w", err)
	}
	now := time.Now()
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: commonName, Organization: []string{"pgshard tests"}},
		NotBefore:    now.Add(-time.Hour), // tolerate a clock a little behind
		NotAfter:     now.Add(24 * time.Hour),
	}, nil
}

func pemBlock(typ string, der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der})
}

// writeOwned writes a file with mode perm owned by u (when the harness runs as root).
func writeOwned(path string, data []byte, perm os.FileMode, u *osUser) error {
	if err := os.WriteFile(path, data, perm); err != nil {
		return fmt.Errorf("postgrestest: write %s: %w", path, err)
	}
	// WriteFile keeps the mode of a file that exists already.
	if err := os.Chmod(path, perm); err != nil {
		return fmt.Errorf("postgrestest: chmod %s: %w", path, err)
	}
	if err := u.chown(path); err != nil {
		return fmt.Errorf("postgrestest: chown %s to %s: %w", path, u.Name, err)
	}
	return nil
}

// TLS is what EnableTLS set up on a cluster.
type TLS struct {
	// CA signed the server's certificate; its CertFile (sslrootcert) is readable by the
	// cluster's OS user too, so any cluster of this harness (a base's postgres_fdw) can use it.
	CA *CA
	// Dir holds the CA and the client certificates, owned by the cluster's OS user.
	Dir string
}

// EnableTLS makes a CA for the cluster and a server certificate it signs for 127.0.0.1
// (an IP SAN) and localhost (a DNS SAN), installs them in the data directory (the key
// owned by the cluster's OS user, mode 0600), turns SSL on with ALTER SYSTEM and a reload
// (PostgreSQL reloads SSL settings without a restart), and waits until a connection with
// sslmode=verify-full succeeds. ssl_ca_file is the same CA, so the server asks for client
// certificates (without requiring one) and verifies those presented. The harness's own
// connections (DSN, Open, Exec) keep sslmode=disable.
func (c *Cluster) EnableTLS(ctx context.Context) (*TLS, error) {
	dir := filepath.Join(c.dir, "tls")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("postgrestest: cluster %q: %w", c.Name, err)
	}
	if err := c.owner.chown(dir); err != nil {
		return nil, fmt.Errorf("postgrestest: cluster %q: chown %s: %w", c.Name, dir, err)
	}
	ca, err := newCA(dir, c.Name+" test CA", c.owner)
	if err != nil {
		return nil, err
	}
	certFile, keyFile, err := ca.Issue(c.DataDir, "server", c.Host,
		[]string{"localhost"}, []net.IP{net.ParseIP("127.0.0.1")}, x509.ExtKeyUsageServerAuth)
	if err != nil {
		return nil, err
	}
	for _, stmt := range []string{
		"ALTER SYSTEM SET ssl_cert_file = " + pq.QuoteLiteral(certFile),
		"ALTER SYSTEM SET ssl_key_file = " + pq.QuoteLiteral(keyFile),
		"ALTER SYSTEM SET ssl_ca_file = " + pq.QuoteLiteral(ca.CertFile),
		"ALTER SYSTEM SET ssl = 'on'",
		"SELECT pg_reload_conf()",
	} {
		// One statement per call: ALTER SYSTEM refuses to run in a transaction block.
		if err := c.Exec(ctx, AdminDatabase, stmt); err != nil {
			return nil, err
		}
	}
	if err := c.waitTLS(ctx, ca.CertFile); err != nil {
		return nil, err
	}
	return &TLS{CA: ca, Dir: dir}, nil
}

// waitTLS waits until the reload has taken effect: SHOW ssl says on and a verify-full
// connection succeeds. The postmaster reloads asynchronously after pg_reload_conf.
func (c *Cluster) waitTLS(ctx context.Context, rootCert string) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	dsn := fmt.Sprintf("host=%s port=%d user=%s password=%s dbname=%s sslmode=verify-full sslrootcert=%s connect_timeout=10",
		dsnQuote(c.Host), c.Port, dsnQuote(c.User), dsnQuote(c.Password), dsnQuote(AdminDatabase), dsnQuote(rootCert))
	for {
		err := queryOnce(ctx, dsn, "on", `SELECT current_setting('ssl') || CASE WHEN ssl THEN '' ELSE ' (not used)' END
			FROM pg_stat_ssl WHERE pid = pg_backend_pid()`)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("postgrestest: cluster %q: SSL not in effect after reload: %v\n--- server log tail (%s) ---\n%s",
				c.Name, err, c.LogFile, c.LogTail())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func queryOnce(ctx context.Context, dsn, want, query string) error {
	conn, err := pq.NewConnector(dsn)
	if err != nil {
		return err
	}
	db := sql.OpenDB(conn)
	defer db.Close()
	var got string
	if err := db.QueryRowContext(ctx, query).Scan(&got); err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("%s: got %q, want %q", query, got, want)
	}
	return nil
}

// ClientCert issues a client certificate for role (its common name, which `cert`
// authentication matches) signed by the cluster's CA, owned by the cluster's OS user with
// the key at mode 0600: usable as sslcert/sslkey by this process and by a cluster's
// postgres_fdw alike.
func (t *TLS) ClientCert(role string) (certFile, keyFile string, err error) {
	return t.CA.Issue(t.Dir, "client-"+sanitizeName(role), role, nil, nil, x509.ExtKeyUsageClientAuth)
}

// LoggedConnection is one "connection authorized" line of the server log.
type LoggedConnection struct {
	User, Database, Application string
	// SSL is true when the line says "SSL enabled (...)"; Protocol is its protocol (TLSv1.3).
	SSL      bool
	Protocol string
}

// LoggedConnections lists the successful connections to database since the cluster was
// created, from its log (log_connections is on).
func (c *Cluster) LoggedConnections(database string) ([]LoggedConnection, error) {
	f, err := os.Open(c.LogFile)
	if err != nil {
		return nil, fmt.Errorf("postgrestest: cluster %q: %w", c.Name, err)
	}
	defer f.Close()
	var conns []LoggedConnection
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for sc.Scan() {
		if lc, ok := parseConnectionLine(sc.Text()); ok && lc.Database == database {
			conns = append(conns, lc)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("postgrestest: cluster %q: read log: %w", c.Name, err)
	}
	return conns, nil
}

// parseConnectionLine reads PostgreSQL 15's "connection authorized: user=U database=D
// [application_name=A] [SSL enabled (protocol=P, cipher=C, bits=N)]". Names holding
// spaces are not expected: the harness's names have none.
func parseConnectionLine(line string) (LoggedConnection, bool) {
	const marker = "connection authorized: "
	i := strings.Index(line, marker)
	if i < 0 {
		return LoggedConnection{}, false
	}
	rest := line[i+len(marker):]
	var lc LoggedConnection
	if head, ssl, ok := strings.Cut(rest, " SSL enabled ("); ok {
		rest, lc.SSL = head, true
		for _, part := range strings.Split(strings.TrimSuffix(ssl, ")"), ", ") {
			if v, ok := strings.CutPrefix(part, "protocol="); ok {
				lc.Protocol = v
			}
		}
	}
	for _, field := range strings.Fields(rest) {
		k, v, _ := strings.Cut(field, "=")
		switch k {
		case "user":
			lc.User = v
		case "database":
			lc.Database = v
		case "application_name":
			lc.Application = v
		}
	}
	return lc, lc.User != ""
}
