package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/lib/pq"
)

// fakeStore records what the handlers asked for and answers from memory.
type fakeStore struct {
	tweets    map[int64]Tweet
	nextID    int64
	created   []NewTweet
	listArgs  [2]int
	createErr error
	pingErr   error
}

func newFakeStore() *fakeStore { return &fakeStore{tweets: map[int64]Tweet{}, nextID: 1} }

func (f *fakeStore) List(_ context.Context, limit, offset int) ([]Tweet, error) {
	f.listArgs = [2]int{limit, offset}
	out := []Tweet{}
	for id := int64(1); id < f.nextID; id++ {
		if t, ok := f.tweets[id]; ok {
			out = append(out, t)
		}
	}
	return out, nil
}

func (f *fakeStore) Get(_ context.Context, id int64) (Tweet, error) {
	t, ok := f.tweets[id]
	if !ok {
		return Tweet{}, ErrNotFound
	}
	return t, nil
}

func (f *fakeStore) Create(_ context.Context, n NewTweet) (Tweet, error) {
	if f.createErr != nil {
		return Tweet{}, f.createErr
	}
	f.created = append(f.created, n)
	t := Tweet{ID: f.nextID, Location: &n.Location, Text: &n.Text, OwnerID: n.OwnerID, LikeCount: n.LikeCount}
	f.tweets[t.ID] = t
	f.nextID++
	return t, nil
}

func (f *fakeStore) Ping(context.Context) error { return f.pingErr }

func do(t *testing.T, h http.Handler, method, path, body string) (*httptest.ResponseRecorder, map[string]any) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(method, path, r))
	var m map[string]any
	if strings.HasPrefix(strings.TrimSpace(rec.Body.String()), "{") {
		if err := json.Unmarshal(rec.Body.Bytes(), &m); err != nil {
			t.Fatalf("%s %s: body is not JSON: %v\n%s", method, path, err, rec.Body)
		}
	}
	return rec, m
}

func testLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func TestCreateValidation(t *testing.T) {
	tests := []struct {
		name, body, wantErr string
	}{
		{"empty body", "", "request body is empty"},
		{"not JSON", "hello", "malformed JSON"},
		{"truncated", `{"location":"europe"`, "malformed JSON"},
		{"array", `[1,2]`, "must be a JSON object"},
		{"missing text", `{"location":"europe"}`, "text is required"},
		{"missing location", `{"text":"hi"}`, "location is required"},
		{"missing both", `{}`, "location is required; text is required"},
		{"null body", `null`, "location is required"},
		{"blank text", `{"location":"europe","text":"  "}`, "text must not be empty"},
		{"NUL in text", `{"location":"europe","text":"a\u0000b"}`, "text must not contain NUL"},
		{"text not a string", `{"location":"europe","text":42}`, `field "text" must be a string, got JSON number`},
		{"owner_id a string", `{"location":"europe","text":"hi","owner_id":"7"}`, `field "owner_id" must be an integer (int64), got JSON string`},
		{"owner_id fractional", `{"location":"europe","text":"hi","owner_id":1.5}`, `field "owner_id" must be an integer`},
		{"like_count overflows int32", `{"location":"europe","text":"hi","like_count":3000000000}`, `field "like_count" must be an integer (int32)`},
		{"negative likes", `{"location":"europe","text":"hi","like_count":-1}`, "like_count must not be negative"},
		{"unknown field", `{"location":"europe","text":"hi","retweets":1}`, `unknown field "retweets"`},
		{"id given", `{"id":5,"location":"europe","text":"hi"}`, `field "id" is not accepted`},
		{"two objects", `{"location":"europe","text":"hi"} {}`, "a single JSON object"},
		{"too large", `{"location":"europe","text":"` + strings.Repeat("x", maxBodyBytes) + `"}`, "request body too large"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			store := newFakeStore()
			rec, m := do(t, newHandler(store, testLogger()), "POST", "/tweets", tt.body)
			if rec.Code != http.StatusBadRequest {
				t.Fatalf("status %d, want 400; body %s", rec.Code, rec.Body)
			}
			if got, _ := m["error"].(string); !strings.Contains(got, tt.wantErr) {
				t.Errorf("error %q does not contain %q", got, tt.wantErr)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type %q", ct)
			}
			if len(store.created) != 0 {
				t.Errorf("store was called: %+v", store.created)
			}
		})
	}
}

func TestCreate(t *testing.T) {
	store := newFakeStore()
	h := newHandler(store, testLogger())
	rec, m := do(t, h, "POST", "/tweets", `{"location":"europe","text":"héllo <b>","owner_id":9007199254740993,"like_count":3}`)
	if rec.Code != http.StatusCreated {
		t.Fatalf("status %d: %s", rec.Code, rec.Body)
	}
	if loc := rec.Header().Get("Location"); loc != "/tweets/1" {
		t.Errorf("Location %q", loc)
	}
	if m["text"] != "héllo <b>" || m["location"] != "europe" || m["id"] != float64(1) {
		t.Errorf("body %v", m)
	}
	// Large int64 values survive (no float64 round trip on the way in).
	if got := *store.created[0].OwnerID; got != 9007199254740993 {
		t.Errorf("owner_id %d", got)
	}
	// Omitted optional fields stay nil so the column DEFAULTs apply.
	do(t, h, "POST", "/tweets", `{"location":"usa","text":"hi"}`)
	if n := store.created[1]; n.OwnerID != nil || n.LikeCount != nil {
		t.Errorf("omitted fields: %+v", n)
	}
}

