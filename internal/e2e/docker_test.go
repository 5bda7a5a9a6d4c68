package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// docker runs the Docker CLI and returns its trimmed output.
func docker(args ...string) (string, error) {
	out, err := exec.Command("docker", args...).CombinedOutput()
	s := strings.TrimSpace(string(out))
	if err != nil {
		return s, fmt.Errorf("docker %s: %v: %s", strings.Join(args, " "), err, s)
	}
	return s, nil
}

// requireDocker fails the test when no Docker engine answers (skips outside CI).
func requireDocker(t *testing.T) {
	t.Helper()
	if _, err := docker("info", "--format", "{{.ServerVersion}}"); err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("the end-to-end test needs a running Docker engine: %v", err)
		}
		t.Skipf("no Docker engine: %v", err)
	}
}

const namePrefix = "pgshard-e2e-"

// sweepLeftovers removes the containers, networks and volumes of earlier runs that were
// killed half way: their names carry the PID of a process that no longer runs.
func sweepLeftovers(t *testing.T) {
	t.Helper()
	for _, kind := range []string{"container", "network", "volume"} {
		out, err := docker(kind, "ls", "-a", "--format", "{{.Names}}")
		if kind != "container" {
			out, err = docker(kind, "ls", "--format", "{{.Name}}")
		}
		if err != nil {
			t.Logf("listing %ss: %v", kind, err)
			continue
		}
		for _, name := range strings.Fields(out) {
			pid, ok := ownerPID(name)
			if !ok || processAlive(pid) {
				continue
			}
			args := []string{kind, "rm", name}
			if kind == "container" {
				args = []string{"rm", "-f", "-v", name}
			}
			if _, err := docker(args...); err != nil {
				t.Logf("removing leftover %s %s: %v", kind, name, err)
			} else {
				t.Logf("removed leftover %s %s of a killed run", kind, name)
			}
		}
	}
}

// ownerPID reads the PID out of a name like pgshard-e2e-1234-europe-db.
func ownerPID(name string) (int, bool) {
	rest, ok := strings.CutPrefix(name, namePrefix)
	if !ok {
		return 0, false
	}
	pidText, _, _ := strings.Cut(rest, "-")
	pid, err := strconv.Atoi(pidText)
	return pid, err == nil && pid > 0
}

func processAlive(pid int) bool {
	if pid == os.Getpid() {
		return true
	}
	err := syscall.Kill(pid, 0)
	return err == nil || err == syscall.EPERM
}

// removeByPrefix force-removes everything whose name starts with prefix, and logs what it
// could not remove.
func removeByPrefix(t *testing.T, prefix string) {
	remove := func(args ...string) {
		if _, err := docker(args...); err != nil {
			t.Logf("cleanup: %v", err)
		}
	}
	out, _ := docker("ps", "-a", "--filter", "name="+prefix, "--format", "{{.Names}}")
	for _, n := range strings.Fields(out) {
		remove("rm", "-f", "-v", n)
	}
	out, _ = docker("network", "ls", "--filter", "name="+prefix, "--format", "{{.Name}}")
	for _, n := range strings.Fields(out) {
		remove("network", "rm", n)
	}
	out, _ = docker("volume", "ls", "--filter", "name="+prefix, "--format", "{{.Name}}")
	for _, n := range strings.Fields(out) {
		remove("volume", "rm", n)
	}
}

// waitHealthy waits until the container's health check reports healthy.
func waitHealthy(t *testing.T, name string, timeout time.Duration) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		state, err := docker("inspect", "--format", "{{.State.Health.Status}}", name)
		if err == nil && state == "healthy" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("container %s not healthy after %s (state %q, %v)", name, timeout, state, err)
		}
		time.Sleep(500 * time.Millisecond)
	}
}
