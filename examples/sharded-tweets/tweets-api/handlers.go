package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/lib/pq"
)

const (
	defaultLimit = 50
	maxLimit     = 1000
	// maxBodyBytes bounds a POST /tweets body.
	maxBodyBytes = 64 << 10
	// queryTimeout bounds each database call of a request.
	queryTimeout = 10 * time.Second
	pingTimeout  = 2 * time.Second
)

type api struct {
	store Store
	log   *slog.Logger
}

// newHandler returns the service's routes:
//
//	GET  /tweets?limit=&offset=   rows ordered by id (limit 1..1000, default 50)
//	GET  /tweets/{id}             one row, 404 when missing
//	POST /tweets                  insert; 201 with the row as stored
//	GET  /healthz                 200 when the database answers, else 503
func newHandler(store Store, log *slog.Logger) http.Handler {
	a := &api{store: store, log: log}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /tweets", a.list)
	mux.HandleFunc("GET /tweets/{id}", a.get)
	mux.HandleFunc("POST /tweets", a.create)
	mux.HandleFunc("GET /healthz", a.healthz)
	// Other paths get ServeMux's plain 404, other methods its 405 with an Allow header.
	return a.logRequests(mux)
}

// tweetInput is the POST /tweets body. Pointers tell a missing field from a zero value.
type tweetInput struct {
	Location  *string `json:"location"`
	Text      *string `json:"text"`
	OwnerID   *int64  `json:"owner_id"`
	LikeCount *int32  `json:"like_count"`
}

func (a *api) list(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	limit, err := intParam(q.Get("limit"), defaultLimit, 1, maxLimit)
	if err != nil {
		writeError(w, http.StatusBadRequest, "limit: %v", err)
		return
	}
	offset, err := intParam(q.Get("offset"), 0, 0, 1<<62)
	if err != nil {
		writeError(w, http.StatusBadRequest, "offset: %v", err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	tweets, err := a.store.List(ctx, limit, offset)
	if err != nil {
		a.dbError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, tweets)
}

func (a *api) get(w http.ResponseWriter, r *http.Request) {
	id, err := strconv.ParseInt(r.PathValue("id"), 10, 64)
	if err != nil {
		writeError(w, http.StatusBadRequest, "id %q is not an integer", r.PathValue("id"))
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	t, err := a.store.Get(ctx, id)
	if errors.Is(err, ErrNotFound) {
		writeError(w, http.StatusNotFound, "tweet %d not found", id)
		return
	}
	if err != nil {
		a.dbError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, t)
}

func (a *api) create(w http.ResponseWriter, r *http.Request) {
	n, err := decodeTweet(w, r)
	if err != nil {
		writeError(w, http.StatusBadRequest, "%v", err)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), queryTimeout)
	defer cancel()
	t, err := a.store.Create(ctx, n)
	if err != nil {
		a.dbError(w, r, err)
		return
	}
	w.Header().Set("Location", fmt.Sprintf("/tweets/%d", t.ID))
	writeJSON(w, http.StatusCreated, t)
}

func (a *api) healthz(w http.ResponseWriter, r *http.Request) {
	ctx, cancel := context.WithTimeout(r.Context(), pingTimeout)
	defer cancel()
	if err := a.store.Ping(ctx); err != nil {
		a.log.Warn("health check: database unreachable", "err", err)
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "error": "database unreachable"})
		return
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
}

// decodeTweet reads and validates a POST /tweets body. Its errors are meant for the client.
func decodeTweet(w http.ResponseWriter, r *http.Request) (NewTweet, error) {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxBodyBytes))
	dec.DisallowUnknownFields()
	var in tweetInput
	if err := dec.Decode(&in); err != nil {
		return NewTweet{}, decodeError(err)
	}
	// Exactly one JSON value: anything after it but white space is an error.
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return NewTweet{}, decodeError(err)
		}
		return NewTweet{}, errors.New("request body must contain a single JSON object")
	}
	var problems []string
	for _, f := range []struct {
		name string
		v    *string
	}{{"location", in.Location}, {"text", in.Text}} {
		switch {
		case f.v == nil:
			problems = append(problems, f.name+" is required")
		case strings.TrimSpace(*f.v) == "":
			problems = append(problems, f.name+" must not be empty")
		case strings.ContainsRune(*f.v, 0):
			problems = append(problems, f.name+" must not contain NUL characters")
		}
	}
	if in.LikeCount != nil && *in.LikeCount < 0 {
		problems = append(problems, "like_count must not be negative")
	}
	if len(problems) > 0 {
		return NewTweet{}, errors.New(strings.Join(problems, "; "))
	}
	return NewTweet{Location: *in.Location, Text: *in.Text, OwnerID: in.OwnerID, LikeCount: in.LikeCount}, nil
}

