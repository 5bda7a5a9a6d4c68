package provider

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// sqlExampleRegion is one entry of examples/sharded-tweets-sql's regions variable.
type sqlExampleRegion struct {
	db        *accDatabase
	table     string
	locations []string
	idStart   int64
	splitFrom string
}

// sqlExampleVars are the example's variables. moves nil leaves out moves_enabled (and
// split_from), which the example before the module did not have.
type sqlExampleVars struct {
	base    *accDatabase
	regions map[string]sqlExampleRegion
	extra   []map[string]any
	force   bool
	moves   *bool
}

func (v sqlExampleVars) json() map[string]any {
	regions, passwords := map[string]any{}, map[string]string{}
	for name, r := range v.regions {
		region := map[string]any{"host": r.db.Cluster.Host, "port": r.db.Cluster.Port, "dbname": r.db.Name,
			"username": r.db.Cluster.User, "table": r.table, "locations": r.locations, "id_start": r.idStart}
		if r.splitFrom != "" {
			region["split_from"] = r.splitFrom
		}
		regions[name], passwords[name] = region, r.db.Cluster.Password
	}
	vars := map[string]any{
		"extra_columns": v.extra,
		"base": map[string]any{"host": v.base.Cluster.Host, "port": v.base.Cluster.Port, "database": v.base.Name,
			"username": v.base.Cluster.User, "password": v.base.Cluster.Password, "sslmode": "disable"},
		"regions":         regions,
		"shard_passwords": passwords,
		"force_destroy":   v.force,
	}
	if v.moves != nil {
		vars["moves_enabled"] = *v.moves
	}
	return vars
}

// sqlShardMap is the example's shard_map output.
type sqlShardMap map[string]struct {
	Region    *string  `json:"region"`
	Server    *string  `json:"server"`
	Locations []string `json:"locations"`
	Bound     string   `json:"bound"`
	Foreign   bool     `json:"foreign"`
}

// check fails the test unless the map names exactly the partitions of want (partition name
// to region; "" for the DEFAULT partition) with their servers and bounds.
func (m sqlShardMap) check(t *testing.T, want map[string]string, bounds map[string]string) {
	t.Helper()
	if len(m) != len(want) {
		t.Errorf("shard_map has %d partitions, want %d: %+v", len(m), len(want), m)
	}
	for name, region := range want {
		p, ok := m[name]
		switch {
		case !ok:
			t.Errorf("shard_map has no %s: %+v", name, m)
		case region == "" && (p.Bound != "DEFAULT" || p.Foreign || p.Server != nil):
			t.Errorf("shard_map[%s] = %+v, want the DEFAULT partition", name, p)
		case region != "" && (p.Server == nil || *p.Server != region || p.Region == nil || *p.Region != region || !p.Foreign || p.Bound != bounds[name]):
			t.Errorf("shard_map[%s] = %+v, want region and server %s, bound %s", name, p, region, bounds[name])
		}
	}
}

// examplePlan is what the tests read of `terraform show -json <plan>`.
type examplePlan struct {
	ResourceChanges []struct {
		Address         string `json:"address"`
		PreviousAddress string `json:"previous_address"`
		Change          struct {
			Actions      []string       `json:"actions"`
			Before       map[string]any `json:"before"`
			After        map[string]any `json:"after"`
			AfterUnknown map[string]any `json:"after_unknown"`
		} `json:"change"`
	} `json:"resource_changes"`
	OutputChanges map[string]struct {
		After        any `json:"after"`
		AfterUnknown any `json:"after_unknown"`
	} `json:"output_changes"`
}

// planToFile runs `terraform plan -out=file` in ws and returns the plan as JSON.
func planToFile(t *testing.T, ws *postgrestest.Workspace, file string) examplePlan {
	t.Helper()
	ws.Must(t, "plan", "-no-color", "-out="+file)
	var plan examplePlan
	if err := json.Unmarshal([]byte(ws.Must(t, "show", "-json", file)), &plan); err != nil {
		t.Fatal(err)
	}
	return plan
}

// changedValues maps each attribute an update changes to its planned value ("(known after
// apply)" when unknown).
func changedValues(before, after, unknown map[string]any) map[string]any {
	changed := map[string]any{}
	for k, v := range after {
		if !reflect.DeepEqual(before[k], v) {
			changed[k] = v
		}
	}
	for k, u := range unknown {
		if anyUnknown(u) {
			changed[k] = "(known after apply)"
		}
	}
	return changed
}

// anyUnknown says whether an after_unknown value of a JSON plan marks anything unknown: it
// mirrors the value's structure, with true where a value is unknown.
func anyUnknown(v any) bool {
	switch v := v.(type) {
	case bool:
		return v
	case []any:
		return slices.ContainsFunc(v, anyUnknown)
	case map[string]any:
		for _, e := range v {
			if anyUnknown(e) {
				return true
			}
		}
	}
	return false
}

