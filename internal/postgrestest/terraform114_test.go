package postgrestest

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// An archive whose sha256 is not the one recorded is refused before it is unpacked, and the
// error says how to get Terraform 1.14+; so is a missing one, and a PGSHARD_TERRAFORM_114 that
// is not a Terraform binary.
func TestTerraform114Path_Refuses(t *testing.T) {
	tmp := t.TempDir()
	repo := filepath.Join(tmp, "work", "repo")
	for _, dir := range []string{repo, filepath.Join(tmp, "cache")} {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(repo, "go.mod"), []byte("module example.com/repo\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(repo)
	t.Setenv("PGSHARD_CACHE", filepath.Join(tmp, "cache"))
	t.Setenv(Terraform114EnvVar, "")

	if _, err := Terraform114Path(); err == nil || !strings.Contains(err.Error(), "no shared/bin/"+terraform114Archive) || !strings.Contains(err.Error(), Terraform114EnvVar) {
		t.Errorf("without the archive: %v", err)
	}

	// Two directories up, as ../shared/bin of a checkout inside a folder is.
	bin := filepath.Join(tmp, "shared", "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(bin, terraform114Archive), []byte("not terraform"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Terraform114Path(); err == nil || !strings.Contains(err.Error(), "has sha256") {
		t.Errorf("with a tampered archive: %v", err)
	}
	if _, err := os.Stat(filepath.Join(tmp, "cache", "terraform-"+Terraform114Version, "terraform")); err == nil {
		t.Error("the tampered archive was unpacked")
	}

	t.Setenv(Terraform114EnvVar, filepath.Join(bin, terraform114Archive))
	if _, err := Terraform114Path(); err == nil || !strings.Contains(err.Error(), Terraform114EnvVar) {
		t.Errorf("with %s naming no Terraform binary: %v", Terraform114EnvVar, err)
	}
}