// decodeError turns an encoding/json error into a message a client can act on.
func decodeError(err error) error {
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		return fmt.Errorf("request body too large: at most %d bytes", tooLarge.Limit)
	case errors.Is(err, io.EOF):
		return errors.New("request body is empty: want a JSON object with location, text, owner_id, like_count")
	case errors.As(err, &syntax):
		return fmt.Errorf("malformed JSON at byte %d: %v", syntax.Offset, err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return errors.New("malformed JSON: unexpected end of body")
	case errors.As(err, &typ):
		if typ.Field == "" {
			return fmt.Errorf("request body must be a JSON object, not a JSON %s", typ.Value)
		}
		want := map[string]string{
			"location": "a string", "text": "a string",
			"owner_id": "an integer (int64)", "like_count": "an integer (int32)",
		}[typ.Field]
		if want == "" {
			want = "of type " + typ.Type.String()
		}
		return fmt.Errorf("field %q must be %s, got JSON %s", typ.Field, want, typ.Value)
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		field := strings.TrimPrefix(err.Error(), "json: unknown field ")
		if field == `"id"` {
			return errors.New(`field "id" is not accepted: the database assigns ids`)
		}
		return fmt.Errorf("unknown field %s (allowed: location, text, owner_id, like_count)", field)
	default:
		return fmt.Errorf("invalid request body: %v", err)
	}
}

// dbError answers for a failed database call: rows the table rejects (a CHECK constraint that
// pins a shard's location, NOT NULL, out-of-range values) are the client's fault (400); an id
// conflict is 409; everything else is logged and answered with 500 (503 when the database is
// unreachable).
func (a *api) dbError(w http.ResponseWriter, r *http.Request, err error) {
	var pqErr *pq.Error
	if errors.As(err, &pqErr) {
		code := pqErr.SQLState()
		switch {
		case code == "23505":
			writeError(w, http.StatusConflict, "conflict: %s", pqErr.Message)
			return
		case strings.HasPrefix(code, "23"), strings.HasPrefix(code, "22"):
			msg := pqErr.Message
			if pqErr.Detail != "" {
				msg += " (" + pqErr.Detail + ")"
			}
			writeError(w, http.StatusBadRequest, "rejected by the database: %s", msg)
			return
		}
	}
	if errors.Is(err, context.DeadlineExceeded) {
		a.log.Error("database call timed out", "method", r.Method, "path", r.URL.Path, "err", err)
		writeError(w, http.StatusServiceUnavailable, "database timed out")
		return
	}
	a.log.Error("database call failed", "method", r.Method, "path", r.URL.Path, "err", err)
	writeError(w, http.StatusInternalServerError, "internal error")
}

// intParam parses an optional integer query parameter within [lo, hi].
func intParam(s string, def, lo, hi int) (int, error) {
	if s == "" {
		return def, nil
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0, fmt.Errorf("%q is not an integer", s)
	}
	if n < lo || n > hi {
		return 0, fmt.Errorf("%d is out of range [%d, %d]", n, lo, hi)
	}
	return n, nil
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(v)
}

func writeError(w http.ResponseWriter, status int, format string, args ...any) {
	writeJSON(w, status, map[string]string{"error": fmt.Sprintf(format, args...)})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (a *api) logRequests(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		next.ServeHTTP(rec, r)
		if r.URL.Path == "/healthz" && rec.status == http.StatusOK {
			return // Docker polls it every few seconds.
		}
		a.log.Info("request", "method", r.Method, "path", r.URL.Path, "status", rec.status, "duration", time.Since(start).Round(time.Microsecond))
	})
}