// outputKnown fails the test unless the plan knows the whole of output name.
func (p examplePlan) outputKnown(t *testing.T, name string) {
	t.Helper()
	o, ok := p.OutputChanges[name]
	if !ok {
		t.Fatalf("the plan has no output %s", name)
	}
	if anyUnknown(o.AfterUnknown) {
		t.Errorf("the plan leaves parts of output %s unknown (%v): it should show every partition as it will be", name, o.AfterUnknown)
	}
}

// examples/sharded-tweets-sql applies as written, with the real Terraform CLI and the
// provider installed from a filesystem mirror, against real clusters; rows flow; a second
// plan is empty; a location splits off to a new region in one apply, its rows with it; column
// changes reach every shard; destroy keeps the shards' rows. (terraform-plugin-testing cannot
// read the state of for_each resources, so this runs the CLI itself.)
func TestAccExample_ShardedTweetsSQL(t *testing.T) {
	s := newShardedTweets(t)
	// The region split off later is one more database on the second shard cluster.
	canada := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard2 })
	ws := postgrestest.NewWorkspace(t, "../../examples/sharded-tweets-sql")
	moves := true
	vars := sqlExampleVars{base: s.base, moves: &moves, regions: map[string]sqlExampleRegion{
		"europe": {db: s.europe, table: "europe_tweets", locations: []string{"europe"}, idStart: 1000000000000},
		"usa":    {db: s.usa, table: "us_tweets", locations: []string{"usa", "canada"}, idStart: 2000000000000},
	}}
	ws.SetVars(t, vars.json())
	ws.Must(t, "init", "-no-color")
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	ws.PlanIsEmpty(t)

	var shardMap sqlShardMap
	ws.Output(t, "shard_map", &shardMap)
	shardMap.check(t, map[string]string{"europe_tweets": "europe", "us_tweets": "usa", "tweets_default": ""},
		map[string]string{"europe_tweets": "FOR VALUES IN ('europe')", "us_tweets": "FOR VALUES IN ('usa', 'canada')"})

	s.base.Exec(t, `INSERT INTO tweets (location, text) VALUES ('europe', 'hallo'), ('usa', 'howdy'), ('canada', 'eh'), ('mars', 'beep')`)
	s.europe.Exec(t, `INSERT INTO europe_tweets (location, text) VALUES ('europe', 'direct')`)
	checkAll(t,
		s.europe.ExpectQuery("hallo", `SELECT text FROM europe_tweets WHERE id < 1000000000000`),
		s.base.ExpectQuery("direct", `SELECT text FROM tweets WHERE id = 1000000000000`),
		s.usa.ExpectQuery("eh,howdy", `SELECT string_agg(text, ',' ORDER BY text) FROM us_tweets`),
		s.base.ExpectQuery("beep", `SELECT string_agg(text, ',') FROM ONLY tweets_default`),
		s.base.ExpectQuery("5", `SELECT count(DISTINCT id) FROM tweets`),
	)
	groupByPushedDown(t, s.base)

	// canada splits off usa onto a database of its own: one apply, usa narrows (its canada
	// rows into DEFAULT) before the new region takes them from there. The plan shows the
	// whole shard_map, the new partition included, instead of "known after apply".
	usa := vars.regions["usa"]
	usa.locations = []string{"usa"}
	vars.regions["usa"] = usa
	vars.regions["canada"] = sqlExampleRegion{db: canada, table: "canada_tweets", locations: []string{"canada"}, idStart: 3000000000000, splitFrom: "usa"}
	ws.SetVars(t, vars.json())
	plan := planToFile(t, ws, "split.tfplan")
	plan.outputKnown(t, "shard_map")
	ws.Must(t, "apply", "-no-color", "split.tfplan")
	ws.PlanIsEmpty(t)
	checkAll(t,
		canada.ExpectQuery("eh", `SELECT string_agg(text, ',') FROM canada_tweets`),
		s.usa.ExpectQuery("howdy", `SELECT string_agg(text, ',') FROM us_tweets`),
		s.base.ExpectQuery("eh", `SELECT text FROM tweets WHERE location = 'canada'`),
		s.base.ExpectQuery("beep", `SELECT string_agg(text, ',') FROM ONLY tweets_default`),
		s.base.ExpectQuery("5", `SELECT count(DISTINCT id) FROM tweets`),
	)
	shardMap = nil
	ws.Output(t, "shard_map", &shardMap)
	shardMap.check(t, map[string]string{"europe_tweets": "europe", "us_tweets": "usa", "canada_tweets": "canada", "tweets_default": ""},
		map[string]string{"europe_tweets": "FOR VALUES IN ('europe')", "us_tweets": "FOR VALUES IN ('usa')", "canada_tweets": "FOR VALUES IN ('canada')"})

	// A column added, renamed and dropped: each reaches every shard in one apply, the next
	// plan is empty, and SELECT * through the parent works.
	shardColumns := func(want string) {
		t.Helper()
		const columns = `SELECT string_agg(attname, ',' ORDER BY attnum) FROM pg_attribute WHERE attrelid = $1::regclass AND attnum > 5 AND NOT attisdropped`
		checkAll(t,
			s.europe.ExpectQuery(want, columns, "europe_tweets"),
			s.usa.ExpectQuery(want, columns, "us_tweets"),
			canada.ExpectQuery(want, columns, "canada_tweets"),
			s.base.ExpectQuery("5", `SELECT count(*) FROM (SELECT * FROM tweets) t`),
		)
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
		vars.extra, vars.force = step.columns, step.force
		ws.SetVars(t, vars.json())
		ws.Must(t, "apply", "-auto-approve", "-no-color")
		ws.PlanIsEmpty(t)
		shardColumns(step.want)
	}

	// Teardown as the README says. With moves on, destroy refuses (at plan) to pull every
	// shard's rows into the DEFAULT partition it drops; with moves off and DEFAULT holding a
	// row, it refuses until force_destroy is applied.
	destroyRefused := func(why string) {
		t.Helper()
		if out, code := ws.Run(t, "destroy", "-auto-approve", "-no-color"); code == 0 || !strings.Contains(out, why) {
			t.Fatalf("destroy should refuse (%q):\n%s", why, out)
		}
	}
	destroyRefused("Destroy Refused")
	moves, vars.force = false, false
	ws.SetVars(t, vars.json())
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	destroyRefused("tweets_default")
	vars.force = true
	ws.SetVars(t, vars.json())
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	ws.Must(t, "destroy", "-auto-approve", "-no-color")
	checkAll(t,
		s.europe.ExpectQuery("2", `SELECT count(*) FROM europe_tweets`),
		s.usa.ExpectQuery("1", `SELECT count(*) FROM us_tweets`),
		canada.ExpectQuery("1", `SELECT count(*) FROM canada_tweets`),
		s.base.ExpectQuery("<none>", `SELECT relname FROM pg_class WHERE relname = 'tweets'`),
		s.base.ExpectQuery("0", `SELECT count(*) FROM pg_foreign_server`),
		s.base.ExpectQuery("0", `SELECT count(*) FROM pg_extension WHERE extname IN ('postgres_fdw', 'dblink')`),
	)
}

