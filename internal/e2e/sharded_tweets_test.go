package e2e

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	_ "github.com/lib/pq"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

type tweet struct {
	ID        int64  `json:"id"`
	Location  string `json:"location"`
	Text      string `json:"text"`
	OwnerID   *int64 `json:"owner_id"`
	LikeCount int    `json:"like_count"`
}

// TestShardedTweetsStack applies examples/sharded-tweets (Docker networks, PostgreSQL and API
// containers, and the pgshard objects) in one terraform apply, then proves the data flows:
// rows written through the base table are served by their region's API, rows posted to an API
// are visible through the base table, regions never see each other's rows, ids never collide,
// a shard restart loses nothing, and destroy removes every container and network.
func TestShardedTweetsStack(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("the end-to-end test runs with the acceptance tests (TF_ACC=1, make test)")
	}
	requireDocker(t)
	sweepLeftovers(t)

	image := postgresImage(t)
	prefix := fmt.Sprintf("%s%d-", namePrefix, os.Getpid())
	ports := freePorts(t, 7)
	password := fmt.Sprintf("e2e'pw=%d", time.Now().UnixNano())
	regions := map[string]map[string]any{
		"europe": {"db_port": ports[0], "api_port": ports[1], "dbname": "eutweets", "table": "europe_tweets", "locations": []string{"europe"}, "id_start": 1000000000000},
		"usa":    {"db_port": ports[2], "api_port": ports[3], "dbname": "ustweets", "table": "us_tweets", "locations": []string{"usa", "canada"}, "id_start": 2000000000000},
	}
	ws := postgrestest.NewWorkspace(t, filepath.Join("..", "..", "examples", "sharded-tweets"))
	vars := map[string]any{
		"name_prefix": prefix, "base_port": ports[4], "regions": regions,
		"postgres_image": image, "postgres_password": password,
	}
	ws.SetVars(t, vars)
	t.Cleanup(func() {
		if t.Failed() {
			ws.Run(t, "destroy", "-auto-approve", "-no-color")
		}
		removeByPrefix(t, prefix)
	})

	// The stack is first applied as the example was before it called the modules
	// (testdata/before-modules), then carried over by the example's moved blocks.
	restore := stackBeforeModules(t, ws)
	ws.Must(t, "init", "-no-color")
	start := time.Now()
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	t.Logf("first apply: %s", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	ws.PlanIsEmpty(t)
	t.Logf("no-op plan: %s", time.Since(start).Round(time.Millisecond))
	restore()
	ws.Must(t, "init", "-no-color")
	movedOnly(t, ws, 18)
	ws.PlanIsEmpty(t)

	var apis map[string]string
	ws.Output(t, "api_urls", &apis)
	var baseURL string
	ws.Output(t, "base_database_url", &baseURL)
	base, err := sql.Open("postgres", baseURL)
	if err != nil {
		t.Fatal(err)
	}
	defer base.Close()

	// Rows inserted through the base table are served by their region's API.
	written := map[int64]tweet{}
	for _, tw := range []tweet{{Location: "europe", Text: "hallo"}, {Location: "europe", Text: "servus"}, {Location: "usa", Text: "howdy"}, {Location: "usa", Text: "hi y'all"}, {Location: "mars", Text: "beep"}} {
		if err := base.QueryRow(`INSERT INTO tweets (location, text) VALUES ($1, $2) RETURNING id`, tw.Location, tw.Text).Scan(&tw.ID); err != nil {
			t.Fatal(err)
		}
		written[tw.ID] = tw
	}
	for id, tw := range written {
		api, ok := apis[tw.Location]
		if !ok {
			var n int
			if err := base.QueryRow(`SELECT count(*) FROM ONLY tweets_default WHERE id = $1`, id).Scan(&n); err != nil || n != 1 {
				t.Errorf("row %d (%s) should be in the DEFAULT partition: %d, %v", id, tw.Location, n, err)
			}
			continue
		}
		var got tweet
		if code := getJSON(t, fmt.Sprintf("%s/tweets/%d", api, id), &got); code != 200 || got.Text != tw.Text || got.Location != tw.Location {
			t.Errorf("GET %s/tweets/%d = %d %+v, want %+v", api, id, code, got, tw)
		}
	}

	// A row posted to a region's API is visible through the base table.
	for region, text := range map[string]string{"europe": "posted in Europe", "usa": "posted in the USA"} {
		var got tweet
		if code := postJSON(t, apis[region]+"/tweets", map[string]any{"location": region, "text": text, "owner_id": 7}, &got); code != 201 {
			t.Fatalf("POST to the %s API: %d", region, code)
		}
		var text2, loc string
		if err := base.QueryRow(`SELECT text, location FROM tweets WHERE id = $1`, got.ID).Scan(&text2, &loc); err != nil || text2 != text || loc != region {
			t.Errorf("posted row %d read through the base table: %q %q %v", got.ID, text2, loc, err)
		}
		written[got.ID] = got
	}
	// An API refuses a row for another region (the shard's CHECK constraint).
	var refusal map[string]string
	if code := postJSON(t, apis["europe"]+"/tweets", map[string]any{"location": "usa", "text": "wrong shard"}, &refusal); code != 400 {
		t.Errorf("POST of a usa row to the Europe API = %d %v, want 400", code, refusal)
	}

	// Each API sees its own region's rows and never another's.
	for region, api := range apis {
		var rows []tweet
		getJSON(t, api+"/tweets?limit=1000", &rows)
		if len(rows) != 3 {
			t.Errorf("%s API lists %d rows, want 3: %+v", region, len(rows), rows)
		}
		for _, r := range rows {
			if r.Location != region {
				t.Errorf("%s API serves a %s row: %+v", region, r.Location, r)
			}
		}
	}

	// Ids written through the base and by the APIs never collide.
	var total, distinct int
	if err := base.QueryRow(`SELECT count(*), count(DISTINCT id) FROM tweets`).Scan(&total, &distinct); err != nil || total != len(written) || distinct != total {
		t.Fatalf("tweets holds %d rows with %d distinct ids, want %d distinct: %v", total, distinct, len(written), err)
	}

	// A shard stopped and started again loses nothing.
	euDB := prefix + "europe-db"
	if _, err := docker("stop", euDB); err != nil {
		t.Fatal(err)
	}
	if _, err := docker("start", euDB); err != nil {
		t.Fatal(err)
	}
	waitHealthy(t, euDB, 2*time.Minute)
	deadline := time.Now().Add(time.Minute)
	for {
		// The base's cached connection to the shard died with it; postgres_fdw reconnects.
		err := base.QueryRow(`SELECT count(*) FROM tweets`).Scan(&total)
		if err == nil && total == len(written) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after restarting %s the base sees %d rows (want %d): %v", euDB, total, len(written), err)
		}
		time.Sleep(time.Second)
	}
	var eu []tweet
	waitFor(t, time.Minute, func() bool { return getJSON(t, apis["europe"]+"/tweets?limit=1000", &eu) == 200 && len(eu) == 3 })

	addColumnWhileServing(t, ws, vars, prefix, apis, base)
	splitWhileServing(t, ws, vars, ports[5:7], apis, base)
	mergeBack(t, ws, vars, apis, base, prefix)

	// After the split the usa region gives locations away (on_rows_outside_bound =
	// "move_to_default"): a whole-stack destroy would pull its rows into the base only to drop
	// them with it, and is refused at plan, changing nothing. With moves off (a change of
	// settings only), every shard keeps its rows until its container goes.
	if out, code := ws.Run(t, "destroy", "-auto-approve", "-no-color"); code == 0 || !strings.Contains(out, "pulled into the base") {
		t.Fatalf("a whole-stack destroy with a region that moves rows into DEFAULT: exit %d\n%s", code, out)
	}
	if err := base.QueryRow(`SELECT count(*) FROM tweets`).Scan(&total); err != nil || total == 0 {
		t.Fatalf("after the refused destroy the base sees %d rows (%v)", total, err)
	}
	vars["moves_enabled"] = false
	ws.SetVars(t, vars)
	ws.Must(t, "apply", "-auto-approve", "-no-color")

	// Destroy removes every container and network of the stack.
	start = time.Now()
	ws.Must(t, "destroy", "-auto-approve", "-no-color")
	t.Logf("destroy: %s", time.Since(start).Round(time.Millisecond))
	for _, args := range [][]string{
		{"ps", "-a", "--filter", "name=" + prefix, "--format", "{{.Names}}"},
		{"network", "ls", "--filter", "name=" + prefix, "--format", "{{.Name}}"},
	} {
		out, err := docker(args...)
		if err != nil || out != "" {
			t.Errorf("after destroy, docker %s lists %q (%v)", strings.Join(args[:2], " "), out, err)
		}
	}
}

