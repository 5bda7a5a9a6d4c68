package postgres

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

func clusterConfig(c *postgrestest.Cluster, timeout time.Duration) ConnConfig {
	return ConnConfig{Host: c.Host, Port: c.Port, Database: "postgres", User: c.User, Password: c.Password,
		SSLMode: "disable", ConnectTimeout: timeout, MaxConnections: 2}
}

// A server that is down when the first query runs is retried until it comes up.
func TestPoolRetriesUntilServerStarts(t *testing.T) {
	shard := postgrestest.Shared(t).Shard2
	if err := shard.StopServer(); err != nil {
		t.Fatal(err)
	}
	started := make(chan error, 1)
	go func() {
		time.Sleep(1500 * time.Millisecond)
		started <- shard.StartServer(context.Background())
	}()
	pools := NewPools()
	defer pools.Close()
	db, err := pools.DB(clusterConfig(shard, 60*time.Second))
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	var one int
	if err := db.QueryRowContext(context.Background(), "SELECT 1").Scan(&one); err != nil || one != 1 {
		t.Fatalf("query after restart: %v", err)
	}
	if err := <-started; err != nil {
		t.Fatal(err)
	}
	if waited := time.Since(begin); waited < time.Second {
		t.Fatalf("query returned after %s, before the server was started", waited)
	}
}

// A server that never comes up fails after connect_timeout with a message naming the
// target but never the password.
func TestPoolConnectTimeout(t *testing.T) {
	shard := postgrestest.Shared(t).Shard2
	cfg := clusterConfig(shard, 2*time.Second)
	cfg.Port = 1 // nothing listens there
	pools := NewPools()
	defer pools.Close()
	db, err := pools.DB(cfg)
	if err != nil {
		t.Fatal(err)
	}
	begin := time.Now()
	err = db.PingContext(context.Background())
	elapsed := time.Since(begin)
	var ce *ConnectError
	if !errors.As(err, &ce) {
		t.Fatalf("want a ConnectError, got %v", err)
	}
	msg := err.Error()
	for _, want := range []string{"host=127.0.0.1", "port=1", "database=postgres", "user=postgres"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not name %s", msg, want)
		}
	}
	if strings.Contains(msg, shard.Password) {
		t.Fatalf("error leaks the password: %s", msg)
	}
	if elapsed < 2*time.Second || elapsed > 10*time.Second {
		t.Fatalf("gave up after %s, want about the 2s connect_timeout", elapsed)
	}
}

// Every query of one target shares one pool, and it never opens more than MaxConnections.
func TestPoolSharedAndBounded(t *testing.T) {
	base := postgrestest.Shared(t).Base
	pools := NewPools()
	defer pools.Close()
	cfg := clusterConfig(base, 10*time.Second)
	a, _ := pools.DB(cfg)
	b, _ := pools.DB(cfg)
	if a != b {
		t.Fatal("same target should share one pool")
	}
	ctx := context.Background()
	errs := make(chan error, 20)
	for i := 0; i < 20; i++ {
		go func() {
			_, err := a.ExecContext(ctx, "SELECT pg_sleep(0.05)")
			errs <- err
		}()
	}
	for i := 0; i < 20; i++ {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
	if open := a.Stats().MaxOpenConnections; open != 2 {
		t.Fatalf("MaxOpenConnections = %d", open)
	}
	if opened := a.Stats().OpenConnections; opened > 2 || opened < 1 {
		t.Fatalf("pool holds %d connections, want 1..2 kept idle", opened)
	}
}
