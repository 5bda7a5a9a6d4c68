package provider

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/knownvalue"
	"github.com/hashicorp/terraform-plugin-testing/plancheck"
	"github.com/hashicorp/terraform-plugin-testing/statecheck"
	"github.com/hashicorp/terraform-plugin-testing/tfjsonpath"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// A partition key that is only known at apply (another resource's output), at every level:
// one element, the whole list, the whole partition_by object. Validation must let it pass.
func TestAccPartitionedTable_KeyUnknownAtPlan(t *testing.T) {
	a := newAccDatabase(t, nil)
	const columns = `[
    { name = "id", type = "bigint", not_null = true },
    { name = "location", type = "text", not_null = true },
  ]`
	config := a.ProviderConfig() + `
resource "terraform_data" "key" {
  input = "location"
}

resource "terraform_data" "keys" {
  input = ["location"]
}

resource "terraform_data" "partition_by" {
  input = { strategy = "list", key = ["location"] }
}

resource "pgshard_partitioned_table" "element" {
  name         = "by_element"
  columns      = ` + columns + `
  partition_by = { strategy = "list", key = [terraform_data.key.output] }
}

resource "pgshard_partitioned_table" "list" {
  name         = "by_list"
  columns      = ` + columns + `
  partition_by = { strategy = "list", key = terraform_data.keys.output }
}

resource "pgshard_partitioned_table" "object" {
  name         = "by_object"
  columns      = ` + columns + `
  partition_by = terraform_data.partition_by.output
}
`
	partKey := `SELECT pg_get_partkeydef($1::regclass)`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: dbChecks(
					a.ExpectQuery("LIST (location)", partKey, "by_element"),
					a.ExpectQuery("LIST (location)", partKey, "by_list"),
					a.ExpectQuery("LIST (location)", partKey, "by_object"),
				),
			},
			{Config: config, PlanOnly: true},
		},
	})
}

