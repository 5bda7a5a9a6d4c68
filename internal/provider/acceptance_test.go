package provider

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/terraform"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

func TestMain(m *testing.M) { os.Exit(postgrestest.RunMain(m)) }

// terraformSetup finds the Terraform CLI and points the testing framework at it, as
// RunMain does under TF_ACC, so that unit tests run without TF_ACC too. It starts no cluster.
var terraformSetup = sync.OnceValue(postgrestest.SetupAcceptanceEnv)

// unitTest runs a test case that needs the Terraform CLI and the provider but no database,
// with or without TF_ACC; it never skips.
func unitTest(t *testing.T, c resource.TestCase) {
	t.Helper()
	postgrestest.Needs(t, "the Terraform CLI")
	if err := terraformSetup(); err != nil {
		t.Fatal(err)
	}
	c.ProtoV6ProviderFactories = testAccProtoV6ProviderFactories
	resource.UnitTest(t, c)
}

// noConnectionProviderConfig is a provider block pointed at a local port that only counts
// the connections it is offered (and closes them); the test fails if there was any.
func noConnectionProviderConfig(t *testing.T, extra ...string) string {
	t.Helper()
	l, port, err := postgrestest.ListenLocal()
	if err != nil {
		t.Fatal(err)
	}
	var connections atomic.Int32
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			conn, err := l.Accept()
			if err != nil {
				return
			}
			connections.Add(1)
			conn.Close()
		}
	}()
	t.Cleanup(func() {
		l.Close()
		<-done
		if n := connections.Load(); n > 0 {
			t.Errorf("the provider connected to the database %d times; it must not connect here", n)
		}
	})
	return fmt.Sprintf(`
provider "pgshard" {
  host            = "127.0.0.1"
  port            = %d
  connect_timeout = 1
  %s
}
`, port, strings.Join(extra, "\n  "))
}

// testAccProtoV6ProviderFactories serves the provider in-process to the Terraform CLI.
var testAccProtoV6ProviderFactories = map[string]func() (tfprotov6.ProviderServer, error){
	"pgshard": providerserver.NewProtocol6WithError(New("test")()),
}

// accDatabase is a database of one test's own on a real cluster.
type accDatabase struct {
	Cluster *postgrestest.Cluster
	Name    string
	DB      *sql.DB
}

// newAccDatabase creates a fresh database on the shared base cluster (or the cluster
// given) and installs the extensions listed. It skips like resource.Test when TF_ACC is
// unset, before any cluster is started.
func newAccDatabase(t *testing.T, cluster func(*postgrestest.Env) *postgrestest.Cluster, extensions ...string) *accDatabase {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance tests need TF_ACC=1 (make test sets it)")
	}
	env := postgrestest.Shared(t)
	c := env.Base
	if cluster != nil {
		c = cluster(env)
	}
	name := accName(t)
	if err := c.CreateDatabase(t.Context(), name); err != nil {
		t.Fatal(err)
	}
	db, err := c.Open(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	a := &accDatabase{Cluster: c, Name: name, DB: db}
	for _, e := range extensions {
		a.Exec(t, "CREATE EXTENSION "+quoteIdent(e))
	}
	return a
}

func accName(t *testing.T) string {
	base := strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, strings.ToLower(strings.TrimPrefix(t.Name(), "TestAcc")))
	if len(base) > 40 {
		base = base[:40]
	}
	return fmt.Sprintf("acc_%s_%06d", base, rand.IntN(1000000))
}

// ProviderConfig is a provider block pointing at this database.
func (a *accDatabase) ProviderConfig(extra ...string) string {
	return fmt.Sprintf(`
terraform {
  required_providers {
    pgshard = { source = "pgshard/pgshard" }
  }
}

provider "pgshard" {
  host     = %q
  port     = %d
  database = %q
  username = %q
  password = %q
  sslmode  = "disable"
  %s
}
`, a.Cluster.Host, a.Cluster.Port, a.Name, a.Cluster.User, a.Cluster.Password, strings.Join(extra, "\n  "))
}

