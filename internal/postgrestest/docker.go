package postgrestest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

const (
	// DefaultImage is the PostgreSQL image the Docker backend uses unless PGSHARD_PG_IMAGE or
	// PGSHARD_E2E_POSTGRES_IMAGE names another: what scripts/build-postgres-image.sh builds.
	DefaultImage = "pgshard/postgres:17-local"

	// ContainerPrefix starts the name of every container of the Docker backend, followed by
	// the test process's pid and the cluster directory's name.
	ContainerPrefix = "pgshard-test-"

	// OwnerLabel is the container label that records the test process owning a container
	// (its pid and start time, like a cluster directory's owner file), so that a later run
	// removes the containers of a killed one and leaves those of a live one alone.
	OwnerLabel = "pgshard.test.owner"

	imageEnv       = "PGSHARD_PG_IMAGE"
	e2eImageEnv    = "PGSHARD_E2E_POSTGRES_IMAGE"
	dockerTimeout  = 2 * time.Minute
	dockerCreateAt = "2006-01-02 15:04:05 -0700 MST" // docker ps's {{.CreatedAt}}
)

// dockerBackend runs each cluster's server in a container of image, started with the
// postgres binary itself (not the image's entrypoint), so any image with /bin/sh, initdb and
// postgres on PATH, postgres_fdw and dblink will do; pgshard/postgres:17-local is the one
// tested.
//
// The container uses the host's network, so the server's 127.0.0.1:c.Port is the same
// address inside every container and outside: a foreign server on one cluster reaches another
// exactly as a test does. It runs as the cluster's OS user (a passwd file mounted over
// /etc/passwd names that uid, which initdb needs) and bind-mounts the clusters' root
// directory at the same path, so the data directory, the log, the password file and the TLS
// files of every cluster have one path for the tests and for all servers.
type dockerBackend struct{ image string }

func (d *dockerBackend) String() string { return "Docker image " + d.image }

