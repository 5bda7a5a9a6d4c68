package e2e

import (
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// TestShardedTweetsMonthly applies examples/sharded-tweets with time_partitions: each region
// partitioned by month on its own shard, where its API writes to one table, and months older
// than archive_after on an archive container. It then rolls as_of forward by a month while
// both APIs and the base keep writing: one month is created ahead on each shard and one moves
// to the archive, its rows compared by count and checksum before and after, its table gone
// from the region's shard, nothing written meanwhile lost, and the plan after empty.
func TestShardedTweetsMonthly(t *testing.T) {
	if os.Getenv("TF_ACC") == "" {
		t.Skip("the end-to-end test runs with the acceptance tests (TF_ACC=1, make test)")
	}
	requireDocker(t)
	sweepLeftovers(t)

	image := postgresImage(t)
	prefix := fmt.Sprintf("%s%d-monthly-", namePrefix, os.Getpid())
	ports := freePorts(t, 6)
	const password = "e2e-monthly-pw"
	regions := map[string]map[string]any{
		"europe": {"db_port": ports[0], "api_port": ports[1], "dbname": "eutweets", "table": "europe_tweets", "locations": []string{"europe"}, "id_start": 1000000000000},
		"usa":    {"db_port": ports[2], "api_port": ports[3], "dbname": "ustweets", "table": "us_tweets", "locations": []string{"usa", "canada"}, "id_start": 2000000000000},
	}
	// Months count from the one the clock is in (the APIs' rows get now()), so that the test
	// means the same on any day: as_of is two days into month 0, then into month 1.
	now := time.Now().UTC()
	m0 := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
	month := func(k int) time.Time { return m0.AddDate(0, k, 0) }
	asOf := func(k int) string { return month(k).Add(48 * time.Hour).Format(time.RFC3339) }
	period := func(table string, k int) string { return table + "_p" + month(k).Format("20060102") }
	months := map[string]any{"start": month(-3).Format("2006-01-02"), "premake": 1, "as_of": asOf(0), "archive_after": "2 months"}

	ws := postgrestest.NewWorkspace(t, filepath.Join("..", "..", "examples", "sharded-tweets"))
	vars := map[string]any{
		"name_prefix": prefix, "base_port": ports[4], "archive_port": ports[5], "regions": regions,
		"postgres_image": image, "postgres_password": password, "time_partitions": months,
	}
	ws.SetVars(t, vars)
	t.Cleanup(func() {
		if t.Failed() {
			ws.Run(t, "destroy", "-auto-approve", "-no-color")
		}
		removeByPrefix(t, prefix)
	})
	ws.Must(t, "init", "-no-color")
	start := time.Now()
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	t.Logf("first apply: %s", time.Since(start).Round(time.Millisecond))
	ws.PlanIsEmpty(t)

	var apis map[string]string
	ws.Output(t, "api_urls", &apis)
	var baseURL string
	ws.Output(t, "base_database_url", &baseURL)
	base := openDB(t, baseURL)
	shard := func(port int, dbname string) *sql.DB {
		u := url.URL{Scheme: "postgres", User: url.UserPassword("postgres", password), Host: fmt.Sprintf("127.0.0.1:%d", port), Path: dbname, RawQuery: "sslmode=disable"}
		return openDB(t, u.String())
	}
	europe, archive := shard(ports[0], "eutweets"), shard(ports[5], "archive")

	// Where each month of a region lives, as the base's catalog says: month -3 ended more
	// than two months before as_of, so it was made on the archive.
	placement := func(table string) string {
		t.Helper()
		var got string
		if err := base.QueryRow(`SELECT string_agg(c.relname || ' ' || coalesce(s.srvname, 'local'), '; ' ORDER BY c.relname)
		  FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
		  LEFT JOIN pg_foreign_table f ON f.ftrelid = c.oid LEFT JOIN pg_foreign_server s ON s.oid = f.ftserver
		  WHERE i.inhparent = $1::regclass`, table).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	want := func(table, region string, archived, last int) string {
		var parts []string
		for k := -3; k <= last; k++ {
			server := region
			if k <= archived {
				server = "archive"
			}
			parts = append(parts, period(table, k)+" "+server)
		}
		return strings.Join(parts, "; ")
	}
	for region, table := range map[string]string{"europe": "europe_tweets", "usa": "us_tweets"} {
		if got, w := placement(table), want(table, region, -3, 1); got != w {
			t.Errorf("months of %s after the first apply:\n got %s\nwant %s", region, got, w)
		}
	}

	// 200 rows a month through the base, in months -3 to 0; one posted to each API lands in
	// month 0 on its shard, with the region's own id range.
	for _, loc := range []string{"europe", "usa"} {
		for k := -3; k <= 0; k++ {
			if _, err := base.Exec(`INSERT INTO tweets (location, text, created_at)
			  SELECT $1, $1 || ' month ' || $2 || ' #' || g, $3::timestamptz + g * interval '1 minute' FROM generate_series(1, 200) g`,
				loc, k, month(k)); err != nil {
				t.Fatal(err)
			}
		}
	}
	var posted tweet
	if code := postJSON(t, apis["europe"]+"/tweets", map[string]any{"location": "europe", "text": "posted this month"}, &posted); code != 201 || posted.ID < 1000000000000 {
		t.Fatalf("POST to the europe API: %d %+v", code, posted)
	}
	var inMonth0 int
	if err := europe.QueryRow(`SELECT count(*) FROM `+period("europe_tweets", 0)+` WHERE id = $1`, posted.ID).Scan(&inMonth0); err != nil || inMonth0 != 1 {
		t.Fatalf("the posted row is not in month 0's table on the europe shard: %d %v", inMonth0, err)
	}
	// The API reads its shard's table: months there, not the archived one.
	var listed []tweet
	if code := getJSON(t, apis["europe"]+"/tweets?limit=1000", &listed); code != 200 || len(listed) != 3*200+1 {
		t.Errorf("the europe API lists %d rows (status %d), want the 601 of months -2 to 0", len(listed), code)
	}

	// The roll: as_of a month on. The plan says what moves, with its rows.
	sums := func(db *sql.DB, table string) string {
		t.Helper()
		var got string
		if err := db.QueryRow(`SELECT count(*) || ' ' || coalesce(sum(hashtext(text || id || created_at)), 0) FROM ` + table).Scan(&got); err != nil {
			t.Fatal(err)
		}
		return got
	}
	tiered := period("europe_tweets", -2)
	before := sums(base, tiered)
	if !strings.HasPrefix(before, "200 ") {
		t.Fatalf("month -2 of europe holds %s, want 200 rows", before)
	}
	months["as_of"] = asOf(1)
	ws.SetVars(t, vars)
	plan := strings.Join(strings.Fields(strings.ReplaceAll(ws.Must(t, "plan", "-no-color"), "│", " ")), " ")
	// Terraform shows the first of similar warnings in full ("and one more similar warning
	// elsewhere"), either region's: the roll warning must name one region's tier and new month.
	says := func(table, server string) bool {
		for _, w := range []string{"tier " + period(table, -2), "(200 rows) from server " + server, "to server archive", "create " + period(table, 2)} {
			if !strings.Contains(plan, w) {
				return false
			}
		}
		return true
	}
	if !says("europe_tweets", "europe") && !says("us_tweets", "usa") {
		t.Errorf("the roll's plan names neither region's tier of month -2 (200 rows, to server archive) and month +2 made ahead:\n%s", plan)
	}

	// Both APIs and the base keep writing this month's rows while the roll applies.
	var mu sync.Mutex
	written, failures := 0, []string{}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			var err error
			switch i % 3 {
			case 0, 1:
				region := []string{"europe", "usa"}[i%3]
				var got tweet
				code := postStatus(apis[region]+"/tweets", fmt.Sprintf(`{"location":%q,"text":"during the roll %d"}`, region, i), &got)
				if code != 201 {
					err = fmt.Errorf("POST to the %s API: %d", region, code)
				}
			default:
				_, err = base.Exec(`INSERT INTO tweets (location, text) VALUES ('europe', $1)`, fmt.Sprintf("during the roll %d", i))
			}
			mu.Lock()
			if err != nil {
				failures = append(failures, err.Error())
			} else {
				written++
			}
			mu.Unlock()
		}
	}()
	start = time.Now()
	ws.Must(t, "apply", "-auto-approve", "-no-color")
	t.Logf("roll apply: %s", time.Since(start).Round(time.Millisecond))
	close(stop)
	wg.Wait()
	if len(failures) > 0 || written == 0 {
		t.Errorf("%d writes during the roll, %d failed: %v", written, len(failures), failures)
	}
	var during int
	if err := base.QueryRow(`SELECT count(*) FROM tweets WHERE text LIKE 'during the roll %'`).Scan(&during); err != nil || during != written {
		t.Errorf("the base holds %d of the %d rows written during the roll (%v)", during, written, err)
	}

	for region, table := range map[string]string{"europe": "europe_tweets", "usa": "us_tweets"} {
		if got, w := placement(table), want(table, region, -2, 2); got != w {
			t.Errorf("months of %s after the roll:\n got %s\nwant %s", region, got, w)
		}
	}
	if after := sums(base, tiered); after != before {
		t.Errorf("month -2 of europe read through the base: %s before the roll, %s after", before, after)
	}
	if onArchive := sums(archive, tiered); onArchive != before {
		t.Errorf("month -2 of europe on the archive: %s, want %s", onArchive, before)
	}
	var gone bool
	if err := europe.QueryRow(`SELECT to_regclass($1) IS NULL`, "public."+tiered).Scan(&gone); err != nil || !gone {
		t.Errorf("month -2's table is still on the europe shard (%v)", err)
	}
	// The europe API serves exactly the months left on its shard: -1 and on.
	var recent int
	if err := base.QueryRow(`SELECT count(*) FROM tweets WHERE location = 'europe' AND created_at >= $1`, month(-1)).Scan(&recent); err != nil {
		t.Fatal(err)
	}
	listed = nil
	for offset := 0; ; offset += 1000 {
		var page []tweet
		if code := getJSON(t, fmt.Sprintf("%s/tweets?limit=1000&offset=%d", apis["europe"], offset), &page); code != 200 {
			t.Fatalf("GET from the europe API after the roll: %d", code)
		}
		listed = append(listed, page...)
		if len(page) < 1000 {
			break
		}
	}
	if len(listed) != recent {
		t.Errorf("the europe API lists %d rows after the roll, want the %d of months -1 and on", len(listed), recent)
	}
	for _, tw := range listed {
		if tw.Location != "europe" {
			t.Errorf("the europe API serves a %s row: %+v", tw.Location, tw)
		}
	}
	ws.PlanIsEmpty(t)

	// Destroy takes the stack down: the months' foreign tables, the tables of the base and
	// every container.
	start = time.Now()
	ws.Must(t, "destroy", "-auto-approve", "-no-color")
	t.Logf("destroy: %s", time.Since(start).Round(time.Millisecond))
	if out, err := docker("ps", "-a", "--filter", "name="+prefix, "--format", "{{.Names}}"); err != nil || out != "" {
		t.Errorf("after destroy, docker ps lists %q (%v)", out, err)
	}
}

func openDB(t *testing.T, dsn string) *sql.DB {
	t.Helper()
	db, err := sql.Open("postgres", dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// postStatus posts a JSON body from a goroutine other than the test's: it reports a failed
// request as status 0 instead of failing the test.
func postStatus(url, body string, into any) int {
	resp, err := client.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		return 0
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusCreated {
		_ = json.NewDecoder(resp.Body).Decode(into)
	}
	return resp.StatusCode
}
