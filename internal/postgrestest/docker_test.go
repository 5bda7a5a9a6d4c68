package postgrestest

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"
)

// The sweep removes the containers of a dead test process and, past StaleAge, those whose
// owner cannot be verified; a live process's containers stay.
func TestSweepContainers(t *testing.T) {
	Needs(t, "the Docker engine")
	t.Parallel()
	d, err := newDockerBackend("this test makes containers")
	if err != nil {
		t.Skipf("no Docker backend here: %v", err)
	}
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	deadPid := cmd.Process.Pid
	suffix, err := randomPassword()
	if err != nil {
		t.Fatal(err)
	}
	ctx := t.Context()
	create := func(kind, owner string) string {
		name := fmt.Sprintf("%ssweep-%s-%s", ContainerPrefix, kind, suffix[:8])
		if _, err := dockerCLI(ctx, "create", "--pull", "never", "--name", name, "--label", OwnerLabel+"="+owner,
			"--entrypoint", "true", d.image); err != nil {
			t.Fatal(err)
		}
		//nolint:usetesting // a cleanup runs after t.Context() is canceled
		t.Cleanup(func() { _, _ = dockerCLI(context.Background(), "rm", "--force", "--volumes", name) })
		return name
	}
	dead := create("dead", fmt.Sprintf("%d 1", deadPid))
	live := create("live", ownerRecord())
	unknown := create("unknown", "not-a-pid")
	exists := func(name string) bool {
		_, err := dockerCLI(ctx, "container", "inspect", "--format", "{{.Name}}", name)
		return err == nil
	}

	sweepContainers(time.Now())
	if exists(dead) {
		t.Errorf("container %s of a dead process was not removed", dead)
	}
	if !exists(live) || !exists(unknown) {
		t.Fatalf("the sweep removed a live process's container (%v) or an unverifiable young one (%v)", !exists(live), !exists(unknown))
	}
	sweepContainers(time.Now().Add(StaleAge + time.Hour))
	if exists(unknown) {
		t.Errorf("container %s of an unverifiable owner older than StaleAge was not removed", unknown)
	}
	if !exists(live) {
		t.Errorf("the sweep removed container %s of a live process", live)
	}
}

// PGSHARD_PG_BACKEND takes host or docker; a missing image says how to build it.
func TestPickBackend(t *testing.T) {
	if _, err := pickBackend("podman"); err == nil || !strings.Contains(err.Error(), "want host or docker") {
		t.Errorf("pickBackend(podman) = %v, want an error naming the choices", err)
	}
	t.Setenv("PGSHARD_PG_BIN", "/nonexistent")
	if _, err := pickBackend("host"); err == nil || !strings.Contains(err.Error(), "PGSHARD_PG_BIN=/nonexistent") {
		t.Errorf("pickBackend(host) without binaries = %v, want an error naming PGSHARD_PG_BIN", err)
	}
	t.Setenv(imageEnv, "pgshard/no-such-image:none")
	for _, forced := range []string{"", "docker"} {
		_, err := pickBackend(forced)
		says := func(s string) bool { return err != nil && strings.Contains(err.Error(), s) }
		if ok := says("pgshard/no-such-image:none") && says("bash scripts/demo.sh prepare") || says("no docker command"); !ok {
			t.Errorf("pickBackend(%q) with a missing image = %v, want an error that says how to build it", forced, err)
		}
	}
}