// postgresImage is the image make test prepared (PGSHARD_E2E_POSTGRES_IMAGE), or what
// scripts/demo.sh prepare picks.
func postgresImage(t *testing.T) string {
	if img := os.Getenv("PGSHARD_E2E_POSTGRES_IMAGE"); img != "" {
		return img
	}
	cmd := exec.Command("bash", filepath.Join("..", "..", "scripts", "demo.sh"), "prepare")
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("scripts/demo.sh prepare: %v", err)
	}
	return strings.TrimSpace(string(out))
}

func freePorts(t *testing.T, n int) []int {
	t.Helper()
	var ports []int
	var listeners []net.Listener
	for len(ports) < n {
		l, port, err := postgrestest.ListenLocal()
		if err != nil {
			t.Fatal(err)
		}
		listeners = append(listeners, l)
		ports = append(ports, port)
	}
	for _, l := range listeners {
		l.Close()
	}
	return ports
}

var client = &http.Client{Timeout: 10 * time.Second}

func getJSON(t *testing.T, url string, into any) int {
	t.Helper()
	resp, err := client.Get(url)
	if err != nil {
		t.Logf("GET %s: %v", url, err)
		return 0
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, into); err != nil && resp.StatusCode == 200 {
		t.Errorf("GET %s: %v: %s", url, err, body)
	}
	return resp.StatusCode
}