// Exec runs SQL in the database, failing the test on error. Cleanups call it too, after
// t.Context() is canceled, so it does not use that context.
func (a *accDatabase) Exec(t *testing.T, stmt string, args ...any) {
	t.Helper()
	if _, err := a.DB.ExecContext(context.Background(), stmt, args...); err != nil { //nolint:usetesting // cleanups call it after t.Context() is canceled
		t.Fatalf("%s: %v", stmt, err)
	}
}

// QueryString returns the single text value a query yields ("<none>" for no row).
func (a *accDatabase) QueryString(stmt string, args ...any) (string, error) {
	var s sql.NullString
	err := a.DB.QueryRowContext(context.Background(), stmt, args...).Scan(&s)
	if err == sql.ErrNoRows {
		return "<none>", nil
	}
	if !s.Valid {
		return "<null>", err
	}
	return s.String, err
}

// ExpectQuery returns a check function asserting that a query yields want.
func (a *accDatabase) ExpectQuery(want, stmt string, args ...any) func() error {
	return func() error {
		got, err := a.QueryString(stmt, args...)
		if err != nil {
			return fmt.Errorf("%s: %w", stmt, err)
		}
		if got != want {
			return fmt.Errorf("database %s: %s\n  got:  %s\n  want: %s", a.Name, stmt, got, want)
		}
		return nil
	}
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// dbChecks turns database assertions into a step check.
func dbChecks(fns ...func() error) resource.TestCheckFunc {
	return func(*terraform.State) error {
		for _, fn := range fns {
			if err := fn(); err != nil {
				return err
			}
		}
		return nil
	}
}

// expectError compiles an error pattern whose spaces match any run of white space, since
// Terraform wraps diagnostic text at arbitrary points.
func expectError(pattern string) *regexp.Regexp {
	return regexp.MustCompile(`(?s)` + strings.ReplaceAll(pattern, " ", `\s+`))
}

func quoteLiteral(s string) string { return postgres.Literal(s) }

// newBaseAndShard is a base database with postgres_fdw and dblink, and a shard database
// on another cluster behind the foreign server named server (with a user mapping). They
// are made with SQL so that the tests depend only on the resources under test.
func newBaseAndShard(t *testing.T, server string) (base, shard *accDatabase) {
	base = newAccDatabase(t, nil, "postgres_fdw", "dblink")
	shard = newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	base.Exec(t, fmt.Sprintf(`CREATE SERVER %s FOREIGN DATA WRAPPER postgres_fdw OPTIONS (host %s, port '%d', dbname %s)`,
		quoteIdent(server), quoteLiteral(shard.Cluster.Host), shard.Cluster.Port, quoteLiteral(shard.Name)))
	base.Exec(t, fmt.Sprintf(`CREATE USER MAPPING FOR CURRENT_USER SERVER %s OPTIONS (user 'postgres', password %s)`,
		quoteIdent(server), quoteLiteral(shard.Cluster.Password)))
	return base, shard
}

// oneShardConfig is a partitioned table tweets with one foreign partition named name on
// server, whose shard table the provider creates; partition is added to its block.
func oneShardConfig(base *accDatabase, server, name, partition string) string {
	return base.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_partitioned_table" "tweets" {
  name = "tweets"
  columns = [
    { name = "id", type = "bigserial" },
    { name = "location", type = "text", not_null = true },
    { name = "text", type = "text" },
  ]
  partition_by  = { strategy = "list", key = ["location"] }
  force_destroy = true
}

resource "pgshard_foreign_partition" "shard" {
  parent              = pgshard_partitioned_table.tweets.id
  name                = %q
  server              = %q
  values_in           = ["europe"]
  create_remote_table = true
  %s
}
`, name, server, partition)
}