// newTrustBaseAndShard is a base database with postgres_fdw and dblink, and a shard database
// on another cluster behind the foreign server named server (with a user mapping). They
// are made with SQL so that the tests depend only on the resources under test.
func newTrustBaseAndShard(t *testing.T, server string) (base, shard *accDatabase) {
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

// remote_identity only known at apply passes validation and is applied on the shard.
func TestAccForeignPartition_RemoteIdentityUnknownAtPlan(t *testing.T) {
	base, shard := newTrustBaseAndShard(t, "europe")
	config := oneShardConfig(base, "europe", "europe_tweets", `remote_identity = terraform_data.identity.output`) + `
resource "terraform_data" "identity" {
  input = { column = "id", start = 5000, increment = 2 }
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: dbChecks(
					shard.ExpectQuery("d", `SELECT attidentity::text FROM pg_attribute WHERE attrelid = 'europe_tweets'::regclass AND attname = 'id'`),
					shard.ExpectQuery("5000 2", `SELECT seqstart || ' ' || seqincrement FROM pg_sequence WHERE seqrelid = pg_get_serial_sequence('europe_tweets', 'id')::regclass`),
				),
			},
			{Config: config, PlanOnly: true},
		},
	})
}

// A 63-byte partition name of two-byte characters gets a bound CHECK whose name is cut at a
// character boundary, and a 63-byte server name works through dblink.
func TestAccForeignPartition_LongNames(t *testing.T) {
	name := strings.Repeat("é", 31) + "x"
	server := strings.Repeat("europe_", 9)
	base, shard := newTrustBaseAndShard(t, server)
	if len(name) != postgres.MaxIdentifierLength || len(server) != postgres.MaxIdentifierLength {
		t.Fatalf("names are %d and %d bytes, want %d", len(name), len(server), postgres.MaxIdentifierLength)
	}
	config := oneShardConfig(base, server, name, "")
	checkName := func() error {
		var got string
		err := shard.DB.QueryRow(`SELECT conname FROM pg_constraint WHERE conrelid = $1::regclass AND contype = 'c'`, quoteIdent(name)).Scan(&got)
		if err != nil {
			return fmt.Errorf("reading the shard table's CHECK: %w", err)
		}
		if want := strings.Repeat("é", 28) + "_bound"; !utf8.ValidString(got) || got != want {
			return fmt.Errorf("CHECK constraint is named %q, want %q", got, want)
		}
		return nil
	}
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigStateChecks: []statecheck.StateCheck{
					statecheck.ExpectKnownValue("pgshard_foreign_partition.shard", tfjsonpath.New("server"), knownvalue.StringExact(server)),
				},
				Check: dbChecks(
					checkName,
					base.ExpectQuery("FOR VALUES IN ('europe')", `SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = $1`, name),
				),
			},
			{Config: config, PlanOnly: true},
		},
	})
}

// A dblink connection left on a pooled session by an earlier failure is replaced, even
// for a 63-byte server name (dblink truncates connection names to 63 bytes).
func TestAccForeignPartition_RemoteLeftoverConnectionLongServer(t *testing.T) {
	server := strings.Repeat("europe_", 9)
	base, _ := newTrustBaseAndShard(t, server)
	// One session, so every Remote below runs on it.
	db, err := base.Cluster.Open(base.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	db.SetMaxIdleConns(1)
	ctx := t.Context()

	// Learn the connection's name as dblink stored it, then leave one of that name behind.
	remote, err := postgres.OpenRemote(ctx, db, server)
	if err != nil {
		t.Fatal(err)
	}
	var stored string
	err = remote.InTx(ctx, func(tx *sql.Tx) error {
		return tx.QueryRowContext(ctx, `SELECT c FROM unnest(dblink_get_connections()) c`).Scan(&stored)
	})
	if err = errors.Join(err, remote.Close()); err != nil {
		t.Fatal(err)
	}
	if _, err := db.ExecContext(ctx, `SELECT dblink_connect($1, $2)`, stored, server); err != nil {
		t.Fatal(err)
	}

	remote, err = postgres.OpenRemote(ctx, db, server)
	if err != nil {
		t.Fatalf("opening a connection over a leftover one: %v", err)
	}
	if err := remote.Close(); err != nil {
		t.Fatal(err)
	}
	var left sql.NullString
	if err := db.QueryRowContext(ctx, `SELECT array_to_string(dblink_get_connections(), ',')`).Scan(&left); err != nil || left.Valid {
		t.Errorf("connections left after Close: %q, %v", left.String, err)
	}
}

// The tutorial's table made by hand (`id serial4 NOT NULL`, a primary key) imports with an
// empty plan whether the configuration writes not_null = true or leaves it out.
func TestAccTable_ImportImpliedNotNull(t *testing.T) {
	a := newAccDatabase(t, nil)
	a.Exec(t, `CREATE TABLE tweets (id serial4 NOT NULL, code int4, text text, PRIMARY KEY (id, code))`)
	a.Exec(t, `CREATE TABLE ptweets (id serial4 NOT NULL, location varchar NOT NULL, text text) PARTITION BY LIST (location)`)
	config := func(notNull string) string {
		return a.ProviderConfig() + fmt.Sprintf(`
resource "pgshard_table" "tweets" {
  name = "tweets"
  columns = [
    { name = "id", type = "serial4" %[1]s },
    { name = "code", type = "int4" %[1]s },
    { name = "text", type = "text" },
  ]
  primary_key = ["id", "code"]
}

resource "pgshard_partitioned_table" "tweets" {
  name = "ptweets"
  columns = [
    { name = "id", type = "serial4" %[1]s },
    { name = "location", type = "varchar", not_null = true },
    { name = "text", type = "text" },
  ]
  partition_by = { strategy = "list", key = ["location"] }
}
`, notNull)
	}
	written, omitted := config(", not_null = true"), config("")
	var steps []resource.TestStep
	for addr, id := range map[string]string{"pgshard_table.tweets": "public.tweets", "pgshard_partitioned_table.tweets": "ptweets"} {
		steps = append(steps, resource.TestStep{Config: written, ResourceName: addr, ImportState: true, ImportStateId: id, ImportStatePersist: true})
	}
	steps = append(steps,
		resource.TestStep{Config: written, PlanOnly: true},
		resource.TestStep{Config: written, ResourceName: "pgshard_table.tweets", ImportState: true, ImportStateVerify: true},
		resource.TestStep{Config: written, ResourceName: "pgshard_partitioned_table.tweets", ImportState: true, ImportStateVerify: true},
		resource.TestStep{Config: omitted, PlanOnly: true},
	)
	resource.Test(t, resource.TestCase{ProtoV6ProviderFactories: testAccProtoV6ProviderFactories, Steps: steps})
}

// Omitted not_null is planned known: true for serial and primary key columns, false for the
// rest; a second plan is empty.
func TestAccTable_ImpliedNotNullPlanned(t *testing.T) {
	a := newAccDatabase(t, nil)
	config := a.ProviderConfig() + `
resource "pgshard_table" "tweets" {
  name = "tweets"
  columns = [
    { name = "id", type = "bigserial" },
    { name = "code", type = "int4" },
    { name = "text", type = "text" },
    { name = "pinned", type = "serial", not_null = false },
  ]
  primary_key = ["code"]
}
`
	notNull := func(i int) tfjsonpath.Path { return tfjsonpath.New("columns").AtSliceIndex(i).AtMapKey("not_null") }
	const addr = "pgshard_table.tweets"
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ConfigPlanChecks: resource.ConfigPlanChecks{PreApply: []plancheck.PlanCheck{
					plancheck.ExpectKnownValue(addr, notNull(0), knownvalue.Bool(true)),
					plancheck.ExpectKnownValue(addr, notNull(1), knownvalue.Bool(true)),
					plancheck.ExpectKnownValue(addr, notNull(2), knownvalue.Bool(false)),
					plancheck.ExpectKnownValue(addr, notNull(3), knownvalue.Bool(false)),
				}},
				Check: dbChecks(a.ExpectQuery("id bigint not null default nextval('tweets_id_seq'::regclass), code integer not null, text text, pinned integer not null default nextval('tweets_pinned_seq'::regclass)",
					columnsQuery, "tweets")),
			},
			{Config: config, PlanOnly: true},
		},
	})
}