func postJSON(t *testing.T, url string, payload, into any) int {
	t.Helper()
	b, _ := json.Marshal(payload)
	resp, err := client.Post(url, "application/json", bytes.NewReader(b))
	if err != nil {
		t.Fatalf("POST %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(body, into); err != nil {
		t.Errorf("POST %s: %v: %s", url, err, body)
	}
	return resp.StatusCode
}

func waitFor(t *testing.T, timeout time.Duration, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("condition not met after %s", timeout)
		}
		time.Sleep(time.Second)
	}
}

// addColumnWhileServing adds a lang column with a default in a second apply, while both
// regional APIs keep answering: it reaches every shard in that apply, a tweet posted before
// and one posted after read back through the base table and through their API, the plan
// after is empty. Then it renames and drops the column, one apply each. No container restarts.
func addColumnWhileServing(t *testing.T, ws *postgrestest.Workspace, vars map[string]any, prefix string, apis map[string]string, base *sql.DB) {
	t.Helper()
	started := map[string]string{}
	for _, region := range []string{"europe", "usa"} {
		for _, c := range []string{prefix + region + "-api", prefix + region + "-db"} {
			s, err := docker("inspect", "-f", "{{.State.StartedAt}}", c)
			if err != nil {
				t.Fatal(err)
			}
			started[c] = s
		}
	}
	var before tweet
	if code := postJSON(t, apis["usa"]+"/tweets", map[string]any{"location": "usa", "text": "before lang"}, &before); code != 201 {
		t.Fatalf("POST before the column change: %d", code)
	}
	stop := make(chan struct{})
	done := make(chan [2]int)
	go func() {
		polls, failures := 0, 0
		for {
			select {
			case <-stop:
				done <- [2]int{polls, failures}
				return
			case <-time.After(50 * time.Millisecond):
			}
			for region, api := range apis {
				resp, err := http.Get(fmt.Sprintf("%s/tweets?limit=1000&region=%s", api, region))
				polls++
				if err != nil || resp.StatusCode != 200 {
					failures++
				}
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body) // drained only so the connection is reused
					resp.Body.Close()
				}
			}
		}
	}()
	vars["extra_columns"] = []map[string]any{{"name": "lang", "type": "text", "default": "'en'"}}
	ws.SetVars(t, vars)
	start := time.Now()
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	close(stop)
	counts := <-done
	t.Logf("column added across the shards in %s; the APIs answered %d requests meanwhile, %d failed", time.Since(start).Round(time.Millisecond), counts[0], counts[1])
	if counts[1] > 0 || counts[0] == 0 {
		t.Errorf("the regional APIs failed %d of %d requests while the column was added", counts[1], counts[0])
	}
	ws.PlanIsEmpty(t)

	var after tweet
	if code := postJSON(t, apis["europe"]+"/tweets", map[string]any{"location": "europe", "text": "after lang"}, &after); code != 201 {
		t.Fatalf("POST after the column change: %d", code)
	}
	for region, tw := range map[string]tweet{"usa": before, "europe": after} {
		var lang, text string
		if err := base.QueryRow(`SELECT lang, text FROM tweets WHERE id = $1`, tw.ID).Scan(&lang, &text); err != nil || lang != "en" || text != tw.Text {
			t.Errorf("tweet %d read through the base table: lang %q text %q %v", tw.ID, lang, text, err)
		}
		var got tweet
		if code := getJSON(t, fmt.Sprintf("%s/tweets/%d", apis[region], tw.ID), &got); code != 200 || got.Text != tw.Text {
			t.Errorf("GET %s/tweets/%d after the column change = %d %+v", apis[region], tw.ID, code, got)
		}
	}
	var n int
	if err := base.QueryRow(`SELECT count(*) FROM (SELECT * FROM tweets) t`).Scan(&n); err != nil {
		t.Errorf("SELECT * through the base table after the column change: %v", err)
	}
	// Renamed, then dropped: each reaches every shard in one apply, the plan after is empty,
	// and SELECT * through the base table works.
	for _, step := range []struct {
		columns []map[string]any
		check   string
	}{
		{[]map[string]any{{"name": "language", "type": "text", "default": "'en'", "renamed_from": "lang"}}, `SELECT count(language) FROM tweets`},
		{[]map[string]any{}, `SELECT count(*) FROM (SELECT * FROM tweets) t`},
	} {
		vars["extra_columns"] = step.columns
		ws.SetVars(t, vars)
		ws.Must(t, "apply", "-auto-approve", "-no-color")
		ws.PlanIsEmpty(t)
		if err := base.QueryRow(step.check).Scan(&n); err != nil || n == 0 {
			t.Errorf("%s after the column change: %d, %v", step.check, n, err)
		}
	}
	for c, s := range started {
		if now, err := docker("inspect", "-f", "{{.State.StartedAt}}", c); err != nil || now != s {
			t.Errorf("container %s restarted during the column changes (started %s, now %s, %v)", c, s, now, err)
		}
	}
}

