package postgrestest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// ProviderVersion is the version the test build of the provider is installed as.
const ProviderVersion = "0.0.1"

var (
	mirrorOnce sync.Once
	mirrorDir  string
	mirrorErr  error
)

// ProviderMirror builds the provider once per test process and installs it in a fresh
// filesystem mirror as pgshard/pgshard ProviderVersion, under both Terraform's and
// OpenTofu's registry host.
func ProviderMirror() (string, error) {
	mirrorOnce.Do(func() {
		root, err := moduleRoot()
		if err != nil {
			mirrorErr = err
			return
		}
		dir, err := os.MkdirTemp("", "pgshard-mirror-")
		if err != nil {
			mirrorErr = err
			return
		}
		bin := filepath.Join(dir, TerraformRegistry, "pgshard", "pgshard", ProviderVersion, "linux_amd64", "terraform-provider-pgshard_v"+ProviderVersion)
		cmd := exec.Command("go", "build", "-o", bin, ".")
		cmd.Dir = root
		cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
		if out, err := cmd.CombinedOutput(); err != nil {
			mirrorErr = fmt.Errorf("building the provider: %v\n%s", err, out)
			return
		}
		if err := MirrorForOpenTofu(dir); err != nil {
			mirrorErr = err
			return
		}
		mirrorDir = dir
	})
	return mirrorDir, mirrorErr
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("finding the module root: %w", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		return "", fmt.Errorf("not inside the provider's Go module")
	}
	return filepath.Dir(gomod), nil
}

// Workspace is a copy of a Terraform configuration directory run with the real CLI and
// the provider from ProviderMirror (other providers from the cache's mirror, such as the
// Docker provider).
type Workspace struct {
	Dir string
	tf  string
	env []string
}

// NewWorkspace copies src (a directory of .tf files) into a temporary directory and
// prepares a CLI configuration that installs providers only from local mirrors. A src inside
// this repository keeps its place relative to the repository's modules/ (copied too), so
// that the examples' module sources ("../../modules/...") resolve.
func NewWorkspace(t testing.TB, src string) *Workspace {
	t.Helper()
	Needs(t, "the Terraform CLI")
	// The same CLI as the acceptance tests: TF_ACC_TERRAFORM_PATH when set.
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		var err error
		if tf, err = TerraformPath(); err != nil {
			t.Fatal(err)
		}
	}
	mirror, err := ProviderMirror()
	if err != nil {
		t.Fatal(err)
	}
	dir, err := copyConfiguration(src, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	cache, err := CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	host := ProviderHost(tf)
	rc := fmt.Sprintf(`provider_installation {
  filesystem_mirror {
    path    = %q
    include = ["%s/pgshard/*"]
  }
  filesystem_mirror {
    path    = %q
    exclude = ["%s/pgshard/*"]
  }
}
`, mirror, host, filepath.Join(cache, "mirror"), host)
	if err := os.MkdirAll(filepath.Join(cache, "mirror"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The Docker provider is mirrored under Terraform's host; OpenTofu looks under its own.
	if host == OpenTofuRegistry {
		if err := MirrorForOpenTofu(filepath.Join(cache, "mirror")); err != nil {
			t.Fatal(err)
		}
	}
	rcPath := filepath.Join(dir, ".terraformrc")
	if err := os.WriteFile(rcPath, []byte(rc), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{"TF_CLI_CONFIG_FILE=" + rcPath, "CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_INPUT=0"}
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "TF_") {
			env = append(env, kv)
		}
	}
	return &Workspace{Dir: dir, tf: tf, env: env}
}

// SetVars writes the variables as terraform.tfvars.json.
func (w *Workspace) SetVars(t testing.TB, vars map[string]any) {
	t.Helper()
	b, err := json.MarshalIndent(vars, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(w.Dir, "terraform.tfvars.json"), b, 0o600); err != nil {
		t.Fatal(err)
	}
}

// Run runs terraform with args in the workspace and returns its combined output and exit
// code; it fails the test only when the CLI cannot be run at all.
func (w *Workspace) Run(t testing.TB, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute) //nolint:usetesting // cleanups run terraform destroy after t.Context() is canceled
	defer cancel()
	cmd := exec.CommandContext(ctx, w.tf, args...)
	cmd.Dir = w.Dir
	cmd.Env = w.env
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if exitErr, ok := err.(*exec.ExitError); ok {
		return out.String(), exitErr.ExitCode()
	}
	if err != nil {
		t.Fatalf("terraform %s: %v", strings.Join(args, " "), err)
	}
	return out.String(), 0
}

// Must runs terraform and fails the test unless it exits 0.
func (w *Workspace) Must(t testing.TB, args ...string) string {
	t.Helper()
	out, code := w.Run(t, args...)
	if code != 0 {
		t.Fatalf("terraform %s exited %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// Output returns a root module output, decoded from JSON.
func (w *Workspace) Output(t testing.TB, name string, into any) {
	t.Helper()
	out := w.Must(t, "output", "-json", name)
	if err := json.Unmarshal([]byte(out), into); err != nil {
		t.Fatalf("output %s: %v\n%s", name, err, out)
	}
}

// PlanIsEmpty fails the test unless `terraform plan` proposes no change.
func (w *Workspace) PlanIsEmpty(t testing.TB) {
	t.Helper()
	out, code := w.Run(t, "plan", "-detailed-exitcode", "-no-color")
	if code != 0 {
		t.Fatalf("expected an empty plan (exit 0), got exit %d:\n%s", code, out)
	}
}

// copyConfiguration copies src into tmp and returns the copy's directory: for a src inside
// the repository, tmp/<src's path in the repository>, with the repository's modules/ copied
// to tmp/modules.
func copyConfiguration(src, tmp string) (string, error) {
	abs, err := filepath.Abs(src)
	if err != nil {
		return "", err
	}
	dir := tmp
	if root, err := moduleRoot(); err == nil {
		rel, err := filepath.Rel(root, abs)
		if info, serr := os.Stat(filepath.Join(root, "modules")); err == nil && serr == nil && info.IsDir() && rel != "." && !strings.HasPrefix(rel, "..") {
			if err := copyDir(filepath.Join(root, "modules"), filepath.Join(tmp, "modules")); err != nil {
				return "", err
			}
			dir = filepath.Join(tmp, rel)
		}
	}
	return dir, copyDir(abs, dir)
}

func copyDir(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if d.IsDir() {
			if d.Name() == ".terraform" {
				return filepath.SkipDir
			}
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		if strings.HasSuffix(d.Name(), ".tfstate") || strings.HasSuffix(d.Name(), ".tfstate.backup") || d.Name() == ".terraform.lock.hcl" || d.Name() == "terraform.tfvars" {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(filepath.Join(dst, rel), b, 0o644)
	})
}

// MirrorForOpenTofu makes the providers of a filesystem mirror's Terraform registry host
// available under OpenTofu's too (which `tofu` resolves short sources to): the same tree,
// with the binaries hard-linked (copied across file systems). OpenTofu does not follow a
// symbolic link in place of the host directory.
func MirrorForOpenTofu(mirror string) error {
	from := filepath.Join(mirror, TerraformRegistry)
	if _, err := os.Stat(from); os.IsNotExist(err) {
		return nil
	}
	return filepath.WalkDir(from, func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(from, path)
		if err != nil {
			return err
		}
		to := filepath.Join(mirror, OpenTofuRegistry, rel)
		if d.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		if _, err := os.Stat(to); err == nil {
			return nil
		}
		if err := os.Link(path, to); err == nil {
			return nil
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(to, b, 0o755)
	})
}