func TestCreateDatabaseErrors(t *testing.T) {
	tests := []struct {
		err  error
		code int
		want string
	}{
		{&pq.Error{Code: "23514", Message: `new row for relation "europe_tweets" violates check constraint "europe_only"`}, 400, "violates check constraint"},
		{&pq.Error{Code: "23502", Message: `null value in column "owner_id"`}, 400, "null value"},
		{&pq.Error{Code: "23505", Message: "duplicate key"}, 409, "conflict"},
		{&pq.Error{Code: "42P01", Message: "relation does not exist"}, 500, "internal error"},
		{errors.New("connection refused"), 500, "internal error"},
		{context.DeadlineExceeded, 503, "timed out"},
	}
	for _, tt := range tests {
		store := newFakeStore()
		store.createErr = tt.err
		rec, m := do(t, newHandler(store, testLogger()), "POST", "/tweets", `{"location":"usa","text":"hi"}`)
		if rec.Code != tt.code || !strings.Contains(errorText(m), tt.want) {
			t.Errorf("%v: got %d %v, want %d %q", tt.err, rec.Code, m, tt.code, tt.want)
		}
	}
}

func TestListParams(t *testing.T) {
	store := newFakeStore()
	h := newHandler(store, testLogger())
	for _, tt := range []struct {
		query       string
		code        int
		limit, offs int
	}{
		{"", 200, 50, 0},
		{"?limit=1000&offset=7", 200, 1000, 7},
		{"?limit=1", 200, 1, 0},
		{"?limit=0", 400, 0, 0},
		{"?limit=1001", 400, 0, 0},
		{"?limit=abc", 400, 0, 0},
		{"?offset=-1", 400, 0, 0},
		{"?offset=1.5", 400, 0, 0},
	} {
		store.listArgs = [2]int{}
		rec, _ := do(t, h, "GET", "/tweets"+tt.query, "")
		if rec.Code != tt.code {
			t.Errorf("%q: status %d, want %d (%s)", tt.query, rec.Code, tt.code, rec.Body)
			continue
		}
		if tt.code == 200 {
			if store.listArgs != [2]int{tt.limit, tt.offs} {
				t.Errorf("%q: store got limit,offset %v", tt.query, store.listArgs)
			}
			if body := strings.TrimSpace(rec.Body.String()); body != "[]" {
				t.Errorf("%q: empty list encodes as %s, want []", tt.query, body)
			}
		}
	}
}

func TestGet(t *testing.T) {
	store := newFakeStore()
	h := newHandler(store, testLogger())
	do(t, h, "POST", "/tweets", `{"location":"europe","text":"hi"}`)
	if rec, m := do(t, h, "GET", "/tweets/1", ""); rec.Code != 200 || m["text"] != "hi" || m["owner_id"] != nil {
		t.Errorf("GET /tweets/1: %d %v", rec.Code, m)
	}
	if rec, m := do(t, h, "GET", "/tweets/2", ""); rec.Code != 404 || !strings.Contains(errorText(m), "not found") {
		t.Errorf("GET /tweets/2: %d %v", rec.Code, m)
	}
	if rec, _ := do(t, h, "GET", "/tweets/x1", ""); rec.Code != 400 {
		t.Errorf("GET /tweets/x1: %d", rec.Code)
	}
	if rec, _ := do(t, h, "DELETE", "/tweets/1", ""); rec.Code != http.StatusMethodNotAllowed {
		t.Errorf("DELETE /tweets/1: %d", rec.Code)
	}
	if rec, _ := do(t, h, "GET", "/nope", ""); rec.Code != 404 {
		t.Errorf("GET /nope: %d", rec.Code)
	}
}

func TestHealthz(t *testing.T) {
	store := newFakeStore()
	h := newHandler(store, testLogger())
	if rec, m := do(t, h, "GET", "/healthz", ""); rec.Code != 200 || m["status"] != "ok" {
		t.Errorf("healthy: %d %v", rec.Code, m)
	}
	store.pingErr = errors.New("dial tcp: connection refused")
	if rec, m := do(t, h, "GET", "/healthz", ""); rec.Code != 503 || m["status"] != "unavailable" {
		t.Errorf("unhealthy: %d %v", rec.Code, m)
	}
}

func TestLoadConfig(t *testing.T) {
	env := map[string]string{"POSTGRES_DATABASE_URL": "postgres://u:p@db/eu?sslmode=disable", "TWEETS_TABLE": "eutweets.europe_tweets"}
	c, err := loadConfig(func(k string) string { return env[k] })
	if err != nil || c.table != `"eutweets"."europe_tweets"` || c.listenAddr != ":8000" {
		t.Fatalf("%+v %v", c, err)
	}
	env["TWEETS_TABLE"] = "tweets; DROP TABLE tweets"
	if _, err := loadConfig(func(k string) string { return env[k] }); err == nil {
		t.Error("bad TWEETS_TABLE accepted")
	}
	delete(env, "POSTGRES_DATABASE_URL")
	if _, err := loadConfig(func(k string) string { return env[k] }); err == nil {
		t.Error("missing POSTGRES_DATABASE_URL accepted")
	}
}

func TestHealthURL(t *testing.T) {
	for addr, want := range map[string]string{
		":8000":          "http://127.0.0.1:8000/healthz",
		"0.0.0.0:8001":   "http://127.0.0.1:8001/healthz",
		"[::]:8002":      "http://127.0.0.1:8002/healthz",
		"10.1.2.3:9000":  "http://10.1.2.3:9000/healthz",
		"localhost:9001": "http://localhost:9001/healthz",
		"8000":           "",
		":0":             "",
	} {
		got, err := healthURL(addr)
		if (err != nil) != (want == "") || got != want {
			t.Errorf("healthURL(%q) = %q, %v; want %q", addr, got, err, want)
		}
	}
}

// errorText is the "error" field of a decoded error response ("" when there is none).
func errorText(m map[string]any) string {
	s, _ := m["error"].(string)
	return s
}