// probeResult is what the queries through the base during a split saw.
type probeResult struct {
	queries int
	longest time.Duration
	errs    []string
}

// splitWhileServing splits the location canada out of the usa region into a new region, in
// one apply, while the regional APIs serve: the usa shard's canada rows move through DEFAULT
// into the new shard, verified, and every row is still there exactly once through the base.
func splitWhileServing(t *testing.T, ws *postgrestest.Workspace, vars map[string]any, ports []int, apis map[string]string, base *sql.DB) {
	t.Helper()
	var canada []int64
	for i := 0; i < 50; i++ {
		var id int64
		if err := base.QueryRow(`INSERT INTO tweets (location, text) VALUES ('canada', $1) RETURNING id`, fmt.Sprintf("eh %d", i)).Scan(&id); err != nil {
			t.Fatal(err)
		}
		canada = append(canada, id)
	}
	// Rows the usa API writes during the split ("during ...") are compared on their own.
	sums := func() (n int, sum int64) {
		t.Helper()
		if err := base.QueryRow(`SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)) % 9223372036854775807, 0) FROM (SELECT id, location, text, owner_id, like_count FROM tweets WHERE text NOT LIKE 'during %') t`).Scan(&n, &sum); err != nil {
			t.Fatal(err)
		}
		return n, sum
	}
	rowsBefore, sumBefore := sums()
	var usaBefore []tweet
	if code := getJSON(t, apis["usa"]+"/tweets?limit=1000", &usaBefore); code != 200 {
		t.Fatalf("usa API before the split: %d", code)
	}

	// Meanwhile the usa API keeps writing canada rows straight to its shard: each write is
	// either taken (and must then reach the canada shard) or refused by the shard's CHECK once
	// the move starts (400), never taken and lost.
	stop := make(chan struct{})
	done := make(chan [2]int)
	var accepted []int64
	refused := 0
	go func() {
		polls, failures := 0, 0
		for i := 0; ; i++ {
			select {
			case <-stop:
				done <- [2]int{polls, failures}
				return
			case <-time.After(50 * time.Millisecond):
			}
			var posted tweet
			switch code := postJSON(t, apis["usa"]+"/tweets", map[string]any{"location": "canada", "text": fmt.Sprintf("during %d", i)}, &posted); code {
			case 201:
				accepted = append(accepted, posted.ID)
			case 400:
				refused++
			default:
				failures++
			}
			polls++
			for _, region := range []string{"europe", "usa"} {
				resp, err := http.Get(apis[region] + "/tweets?limit=1000")
				polls++
				if err != nil || resp.StatusCode != 200 {
					failures++
				}
				if err == nil {
					_, _ = io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
				}
			}
		}
	}()
	// And queries go through the base every 100 ms: a point query on a key that does not
	// move, and a count of the moving key. None may wait more than 1 s (the switch holds the
	// parent for milliseconds), and the count never changes (the move's rows are seen once).
	var europeID int64
	var canadaRows int
	if err := base.QueryRow(`SELECT min(id) FROM tweets WHERE location = 'europe'`).Scan(&europeID); err != nil {
		t.Fatal(err)
	}
	if err := base.QueryRow(`SELECT count(*) FROM tweets WHERE location = 'canada' AND text NOT LIKE 'during %'`).Scan(&canadaRows); err != nil {
		t.Fatal(err)
	}
	stopProbe := make(chan struct{})
	probed := make(chan probeResult)
	go func() {
		var r probeResult
		for {
			select {
			case <-stopProbe:
				probed <- r
				return
			case <-time.After(100 * time.Millisecond):
			}
			start := time.Now()
			var n int
			err := base.QueryRow(`SELECT count(*) FROM tweets WHERE location = 'europe' AND id = $1`, europeID).Scan(&n)
			r.longest = max(r.longest, time.Since(start))
			var moving int
			if err == nil {
				err = base.QueryRow(`SELECT count(*) FROM tweets WHERE location = 'canada' AND text NOT LIKE 'during %'`).Scan(&moving)
			}
			r.queries++
			switch {
			case err != nil:
				r.errs = append(r.errs, err.Error())
			case n != 1 || moving != canadaRows:
				r.errs = append(r.errs, fmt.Sprintf("the europe row counted %d times, the canada rows %d (want 1 and %d)", n, moving, canadaRows))
			}
		}
	}()
	regions, ok := vars["regions"].(map[string]map[string]any)
	if !ok {
		t.Fatalf("vars[regions] is a %T", vars["regions"])
	}
	regions["usa"]["locations"] = []string{"usa"}
	regions["canada"] = map[string]any{"db_port": ports[0], "api_port": ports[1], "dbname": "catweets", "table": "canada_tweets",
		"locations": []string{"canada"}, "id_start": 3000000000000, "split_from": "usa"}
	ws.SetVars(t, vars)
	start := time.Now()
	out := ws.Must(t, "apply", "-auto-approve", "-no-color")
	close(stop)
	counts := <-done
	close(stopProbe)
	probe := <-probed
	t.Logf("queries through the base during the split: %d, the longest point query waited %s", probe.queries, probe.longest.Round(time.Millisecond))
	if probe.queries == 0 || probe.longest > time.Second || len(probe.errs) > 0 {
		t.Errorf("queries through the base during the split: %d, the longest point query waited %s (at most 1 s), wrong or failed: %v",
			probe.queries, probe.longest, probe.errs)
	}
	t.Logf("canada split out of usa in one apply in %s; the europe and usa APIs answered %d requests meanwhile, %d failed; "+
		"of the canada rows written to the usa API meanwhile %d were taken and %d refused",
		time.Since(start).Round(time.Millisecond), counts[0], counts[1], len(accepted), refused)
	if refused == 0 {
		t.Errorf("the usa shard never refused a canada row during the split")
	}
	for _, id := range accepted {
		var n int
		var loc string
		if err := base.QueryRow(`SELECT count(*), min(location) FROM tweets WHERE id = $1`, id).Scan(&n, &loc); err != nil || n != 1 || loc != "canada" {
			t.Errorf("row %d, taken by the usa API during the split, is there %d times (%q, %v)", id, n, loc, err)
		}
	}
	if counts[1] > 0 || counts[0] == 0 {
		t.Errorf("the regional APIs failed %d of %d requests during the split", counts[1], counts[0])
	}
	if !strings.Contains(out, "pgshard_foreign_partition.split[\"canada\"]: Creation complete") {
		t.Errorf("the apply did not create the canada partition:\n%s", out)
	}
	// The plan named, per key, the rows, the source and the target.
	flat := strings.Join(strings.Fields(out), " ")
	for _, want := range []string{
		`key 'canada': \d+ rows, public.us_tweets -> DEFAULT( |$)`,
		`key 'canada': \d+ rows, public.us_tweets -> DEFAULT -> public.canada_tweets`,
	} {
		if m := regexp.MustCompile(want).FindString(flat); m == "" {
			t.Errorf("the plan does not say %q:\n%s", want, out)
		} else if n, _ := strconv.Atoi(strings.Fields(m)[2]); n < len(canada) {
			t.Errorf("the plan counts %d canada rows, at least %d were there: %q", n, len(canada), m)
		}
	}
	ws.PlanIsEmpty(t)

	// Every row is still there exactly once, with the same checksum; canada's rows are on
	// the new shard and served by its API, and no longer on the usa shard.
	if n, sum := sums(); n != rowsBefore || sum != sumBefore {
		t.Errorf("through the base after the split: %d rows (checksum %d), before %d (checksum %d)", n, sum, rowsBefore, sumBefore)
	}
	var total, distinct int
	if err := base.QueryRow(`SELECT count(*), count(DISTINCT id) FROM tweets`).Scan(&total, &distinct); err != nil || distinct != rowsBefore+len(accepted) || total != distinct {
		t.Errorf("%d rows with %d distinct ids after the split, want %d (%v)", total, distinct, rowsBefore+len(accepted), err)
	}
	var inDefault int
	if err := base.QueryRow(`SELECT count(*) FROM ONLY tweets_default WHERE location = 'canada'`).Scan(&inDefault); err != nil || inDefault != 0 {
		t.Errorf("%d canada rows left in DEFAULT (%v)", inDefault, err)
	}
	ws.Output(t, "api_urls", &apis)
	var onCanada []tweet
	waitFor(t, time.Minute, func() bool { return getJSON(t, apis["canada"]+"/tweets?limit=1000", &onCanada) == 200 })
	if len(onCanada) != len(canada)+len(accepted) {
		t.Errorf("the canada API lists %d rows, want %d", len(onCanada), len(canada)+len(accepted))
	}
	for _, tw := range onCanada {
		if tw.Location != "canada" {
			t.Errorf("the canada API serves a %s row: %+v", tw.Location, tw)
		}
	}
	var onUSA []tweet
	getJSON(t, apis["usa"]+"/tweets?limit=1000", &onUSA)
	for _, tw := range onUSA {
		if tw.Location != "usa" {
			t.Errorf("the usa API still serves a %s row after the split: %+v", tw.Location, tw)
		}
	}
	if len(onUSA) != len(usaBefore)-len(canada) || len(onUSA) == 0 {
		t.Errorf("the usa API lists %d rows after the split, want %d", len(onUSA), len(usaBefore)-len(canada))
	}
	// The usa shard refuses canada rows now; the canada API takes them.
	var refusal map[string]string
	if code := postJSON(t, apis["usa"]+"/tweets", map[string]any{"location": "canada", "text": "wrong shard now"}, &refusal); code != 400 {
		t.Errorf("POST of a canada row to the usa API after the split = %d %v, want 400", code, refusal)
	}
	var posted tweet
	if code := postJSON(t, apis["canada"]+"/tweets", map[string]any{"location": "canada", "text": "hello from Canada"}, &posted); code != 201 || posted.ID < 3000000000000 {
		t.Errorf("POST to the canada API = %d %+v", code, posted)
	}
}

