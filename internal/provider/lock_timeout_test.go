package provider

import (
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// lock_timeout takes PostgreSQL's duration syntax, less spaces, within the server's range.
func TestLockTimeoutValidator_Durations(t *testing.T) {
	for value, wantErr := range map[string]string{
		"30s": "", "500ms": "", "0": "", "100": "", "1min": "", "2h": "", "1d": "", "1000us": "", "2147483647": "",
		"10 seconds": "not a PostgreSQL duration", "1.5s": "not a PostgreSQL duration", "-1s": "not a PostgreSQL duration",
		"30S": "not a PostgreSQL duration", "": "not a PostgreSQL duration", "30s;": "not a PostgreSQL duration",
		"25d": "longer than PostgreSQL allows", "2147483648": "longer than PostgreSQL allows",
		"500us": "less than a millisecond",
	} {
		req := validator.StringRequest{Path: path.Root("lock_timeout"), ConfigValue: types.StringValue(value)}
		var resp validator.StringResponse
		lockTimeoutValidator{}.ValidateString(t.Context(), req, &resp)
		if wantErr == "" {
			if resp.Diagnostics.HasError() {
				t.Errorf("%q refused: %v", value, resp.Diagnostics)
			}
			continue
		}
		if !resp.Diagnostics.HasError() {
			t.Errorf("%q accepted", value)
			continue
		}
		detail := resp.Diagnostics[0].Detail()
		if !strings.Contains(detail, wantErr) || !strings.Contains(detail, "lock_timeout is "+`"`+value+`"`) {
			t.Errorf("%q: %s", value, detail)
		}
	}
}

// lock_timeout defaults to 30s, and an unknown one waits for the apply like the others.
func TestProviderConfigure_LockTimeout(t *testing.T) {
	p := &pgshardProvider{getenv: func(string) string { return "" }}
	if got := configure(t, p, nil).conn.LockTimeout; got != "30s" {
		t.Fatalf("default lock_timeout %q", got)
	}
	set := configure(t, p, map[string]tftypes.Value{"lock_timeout": tftypes.NewValue(tftypes.String, "1s")})
	if set.conn.LockTimeout != "1s" {
		t.Fatalf("lock_timeout %q", set.conn.LockTimeout)
	}
	if configure(t, p, map[string]tftypes.Value{"lock_timeout": tftypes.NewValue(tftypes.String, tftypes.UnknownValue)}).Known() {
		t.Fatal("client with an unknown lock_timeout should not be known")
	}
}

// A lock_timeout that is not a PostgreSQL duration is refused at plan, before any connection.
func TestProvider_LockTimeoutRefusedAtPlan(t *testing.T) {
	unitTest(t, resource.TestCase{
		Steps: []resource.TestStep{{
			Config:      noConnectionProviderConfig(t, `lock_timeout = "10 seconds"`) + `resource "pgshard_foreign_server" "s" { name = "s" }`,
			PlanOnly:    true,
			ExpectError: expectError(`Invalid Provider Lock Timeout .* lock_timeout is "10 seconds", which is not a PostgreSQL duration`),
		}},
	})
}

// A change or a plan read that waits for a lock held by another session fails after
// lock_timeout (not the server's default of waiting forever), a change with an error naming
// the holder; once the holder lets go, the same configuration applies.
func TestAccProvider_LockTimeout(t *testing.T) {
	a := newAccDatabase(t, nil)
	table := func(extraColumn string) string {
		return `
resource "pgshard_partitioned_table" "tweets" {
  name          = "tweets"
  columns       = [{ name = "region", type = "text" }, { name = "body", type = "text" }` + extraColumn + `]
  partition_by  = { strategy = "list", key = ["region"] }
  force_destroy = true
}
`
	}
	const partition = `
resource "pgshard_partition" "europe" {
  parent    = pgshard_partitioned_table.tweets.id
  name      = "tweets_europe"
  values_in = ["europe"]
}
`
	const likes = `, { name = "likes", type = "int" }`
	config := a.ProviderConfig(`lock_timeout = "1s"`)
	var holder *sql.Tx
	var locked time.Time
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config + table(""),
			},
			{
				// EXCLUSIVE lets the plan read the table, but not the partition's create
				// lock its parent, in the transaction that explains a lock timeout.
				PreConfig: func() {
					holder = lockTweets(t, a, "EXCLUSIVE")
					locked = time.Now()
				},
				Config: config + table("") + partition,
				ExpectError: expectError(`Partition Create Error .* canceling statement due to lock timeout. ` +
					`Another session holds a lock on a table this needs. Sessions holding locks in this database: ` +
					`- pid \d+ \(user "postgres", application "pgshard_test_holder", idle in transaction, transaction open \d+s\) ` +
					`holds public.tweets \(ExclusiveLock\); its statement: LOCK TABLE tweets IN EXCLUSIVE MODE ` +
					`The provider waited lock_timeout \(1s\) for it. Finish or end that session's transaction: SELECT pg_terminate_backend\(pid\)`),
			},
			{
				// The hint names the holders only where the change ran in a transaction
				// of the provider's; it always says what happened and what to do.
				Config:      config + table(likes),
				ExpectError: expectError(`Partitioned Table Update Error .* lock timeout. Another session holds a lock .* raise lock_timeout`),
			},
			{
				// The plan's refresh waits no longer than changes do.
				PreConfig: func() {
					if _, err := holder.Exec("LOCK TABLE tweets IN ACCESS EXCLUSIVE MODE"); err != nil {
						t.Fatal(err)
					}
				},
				Config:      config + table(likes),
				ExpectError: expectError(`Partitioned Table Read Error .* lock timeout. Another session holds a lock .* raise lock_timeout`),
			},
			{
				PreConfig: func() {
					// Three runs of at most lock_timeout each, with Terraform's start-up.
					if waited := time.Since(locked); waited > 20*time.Second {
						t.Errorf("the lock waits took %s; lock_timeout = 1s did not bound them", waited)
					}
					if err := holder.Rollback(); err != nil {
						t.Fatal(err)
					}
				},
				Config: config + table(likes) + partition,
				Check: dbChecks(
					a.ExpectQuery("tweets", "SELECT inhparent::regclass::text FROM pg_inherits WHERE inhrelid = 'tweets_europe'::regclass"),
					a.ExpectQuery("integer", "SELECT format_type(atttypid, atttypmod) FROM pg_attribute WHERE attrelid = 'tweets'::regclass AND attname = 'likes'"),
				),
			},
		},
	})
}

