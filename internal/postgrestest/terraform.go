package postgrestest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

const (
	// MinTerraformVersion is the oldest Terraform CLI accepted from PATH.
	MinTerraformVersion = "1.5"
	// FallbackTerraformVersion is built with `go install` when no suitable
	// terraform is on PATH.
	FallbackTerraformVersion = "1.5.7"

	terraformModule     = "github.com/hashicorp/terraform"
	terraformBuildLimit = 30 * time.Minute
	cliConfigName       = "terraform.rc"
)

var (
	tfMu   sync.Mutex
	tfPath string
)

// TerraformPath finds `terraform` on PATH with version >= 1.5 (parsed from
// `terraform version -json`), otherwise builds v1.5.7 with
// `GOBIN=<dir> go install github.com/hashicorp/terraform@v1.5.7` into
// <cache>/terraform-1.5.7/terraform, reusing an earlier build (cache dir:
// see CacheDir). It returns an absolute path. Concurrent test processes
// serialise the build with a file lock.
func TerraformPath() (string, error) {
	if Unit() {
		return "", errUnit("the Terraform CLI")
	}
	tfMu.Lock()
	defer tfMu.Unlock()
	if tfPath != "" {
		return tfPath, nil
	}
	var notes []string
	if p, err := exec.LookPath("terraform"); err == nil {
		if p, err = filepath.Abs(p); err == nil {
			v, err := terraformVersion(p)
			switch {
			case err != nil:
				notes = append(notes, fmt.Sprintf("%s: %v", p, err))
			case !versionAtLeast(v, MinTerraformVersion):
				notes = append(notes, fmt.Sprintf("%s is version %s (< %s)", p, v, MinTerraformVersion))
			default:
				tfPath = p
				return p, nil
			}
		}
	}
	p, err := installTerraform()
	if err != nil {
		if len(notes) > 0 {
			err = fmt.Errorf("%w (terraform on PATH unusable: %s)", err, strings.Join(notes, "; "))
		}
		return "", err
	}
	tfPath = p
	return p, nil
}

// installTerraform builds FallbackTerraformVersion into the cache dir, or
// returns the existing build.
func installTerraform() (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	dir := filepath.Join(cache, "terraform-"+FallbackTerraformVersion)
	bin := filepath.Join(dir, "terraform")
	usable := func() bool {
		v, err := terraformVersion(bin)
		return err == nil && versionAtLeast(v, MinTerraformVersion)
	}
	if usable() {
		return bin, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("postgrestest: %w", err)
	}
	unlock, err := lockFile(filepath.Join(cache, "terraform-install.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if usable() { // built by a concurrent process while we waited
		return bin, nil
	}

	goBin, err := exec.LookPath("go")
	if err != nil {
		if root := os.Getenv("GOROOT"); root != "" {
			goBin = filepath.Join(root, "bin", "go")
		} else {
			return "", fmt.Errorf("postgrestest: no suitable terraform on PATH and no go command to build %s@v%s: %w",
				terraformModule, FallbackTerraformVersion, err)
		}
	}
	tmp, err := os.MkdirTemp(cache, ".gobin-*")
	if err != nil {
		return "", fmt.Errorf("postgrestest: %w", err)
	}
	defer os.RemoveAll(tmp)

	ctx, cancel := context.WithTimeout(context.Background(), terraformBuildLimit)
	defer cancel()
	cmd := exec.CommandContext(ctx, goBin, "install", terraformModule+"@v"+FallbackTerraformVersion)
	cmd.Dir = tmp // outside any module or workspace
	cmd.Env = append(os.Environ(), "GOBIN="+tmp, "GOWORK=off", "GOFLAGS=", "CGO_ENABLED=0")
	fmt.Fprintf(os.Stderr, "postgrestest: building terraform v%s with go install (this takes a few minutes)...\n", FallbackTerraformVersion)
	out, err := cmd.CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("postgrestest: go install %s@v%s: %v\n%s",
			terraformModule, FallbackTerraformVersion, err, tail(string(out), logTailBytes))
	}
	if err := os.Rename(filepath.Join(tmp, "terraform"), bin); err != nil {
		return "", fmt.Errorf("postgrestest: install terraform: %w", err)
	}
	if v, err := terraformVersion(bin); err != nil {
		return "", fmt.Errorf("postgrestest: built terraform does not run: %w", err)
	} else if !versionAtLeast(v, MinTerraformVersion) {
		return "", fmt.Errorf("postgrestest: built terraform reports version %s", v)
	}
	return bin, nil
}

// terraformVersion runs `terraform version -json` and returns the version
// without a leading "v".
func terraformVersion(path string) (string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", err
	}
	if fi.IsDir() || fi.Mode().Perm()&0o111 == 0 {
		return "", fmt.Errorf("%s is not an executable file", path)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "version", "-json")
	env := append(os.Environ(), "CHECKPOINT_DISABLE=1")
	if cfg, err := cliConfigFile(); err == nil {
		env = append(env, "TF_CLI_CONFIG_FILE="+cfg)
	}
	cmd.Env = env
	out, err := cmd.Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("%s version -json: %v: %s", path, err, strings.TrimSpace(string(ee.Stderr)))
		}
		return "", fmt.Errorf("%s version -json: %w", path, err)
	}
	return parseTerraformVersion(out)
}

func parseTerraformVersion(out []byte) (string, error) {
	var v struct {
		Version string `json:"terraform_version"`
	}
	if err := json.Unmarshal(out, &v); err != nil {
		return "", fmt.Errorf("parse `terraform version -json` output %q: %w", tail(string(out), 200), err)
	}
	if v.Version == "" {
		return "", fmt.Errorf("no terraform_version in %q", tail(string(out), 200))
	}
	return strings.TrimPrefix(v.Version, "v"), nil
}

