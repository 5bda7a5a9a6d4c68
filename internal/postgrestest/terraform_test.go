package postgrestest

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestTerraformPath(t *testing.T) {
	Needs(t, "the Terraform CLI")
	if _, err := exec.LookPath("terraform"); err != nil && os.Getenv("PGSHARD_TEST_TERRAFORM_INSTALL") == "" {
		t.Skip("no terraform on PATH; set PGSHARD_TEST_TERRAFORM_INSTALL=1 to test the (slow) go install fallback")
	}
	t.Setenv("PGSHARD_CACHE", t.TempDir())
	p, err := TerraformPath()
	if err != nil {
		t.Fatal(err)
	}
	if !filepath.IsAbs(p) {
		t.Errorf("TerraformPath() = %q, not absolute", p)
	}
	v, err := terraformVersion(p)
	if err != nil {
		t.Fatal(err)
	}
	if !versionAtLeast(v, MinTerraformVersion) {
		t.Errorf("terraform %s at %s is older than %s", v, p, MinTerraformVersion)
	}
	t.Logf("terraform %s at %s", v, p)
}

func TestSetupAcceptanceEnv(t *testing.T) {
	Needs(t, "the Terraform CLI")
	if _, err := exec.LookPath("terraform"); err != nil {
		t.Skip("no terraform on PATH")
	}
	cache := t.TempDir()
	t.Setenv("PGSHARD_CACHE", cache)
	t.Setenv("TF_CLI_CONFIG_FILE", filepath.Join(cache, "does-not-exist.rc"))
	t.Setenv("TF_ACC_TERRAFORM_PATH", "")
	t.Setenv("TF_ACC_PROVIDER_NAMESPACE", "")
	t.Setenv("CHECKPOINT_DISABLE", "")

	if err := SetupAcceptanceEnv(); err != nil {
		t.Fatal(err)
	}
	cfg := os.Getenv("TF_CLI_CONFIG_FILE")
	if fi, err := os.Stat(cfg); err != nil || !fi.Mode().IsRegular() || filepath.Dir(cfg) != cache {
		t.Errorf("TF_CLI_CONFIG_FILE=%q: want an existing file in %s (err=%v)", cfg, cache, err)
	}
	if p := os.Getenv("TF_ACC_TERRAFORM_PATH"); p == "" || !filepath.IsAbs(p) {
		t.Errorf("TF_ACC_TERRAFORM_PATH=%q", p)
	}
	if got := os.Getenv("TF_ACC_PROVIDER_NAMESPACE"); got != "pgshard" {
		t.Errorf("TF_ACC_PROVIDER_NAMESPACE=%q", got)
	}
	if got := os.Getenv("CHECKPOINT_DISABLE"); got != "1" {
		t.Errorf("CHECKPOINT_DISABLE=%q", got)
	}
	// The configured terraform must actually run with that CLI config.
	out, err := exec.Command(os.Getenv("TF_ACC_TERRAFORM_PATH"), "version").CombinedOutput()
	if err != nil {
		t.Fatalf("terraform version: %v\n%s", err, out)
	}
}