// A column add that waits for a lock on a shard fails after lock_timeout there too (not the
// shard's default of waiting forever), naming the shard's server and the session holding
// the lock on the shard, and changes nothing on the base or any shard; once the holder
// lets go, the same configuration applies everywhere. The holder takes ACCESS EXCLUSIVE, so
// that even reads through postgres_fdw would wait: none may run unbounded.
func TestAccProvider_LockTimeoutOnShard(t *testing.T) {
	s := newShardedTweets(t)
	config := func(extraColumn string) string {
		c := strings.Replace(s.config(`["europe"]`, "force_destroy = true"), s.base.ProviderConfig(), s.base.ProviderConfig(`lock_timeout = "2s"`), 1)
		const last = `{ name = "like_count", type = "int4", not_null = true, default = "0" },`
		if !strings.Contains(c, last) {
			t.Fatal("the sharded tweets configuration changed: update this test")
		}
		return strings.Replace(c, last, last+extraColumn, 1)
	}
	const replyTo = `{ name = "reply_to", type = "int8" },`
	hasReplyTo := func(db *accDatabase, table, want string) func() error {
		return db.ExpectQuery(want, `SELECT count(*) FROM pg_attribute WHERE attrelid = $1::regclass AND attname = 'reply_to' AND NOT attisdropped`, table)
	}
	noPrepared := func(db *accDatabase) func() error {
		return db.ExpectQuery("0", `SELECT count(*) FROM pg_prepared_xacts WHERE database = current_database()`)
	}
	var holder *sql.Tx
	var locked time.Time
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{Config: config("")},
			{
				PreConfig: func() {
					holder = lockTable(t, s.europe, "europe_tweets", "ACCESS EXCLUSIVE")
					locked = time.Now()
				},
				Config: config(replyTo),
				ExpectError: expectError(`Partitioned Table Update Error .* server "europe".* lock timeout.* ` +
					`Sessions holding locks in the shard's database: pid \d+ \(user "postgres", application "pgshard_test_holder", idle in transaction, ` +
					`transaction open \d+s\) holds public.europe_tweets \(AccessExclusiveLock\); its statement: LOCK TABLE europe_tweets IN ACCESS EXCLUSIVE MODE`),
			},
			{
				PreConfig: func() {
					// A refresh and an apply, each waiting at most lock_timeout on the shard.
					if waited := time.Since(locked); waited > 15*time.Second {
						t.Errorf("the plan and the apply took %s with lock_timeout = 2s on a locked shard", waited)
					}
					for _, check := range []func() error{
						hasReplyTo(s.base, "tweets", "0"), hasReplyTo(s.europe, "europe_tweets", "0"), hasReplyTo(s.usa, "us_tweets", "0"),
						noPrepared(s.europe), noPrepared(s.usa),
					} {
						if err := check(); err != nil {
							t.Errorf("after the failed apply: %v", err)
						}
					}
					if err := holder.Rollback(); err != nil {
						t.Fatal(err)
					}
				},
				Config: config(replyTo),
				Check: dbChecks(hasReplyTo(s.base, "tweets", "1"), hasReplyTo(s.europe, "europe_tweets", "1"), hasReplyTo(s.usa, "us_tweets", "1"),
					noPrepared(s.europe), noPrepared(s.usa)),
			},
		},
	})
}

