package provider

import (
	"context"
	"fmt"
	"os"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// providerApplication is the application_name of every connection of the provider.
const providerApplication = "terraform-provider-pgshard"

// tlsDatabase starts a cluster of the test's own with SSL on (a throw-away CA signs its
// certificate for 127.0.0.1) and makes a database on it. It needs no shared cluster.
func tlsDatabase(t *testing.T, name string) (*accDatabase, *postgrestest.TLS) {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance tests need TF_ACC=1 (make test sets it)")
	}
	c := postgrestest.StartTestCluster(t, name)
	tls, err := c.EnableTLS(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	a := &accDatabase{Cluster: c, Name: accName(t)}
	if err := c.CreateDatabase(t.Context(), a.Name); err != nil {
		t.Fatal(err)
	}
	if a.DB, err = c.Open(a.Name); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { a.DB.Close() })
	return a, tls
}

// tlsProviderConfig is a provider block for a with the TLS settings given instead of
// ProviderConfig's sslmode = "disable".
func tlsProviderConfig(a *accDatabase, settings ...string) string {
	return fmt.Sprintf(`
provider "pgshard" {
  host            = %q
  port            = %d
  database        = %q
  username        = %q
  password        = %q
  connect_timeout = 5
  %s
}
`, a.Cluster.Host, a.Cluster.Port, a.Name, a.Cluster.User, a.Cluster.Password, strings.Join(settings, "\n  "))
}

// connectionsUseSSL checks the server log (log_connections is on) for user's connections
// to the database from application ("" for any): there are some, and every one used SSL.
func connectionsUseSSL(a *accDatabase, user, application string) func() error {
	return func() error {
		conns, err := a.Cluster.LoggedConnections(a.Name)
		if err != nil {
			return err
		}
		n := 0
		for _, c := range conns {
			if c.User != user || application != "" && c.Application != application {
				continue
			}
			if !c.SSL {
				return fmt.Errorf("a connection of %s (application %q) to %s did not use SSL", user, c.Application, a.Name)
			}
			n++
		}
		if n == 0 {
			return fmt.Errorf("the server log shows no connection of %s (application %q) to %s", user, application, a.Name)
		}
		return nil
	}
}

const fdwExtension = `
resource "pgshard_extension" "fdw" {
  name = "postgres_fdw"
}
`

// sslmode = "verify-full" with sslrootcert: the provider checks the server's certificate
// against the CA and its name against host, and every connection it makes uses TLS. A
// client certificate (sslcert, sslkey) is presented and verified by the server.
func TestAccProvider_TLSVerifyFull(t *testing.T) {
	a, tls := tlsDatabase(t, "tlsprovider")
	cert, key, err := tls.ClientCert(a.Cluster.User)
	if err != nil {
		t.Fatal(err)
	}
	verifyFull := []string{`sslmode = "verify-full"`, fmt.Sprintf("sslrootcert = %q", tls.CA.CertFile)}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: tlsProviderConfig(a, verifyFull...) + fdwExtension,
				Check: dbChecks(
					a.ExpectQuery("postgres_fdw", `SELECT extname FROM pg_extension WHERE extname = 'postgres_fdw'`),
					connectionsUseSSL(a, a.Cluster.User, providerApplication),
				),
			},
			{
				// New settings make a new pool, whose connections present the certificate.
				Config: tlsProviderConfig(a, append(verifyFull, fmt.Sprintf("sslcert = %q", cert), fmt.Sprintf("sslkey = %q", key))...) + fdwExtension,
				Check: dbChecks(
					a.ExpectQuery("true", `SELECT count(*) > 0 FROM pg_stat_ssl s JOIN pg_stat_activity USING (pid)
						WHERE application_name = $1 AND datname = current_database() AND s.ssl AND s.client_dn LIKE '%CN=postgres%'`,
						providerApplication),
					connectionsUseSSL(a, a.Cluster.User, providerApplication),
				),
			},
		},
	})
}

// A server certificate that another CA signed: the apply fails at once (no retries) with
// the certificate error and the target it was connecting to, the password nowhere in it,
// and no connection gets through.
func TestAccProvider_TLSWrongCA(t *testing.T) {
	a, _ := tlsDatabase(t, "tlswrongca")
	other, err := postgrestest.NewCA(t.TempDir(), "other CA")
	if err != nil {
		t.Fatal(err)
	}
	target := fmt.Sprintf("host=%s port=%d database=%s user=%s sslrootcert=%s", a.Cluster.Host, a.Cluster.Port, a.Name, a.Cluster.User, other.CertFile)
	certError := `tls: failed to verify certificate: x509: certificate signed by unknown authority`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{{
			Config: tlsProviderConfig(a, `sslmode = "verify-full"`, fmt.Sprintf("sslrootcert = %q", other.CertFile)) + fdwExtension,
			ExpectError: expectError(`Extension Create Error.*the database server could not be reached \(` + regexp.QuoteMeta(target) +
				`\).*TLS certificate was not accepted: check that sslrootcert.*could not connect to PostgreSQL \(` + regexp.QuoteMeta(target) + `\) after 1 attempt\(s\): ` + certError),
		}},
	})

	// The same error, as the diagnostic shows it, without the password.
	p := &pgshardProvider{getenv: func(string) string { return "" }}
	client := configure(t, p, map[string]tftypes.Value{
		"host":        tftypes.NewValue(tftypes.String, a.Cluster.Host),
		"port":        tftypes.NewValue(tftypes.Number, a.Cluster.Port),
		"database":    tftypes.NewValue(tftypes.String, a.Name),
		"username":    tftypes.NewValue(tftypes.String, a.Cluster.User),
		"password":    tftypes.NewValue(tftypes.String, a.Cluster.Password),
		"sslmode":     tftypes.NewValue(tftypes.String, "verify-full"),
		"sslrootcert": tftypes.NewValue(tftypes.String, other.CertFile),
	})
	defer p.pools.Close()
	db, err := client.DB()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	began := time.Now()
	err = db.PingContext(ctx)
	if err == nil {
		t.Fatal("verify-full with another CA connected")
	}
	if elapsed := time.Since(began); elapsed > 10*time.Second {
		t.Errorf("a certificate error was retried for %s; it cannot succeed later", elapsed)
	}
	var diags diag.Diagnostics
	addObjectError(&diags, "Extension", "Create", `extension "postgres_fdw"`, a.Name, err)
	text := diags[0].Summary() + "\n" + diags[0].Detail()
	if !strings.Contains(text, target) || !strings.Contains(text, certError) || strings.Contains(text, a.Cluster.Password) {
		t.Fatalf("want the target %q and the certificate error, without the password; got:\n%s", target, text)
	}
	if conns, err := a.Cluster.LoggedConnections(a.Name); err != nil || len(conns) > 0 {
		t.Fatalf("connections got through: %+v (%v)", conns, err)
	}
}