// A stack applied with examples/sharded-tweets-sql as it was before it called
// modules/sharded-table (testdata/sharded-tweets-sql-before-modules) is carried over by the
// example's moved.tf: the plan moves every instance, changes only the settings moved.tf
// names, in state only (and creates the planner settings the example added since), and after its apply the rows are where they were and the plan is
// empty.
func TestAccExample_ShardedTweetsSQLMoved(t *testing.T) {
	s := newShardedTweets(t)
	ws := postgrestest.NewWorkspace(t, "../../examples/sharded-tweets-sql")
	vars := sqlExampleVars{base: s.base, regions: map[string]sqlExampleRegion{
		"europe": {db: s.europe, table: "europe_tweets", locations: []string{"europe"}, idStart: 1000000000000},
		"usa":    {db: s.usa, table: "us_tweets", locations: []string{"usa", "canada"}, idStart: 2000000000000},
	}}
	restore := sqlExampleBeforeModules(t, ws)
	ws.SetVars(t, vars.json())
	ws.Must(t, "init", "-no-color")
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	s.base.Exec(t, `INSERT INTO tweets (location, text) VALUES ('europe', 'hallo'), ('usa', 'howdy'), ('canada', 'eh'), ('mars', 'beep')`)

	restore()
	ws.Must(t, "init", "-no-color")
	plan := planToFile(t, ws, "moved.tfplan")
	// What the module sets differently from the old example: settings kept in state only.
	expected := map[string]map[string]any{
		"module.tweets.pgshard_foreign_server.region":    {"options": map[string]any{}},
		"module.tweets.pgshard_foreign_partition.region": {"move_rows_from_default": true, "on_rows_outside_bound": "move_to_default"},
	}
	moved, updated := 0, 0
	for _, rc := range plan.ResourceChanges {
		if rc.PreviousAddress != "" && rc.PreviousAddress != rc.Address {
			moved++
		}
		if slices.Equal(rc.Change.Actions, []string{"no-op"}) {
			continue
		}
		if rc.Address == "module.tweets.pgshard_settings.queries[0]" && slices.Equal(rc.Change.Actions, []string{"create"}) {
			continue // the one object the example added since: its planner settings
		}
		resource, _, _ := strings.Cut(rc.Address, "[")
		changed := changedValues(rc.Change.Before, rc.Change.After, rc.Change.AfterUnknown)
		if want, ok := expected[resource]; !ok || !slices.Equal(rc.Change.Actions, []string{"update"}) || !reflect.DeepEqual(changed, want) {
			t.Errorf("carrying the stack over would %v %s (from %q), setting %v: only moves, and updates to %v, are expected", rc.Change.Actions, rc.Address, rc.PreviousAddress, changed, expected)
			continue
		}
		updated++
	}
	if moved != 10 || updated != 4 {
		t.Errorf("the moved blocks moved %d resource instances and updated %d, want 10 and 4 (two servers, two partitions)", moved, updated)
	}
	plan.outputKnown(t, "shard_map")
	if t.Failed() {
		t.FailNow()
	}
	ws.Must(t, "apply", "-no-color", "moved.tfplan")
	ws.PlanIsEmpty(t)

	var shardMap sqlShardMap
	ws.Output(t, "shard_map", &shardMap)
	shardMap.check(t, map[string]string{"europe_tweets": "europe", "us_tweets": "usa", "tweets_default": ""},
		map[string]string{"europe_tweets": "FOR VALUES IN ('europe')", "us_tweets": "FOR VALUES IN ('usa', 'canada')"})
	checkAll(t,
		s.europe.ExpectQuery("hallo", `SELECT string_agg(text, ',') FROM europe_tweets`),
		s.usa.ExpectQuery("eh,howdy", `SELECT string_agg(text, ',' ORDER BY text) FROM us_tweets`),
		s.base.ExpectQuery("beep", `SELECT string_agg(text, ',') FROM ONLY tweets_default`),
		s.base.ExpectQuery("async_capable=true,batch_size=500,fetch_size=1000",
			`SELECT string_agg(o, ',' ORDER BY o) FROM pg_foreign_table, unnest(ftoptions) o WHERE ftrelid = 'us_tweets'::regclass AND split_part(o, '=', 1) NOT IN ('schema_name', 'table_name')`),
		s.base.ExpectQuery("dbname,host,port", `SELECT string_agg(split_part(o, '=', 1), ',' ORDER BY o) FROM pg_foreign_server, unnest(srvoptions) o WHERE srvname = 'usa'`),
	)
}

