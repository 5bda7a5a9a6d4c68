package postgrestest

import (
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Terraform 1.14 added list resources (terraform query) and actions. It cannot be built from
// the Go module proxy (its go.mod replaces nested modules by local paths), so the tests of
// those features run under a binary built from HashiCorp's source, kept gzipped beside the
// repository and checked against its sha256 before use.
const (
	// Terraform114Minimum is the oldest CLI with list resources and actions.
	Terraform114Minimum = "1.14"
	// Terraform114Version is the CLI those tests run under.
	Terraform114Version = "1.15.9"
	// Terraform114EnvVar names a Terraform >= 1.14 binary to use instead.
	Terraform114EnvVar = "PGSHARD_TERRAFORM_114"

	terraform114Archive = "terraform_1.15.9_linux_amd64.gz"
	terraform114GzSHA   = "889ec01e2160eb1bd367626b1d8ed4028d1370bedb7eb28e04d4aeecefd43f25"
	terraform114BinSHA  = "4a6b491c605318db6ad787ed621403152ad1929c9b956bf83444e7958d76ce2d"
)

// Terraform114Path returns the path of a Terraform CLI >= 1.14: the binary named by
// PGSHARD_TERRAFORM_114, or Terraform 1.15.9 unpacked into the cache dir (see CacheDir) from
// shared/bin/terraform_1.15.9_linux_amd64.gz beside the repository (or beside a directory
// above it), each file checked
// against its sha256. Its error says how to get one.
func Terraform114Path() (string, error) {
	howTo := fmt.Sprintf("set %s to a Terraform >= %s binary (releases.hashicorp.com), or put %s (sha256 %s) in ../shared/bin beside the repository",
		Terraform114EnvVar, Terraform114Minimum, terraform114Archive, terraform114GzSHA)
	if p := os.Getenv(Terraform114EnvVar); p != "" {
		v, err := terraformVersion(p)
		if err != nil {
			return "", fmt.Errorf("postgrestest: %s=%s: %w", Terraform114EnvVar, p, err)
		}
		if !versionAtLeast(v, Terraform114Minimum) {
			return "", fmt.Errorf("postgrestest: %s=%s is Terraform %s; list resources and actions need %s or later: %s", Terraform114EnvVar, p, v, Terraform114Minimum, howTo)
		}
		return filepath.Abs(p)
	}
	cache, err := CacheDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(cache, "terraform-"+Terraform114Version, "terraform")
	if fileSHA256(bin) == terraform114BinSHA {
		return bin, nil
	}
	root, err := repoRoot()
	if err != nil {
		return "", fmt.Errorf("postgrestest: Terraform %s: %w; %s", Terraform114Version, err, howTo)
	}
	// ../shared/bin beside the repository, or beside a directory above it.
	var archive string
	for dir := filepath.Dir(root); archive == ""; dir = filepath.Dir(dir) {
		if p := filepath.Join(dir, "shared", "bin", terraform114Archive); fileExists(p) {
			archive = p
		} else if filepath.Dir(dir) == dir {
			return "", fmt.Errorf("postgrestest: no Terraform %s: no shared/bin/%s beside %s or a directory above it; %s", Terraform114Version, terraform114Archive, root, howTo)
		}
	}
	if got := fileSHA256(archive); got != terraform114GzSHA {
		return "", fmt.Errorf("postgrestest: %s has sha256 %s, want %s: %s", archive, got, terraform114GzSHA, howTo)
	}
	unlock, err := lockFile(filepath.Join(cache, "terraform-install.lock"))
	if err != nil {
		return "", err
	}
	defer unlock()
	if fileSHA256(bin) == terraform114BinSHA { // unpacked by a concurrent process meanwhile
		return bin, nil
	}
	if err := gunzipTo(archive, bin); err != nil {
		return "", fmt.Errorf("postgrestest: unpacking %s: %w", archive, err)
	}
	if got := fileSHA256(bin); got != terraform114BinSHA {
		return "", fmt.Errorf("postgrestest: %s unpacked to a binary with sha256 %s, want %s", archive, got, terraform114BinSHA)
	}
	return bin, nil
}

// gunzipTo writes the gzipped file src, decompressed, to the executable dst (through a
// temporary file, so that dst is whole or absent).
func gunzipTo(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	zr, err := gzip.NewReader(in)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".terraform-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, zr); err != nil { //nolint:gosec // a checked archive of a known size
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}

// fileSHA256 is the hex sha256 of the file at path, "" when it cannot be read.
func fileSHA256(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return ""
	}
	return hex.EncodeToString(h.Sum(nil))
}

// repoRoot is the directory of the go.mod above the working directory (a test's package).
func repoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("no go.mod above the working directory")
		}
		dir = parent
	}
}
