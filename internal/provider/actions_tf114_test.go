//go:build tf114

// The tests of the features that need Terraform 1.14 or later (actions). They are built with
// -tags tf114 and run under postgrestest.Terraform114Path: make test-tf114, and a step of
// .ci/run of its own, so that no older CLI or OpenTofu sees them (and none skips them).

package provider

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
	"github.com/hashicorp/terraform-plugin-testing/tfversion"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

var needs114 = []tfversion.TerraformVersionCheck{tfversion.RequireAbove(tfversion.Version1_14_0)}

// statsRows counts the base's column statistics of a table (none before an ANALYZE).
const statsRows = `SELECT count(*)::text FROM pg_stats WHERE schemaname = 'public' AND tablename = $1`

// An action_trigger runs pgshard_analyze after the resource it sits on is created: the
// foreign partition, which had no statistics on the base, has them, and its reltuples is
// the shard's row count.
func TestAccAction_AnalyzeFromTrigger(t *testing.T) {
	base, shard := newBaseAndShard(t, "europe")
	config := oneShardConfig(base, "europe", "europe_tweets", "")
	withAction := config + `
action "pgshard_analyze" "tweets" {
  config {
    parent = pgshard_partitioned_table.tweets.id
  }
}

resource "terraform_data" "loaded" {
  input = "rows loaded"
  lifecycle {
    action_trigger {
      events  = [after_create]
      actions = [action.pgshard_analyze.tweets]
    }
  }
  depends_on = [pgshard_foreign_partition.shard]
}
`
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   needs114,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check:  dbChecks(base.ExpectQuery("0", statsRows, "europe_tweets")),
			},
			{
				PreConfig: func() {
					base.Exec(t, `INSERT INTO tweets (location, text) SELECT 'europe', 'tweet ' || g FROM generate_series(1, 500) g`)
				},
				Config: withAction,
				Check: dbChecks(
					shard.ExpectQuery("500", `SELECT count(*)::text FROM europe_tweets`),
					base.ExpectQuery("3", statsRows, "europe_tweets"),
					base.ExpectQuery("500", `SELECT reltuples::bigint::text FROM pg_class WHERE oid = 'europe_tweets'::regclass`),
				),
			},
		},
	})
}

// pgshard_verify_residency from an action_trigger fails the apply, naming the partition and
// the count, when a row written on the shard directly is outside the partition's bound, and
// passes once it is gone. (The table is made by hand: the action needs only its name.)
func TestAccAction_VerifyResidencyFromTrigger(t *testing.T) {
	base, shard := newBaseAndShard(t, "europe")
	shard.Exec(t, `CREATE TABLE europe_tweets (id bigint NOT NULL, location text NOT NULL, text text)`)
	base.Exec(t, `CREATE TABLE tweets (id bigint NOT NULL, location text NOT NULL, text text) PARTITION BY LIST (location)`)
	base.Exec(t, `CREATE FOREIGN TABLE europe_tweets PARTITION OF tweets FOR VALUES IN ('europe') SERVER europe OPTIONS (table_name 'europe_tweets')`)
	base.Exec(t, `INSERT INTO tweets VALUES (1, 'europe', 'hallo'), (2, 'europe', 'moin')`)
	checked := func(run string) string {
		return base.ProviderConfig() + `
action "pgshard_verify_residency" "tweets" {
  config {
    parent = "public.tweets"
  }
}

resource "terraform_data" "checked" {
  input = "` + run + `"
  lifecycle {
    action_trigger {
      events  = [after_create, after_update]
      actions = [action.pgshard_verify_residency.tweets]
    }
  }
}
`
	}
	resource.Test(t, resource.TestCase{
		TerraformVersionChecks:   needs114,
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				PreConfig:   func() { shard.Exec(t, `INSERT INTO europe_tweets VALUES (3, 'usa', 'stray')`) },
				Config:      checked("first"),
				ExpectError: regexp.MustCompile(`(?s)Rows Outside Their Partition.*public\.europe_tweets \(on server europe,.*1 of its\s+3 rows are outside it`),
			},
			{
				PreConfig: func() { shard.Exec(t, `DELETE FROM europe_tweets WHERE location = 'usa'`) },
				Config:    checked("second"),
				Check:     dbChecks(shard.ExpectQuery("2", `SELECT count(*)::text FROM europe_tweets`)),
			},
		},
	})
}

