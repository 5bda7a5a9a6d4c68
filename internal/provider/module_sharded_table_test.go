package provider

import (
	"reflect"
	"testing"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// moduleRegion is one entry of the sharded-table integration fixture's regions variable.
type moduleRegion struct {
	db        *accDatabase
	locations []string
	idStart   int64
	splitFrom string
	table     string
}

func (r moduleRegion) vars() map[string]any {
	v := map[string]any{"host": r.db.Cluster.Host, "port": r.db.Cluster.Port, "dbname": r.db.Name,
		"user": r.db.Cluster.User, "locations": r.locations, "id_start": r.idStart}
	if r.splitFrom != "" {
		v["split_from"] = r.splitFrom
	}
	if r.table != "" {
		v["table"] = r.table
	}
	return v
}

// modulePartition is one entry of the module's partitions output.
type modulePartition struct {
	Name        string   `json:"name"`
	Server      string   `json:"server"`
	Locations   []string `json:"locations"`
	RemoteTable string   `json:"remote_table"`
}

// TestAccModule_ShardedTable applies modules/sharded-table through its integration fixture
// (modules/sharded-table/tests/integration) with the real CLI against real clusters: rows
// written through the base land on their region's shard and unknown locations in DEFAULT; a
// third region comes in one apply and takes its location's rows out of DEFAULT; a location
// splits off to a new region in one apply and its rows move with it, none doubled; and the
// plan after each apply is empty.
func TestAccModule_ShardedTable(t *testing.T) {
	s := newShardedTweets(t)
	// The new regions' databases share the existing shard clusters: a region is a database.
	asia := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })
	canada := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard2 })
	ws := postgrestest.NewWorkspace(t, "../../modules/sharded-table/tests/integration")

	regions := map[string]moduleRegion{
		"europe": {db: s.europe, locations: []string{"europe"}, idStart: 1000000000000, table: "europe_tweets"},
		"usa":    {db: s.usa, locations: []string{"usa", "canada"}, idStart: 2000000000000},
	}
	apply := func() {
		t.Helper()
		vars := map[string]any{}
		passwords := map[string]string{}
		for name, r := range regions {
			vars[name] = r.vars()
			passwords[name] = r.db.Cluster.Password
		}
		ws.SetVars(t, map[string]any{
			"base": map[string]any{"host": s.base.Cluster.Host, "port": s.base.Cluster.Port, "database": s.base.Name,
				"username": s.base.Cluster.User, "password": s.base.Cluster.Password},
			"regions":   vars,
			"passwords": passwords,
		})
		ws.Must(t, "apply", "-auto-approve", "-no-color")
		ws.PlanIsEmpty(t)
		checkModuleOutputs(t, ws, regions)
	}
	check := func(checks ...func() error) {
		t.Helper()
		for _, c := range checks {
			if err := c(); err != nil {
				t.Error(err)
			}
		}
		if t.Failed() {
			t.FailNow()
		}
	}
	texts := func(db *accDatabase, table string) func(want string) func() error {
		return func(want string) func() error {
			return db.ExpectQuery(want, `SELECT string_agg(text, ',' ORDER BY text) FROM ONLY `+quoteIdent(table))
		}
	}
	europeRows, usaRows := texts(s.europe, "europe_tweets"), texts(s.usa, "tweets_usa")
	asiaRows, canadaRows := texts(asia, "tweets_asia"), texts(canada, "tweets_canada")
	defaultRows := texts(s.base, "tweets_default")

	ws.Must(t, "init", "-no-color")
	apply()
	s.base.Exec(t, `INSERT INTO tweets (location, text) VALUES
		('europe', 'e1'), ('europe', 'e2'), ('usa', 'u1'), ('canada', 'c1'), ('canada', 'c2'), ('asia', 'a1'), ('mars', 'm1')`)
	check(
		europeRows("e1,e2"),
		usaRows("c1,c2,u1"),
		defaultRows("a1,m1"),
		s.base.ExpectQuery("7", `SELECT count(*) FROM tweets`),
	)

	// A third region in one apply: it takes its location's row out of DEFAULT, and new rows
	// route to it; rows written on its shard draw ids from its own range.
	regions["asia"] = moduleRegion{db: asia, locations: []string{"asia"}, idStart: 3000000000000}
	apply()
	s.base.Exec(t, `INSERT INTO tweets (location, text) VALUES ('asia', 'a2')`)
	asia.Exec(t, `INSERT INTO tweets_asia (location, text) VALUES ('asia', 'a3')`)
	check(
		asiaRows("a1,a2,a3"),
		defaultRows("m1"),
		europeRows("e1,e2"),
		usaRows("c1,c2,u1"),
		s.base.ExpectQuery("3000000000000", `SELECT id FROM tweets WHERE text = 'a3'`),
		s.base.ExpectQuery("9", `SELECT count(*) FROM tweets`),
	)

	// canada splits off usa in one apply: usa narrows (its canada rows into DEFAULT), then the
	// new region takes them from there. Every row is read once, from the partition of its bound.
	regions["usa"] = moduleRegion{db: s.usa, locations: []string{"usa"}, idStart: 2000000000000}
	regions["canada"] = moduleRegion{db: canada, locations: []string{"canada"}, idStart: 4000000000000, splitFrom: "usa"}
	apply()
	s.base.Exec(t, `INSERT INTO tweets (location, text) VALUES ('canada', 'c3')`)
	check(
		canadaRows("c1,c2,c3"),
		usaRows("u1"),
		defaultRows("m1"),
		europeRows("e1,e2"),
		asiaRows("a1,a2,a3"),
		s.base.ExpectQuery("10 10", `SELECT count(*) || ' ' || count(DISTINCT id) FROM tweets`),
		s.base.ExpectQuery("tweets_canada 3", `SELECT string_agg(DISTINCT tableoid::regclass::text, ',') || ' ' || count(*) FROM tweets WHERE location = 'canada'`),
		s.base.ExpectQuery("0", `SELECT count(*) FROM pg_class WHERE relname LIKE 'pgshard\_%'`),
	)
}

// checkModuleOutputs asserts the module's outputs, passed through by the fixture, against the
// regions applied: one partition and one server per region, named as the module names them.
func checkModuleOutputs(t *testing.T, ws *postgrestest.Workspace, regions map[string]moduleRegion) {
	t.Helper()
	var parentID, defaultPartition string
	var servers map[string]string
	var partitions map[string]modulePartition
	ws.Output(t, "parent_id", &parentID)
	ws.Output(t, "default_partition", &defaultPartition)
	ws.Output(t, "servers", &servers)
	ws.Output(t, "partitions", &partitions)
	if parentID != "public.tweets" || defaultPartition != "tweets_default" {
		t.Errorf("parent_id = %q, default_partition = %q; want \"public.tweets\", \"tweets_default\"", parentID, defaultPartition)
	}
	wantServers := map[string]string{}
	wantPartitions := map[string]modulePartition{}
	for name, r := range regions {
		wantServers[name] = name
		table := r.table
		if table == "" {
			table = "tweets_" + name
		}
		wantPartitions[name] = modulePartition{Name: table, Server: name, Locations: r.locations, RemoteTable: table}
	}
	if !reflect.DeepEqual(servers, wantServers) {
		t.Errorf("servers = %v, want %v", servers, wantServers)
	}
	if !reflect.DeepEqual(partitions, wantPartitions) {
		t.Errorf("partitions = %+v\nwant %+v", partitions, wantPartitions)
	}
	if t.Failed() {
		t.FailNow()
	}
}