// newDockerBackend checks that the Docker engine answers and has the image; why says why
// the host's binaries are not used, for the error.
func newDockerBackend(why string) (*dockerBackend, error) {
	image := os.Getenv(imageEnv)
	if image == "" {
		image = os.Getenv(e2eImageEnv)
	}
	if image == "" {
		image = DefaultImage
	}
	if _, err := exec.LookPath("docker"); err != nil {
		return nil, fmt.Errorf("postgrestest: %s, and without them the test clusters run in Docker, but there is no docker command (%v): install the PostgreSQL server binaries (postgresql-15) or Docker", why, err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
	defer cancel()
	if _, err := dockerCLI(ctx, "image", "inspect", "--format", "{{.Id}}", image); err != nil {
		return nil, fmt.Errorf("postgrestest: %s, so the test clusters run in Docker, from the image %s, which the engine does not have: "+
			"build it with `bash scripts/demo.sh prepare` or `make postgres-image` (make test does it), or name another with %s; %v",
			why, image, imageEnv, err)
	}
	return &dockerBackend{image: image}, nil
}

// containerArgs are the docker run options every container of c has.
func (d *dockerBackend) containerArgs(c *Cluster) []string {
	root := filepath.Dir(c.dir)
	return []string{
		"--pull", "never",
		"--user", fmt.Sprintf("%d:%d", c.owner.UID, c.owner.GID),
		"--volume", root + ":" + root,
		"--volume", filepath.Join(c.dir, "passwd") + ":/etc/passwd:ro",
		"--workdir", c.dir,
		"--env", "LC_ALL=C",
	}
}

// initdb runs initdb in a container of its own, without network.
func (d *dockerBackend) initdb(ctx context.Context, c *Cluster, args ...string) (string, error) {
	passwd := fmt.Sprintf("root:x:0:0:root:/root:/bin/sh\n%s:x:%d:%d:pgshard test server:%s:/bin/sh\n",
		c.owner.Name, c.owner.UID, c.owner.GID, c.dir)
	if err := os.WriteFile(filepath.Join(c.dir, "passwd"), []byte(passwd), 0o644); err != nil {
		return "", fmt.Errorf("postgrestest: cluster %q: %w", c.Name, err)
	}
	run := append([]string{"run", "--rm", "--network", "none", "--entrypoint", "initdb"}, d.containerArgs(c)...)
	out, err := dockerCLI(ctx, append(append(run, d.image), args...)...)
	if err != nil {
		return err.Error(), err // initdb says why on stderr, which the error holds
	}
	return out, nil
}

// start runs the server's container, made on the first start (the port is part of it), and
// waits until the server says it is ready in postmaster.pid. A container whose server could
// not bind its port is removed, so that a start on another port makes a new one.
func (d *dockerBackend) start(ctx context.Context, c *Cluster) error {
	offset := fileSize(c.LogFile)
	var err error
	if c.container == "" {
		err = d.run(ctx, c)
	} else {
		// No server runs in the data directory now: a pid file left by a killed one would
		// read as ready before the new server rewrites it.
		_ = os.Remove(filepath.Join(c.DataDir, "postmaster.pid"))
		_, err = dockerCLI(ctx, "start", c.container)
	}
	if err == nil {
		err = d.waitUp(ctx, c, offset)
	} else {
		err = newStartError(c, offset, err.Error())
	}
	var se *startError
	if errors.As(err, &se) && se.addrInUse {
		_ = d.discard(c)
	}
	return err
}

// run makes and starts c's container on c.Port. The server's output goes to c.LogFile (not
// docker logs), appended across restarts like pg_ctl -l does.
func (d *dockerBackend) run(ctx context.Context, c *Cluster) error {
	c.container = ContainerPrefix + strconv.Itoa(os.Getpid()) + "-" + filepath.Base(c.dir)
	args := append([]string{"run", "--detach", "--name", c.container,
		"--label", OwnerLabel + "=" + ownerRecord(),
		"--network", "host",
		"--stop-signal", "SIGINT", // a fast shutdown, as pg_ctl stop -m fast
		"--stop-timeout", "60",
		"--entrypoint", "/bin/sh",
	}, d.containerArgs(c)...)
	args = append(args, d.image, "-c", `exec postgres -D "$1" -p "$2" >>"$3" 2>&1`, "postgres",
		c.DataDir, strconv.Itoa(c.Port), c.LogFile)
	_, err := dockerCLI(ctx, args...)
	return err
}

// waitUp waits until postmaster.pid says ready (what pg_ctl -w waits for) or the
// container has stopped.
func (d *dockerBackend) waitUp(ctx context.Context, c *Cluster, offset int64) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	pidFile := filepath.Join(c.DataDir, "postmaster.pid")
	for i := 1; ; i++ {
		if postmasterStatus(pidFile) == "ready" {
			return nil
		}
		if i%10 == 0 && !d.running(c) {
			return newStartError(c, offset, fmt.Sprintf("the server in container %s on port %d stopped at start", c.container, c.Port))
		}
		select {
		case <-ctx.Done():
			return newStartError(c, offset, fmt.Sprintf("the server in container %s on port %d is not ready: %v", c.container, c.Port, ctx.Err()))
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// postmasterStatus returns the status line of a postmaster.pid ("starting", "ready", ...),
// or "" when there is none yet.
func postmasterStatus(pidFile string) string {
	b, err := os.ReadFile(pidFile)
	if err != nil {
		return ""
	}
	lines := strings.Split(string(b), "\n")
	if len(lines) < 8 {
		return ""
	}
	return strings.TrimSpace(lines[7])
}

// stop stops the container: docker stop sends SIGINT (a fast shutdown); "immediate" kills it.
func (d *dockerBackend) stop(c *Cluster, mode string) error {
	if !d.running(c) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	args := []string{"stop", "-t", "60", c.container}
	if mode == "immediate" {
		args = []string{"kill", c.container}
	}
	if _, err := dockerCLI(ctx, args...); err != nil && d.running(c) {
		return fmt.Errorf("postgrestest: cluster %q: %w\n--- server log tail (%s) ---\n%s", c.Name, err, c.LogFile, c.LogTail())
	}
	return nil
}

func (d *dockerBackend) running(c *Cluster) bool {
	if c.container == "" {
		return false
	}
	ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
	defer cancel()
	out, err := dockerCLI(ctx, "inspect", "--format", "{{.State.Running}}", c.container)
	return err == nil && out == "true"
}

// discard removes the container with its anonymous volumes (the image declares one).
func (d *dockerBackend) discard(c *Cluster) error {
	if c.container == "" {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
	defer cancel()
	if _, err := dockerCLI(ctx, "rm", "--force", "--volumes", c.container); err != nil && !strings.Contains(err.Error(), "No such container") {
		return fmt.Errorf("postgrestest: cluster %q: %w", c.Name, err)
	}
	c.container = ""
	return nil
}

// serverPID is the host pid of the container's first process, the postmaster (sh execs it).
func (d *dockerBackend) serverPID(c *Cluster) (int, error) {
	if c.container == "" {
		return 0, fmt.Errorf("postgrestest: cluster %q has no container", c.Name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
	defer cancel()
	out, err := dockerCLI(ctx, "inspect", "--format", "{{.State.Pid}}", c.container)
	if err != nil {
		return 0, err
	}
	pid, err := strconv.Atoi(out)
	if err == nil && pid == 0 {
		err = fmt.Errorf("postgrestest: cluster %q: container %s is not running", c.Name, c.container)
	}
	return pid, err
}

// sweepContainers removes the harness's containers whose owning test process is dead (or
// cannot be verified and that are older than StaleAge), like cleanupStale does for
// directories. It does nothing without a docker command; errors go to stderr only.
func sweepContainers(now time.Time) {
	if _, err := exec.LookPath("docker"); err != nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), dockerTimeout)
	defer cancel()
	out, err := dockerCLI(ctx, "ps", "--all", "--filter", "label="+OwnerLabel,
		"--format", "{{.Names}}\t{{.Label \""+OwnerLabel+"\"}}\t{{.CreatedAt}}")
	if err != nil {
		return // no engine: no containers to sweep either
	}
	for _, line := range strings.Split(out, "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 3 {
			continue
		}
		created, err := time.Parse(dockerCreateAt, f[2])
		if err != nil {
			created = now // unknown age: only a dead owner makes it stale
		}
		if !isStaleOwner(ownerRecordState(f[1]), created, now) {
			continue
		}
		if _, err := dockerCLI(ctx, "rm", "--force", "--volumes", f[0]); err != nil {
			fmt.Fprintf(os.Stderr, "postgrestest: remove leftover container: %v\n", err)
		}
	}
}

// dockerCLI runs the docker command and returns its trimmed standard output; an error
// carries the arguments and standard error.
func dockerCLI(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "docker", args...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 10 * time.Second
	err := cmd.Run()
	out := strings.TrimSpace(stdout.String())
	if err != nil {
		return out, fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err,
			tail(strings.TrimSpace(stderr.String()+"\n"+out), logTailBytes))
	}
	return out, nil
}
