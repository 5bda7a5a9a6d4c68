package provider

import (
	"os"
	"testing"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// examples/sharded-tweets-sql applies as written, with the real Terraform CLI and the
// provider installed from a filesystem mirror, against real clusters; rows flow; a second
// plan is empty; destroy keeps the shards' rows. (terraform-plugin-testing cannot read the
// state of for_each resources, so this runs the CLI itself.)
func TestAccExample_ShardedTweetsSQL(t *testing.T) {
	s := newShardedTweets(t)
	if os.Getenv("TF_ACC") == "" {
		t.Skip("acceptance tests need TF_ACC=1")
	}
	ws := postgrestest.NewWorkspace(t, "../../examples/sharded-tweets-sql")
	region := func(db *accDatabase, table, location string, idStart int64) map[string]any {
		return map[string]any{"host": db.Cluster.Host, "port": db.Cluster.Port, "dbname": db.Name, "username": db.Cluster.User,
			"table": table, "locations": []string{location}, "id_start": idStart}
	}
	var extra []map[string]any
	vars := func(force bool) map[string]any {
		return map[string]any{
			"extra_columns": extra,
			"base": map[string]any{"host": s.base.Cluster.Host, "port": s.base.Cluster.Port, "database": s.base.Name,
				"username": s.base.Cluster.User, "password": s.base.Cluster.Password, "sslmode": "disable"},
			"regions": map[string]any{
				"europe": region(s.europe, "europe_tweets", "europe", 1000000000000),
				"usa":    region(s.usa, "us_tweets", "usa", 2000000000000),
			},
			"shard_passwords": map[string]string{"europe": s.europe.Cluster.Password, "usa": s.usa.Cluster.Password},
			"force_destroy":   force,
		}
	}
	ws.SetVars(t, vars(false))
	ws.Must(t, "init", "-no-color")
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	ws.PlanIsEmpty(t)

	var shardMap map[string]struct {
		Server  string `json:"server"`
		Bound   string `json:"bound"`
		Foreign bool   `json:"foreign"`
	}
	ws.Output(t, "shard_map", &shardMap)
	if m := shardMap["europe_tweets"]; m.Server != "europe" || m.Bound != "FOR VALUES IN ('europe')" || !m.Foreign {
		t.Errorf("shard_map[europe_tweets] = %+v", m)
	}
	if m := shardMap["tweets_default"]; m.Bound != "DEFAULT" || m.Foreign || len(shardMap) != 3 {
		t.Errorf("shard_map = %+v", shardMap)
	}

	s.base.Exec(t, `INSERT INTO tweets (location, text) VALUES ('europe', 'hallo'), ('usa', 'howdy'), ('mars', 'beep')`)
	s.europe.Exec(t, `INSERT INTO europe_tweets (location, text) VALUES ('europe', 'direct')`)
	for _, check := range []func() error{
		s.europe.ExpectQuery("hallo", `SELECT text FROM europe_tweets WHERE id < 1000000000000`),
		s.base.ExpectQuery("direct", `SELECT text FROM tweets WHERE id = 1000000000000`),
		s.usa.ExpectQuery("howdy", `SELECT string_agg(text, ',') FROM us_tweets`),
		s.base.ExpectQuery("beep", `SELECT string_agg(text, ',') FROM ONLY tweets_default`),
		s.base.ExpectQuery("4", `SELECT count(DISTINCT id) FROM tweets`),
	} {
		if err := check(); err != nil {
			t.Fatal(err)
		}
	}

	// A column added, renamed and dropped: each reaches every shard in one apply, the next
	// plan is empty, and SELECT * through the parent works.
	shardColumns := func(want string) {
		t.Helper()
		for _, c := range []func() error{
			s.europe.ExpectQuery(want, `SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'europe_tweets'::regclass AND attnum > 5 AND NOT attisdropped`),
			s.usa.ExpectQuery(want, `SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = 'us_tweets'::regclass AND attnum > 5 AND NOT attisdropped`),
			s.base.ExpectQuery("4", `SELECT count(*) FROM (SELECT * FROM tweets) t`),
		} {
			if err := c(); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, step := range []struct {
		columns []map[string]any
		force   bool
		want    string
	}{
		{[]map[string]any{{"name": "lang", "type": "text", "default": "'en'"}}, false, "lang"},
		{[]map[string]any{{"name": "language", "type": "text", "default": "'en'", "renamed_from": "lang"}}, false, "language"},
		{nil, true, "<null>"},
	} {
		extra = step.columns
		ws.SetVars(t, vars(step.force))
		ws.Must(t, "apply", "-auto-approve", "-no-color")
		ws.PlanIsEmpty(t)
		shardColumns(step.want)
	}

	// DEFAULT holds a row: destroy refuses (at plan) until force_destroy is applied.
	ws.SetVars(t, vars(false))
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	if out, code := ws.Run(t, "destroy", "-auto-approve", "-no-color"); code == 0 {
		t.Fatalf("destroy should refuse while tweets_default holds rows:\n%s", out)
	}
	ws.SetVars(t, vars(true))
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	ws.Must(t, "destroy", "-auto-approve", "-no-color")
	for _, check := range []func() error{
		s.europe.ExpectQuery("2", `SELECT count(*) FROM europe_tweets`),
		s.usa.ExpectQuery("1", `SELECT count(*) FROM us_tweets`),
		s.base.ExpectQuery("<none>", `SELECT relname FROM pg_class WHERE relname = 'tweets'`),
		s.base.ExpectQuery("0", `SELECT count(*) FROM pg_foreign_server`),
	} {
		if err := check(); err != nil {
			t.Error(err)
		}
	}
}