// sqlExampleBeforeModules replaces the .tf files in ws with the example's of before the
// module (and so takes moved.tf out); the function it returns puts the example's own back.
func sqlExampleBeforeModules(t *testing.T, ws *postgrestest.Workspace) func() {
	t.Helper()
	own, err := filepath.Glob(filepath.Join(ws.Dir, "*.tf"))
	if err != nil {
		t.Fatal(err)
	}
	saved := map[string][]byte{}
	for _, path := range own {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		saved[path] = b
		if err := os.Remove(path); err != nil {
			t.Fatal(err)
		}
	}
	if _, ok := saved[filepath.Join(ws.Dir, "moved.tf")]; !ok {
		t.Fatal("the example has no moved.tf")
	}
	before, err := filepath.Glob(filepath.Join("testdata", "sharded-tweets-sql-before-modules", "*.tf"))
	if err != nil || len(before) == 0 {
		t.Fatalf("no configuration of before the modules (%v)", err)
	}
	for _, path := range before {
		b, err := os.ReadFile(path)
		if err == nil {
			err = os.WriteFile(filepath.Join(ws.Dir, filepath.Base(path)), b, 0o644)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	return func() {
		t.Helper()
		for _, path := range before {
			if err := os.Remove(filepath.Join(ws.Dir, filepath.Base(path))); err != nil {
				t.Fatal(err)
			}
		}
		for path, b := range saved {
			if err := os.WriteFile(path, b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// checkAll fails the test with the first database check that does not hold.
func checkAll(t *testing.T, checks ...func() error) {
	t.Helper()
	for _, check := range checks {
		if err := check(); err != nil {
			t.Fatal(err)
		}
	}
}

// groupByPushedDown checks that a new session of the base database (the example's
// database_settings apply at login) aggregates partition by partition.
func groupByPushedDown(t *testing.T, base *accDatabase) {
	t.Helper()
	db, err := base.Cluster.Open(base.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.QueryContext(t.Context(), `EXPLAIN (VERBOSE, COSTS OFF) SELECT location, count(*) FROM tweets GROUP BY 1`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, line)
	}
	// Partitionwise: an Append of one aggregate per partition (on the shard itself when its
	// statistics say that sends fewer rows), not one aggregate over all of them.
	if text := strings.Join(plan, "\n"); len(plan) == 0 || plan[0] != "Append" || strings.Count(text, "count(*)") < 3 {
		t.Errorf("each partition should be counted on its own (enable_partitionwise_aggregate from database_settings); the plan:\n%s", text)
	}
}