// versionAtLeast reports whether version (e.g. "1.11.4", "1.6.0-beta1") is
// >= minimum (e.g. "1.5"), comparing numeric components; pre-release suffixes
// are ignored.
func versionAtLeast(version, minimum string) bool {
	parse := func(s string) ([]int, bool) {
		s = strings.TrimPrefix(s, "v")
		if i := strings.IndexAny(s, "-+"); i >= 0 {
			s = s[:i]
		}
		var out []int
		for _, p := range strings.Split(s, ".") {
			n, err := strconv.Atoi(p)
			if err != nil {
				return nil, false
			}
			out = append(out, n)
		}
		return out, true
	}
	v, ok1 := parse(version)
	m, ok2 := parse(minimum)
	if !ok1 || !ok2 {
		return false
	}
	for i := 0; i < len(m); i++ {
		x := 0
		if i < len(v) {
			x = v[i]
		}
		if x != m[i] {
			return x > m[i]
		}
	}
	return true
}

// CacheDir returns (creating it) the harness cache directory:
// $PGSHARD_CACHE, else $XDG_CACHE_HOME/pgshard, else ~/.cache/pgshard.
func CacheDir() (string, error) {
	dir := os.Getenv("PGSHARD_CACHE")
	if dir == "" {
		if x := os.Getenv("XDG_CACHE_HOME"); x != "" {
			dir = filepath.Join(x, "pgshard")
		} else {
			home, err := os.UserHomeDir()
			if err != nil {
				return "", fmt.Errorf("postgrestest: cache dir: %w", err)
			}
			dir = filepath.Join(home, ".cache", "pgshard")
		}
	}
	dir, err := filepath.Abs(dir)
	if err != nil {
		return "", fmt.Errorf("postgrestest: cache dir: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("postgrestest: cache dir: %w", err)
	}
	return dir, nil
}

// cliConfigFile returns the harness's own Terraform CLI configuration file
// in the cache dir, creating it (empty) if needed. ~/.terraformrc is never
// touched.
func cliConfigFile() (string, error) {
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	path := filepath.Join(cache, cliConfigName)
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_EXCL, 0o644)
	switch {
	case err == nil:
		_, werr := f.WriteString("# Terraform CLI configuration used by pgshard tests (postgrestest); intentionally empty.\n")
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			return "", fmt.Errorf("postgrestest: write %s: %w", path, werr)
		}
	case errors.Is(err, os.ErrExist):
	default:
		return "", fmt.Errorf("postgrestest: create %s: %w", path, err)
	}
	return path, nil
}

// Registry hosts a short provider source ("pgshard/pgshard") resolves to.
const (
	TerraformRegistry = "registry.terraform.io"
	OpenTofuRegistry  = "registry.opentofu.org"
)

var (
	hostMu sync.Mutex
	hosts  = map[string]string{}
)

// ProviderHost is the registry host the CLI at path resolves short provider sources to:
// OpenTofu's for `tofu` (its `version` output starts with "OpenTofu"), Terraform's
// otherwise.
func ProviderHost(path string) string {
	hostMu.Lock()
	defer hostMu.Unlock()
	if h, ok := hosts[path]; ok {
		return h
	}
	host := TerraformRegistry
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, path, "version")
	cmd.Env = append(os.Environ(), "CHECKPOINT_DISABLE=1")
	if cfg, err := cliConfigFile(); err == nil {
		cmd.Env = append(cmd.Env, "TF_CLI_CONFIG_FILE="+cfg)
	}
	if out, err := cmd.Output(); err == nil && strings.HasPrefix(strings.TrimSpace(string(out)), "OpenTofu") {
		host = OpenTofuRegistry
	}
	hosts[path] = host
	return host
}

// SetupAcceptanceEnv sets TF_ACC_TERRAFORM_PATH (from TerraformPath, unless
// already set to an existing file), TF_ACC_PROVIDER_NAMESPACE=pgshard, and
// TF_CLI_CONFIG_FILE to the harness's own (possibly empty) CLI config file in
// the cache dir (the inherited value may point to a missing file, which
// breaks terraform; ~/.terraformrc is never written). It also sets
// CHECKPOINT_DISABLE=1, and TF_ACC_PROVIDER_HOST to the CLI's registry host (ProviderHost).
// RunMain calls it when TF_ACC is set.
func SetupAcceptanceEnv() error {
	cfg, err := cliConfigFile()
	if err != nil {
		return err
	}
	if err := os.Setenv("TF_CLI_CONFIG_FILE", cfg); err != nil {
		return err
	}
	if err := os.Setenv("CHECKPOINT_DISABLE", "1"); err != nil {
		return err
	}
	if err := os.Setenv("TF_ACC_PROVIDER_NAMESPACE", "pgshard"); err != nil {
		return err
	}
	path := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if fi, err := os.Stat(path); path == "" || err != nil || !fi.Mode().IsRegular() {
		if path, err = TerraformPath(); err != nil {
			return err
		}
		if err := os.Setenv("TF_ACC_TERRAFORM_PATH", path); err != nil {
			return err
		}
	}
	// OpenTofu resolves pgshard/pgshard on its own registry: the harness says which.
	return os.Setenv("TF_ACC_PROVIDER_HOST", ProviderHost(path))
}

// lockFile takes an exclusive flock on path and returns the unlock function.
func lockFile(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("postgrestest: lock %s: %w", path, err)
	}
	for {
		err = syscall.Flock(int(f.Fd()), syscall.LOCK_EX)
		if !errors.Is(err, syscall.EINTR) {
			break
		}
	}
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("postgrestest: lock %s: %w", path, err)
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
