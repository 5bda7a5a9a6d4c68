package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// privateShard starts a cluster of the test's own (so stopping it disturbs no other test)
// with a database for the shard.
func privateShard(t *testing.T, name string) *accDatabase {
	t.Helper()
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance tests need TF_ACC=1 (make test sets it)")
	}
	c := postgrestest.StartTestCluster(t, name)
	return newAccDatabase(t, func(*postgrestest.Env) *postgrestest.Cluster { return c })
}

func shardConfig(base, shard *accDatabase, mappingPassword string) string {
	return base.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_foreign_server" "faulty" {
  name   = "faulty"
  host   = %q
  port   = %d
  dbname = %q
}

resource "pgshard_user_mapping" "faulty" {
  server   = pgshard_foreign_server.faulty.name
  user     = "app"
  password = %q
}

resource "pgshard_partitioned_table" "t" {
  name          = "t"
  columns       = [{ name = "region", type = "text" }, { name = "v", type = "int" }]
  partition_by  = { strategy = "list", key = ["region"] }
  force_destroy = true
}

resource "pgshard_foreign_partition" "faulty" {
  parent              = pgshard_partitioned_table.t.id
  name                = "t_faulty"
  server              = pgshard_foreign_server.faulty.name
  values_in           = ["faulty"]
  create_remote_table = true
  depends_on          = [pgshard_user_mapping.faulty]
}
`, shard.Cluster.Host, shard.Cluster.Port, shard.Name, mappingPassword)
}

// A shard that is down during apply: a clear error naming the server and its host, the
// resources that did not need the shard are in state, and after the shard is back a
// re-apply converges with no diff.
func TestAccForeignPartition_ShardDownDuringApply(t *testing.T) {
	shard := privateShard(t, "downshard")
	base := newAccDatabase(t, nil, "postgres_fdw", "dblink")
	shard.Exec(t, `CREATE ROLE app LOGIN PASSWORD 'app-pw'`)
	shard.Exec(t, `GRANT CREATE ON SCHEMA public TO app`)
	config := shardConfig(base, shard, "app-pw")
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				PreConfig: func() {
					if err := shard.Cluster.StopServer(); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ExpectError: expectError(fmt.Sprintf(`Could not create foreign partition "public.t_faulty" .* on server faulty\).*could not establish connection.*%s.*port %d`,
					shard.Cluster.Host, shard.Cluster.Port)),
			},
			{
				PreConfig: func() {
					if err := shard.Cluster.StartServer(t.Context()); err != nil {
						t.Fatal(err)
					}
				},
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("pgshard_foreign_partition.faulty", plancheck.ResourceActionCreate),
						plancheck.ExpectResourceAction("pgshard_foreign_server.faulty", plancheck.ResourceActionNoop),
						plancheck.ExpectResourceAction("pgshard_partitioned_table.t", plancheck.ResourceActionNoop),
					},
				},
				Check: dbChecks(
					func() error { _, err := base.DB.Exec(`INSERT INTO t VALUES ('faulty', 1)`); return err },
					shard.ExpectQuery("1", `SELECT count(*) FROM t_faulty`),
				),
			},
			{Config: config, PlanOnly: true},
		},
	})
}

// The shard's password changed under the mapping: a clear authentication error, and a
// password update in Terraform (in place) repairs it.
func TestAccUserMapping_PasswordChangedOnShard(t *testing.T) {
	shard := privateShard(t, "pwshard")
	base := newAccDatabase(t, nil, "postgres_fdw", "dblink")
	shard.Exec(t, `CREATE ROLE app LOGIN PASSWORD 'old-pw'`)
	shard.Exec(t, `GRANT CREATE ON SCHEMA public TO app`)
	partition2 := `