// tweetSums is the count and order-independent checksum of the rows through the base table.
func tweetSums(t *testing.T, base *sql.DB) (n int, sum int64) {
	t.Helper()
	if err := base.QueryRow(`SELECT count(*), coalesce(sum(hashtextextended(t::text, 0)) % 9223372036854775807, 0) FROM (SELECT id, location, text, owner_id, like_count FROM tweets) t`).Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	return n, sum
}

// mergeBack undoes the split in one apply: the canada region goes (its partition's destroy
// moves its rows into DEFAULT before its database goes) and usa takes canada back from DEFAULT.
func mergeBack(t *testing.T, ws *postgrestest.Workspace, vars map[string]any, apis map[string]string, base *sql.DB, prefix string) {
	t.Helper()
	rowsBefore, sumBefore := tweetSums(t, base)
	var canadaRows int
	if err := base.QueryRow(`SELECT count(*) FROM tweets WHERE location = 'canada'`).Scan(&canadaRows); err != nil || canadaRows == 0 {
		t.Fatalf("no canada rows before the merge (%v)", err)
	}
	regions, ok := vars["regions"].(map[string]map[string]any)
	if !ok {
		t.Fatalf("vars[regions] is a %T", vars["regions"])
	}
	delete(regions, "canada")
	regions["usa"]["locations"] = []string{"usa", "canada"}
	ws.SetVars(t, vars)
	start := time.Now()
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	t.Logf("canada merged back into usa in one apply in %s", time.Since(start).Round(time.Millisecond))
	ws.PlanIsEmpty(t)
	if n, sum := tweetSums(t, base); n != rowsBefore || sum != sumBefore {
		t.Errorf("through the base after the merge: %d rows (checksum %d), before %d (checksum %d)", n, sum, rowsBefore, sumBefore)
	}
	var inDefault int
	if err := base.QueryRow(`SELECT count(*) FROM ONLY tweets_default`).Scan(&inDefault); err != nil || inDefault != 1 {
		t.Errorf("DEFAULT holds %d rows after the merge, want only the mars row (%v)", inDefault, err)
	}
	var onUSA []tweet
	if code := getJSON(t, apis["usa"]+"/tweets?limit=1000", &onUSA); code != 200 {
		t.Fatalf("usa API after the merge: %d", code)
	}
	n := 0
	for _, tw := range onUSA {
		if tw.Location == "canada" {
			n++
		}
	}
	if n != canadaRows {
		t.Errorf("the usa API serves %d canada rows after the merge, want %d", n, canadaRows)
	}
	if out, err := docker("ps", "-a", "--filter", "name="+prefix+"canada", "--format", "{{.Names}}"); err != nil || out != "" {
		t.Errorf("canada containers left after the merge: %q (%v)", out, err)
	}
}

