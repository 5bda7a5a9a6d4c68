package postgrestest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"
)

// hostBackend runs clusters with the PostgreSQL server binaries of this machine (initdb,
// pg_ctl, postgres from binDir), as the cluster's OS user.
type hostBackend struct{ binDir string }

func (h *hostBackend) String() string { return "host binaries in " + h.binDir }

func (h *hostBackend) initdb(ctx context.Context, c *Cluster, args ...string) (string, error) {
	return h.run(ctx, c, "initdb", args...)
}

// start runs pg_ctl start on c.Port, which waits until the server is up.
func (h *hostBackend) start(ctx context.Context, c *Cluster) error {
	offset := fileSize(c.LogFile)
	out, err := h.run(ctx, c, "pg_ctl",
		"-D", c.DataDir, "-l", c.LogFile, "-w", "-t", "60",
		"-o", "-p "+strconv.Itoa(c.Port), "start")
	if err != nil {
		return newStartError(c, offset, fmt.Sprintf("pg_ctl start on port %d failed: %v\n--- pg_ctl output ---\n%s",
			c.Port, err, tail(out, logTailBytes)))
	}
	return nil
}

func (h *hostBackend) running(c *Cluster) bool {
	_, err := h.run(context.Background(), c, "pg_ctl", "-D", c.DataDir, "status")
	if err == nil {
		return true
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) && (ee.ExitCode() == 3 || ee.ExitCode() == 4) {
		return false // 3: not running, 4: no data directory
	}
	// Unknown state: fall back to the pid file.
	_, statErr := os.Stat(filepath.Join(c.DataDir, "postmaster.pid"))
	return statErr == nil
}

// stop runs pg_ctl stop with the given mode.
func (h *hostBackend) stop(c *Cluster, mode string) error {
	if !h.running(c) {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	out, err := h.run(ctx, c, "pg_ctl", "-D", c.DataDir, "-m", mode, "-w", "-t", "60", "stop")
	if err != nil {
		if !h.running(c) {
			return nil
		}
		return fmt.Errorf("postgrestest: cluster %q: pg_ctl stop -m %s: %v\n--- pg_ctl output ---\n%s\n--- server log tail (%s) ---\n%s",
			c.Name, mode, err, tail(out, logTailBytes), c.LogFile, c.LogTail())
	}
	return nil
}

// discard stops the server fast, or immediately when a fast stop fails.
func (h *hostBackend) discard(c *Cluster) error {
	err := h.stop(c, "fast")
	if err != nil {
		if err2 := h.stop(c, "immediate"); err2 != nil {
			return errors.Join(err, err2)
		}
	}
	return nil
}

// serverPID reads the postmaster's pid from the first line of postmaster.pid.
func (h *hostBackend) serverPID(c *Cluster) (int, error) {
	b, err := os.ReadFile(filepath.Join(c.DataDir, "postmaster.pid"))
	if err != nil {
		return 0, fmt.Errorf("postgrestest: cluster %q: %w", c.Name, err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	return strconv.Atoi(line)
}

// run executes a PostgreSQL binary from binDir as the cluster's OS user and returns its
// combined output.
func (h *hostBackend) run(ctx context.Context, c *Cluster, prog string, args ...string) (string, error) {
	return runPG(ctx, h.binDir, c.dir, c.owner, prog, args...)
}

func runPG(ctx context.Context, binDir, workDir string, u *osUser, prog string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(binDir, prog), args...)
	u.apply(cmd, workDir)
	// pg_ctl start leaves the postmaster running; it must not keep our
	// output pipe open, but never wait forever if it does.
	cmd.WaitDelay = 10 * time.Second
	var buf bytes.Buffer
	cmd.Stdout = &buf
	cmd.Stderr = &buf
	err := cmd.Run()
	return buf.String(), err
}

// BinDir returns the directory holding the PostgreSQL server binaries:
// $PGSHARD_PG_BIN, else /usr/lib/postgresql/15/bin, else the newest
// /usr/lib/postgresql/*/bin, else the directory of initdb on PATH.
func BinDir() (string, error) {
	has := func(dir string) bool {
		for _, p := range []string{"initdb", "pg_ctl", "postgres"} {
			if fi, err := os.Stat(filepath.Join(dir, p)); err != nil || fi.IsDir() {
				return false
			}
		}
		return true
	}
	if d := os.Getenv("PGSHARD_PG_BIN"); d != "" {
		if !has(d) {
			return "", fmt.Errorf("postgrestest: PGSHARD_PG_BIN=%s does not contain initdb, pg_ctl and postgres", d)
		}
		return filepath.Abs(d)
	}
	if d := "/usr/lib/postgresql/" + defaultPGMajor + "/bin"; has(d) {
		return d, nil
	}
	matches, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(matches, func(i, j int) bool {
		return versionLess(filepath.Base(filepath.Dir(matches[j])), filepath.Base(filepath.Dir(matches[i])))
	})
	for _, d := range matches {
		if has(d) {
			return d, nil
		}
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if p, err = filepath.Abs(p); err == nil && has(filepath.Dir(p)) {
			return filepath.Dir(p), nil
		}
	}
	return "", errors.New("postgrestest: PostgreSQL server binaries not found; install postgresql-15 or set PGSHARD_PG_BIN")
}

// versionLess compares dotted numeric versions ("9.6" < "15").
func versionLess(a, b string) bool {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(pa) || i < len(pb); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			return x < y
		}
	}
	return false
}
