// Command tweets-api serves one tweets shard over HTTP: it reads and writes the shard's table
// directly (not through the base database's partitioned tweets table).
//
//	POSTGRES_DATABASE_URL  lib/pq connection URL or key=value string (required)
//	TWEETS_TABLE           table, or schema.table (required; plain identifiers, case kept)
//	LISTEN_ADDR            address to listen on (default :8000)
//
// `tweets-api healthcheck` asks the running server's /healthz (on 127.0.0.1 and LISTEN_ADDR's
// port) and exits 0 when it answers 200, 1 otherwise: the Docker HEALTHCHECK of a FROM
// scratch image, which has no curl or shell.
package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	_ "github.com/lib/pq"
)

const defaultListenAddr = ":8000"

func main() {
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	if len(os.Args) > 1 {
		switch os.Args[1] {
		case "healthcheck":
			os.Exit(healthcheck(os.Stderr))
		case "serve":
		default:
			fmt.Fprintf(os.Stderr, "usage: %s [serve|healthcheck]\n", os.Args[0])
			os.Exit(2)
		}
	}
	if err := run(log); err != nil {
		log.Error("tweets-api stopped", "err", err)
		os.Exit(1)
	}
}

type config struct {
	databaseURL string
	table       string // quoted
	listenAddr  string
}

func loadConfig(getenv func(string) string) (config, error) {
	c := config{databaseURL: getenv("POSTGRES_DATABASE_URL"), listenAddr: getenv("LISTEN_ADDR")}
	if c.databaseURL == "" {
		return c, errors.New("POSTGRES_DATABASE_URL is not set")
	}
	if c.listenAddr == "" {
		c.listenAddr = defaultListenAddr
	}
	t := getenv("TWEETS_TABLE")
	if t == "" {
		return c, errors.New("TWEETS_TABLE is not set")
	}
	var err error
	if c.table, err = quoteTableName(t); err != nil {
		return c, fmt.Errorf("TWEETS_TABLE: %w", err)
	}
	return c, nil
}

func run(log *slog.Logger) error {
	cfg, err := loadConfig(os.Getenv)
	if err != nil {
		return err
	}
	// sql.Open does not connect: the service starts while the database is still coming up,
	// and /healthz answers 503 until it is reachable.
	db, err := sql.Open("postgres", cfg.databaseURL)
	if err != nil {
		return fmt.Errorf("POSTGRES_DATABASE_URL: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(10)
	db.SetMaxIdleConns(10)
	db.SetConnMaxIdleTime(5 * time.Minute)

	srv := &http.Server{
		Addr:              cfg.listenAddr,
		Handler:           newHandler(newPGStore(db, cfg.table), log),
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       15 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       60 * time.Second,
	}
	ln, err := net.Listen("tcp", cfg.listenAddr)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	log.Info("tweets-api listening", "addr", ln.Addr().String(), "table", cfg.table)

	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	stop() // A second signal kills at once.
	log.Info("shutting down: finishing requests in flight")
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("shutdown: %w", err)
	}
	log.Info("stopped")
	return nil
}

// healthURL is the /healthz URL of a server listening on listenAddr: its host when that is a
// specific address, else 127.0.0.1.
func healthURL(listenAddr string) (string, error) {
	host, port, err := net.SplitHostPort(listenAddr)
	if err != nil {
		return "", fmt.Errorf("LISTEN_ADDR %q: %w", listenAddr, err)
	}
	if port == "" || port == "0" {
		return "", fmt.Errorf("LISTEN_ADDR %q has no fixed port", listenAddr)
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}

func healthcheck(stderr *os.File) int {
	addr := os.Getenv("LISTEN_ADDR")
	if addr == "" {
		addr = defaultListenAddr
	}
	url, err := healthURL(addr)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	client := &http.Client{Timeout: 3 * time.Second}
	resp, err := client.Get(url)
	if err != nil {
		fmt.Fprintln(stderr, "healthcheck:", err)
		return 1
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		fmt.Fprintf(stderr, "healthcheck: %s answered %s\n", url, resp.Status)
		return 1
	}
	return 0
}