// stackBeforeModules puts the example's main.tf and outputs.tf of before the modules in ws
// (and takes its moved.tf out); the function it returns puts the example's own back.
func stackBeforeModules(t *testing.T, ws *postgrestest.Workspace) func() {
	t.Helper()
	read := func(path string) []byte {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
	own := map[string][]byte{}
	for _, name := range []string{"main.tf", "outputs.tf", "moved.tf"} {
		own[name] = read(filepath.Join(ws.Dir, name))
	}
	for _, name := range []string{"main.tf", "outputs.tf"} {
		if err := os.WriteFile(filepath.Join(ws.Dir, name), read(filepath.Join("testdata", "before-modules", name)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Remove(filepath.Join(ws.Dir, "moved.tf")); err != nil {
		t.Fatal(err)
	}
	return func() {
		for name, b := range own {
			if err := os.WriteFile(filepath.Join(ws.Dir, name), b, 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// movedOnly plans in ws and applies the plan, which must move want resource instances to new
// addresses and change nothing else.
func movedOnly(t *testing.T, ws *postgrestest.Workspace, want int) {
	t.Helper()
	ws.Must(t, "plan", "-no-color", "-out=moved.tfplan")
	var plan struct {
		ResourceChanges []struct {
			Address         string `json:"address"`
			PreviousAddress string `json:"previous_address"`
			Change          struct {
				Actions []string       `json:"actions"`
				Before  map[string]any `json:"before"`
				After   map[string]any `json:"after"`
			} `json:"change"`
		} `json:"resource_changes"`
	}
	if err := json.Unmarshal([]byte(ws.Must(t, "show", "-json", "moved.tfplan")), &plan); err != nil {
		t.Fatal(err)
	}
	moved := 0
	for _, rc := range plan.ResourceChanges {
		if rc.PreviousAddress != "" && rc.PreviousAddress != rc.Address {
			moved++
		}
		if addedSince(rc.Address, rc.Change.Actions, rc.Change.Before, rc.Change.After) {
			continue
		}
		if len(rc.Change.Actions) != 1 || rc.Change.Actions[0] != "no-op" {
			t.Errorf("carrying the stack over to the modules would %v %s (from %q): only moves are expected", rc.Change.Actions, rc.Address, rc.PreviousAddress)
		}
	}
	if moved != want {
		t.Errorf("the moved blocks moved %d resource instances, want %d", moved, want)
	}
	if t.Failed() {
		t.FailNow()
	}
	ws.Must(t, "apply", "-no-color", "moved.tfplan")
}

// addedSince says whether a change of the carry-over plan is what the example added after
// it called the modules: the servers' options the Performance guide recommends, and the
// planner settings of the base database.
func addedSince(address string, actions []string, before, after map[string]any) bool {
	switch {
	case len(actions) == 1 && actions[0] == "create":
		return address == "module.tweets.pgshard_settings.queries[0]"
	case len(actions) != 1 || actions[0] != "update" || !strings.HasPrefix(address, "module.tweets.pgshard_foreign_server.region["):
		return false
	}
	for k, v := range after {
		if k != "options" && !reflect.DeepEqual(before[k], v) {
			return false
		}
	}
	want := map[string]any{"async_capable": "true", "fetch_size": "10000", "fdw_tuple_cost": "1", "parallel_commit": "true"}
	return reflect.DeepEqual(after["options"], want)
}
