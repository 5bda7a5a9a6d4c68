package main

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// testDB returns a database for the store tests: TWEETS_API_TEST_DATABASE_URL when set, else a
// throwaway cluster started from the PostgreSQL binaries in /usr/lib/postgresql/*/bin (as user
// pgshardtest, or TWEETS_API_TEST_OS_USER, when the tests run as root, since postgres refuses
// root). It skips when neither is available.
func testDB(t *testing.T) *sql.DB {
	t.Helper()
	url := os.Getenv("TWEETS_API_TEST_DATABASE_URL")
	if url == "" {
		url = startCluster(t)
	}
	db, err := sql.Open("postgres", url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := db.PingContext(ctx); err != nil {
		t.Fatalf("connect: %v", err)
	}
	return db
}

func startCluster(t *testing.T) string {
	t.Helper()
	bins, _ := filepath.Glob("/usr/lib/postgresql/*/bin/initdb")
	if len(bins) == 0 {
		t.Skip("no PostgreSQL binaries in /usr/lib/postgresql/*/bin and TWEETS_API_TEST_DATABASE_URL is not set")
	}
	bin := filepath.Dir(bins[len(bins)-1])
	var cred *syscall.Credential
	//nolint:usetesting // t.TempDir's parent is private to root; the PostgreSQL user must reach this directory
	dir, err := os.MkdirTemp("", "tweets-api-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if os.Geteuid() == 0 {
		name := os.Getenv("TWEETS_API_TEST_OS_USER")
		if name == "" {
			name = "pgshardtest"
		}
		u, err := user.Lookup(name)
		if err != nil {
			t.Skipf("running as root and there is no user %q to run PostgreSQL as (set TWEETS_API_TEST_OS_USER)", name)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			t.Fatal(err)
		}
	}
	pg := func(name string, args ...string) error {
		cmd := exec.Command(filepath.Join(bin, name), args...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%s: %v\n%s", name, err, out)
		}
		return nil
	}
	data := filepath.Join(dir, "data")
	if err := pg("initdb", "-D", data, "-U", "tweets", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		t.Fatal(err)
	}
	// Unix socket in the private directory only: no port to collide with.
	opts := fmt.Sprintf("-c listen_addresses='' -k %s -c fsync=off", dir)
	if err := pg("pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "start"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := pg("pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"); err != nil {
			t.Log(err)
		}
	})
	return fmt.Sprintf("host=%s user=tweets dbname=postgres sslmode=disable", dir)
}

// TestStoreWithPostgres runs the service against a real table laid out like a shard's: its own
// schema, a CHECK on location, and an id DEFAULT from a sequence with the shard's offset and
// the shared stride.
func TestStoreWithPostgres(t *testing.T) {
	db := testDB(t)
	for _, q := range []string{
		`DROP SCHEMA IF EXISTS eutweets CASCADE`,
		`CREATE SCHEMA eutweets`,
		`CREATE SEQUENCE eutweets.europe_tweets_id_seq START 2 INCREMENT 10`,
		`CREATE TABLE eutweets.europe_tweets (
			id bigint NOT NULL DEFAULT nextval('eutweets.europe_tweets_id_seq') PRIMARY KEY,
			location text NOT NULL CHECK (location = 'europe'),
			text text,
			owner_id bigint,
			like_count integer DEFAULT 0)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	table, err := quoteTableName("eutweets.europe_tweets")
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(newHandler(newPGStore(db, table), testLogger()))
	defer srv.Close()

	call := func(method, path, body string) (int, []byte) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(body))
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var b bytes.Buffer
		if _, err := b.ReadFrom(resp.Body); err != nil {
			t.Fatal(err)
		}
		return resp.StatusCode, b.Bytes()
	}

	code, body := call("POST", "/tweets", `{"location":"europe","text":"first","owner_id":7,"like_count":1}`)
	var first Tweet
	if code != 201 || json.Unmarshal(body, &first) != nil {
		t.Fatalf("POST: %d %s", code, body)
	}
	if first.ID != 2 || *first.Text != "first" || *first.OwnerID != 7 || *first.LikeCount != 1 {
		t.Errorf("POST returned %s", body)
	}
	// Omitted fields take the column defaults: like_count 0, owner_id NULL.
	code, body = call("POST", "/tweets", `{"location":"europe","text":"second"}`)
	var second Tweet
	if code != 201 || json.Unmarshal(body, &second) != nil || second.ID != 12 || second.OwnerID != nil || *second.LikeCount != 0 {
		t.Errorf("POST without optional fields: %d %s", code, body)
	}
	// A row written by someone else (the base database, through postgres_fdw) draws from the
	// same sequence, so ids never collide.
	if _, err := db.Exec(`INSERT INTO eutweets.europe_tweets (location, text, like_count) VALUES ('europe', NULL, NULL)`); err != nil {
		t.Fatal(err)
	}
	code, body = call("GET", "/tweets?limit=2&offset=1", "")
	var page []Tweet
	if code != 200 || json.Unmarshal(body, &page) != nil || len(page) != 2 || page[0].ID != 12 || page[1].ID != 22 || page[1].Text != nil {
		t.Errorf("GET /tweets?limit=2&offset=1: %d %s", code, body)
	}
	if code, body = call("GET", "/tweets/2", ""); code != 200 || !strings.Contains(string(body), `"text":"first"`) {
		t.Errorf("GET /tweets/2: %d %s", code, body)
	}
	if code, body = call("GET", "/tweets/3", ""); code != 404 {
		t.Errorf("GET /tweets/3: %d %s", code, body)
	}
	// The shard's CHECK rejects another region's row: a client error, not a 500.
	if code, body = call("POST", "/tweets", `{"location":"usa","text":"wrong shard"}`); code != 400 || !strings.Contains(string(body), "check constraint") {
		t.Errorf("POST usa row: %d %s", code, body)
	}
	if code, body = call("GET", "/healthz", ""); code != 200 {
		t.Errorf("GET /healthz: %d %s", code, body)
	}
}