// Each action run with terraform apply -invoke, by the real CLI: pgshard_analyze gives a
// sub-partitioned tree's foreign partitions statistics; pgshard_verify_residency passes,
// then fails naming the partition and the count once a row is written on the shard outside
// its bound; an action on a table that does not exist names it.
func TestAccAction_Invoke(t *testing.T) {
	base, shard := newBaseAndShard(t, "europe")
	dir := t.TempDir()
	config := oneShardConfig(base, "europe", "europe_tweets", "") + `
action "pgshard_analyze" "tweets" {
  config {
    parent = pgshard_partitioned_table.tweets.id
  }
}

action "pgshard_verify_residency" "tweets" {
  config {
    parent = pgshard_partitioned_table.tweets.id
  }
}

action "pgshard_analyze" "missing" {
  config {
    parent = "public.no_such_table"
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	ws := postgrestest.NewWorkspace(t, dir)
	requireCLI114(t)
	ws.Must(t, "init", "-no-color")
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	base.Exec(t, `INSERT INTO tweets (location, text) SELECT 'europe', 'tweet ' || g FROM generate_series(1, 300) g`)
	expect := func(check func() error) {
		t.Helper()
		if err := check(); err != nil {
			t.Fatal(err)
		}
	}
	expect(base.ExpectQuery("0", statsRows, "europe_tweets"))

	out := ws.Must(t, "apply", "-auto-approve", "-no-color", "-invoke=action.pgshard_analyze.tweets")
	if !strings.Contains(out, "analyzed 1 of 1: public.europe_tweets on server europe, about 300 rows") {
		t.Errorf("the analyze action's progress is missing from its output:\n%s", out)
	}
	expect(base.ExpectQuery("3", statsRows, "europe_tweets"))

	out = ws.Must(t, "apply", "-auto-approve", "-no-color", "-invoke=action.pgshard_verify_residency.tweets")
	if !strings.Contains(out, "every one of the 300 rows of the 1 partitions of public.tweets is in its partition") {
		t.Errorf("the residency action's progress is missing from its output:\n%s", out)
	}

	// A row written on the shard directly, after its CHECK was dropped, outside the bound.
	var check string
	if err := shard.DB.QueryRow(`SELECT conname FROM pg_constraint WHERE conrelid = 'europe_tweets'::regclass AND contype = 'c'`).Scan(&check); err != nil {
		t.Fatal(err)
	}
	shard.Exec(t, `ALTER TABLE europe_tweets DROP CONSTRAINT `+quoteIdent(check))
	shard.Exec(t, `INSERT INTO europe_tweets (id, location, text) VALUES (-1, 'usa', 'stray')`)
	out, code := ws.Run(t, "apply", "-auto-approve", "-no-color", "-invoke=action.pgshard_verify_residency.tweets")
	if code == 0 || !strings.Contains(out, "Rows Outside Their Partition") || !strings.Contains(out, "public.europe_tweets (on server europe, FOR VALUES IN ('europe')): 1 of its 301 rows are outside it") {
		t.Errorf("the residency action with a stray row exited %d, want a failure naming the partition and the count:\n%s", code, out)
	}

	out, code = ws.Run(t, "apply", "-auto-approve", "-no-color", "-invoke=action.pgshard_analyze.missing")
	if code == 0 || !strings.Contains(out, "public.no_such_table does not exist") {
		t.Errorf("the analyze action on a missing table exited %d, want a failure naming it:\n%s", code, out)
	}
	ws.Must(t, "destroy", "-auto-approve", "-no-color")
}

// Ctrl-C during pgshard_analyze cancels the running ANALYZE (here waiting for a lock another
// session holds on the shard table it samples): the action fails saying it was interrupted,
// nothing is left running on the base or the shard, and the partition has no statistics.
func TestAccAction_AnalyzeInterrupted(t *testing.T) {
	base, shard := newBaseAndShard(t, "europe")
	dir := t.TempDir()
	config := oneShardConfig(base, "europe", "europe_tweets", "") + `
action "pgshard_analyze" "tweets" {
  config {
    parent = pgshard_partitioned_table.tweets.id
  }
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	ws := postgrestest.NewWorkspace(t, dir)
	requireCLI114(t)
	ws.Must(t, "init", "-no-color")
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	base.Exec(t, `INSERT INTO tweets (location, text) SELECT 'europe', 'tweet ' || g FROM generate_series(1, 100) g`)

	holder, err := shard.DB.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Rollback() //nolint:errcheck // released at the end in any case
	if _, err := holder.Exec(`LOCK TABLE europe_tweets IN ACCESS EXCLUSIVE MODE`); err != nil {
		t.Fatal(err)
	}
	// SIGINT only once the ANALYZE is running on the base (waiting for the shard's lock), so
	// that what is cancelled is a running statement.
	running := `SELECT count(*) FROM pg_stat_activity WHERE query ILIKE 'ANALYZE%' AND state = 'active' AND pid <> pg_backend_pid()`
	seen := false
	out, code, sent := ws.Interrupt(t, func(line string) bool {
		if !strings.Contains(line, "pgshard: analyze foreign partition") {
			return false
		}
		for deadline := time.Now().Add(20 * time.Second); !seen && time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			var n int
			seen = base.DB.QueryRow(running).Scan(&n) == nil && n == 1
		}
		return true
	}, "apply", "-auto-approve", "-no-color", "-invoke=action.pgshard_analyze.tweets")
	if !seen {
		t.Fatalf("the ANALYZE was never seen running on the base before the interrupt:\n%s", out)
	}
	// Terraform 1.15 stops the provider and reports the apply complete (exit 0) when an
	// action is interrupted: what counts is what the database was left with.
	if !sent {
		t.Fatalf("no SIGINT was sent (exit %d):\n%s", code, out)
	}
	t.Logf("the interrupted apply exited %d", code)
	expect := func(check func() error) {
		t.Helper()
		if err := check(); err != nil {
			t.Error(err)
		}
	}
	expect(base.ExpectQuery("0", `SELECT count(*)::text FROM pg_stat_activity WHERE query ILIKE 'ANALYZE%' AND pid <> pg_backend_pid()`))
	expect(shard.ExpectQuery("0", `SELECT count(*)::text FROM pg_stat_activity WHERE wait_event_type = 'Lock' AND datname = current_database()`))
	if err := holder.Rollback(); err != nil {
		t.Fatal(err)
	}
	expect(base.ExpectQuery("0", statsRows, "europe_tweets"))
	ws.Must(t, "destroy", "-auto-approve", "-no-color")
}

// requireCLI114 fails the test unless the CLI the tests run (TF_ACC_TERRAFORM_PATH) is
// Terraform 1.14 or later: these tests never skip.
func requireCLI114(t *testing.T) {
	t.Helper()
	out, err := exec.Command(os.Getenv("TF_ACC_TERRAFORM_PATH"), "version").Output()
	if err != nil || !cli114.Match(out) {
		_, why := postgrestest.Terraform114Path()
		t.Fatalf("these tests need Terraform %s or later as TF_ACC_TERRAFORM_PATH (make test-tf114 sets it); it is %q (%v): %v",
			postgrestest.Terraform114Minimum, strings.SplitN(string(out), "\n", 2)[0], err, why)
	}
}

var cli114 = regexp.MustCompile(`^Terraform v1\.(1[4-9]|[2-9][0-9])\.`)
