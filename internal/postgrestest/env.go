package postgrestest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sync"
	"syscall"
	"testing"
	"time"
)

// Env is the shared topology: one base and two shard clusters.
type Env struct{ Base, Shard1, Shard2 *Cluster }

// Clusters returns the clusters of e in the order Base, Shard1, Shard2.
func (e *Env) Clusters() []*Cluster { return []*Cluster{e.Base, e.Shard1, e.Shard2} }

// SharedStartTimeout bounds how long Shared waits for the three clusters.
const SharedStartTimeout = 3 * time.Minute

var (
	sharedMu  sync.Mutex
	sharedEnv *Env
	sharedErr error

	runMainMu     sync.Mutex
	runMainActive bool
)

// RunMain is used from TestMain: func TestMain(m *testing.M){ os.Exit(postgrestest.RunMain(m)) }.
// It runs m.Run() and afterwards destroys any clusters started via Shared
// (and any other cluster of this process that is still alive), even when
// tests fail. Clusters are started lazily (only when a test calls Shared), so
// `go test` without TF_ACC doesn't pay for them. When TF_ACC is set it first
// calls SetupAcceptanceEnv. On SIGINT/SIGTERM it destroys the clusters and
// exits (best effort).
func RunMain(m *testing.M) int {
	if os.Getenv("TF_ACC") != "" {
		if err := SetupAcceptanceEnv(); err != nil {
			fmt.Fprintf(os.Stderr, "postgrestest: acceptance test setup failed: %v\n", err)
			return 1
		}
	}

	runMainMu.Lock()
	runMainActive = true
	runMainMu.Unlock()

	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	go func() {
		select {
		case sig := <-sigs:
			fmt.Fprintf(os.Stderr, "postgrestest: received %v, destroying test clusters\n", sig)
			if err := destroyAll(); err != nil {
				fmt.Fprintf(os.Stderr, "postgrestest: %v\n", err)
			}
			code := 130
			if sig == syscall.SIGTERM {
				code = 143
			}
			os.Exit(code)
		case <-done:
		}
	}()

	code := m.Run()

	signal.Stop(sigs)
	close(done)
	runMainMu.Lock()
	runMainActive = false
	runMainMu.Unlock()

	if err := destroyAll(); err != nil {
		fmt.Fprintf(os.Stderr, "postgrestest: destroying clusters: %v\n", err)
		if code == 0 {
			code = 1
		}
	}
	sharedMu.Lock()
	sharedEnv, sharedErr = nil, nil
	sharedMu.Unlock()
	if mirrorDir != "" {
		os.RemoveAll(mirrorDir) // the provider build of ProviderMirror
	}
	return code
}

// Shared returns the package-wide Env, starting the three clusters on first
// use (in parallel), reused by all tests in the package. On failure it calls
// t.Fatal; a failed start is not retried by later calls. The package's
// TestMain must use RunMain, which destroys the clusters at the end;
// otherwise Shared fails the test instead of leaking servers.
func Shared(t testing.TB) *Env {
	t.Helper()
	Needs(t, "PostgreSQL clusters")
	env, err := sharedStart()
	if err != nil {
		t.Fatal(err)
	}
	return env
}

func sharedStart() (*Env, error) {
	runMainMu.Lock()
	active := runMainActive
	runMainMu.Unlock()
	if !active {
		return nil, errors.New("postgrestest.Shared requires TestMain to call postgrestest.RunMain: " +
			"func TestMain(m *testing.M) { os.Exit(postgrestest.RunMain(m)) }")
	}

	sharedMu.Lock()
	defer sharedMu.Unlock()
	if sharedEnv != nil || sharedErr != nil {
		return sharedEnv, sharedErr
	}
	ctx, cancel := context.WithTimeout(context.Background(), SharedStartTimeout)
	defer cancel()

	names := []string{"base", "shard1", "shard2"}
	clusters := make([]*Cluster, len(names))
	errs := make([]error, len(names))
	var wg sync.WaitGroup
	for i, name := range names {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clusters[i], errs[i] = StartCluster(ctx, name)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		for _, c := range clusters {
			if c != nil {
				_ = c.Destroy()
			}
		}
		sharedErr = fmt.Errorf("postgrestest: starting shared clusters: %w", err)
		return nil, sharedErr
	}
	sharedEnv = &Env{Base: clusters[0], Shard1: clusters[1], Shard2: clusters[2]}
	return sharedEnv, nil
}

// StartTestCluster starts a private cluster for one test and destroys it in
// t.Cleanup. It calls t.Fatal on failure.
func StartTestCluster(t testing.TB, name string) *Cluster {
	t.Helper()
	Needs(t, "a PostgreSQL cluster")
	ctx, cancel := context.WithTimeout(t.Context(), SharedStartTimeout)
	defer cancel()
	c, err := StartCluster(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := c.Destroy(); err != nil {
			t.Errorf("destroy cluster %q: %v", name, err)
		}
	})
	return c
}

// Unit says the tests run as `make unit` runs them (PGSHARD_UNIT set): with only Go, no
// PostgreSQL server, Terraform CLI or Docker engine.
func Unit() bool { return os.Getenv("PGSHARD_UNIT") != "" }

// errUnit is what starting what fails with under make unit: a test that needs it lacks its
// Needs mark.
func errUnit(what string) error {
	return fmt.Errorf("make unit (PGSHARD_UNIT) runs no test that needs %s: mark the test with postgrestest.Needs", what)
}

// Needs marks a test that needs what (a PostgreSQL cluster, the Terraform CLI, the Docker
// engine): under `make unit` it is skipped, saying so; `make test`, which CI runs and which
// fails on any skip, runs it.
func Needs(t testing.TB, what string) {
	t.Helper()
	if Unit() {
		t.Skipf("needs %s: make test runs it", what)
	}
}
