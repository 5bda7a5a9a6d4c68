package postgrestest

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
)

// A backend runs the PostgreSQL servers of clusters: the host's binaries (hostBackend) or
// containers of a PostgreSQL image (dockerBackend). Either way a cluster's directory, data
// directory and log are at the same host paths and its server listens on 127.0.0.1:c.Port,
// so the rest of the harness and the tests need not know which runs them.
type backend interface {
	fmt.Stringer
	// initdb runs initdb with args as the cluster's OS user and returns its output.
	initdb(ctx context.Context, c *Cluster, args ...string) (string, error)
	// start starts the server on c.Port with its output appended to c.LogFile and returns
	// once it is up, or a *startError. The caller then checks that connections succeed.
	start(ctx context.Context, c *Cluster) error
	// stop shuts the server down in pg_ctl's mode ("fast" or "immediate"), keeping the data
	// directory; a stopped server is no error.
	stop(c *Cluster, mode string) error
	running(c *Cluster) bool
	// discard stops the server for good (Destroy removes the data next) and frees what it ran in.
	discard(c *Cluster) error
	// serverPID is the postmaster's pid on the host.
	serverPID(c *Cluster) (int, error)
}

// backendEnv forces the backend: "host" or "docker".
const backendEnv = "PGSHARD_PG_BACKEND"

var (
	backendOnce sync.Once
	backendVal  backend
	backendErr  error
)

// selectBackend picks the backend once per process: PGSHARD_PG_BACKEND when set, else the
// host's binaries when BinDir finds them, else Docker (saying so on stderr).
func selectBackend() (backend, error) {
	backendOnce.Do(func() { backendVal, backendErr = pickBackend(os.Getenv(backendEnv)) })
	return backendVal, backendErr
}

func pickBackend(forced string) (backend, error) {
	switch forced {
	case "host":
		binDir, err := BinDir()
		if err != nil {
			return nil, fmt.Errorf("%w (%s=host)", err, backendEnv)
		}
		return &hostBackend{binDir: binDir}, nil
	case "docker":
		return newDockerBackend(backendEnv + "=docker")
	case "":
		binDir, err := BinDir()
		if err == nil {
			return &hostBackend{binDir: binDir}, nil
		}
		why := strings.TrimPrefix(err.Error(), "postgrestest: ")
		d, derr := newDockerBackend(why)
		if derr != nil {
			return nil, derr
		}
		fmt.Fprintf(os.Stderr, "postgrestest: %s: the test clusters run in Docker (image %s)\n", why, d.image)
		return d, nil
	}
	return nil, fmt.Errorf("postgrestest: %s=%q: want host or docker (or unset: host binaries when found, else Docker)", backendEnv, forced)
}