// sslrootcert, sslcert and sslkey fall back to PGSSLROOTCERT, PGSSLCERT and PGSSLKEY; an
// attribute wins over its variable. Errors name the CA and certificate files.
func TestProviderConfigure_SSLEnvironment(t *testing.T) {
	t.Setenv("PGSSLROOTCERT", "/etc/pgshard/root.crt")
	t.Setenv("PGSSLCERT", "/etc/pgshard/client.crt")
	t.Setenv("PGSSLKEY", "/etc/pgshard/client.key")
	p := New("test")()
	c := configure(t, p, nil).conn
	if c.SSLRootCert != "/etc/pgshard/root.crt" || c.SSLCert != "/etc/pgshard/client.crt" || c.SSLKey != "/etc/pgshard/client.key" {
		t.Fatalf("from the environment: %+v", c)
	}
	if target := c.Target(); !strings.HasSuffix(target, " sslrootcert=/etc/pgshard/root.crt sslcert=/etc/pgshard/client.crt") {
		t.Errorf("Target() = %q", target)
	}

	c = configure(t, p, map[string]tftypes.Value{"sslrootcert": tftypes.NewValue(tftypes.String, "/srv/ca.pem")}).conn
	if c.SSLRootCert != "/srv/ca.pem" || c.SSLCert != "/etc/pgshard/client.crt" || c.SSLKey != "/etc/pgshard/client.key" {
		t.Fatalf("attribute over environment: %+v", c)
	}

	empty := &pgshardProvider{getenv: func(string) string { return "" }}
	if c = configure(t, empty, nil).conn; c.SSLRootCert != "" || c.SSLCert != "" || c.SSLKey != "" ||
		strings.Contains(c.Target(), "ssl") {
		t.Fatalf("unset: %+v, target %q", c, c.Target())
	}
}

// A foreign server reaches a shard that requires nothing but offers TLS, with sslmode =
// "verify-full" and sslrootcert in its options: the shard table is created through it
// (dblink), rows flow both ways through postgres_fdw, and the shard's log shows that every
// connection of the mapped role used SSL.
func TestAccForeignServer_TLSShard(t *testing.T) {
	shard, tls := tlsDatabase(t, "tlsshard")
	base := newAccDatabase(t, nil, "postgres_fdw", "dblink")
	shard.Exec(t, `CREATE ROLE app LOGIN PASSWORD 'app-pw'`)
	shard.Exec(t, `GRANT CREATE ON SCHEMA public TO app`)
	config := base.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_foreign_server" "tls" {
  name   = "tls"
  host   = %q
  port   = %d
  dbname = %q
  options = {
    sslmode     = "verify-full"
    sslrootcert = %q
  }
}

resource "pgshard_user_mapping" "tls" {
  server   = pgshard_foreign_server.tls.name
  user     = "app"
  password = "app-pw"
}

resource "pgshard_partitioned_table" "t" {
  name          = "t"
  columns       = [{ name = "region", type = "text" }, { name = "v", type = "int" }]
  partition_by  = { strategy = "list", key = ["region"] }
  force_destroy = true
}

resource "pgshard_foreign_partition" "tls" {
  parent              = pgshard_partitioned_table.t.id
  name                = "t_tls"
  server              = pgshard_foreign_server.tls.name
  values_in           = ["tls"]
  create_remote_table = true
  depends_on          = [pgshard_user_mapping.tls]
}
`, shard.Cluster.Host, shard.Cluster.Port, shard.Name, tls.CA.CertFile)
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: dbChecks(
					base.ExpectQuery("{sslmode=verify-full,sslrootcert="+tls.CA.CertFile+"}",
						`SELECT array_agg(o ORDER BY o)::text FROM pg_foreign_server, unnest(srvoptions) o
						 WHERE srvname = 'tls' AND o LIKE 'ssl%'`),
					func() error { _, err := base.DB.Exec(`INSERT INTO t VALUES ('tls', 1)`); return err },
					shard.ExpectQuery("1", `SELECT count(*) FROM t_tls WHERE region = 'tls'`),
					func() error { _, err := shard.DB.Exec(`INSERT INTO t_tls VALUES ('tls', 2)`); return err },
					base.ExpectQuery("3", `SELECT sum(v) FROM t WHERE region = 'tls'`),
					connectionsUseSSL(shard, "app", ""),
				),
			},
			{Config: config, PlanOnly: true},
		},
	})
}
