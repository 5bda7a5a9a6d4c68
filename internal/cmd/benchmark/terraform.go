package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// releaseMirror builds the provider as goreleaser does (CGO off, trimpath, stripped) and
// installs it in a filesystem mirror; it returns a CLI config file that uses only it.
func releaseMirror(root, dir string) (string, error) {
	const version = "9.9.9"
	bin := filepath.Join(dir, "mirror", postgrestest.TerraformRegistry, "pgshard", "pgshard", version, "linux_amd64", "terraform-provider-pgshard_v"+version)
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags", "-s -w -X main.version="+version, "-o", bin, ".")
	cmd.Dir = root
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("building the provider: %v\n%s", err, out)
	}
	// The same build under OpenTofu's registry host, which `tofu` resolves pgshard/pgshard to.
	if err := postgrestest.MirrorForOpenTofu(filepath.Join(dir, "mirror")); err != nil {
		return "", err
	}
	rc := filepath.Join(dir, "terraform.rc")
	content := fmt.Sprintf("provider_installation {\n  filesystem_mirror {\n    path = %q\n  }\n}\n", filepath.Join(dir, "mirror"))
	return rc, os.WriteFile(rc, []byte(content), 0o644)
}

// workspace is a directory with one configuration, run with the real CLI.
type workspace struct {
	dir string
	tf  string
	env []string
}

func newWorkspace(tf, rc, dir, config string) (*workspace, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o644); err != nil {
		return nil, err
	}
	env := []string{"TF_CLI_CONFIG_FILE=" + rc, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_INPUT=0"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TF_") {
			env = append(env, kv)
		}
	}
	w := &workspace{dir: dir, tf: tf, env: env}
	_, err := w.run("init", "-no-color")
	return w, err
}

// run runs terraform and returns how long it took.
func (w *workspace) run(args ...string) (time.Duration, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.tf, args...)
	cmd.Dir = w.dir
	cmd.Env = w.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	took := time.Since(start)
	if err != nil {
		return took, fmt.Errorf("terraform %s in %s: %v\n%s", strings.Join(args, " "), w.dir, err, tail(out.String(), 3000))
	}
	return took, nil
}

func tail(s string, n int) string {
	if len(s) > n {
		return "..." + s[len(s)-n:]
	}
	return s
}
