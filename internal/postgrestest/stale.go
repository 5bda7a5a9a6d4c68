package postgrestest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// writeOwnerFile records this process (pid and start time) as the owner of
// a cluster directory, so later runs can tell leftovers from clusters of
// concurrently running test processes.
func writeOwnerFile(dir string) error {
	return os.WriteFile(filepath.Join(dir, ownerFileName), []byte(ownerRecord()+"\n"), 0o644)
}

// ownerRecord identifies this process: "<pid> <start time>". A container's OwnerLabel holds
// it too.
func ownerRecord() string {
	pid := os.Getpid()
	return fmt.Sprintf("%d %s", pid, procStartTime(pid))
}

// procStartTime returns field 22 of /proc/<pid>/stat (start time in clock
// ticks since boot) or "" if unavailable.
func procStartTime(pid int) string {
	_, start := procStat(pid)
	return start
}

// procStat returns the state (field 3) and start time (field 22) of
// /proc/<pid>/stat, or empty strings if unavailable.
func procStat(pid int) (state, start string) {
	b, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return "", ""
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return "", ""
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 20 {
		return "", ""
	}
	return f[0], f[19]
}

type liveness int

const (
	ownerUnknown liveness = iota
	ownerAlive
	ownerDead
)

// ownerState reports whether the test process recorded in dir's owner file
// is still running.
func ownerState(dir string) liveness {
	b, err := os.ReadFile(filepath.Join(dir, ownerFileName))
	if err != nil {
		return ownerUnknown
	}
	return ownerRecordState(string(b))
}

// ownerRecordState reports whether the test process of an ownerRecord is still running.
func ownerRecordState(record string) liveness {
	f := strings.Fields(record)
	if len(f) == 0 {
		return ownerUnknown
	}
	pid, err := strconv.Atoi(f[0])
	if err != nil || pid <= 0 {
		return ownerUnknown
	}
	if pid == os.Getpid() {
		// Same pid as us: either us, or a dead process whose pid we reuse.
		if len(f) > 1 && f[1] != procStartTime(pid) {
			return ownerDead
		}
		return ownerAlive
	}
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return ownerDead
	}
	state, start := procStat(pid)
	if state == "Z" || state == "X" {
		return ownerDead // killed, not yet reaped
	}
	if len(f) > 1 && f[1] != "" && start != "" {
		if start != f[1] {
			return ownerDead // pid reused by another process
		}
		return ownerAlive
	}
	return ownerUnknown
}

// isStale reports whether the cluster directory dir is a leftover: its
// owning process is dead, or it cannot be verified and dir is older than
// StaleAge.
func isStale(dir string, now time.Time) bool {
	fi, err := os.Stat(dir)
	if err != nil {
		return false
	}
	return isStaleOwner(ownerState(dir), fi.ModTime(), now)
}

// isStaleOwner reports whether something made at born by an owner in state is a leftover.
func isStaleOwner(state liveness, born, now time.Time) bool {
	switch state {
	case ownerAlive:
		return false
	case ownerDead:
		return true
	}
	return now.Sub(born) > StaleAge
}

// cleanupStale stops (pg_ctl stop -m immediate) and removes leftover cluster
// directories under root. Clusters of live test processes are never
// touched. Errors are reported on stderr only.
func cleanupStale(root, binDir string, now time.Time) {
	entries, err := os.ReadDir(root)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(root, e.Name())
		if !isStale(dir, now) {
			continue
		}
		data := filepath.Join(dir, "data")
		if _, err := os.Stat(filepath.Join(data, "postmaster.pid")); err == nil {
			if u := asOwnerOf(data); u != nil && binDir != "" {
				ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				_, _ = runPG(ctx, binDir, dir, u, "pg_ctl", "-D", data, "-m", "immediate", "-w", "-t", "20", "stop")
				cancel()
			}
		}
		if err := os.RemoveAll(dir); err != nil {
			fmt.Fprintf(os.Stderr, "postgrestest: remove leftover %s: %v\n", dir, err)
		}
	}
}