resource "pgshard_foreign_partition" "second" {
  parent              = pgshard_partitioned_table.t.id
  name                = "t_second"
  server              = pgshard_foreign_server.faulty.name
  values_in           = ["second"]
  create_remote_table = true
  depends_on          = [pgshard_user_mapping.faulty]
}`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: shardConfig(base, shard, "old-pw")},
			{
				PreConfig:   func() { shard.Exec(t, `ALTER ROLE app PASSWORD 'new-pw'`) },
				Config:      shardConfig(base, shard, "old-pw") + partition2,
				ExpectError: expectError(`password authentication failed for user "app".*check the user mapping's user and password|password authentication failed for user "app"`),
			},
			{
				Config: shardConfig(base, shard, "new-pw") + partition2,
				ConfigPlanChecks: resource.ConfigPlanChecks{
					PreApply: []plancheck.PlanCheck{
						plancheck.ExpectResourceAction("pgshard_user_mapping.faulty", plancheck.ResourceActionUpdate),
						plancheck.ExpectResourceAction("pgshard_foreign_partition.second", plancheck.ResourceActionCreate),
					},
				},
				Check: dbChecks(
					func() error {
						_, err := base.DB.Exec(`SELECT postgres_fdw_disconnect_all(); INSERT INTO t VALUES ('second', 2)`)
						return err
					},
					shard.ExpectQuery("1", `SELECT count(*) FROM t_second`),
				),
			},
		},
	})
}

// connect_timeout is honoured when the server never comes up: the apply gives up after
// about that long, naming the target. No database is needed, only a port where nothing listens.
func TestProvider_ConnectTimeout(t *testing.T) {
	l, port, err := postgrestest.ListenLocal()
	if err != nil {
		t.Fatal(err)
	}
	l.Close()
	var began time.Time
	unitTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			PreConfig: func() { began = time.Now() },
			Config: fmt.Sprintf(`
provider "pgshard" {
  host            = "127.0.0.1"
  port            = %d
  database        = "never"
  username        = "nobody"
  password        = "unused"
  sslmode         = "disable"
  connect_timeout = 3
}
resource "pgshard_foreign_server" "s" { name = "s" }
`, port),
			ExpectError: expectError(fmt.Sprintf(`could not connect to PostgreSQL \(host=127.0.0.1 port=%d database=never user=nobody\) after \d+ attempt`, port)),
		}},
	})
	if elapsed := time.Since(began); elapsed < 2*time.Second || elapsed > 30*time.Second {
		t.Fatalf("the apply gave up after %s; connect_timeout is 3s", elapsed)
	}
}

// The base database restarts between plan and apply: the saved plan applies once it is back.
func TestAccProvider_BaseRestartedBetweenPlanAndApply(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance tests need TF_ACC=1")
	}
	c := postgrestest.StartTestCluster(t, "restartbase")
	base := newAccDatabase(t, func(*postgrestest.Env) *postgrestest.Cluster { return c }, "postgres_fdw")
	dir := t.TempDir()
	write := func(dir, fetch string) {
		cfg := `terraform {
  required_providers {
    pgshard = { source = "pgshard/pgshard" }
  }
}
` + base.ProviderConfig("connect_timeout = 60")[len("\nterraform {\n  required_providers {\n    pgshard = { source = \"pgshard/pgshard\" }\n  }\n}\n"):] + `
resource "pgshard_foreign_server" "s" {
  name    = "s"
  options = { fetch_size = "` + fetch + `" }
}
`
		if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(cfg), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(dir, "100")
	ws := postgrestest.NewWorkspace(t, dir)
	ws.Must(t, "init", "-no-color")
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	write(ws.Dir, "500")
	ws.Must(t, "plan", "-out=tfplan", "-no-color")

	if err := c.StopServer(); err != nil {
		t.Fatal(err)
	}
	restarted := make(chan error, 1)
	go func() {
		time.Sleep(3 * time.Second)
		restarted <- c.StartServer(t.Context())
	}()
	out := ws.Must(t, "apply", "-no-color", "tfplan")
	if err := <-restarted; err != nil {
		t.Fatal(err)
	}
	if err := base.ExpectQuery("{fetch_size=500}", `SELECT srvoptions::text FROM pg_foreign_server WHERE srvname = 's'`)(); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	ws.PlanIsEmpty(t)
	ws.Must(t, "destroy", "-auto-approve", "-no-color")
}
