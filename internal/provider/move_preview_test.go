package provider

import (
	"bytes"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-log/tflogtest"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// Whichever side of a key's move is planned second names both ends: the giver the partition
// that takes the key, the taker the partition it comes from and how many rows.
func TestPlanNamesBothEndsOfAKeyMove(t *testing.T) {
	for _, giverFirst := range []bool{true, false} {
		c := &Client{}
		keys := []postgres.KeyRows{{Key: "'canada'", Rows: 50}, {Key: "'it''s'", Rows: 2}}
		var giver, taker string
		if giverFirst {
			giver = leavingKeys(keys, c.plan.noteKeysLeaving("public.tweets", "public.us_tweets", keys), "public.us_tweets")
			taker = takenKeys(nil, c.plan.noteKeysTaken("public.tweets", "public.canada_tweets", newListKeys(postgres.Bound{}, postgres.Bound{In: []string{"canada"}})), "public.canada_tweets")
		} else {
			taker = takenKeys(nil, c.plan.noteKeysTaken("public.tweets", "public.canada_tweets", newListKeys(postgres.Bound{}, postgres.Bound{In: []string{"canada"}})), "public.canada_tweets")
			giver = leavingKeys(keys, c.plan.noteKeysLeaving("public.tweets", "public.us_tweets", keys), "public.us_tweets")
		}
		both := "key 'canada': 50 rows, public.us_tweets -> DEFAULT -> public.canada_tweets"
		if second := map[bool]string{true: taker, false: giver}[giverFirst]; !strings.Contains(second, both) {
			t.Errorf("giver first %v: the side planned second says\n%s\nwant %q", giverFirst, second, both)
		}
		if !strings.Contains(giver, "key 'it''s': 2 rows, public.us_tweets -> DEFAULT") || strings.Contains(giver, "'it''s': 2 rows, public.us_tweets -> DEFAULT ->") {
			t.Errorf("a key nobody takes stays in DEFAULT:\n%s", giver)
		}
	}
	// Another parent's moves are not mixed in.
	c := &Client{}
	c.plan.noteKeysLeaving("public.other", "public.x", []postgres.KeyRows{{Key: "'canada'", Rows: 1}})
	if got := c.plan.noteKeysTaken("public.tweets", "public.y", []string{"'canada'"}); len(got) != 0 {
		t.Errorf("a key of another parent was matched: %v", got)
	}
}

// A move's progress reaches the provider's log at INFO (TF_LOG=INFO): each batch with rows
// done of the total and the rate, and the finished move with its rate.
func TestAccMoveProgressLoggedAtInfo(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("needs a database (TF_ACC=1)")
	}
	db := newAccDatabase(t, nil)
	for _, stmt := range []string{
		`CREATE TABLE t (k text, v int) PARTITION BY LIST (k)`,
		`CREATE TABLE t_default PARTITION OF t DEFAULT`,
		`CREATE TABLE t_ab PARTITION OF t FOR VALUES IN ('a', 'b')`,
		`INSERT INTO t SELECT CASE WHEN g % 2 = 0 THEN 'a' ELSE 'b' END, g FROM generate_series(1, 1000) g`,
	} {
		if _, err := db.DB.Exec(stmt); err != nil {
			t.Fatal(err)
		}
	}
	var buf bytes.Buffer
	ctx := (&Client{}).withStepLog(tflogtest.RootLogger(t.Context(), &buf))
	p := postgres.Partition{Schema: "public", Name: "t_ab", ParentSchema: "public", ParentName: "t", Bound: postgres.Bound{In: []string{"a"}}}
	if res, err := postgres.MoveToDefault(ctx, db.DB, p, postgres.Bound{In: []string{"a", "b"}}, false); err != nil || res.Rows != 500 {
		t.Fatalf("move: %+v, %v", res, err)
	}
	entries, err := tflogtest.MultilineJSONDecode(&buf)
	if err != nil {
		t.Fatal(err)
	}
	var info []string
	for _, e := range entries {
		if e["@level"] == "info" {
			info = append(info, fmt.Sprint(e["@message"]))
		}
	}
	all := strings.Join(info, "\n")
	for _, want := range []string{"pgshard: move 500 rows into DEFAULT", "pgshard: copied 500/500 rows into", "rows/s)", "pgshard: moved 500 rows in"} {
		if !strings.Contains(all, want) {
			t.Errorf("no INFO line with %q; INFO lines:\n%s", want, all)
		}
	}
}