// lockTweets locks the table tweets in mode from a session named pgshard_test_holder, in
// a transaction left open.
func lockTweets(t *testing.T, a *accDatabase, mode string) *sql.Tx {
	t.Helper()
	return lockTable(t, a, "tweets", mode)
}

// lockTable locks table in mode from a session named pgshard_test_holder, in a transaction
// left open.
func lockTable(t *testing.T, a *accDatabase, table, mode string) *sql.Tx {
	t.Helper()
	ctx := t.Context()
	conn, err := a.DB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close() })
	if _, err := conn.ExecContext(ctx, "SET application_name = 'pgshard_test_holder'"); err != nil {
		t.Fatal(err)
	}
	tx, err := conn.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	// Cleanups run last first: the transaction ends before its connection closes.
	t.Cleanup(func() { _ = tx.Rollback() })
	if _, err := tx.ExecContext(ctx, "LOCK TABLE "+table+" IN "+mode+" MODE"); err != nil {
		t.Fatal(err)
	}
	return tx
}

// A server with no free connection slot fails after connect_timeout with an error naming
// the provider's max_connections; once a slot is free the same configuration applies.
func TestAccProvider_TooManyConnections(t *testing.T) {
	a := privateShard(t, "fewslots")
	ctx := t.Context()
	a.Exec(t, "ALTER SYSTEM SET max_connections = 5")
	if err := a.Cluster.StopServer(); err != nil {
		t.Fatal(err)
	}
	if err := a.Cluster.StartServer(ctx); err != nil {
		t.Fatal(err)
	}
	// Every slot, the superuser's reserved ones included, is taken by a session held open.
	hog, err := a.Cluster.Open(a.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { hog.Close() })
	var held []*sql.Conn
	for len(held) < 20 {
		conn, err := hog.Conn(ctx)
		if err == nil {
			err = conn.PingContext(ctx)
		}
		if err != nil {
			if !strings.Contains(err.Error(), "too many clients") {
				t.Fatalf("filling the server's slots: %v", err)
			}
			break
		}
		held = append(held, conn)
	}
	config := a.ProviderConfig("connect_timeout = 2", "max_connections = 3") + `
resource "pgshard_partitioned_table" "t" {
  name          = "t"
  columns       = [{ name = "region", type = "text" }]
  partition_by  = { strategy = "list", key = ["region"] }
  force_destroy = true
}
`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				ExpectError: expectError(`Partitioned Table Create Error .* sorry, too many clients already. ` +
					`The connection was refused because the server has no free connection slot \(its max_connections is reached\); ` +
					`the provider opens up to max_connections = 3 per database: lower it in the provider block, ` +
					`or raise the server's max_connections / close other sessions`),
			},
			{
				PreConfig: func() {
					for _, conn := range held {
						conn.Close()
					}
					hog.Close()
				},
				Config: config,
				Check:  dbChecks(a.ExpectQuery("p", "SELECT relkind::text FROM pg_class WHERE oid = 't'::regclass")),
			},
		},
	})
}
