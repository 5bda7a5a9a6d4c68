package provider

import (
	"strings"
	"testing"

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
			giver = leavingKeys(keys, c.noteKeysLeaving("public.tweets", "public.us_tweets", keys), "public.us_tweets")
			taker = takenKeys(nil, c.noteKeysTaken("public.tweets", "public.canada_tweets", newListKeys(postgres.Bound{}, postgres.Bound{In: []string{"canada"}})), "public.canada_tweets")
		} else {
			taker = takenKeys(nil, c.noteKeysTaken("public.tweets", "public.canada_tweets", newListKeys(postgres.Bound{}, postgres.Bound{In: []string{"canada"}})), "public.canada_tweets")
			giver = leavingKeys(keys, c.noteKeysLeaving("public.tweets", "public.us_tweets", keys), "public.us_tweets")
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
	c.noteKeysLeaving("public.other", "public.x", []postgres.KeyRows{{Key: "'canada'", Rows: 1}})
	if got := c.noteKeysTaken("public.tweets", "public.y", []string{"'canada'"}); len(got) != 0 {
		t.Errorf("a key of another parent was matched: %v", got)
	}
}
