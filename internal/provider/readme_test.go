package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// Every Terraform snippet of the README is a whole configuration that a newcomer can paste:
// each ```hcl or ```terraform block passes `terraform init` and `terraform validate` on its
// own, with the provider installed from the test's filesystem mirror. Validating reads the
// provider's schema and never configures it, so no database is needed, nor TF_ACC.
func TestReadmeSnippetsValidate(t *testing.T) {
	validateReadmeSnippets(t, "README.md")
}

// The same for the README of every module under modules/ (a directory with versions.tf, test
// fixtures aside, as modules/check-readme.sh finds them). Their snippets are written to be
// pasted into a directory next to the examples (examples/<name>/), so their relative module
// sources ("../../modules/sharded-table") are resolved from there to absolute paths: the
// workspace of a snippet is a copy of that snippet alone. The Docker provider comes from the
// cache's mirror, as for the end-to-end tests. Validating builds the dependency graph, so a
// snippet that runs into the cycle docker-region's README warns of fails too.
func TestModuleReadmeSnippetsValidate(t *testing.T) {
	readmes, err := moduleReadmes()
	if err != nil {
		t.Fatal(err)
	}
	if len(readmes) == 0 {
		t.Fatal("no module README.md under modules/")
	}
	for _, readme := range readmes {
		t.Run(readme, func(t *testing.T) {
			t.Parallel()
			validateReadmeSnippets(t, readme)
		})
	}
}

// repoRoot is the repository's root, from this package's directory.
const repoRoot = "../.."

// moduleReadmes returns the README.md of every module under modules/, relative to the
// repository's root (slash-separated), sorted.
func moduleReadmes() ([]string, error) {
	var readmes []string
	err := filepath.WalkDir(filepath.Join(repoRoot, "modules"), func(path string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".terraform" || d.Name() == "tests") {
			return filepath.SkipDir
		}
		if d.IsDir() || d.Name() != "versions.tf" {
			return nil
		}
		rel, err := filepath.Rel(repoRoot, filepath.Join(filepath.Dir(path), "README.md"))
		if err != nil {
			return err
		}
		readmes = append(readmes, filepath.ToSlash(rel))
		return nil
	})
	slices.Sort(readmes)
	return readmes, err
}

// validateReadmeSnippets runs `terraform init` and `terraform validate` on each hcl or
// terraform block of the README at readme (relative to the repository's root), each in a
// workspace of its own, after resolving its relative sources as from examples/<name>/.
func validateReadmeSnippets(t *testing.T, readme string) {
	text, err := os.ReadFile(filepath.Join(repoRoot, filepath.FromSlash(readme)))
	if err != nil {
		t.Fatal(err)
	}
	root, err := filepath.Abs(repoRoot)
	if err != nil {
		t.Fatal(err)
	}
	blocks := fencedBlocksAt(string(text), "hcl", "terraform")
	if len(blocks) == 0 {
		t.Fatalf("%s has no hcl or terraform block", readme)
	}
	for i, block := range blocks {
		t.Run(fmt.Sprintf("block_%d", i+1), func(t *testing.T) {
			t.Parallel()
			where := fmt.Sprintf("%s's block %d (line %d)", readme, i+1, block.line)
			config := absoluteSources(block.text, filepath.Join(root, "examples", "snippet"))
			if usesDocker(config) {
				requireDockerProvider(t, where)
			}
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(config), 0o644); err != nil {
				t.Fatal(err)
			}
			ws := postgrestest.NewWorkspace(t, dir)
			for _, args := range [][]string{{"init", "-no-color"}, {"validate", "-no-color"}} {
				if out, code := ws.Run(t, args...); code != 0 {
					t.Fatalf("%s fails `terraform %s` (exit %d):\n%s\n\nThe block, as validated:\n%s", where, strings.Join(args, " "), code, out, config)
				}
			}
		})
	}
}

// relativeSource matches a source argument whose value is a relative path.
var relativeSource = regexp.MustCompile(`(?m)^(\s*source\s*=\s*)"(\.\.?/[^"]*)"`)

// absoluteSources rewrites each relative source of a configuration to the absolute path it
// names from the directory from.
func absoluteSources(config, from string) string {
	return relativeSource.ReplaceAllStringFunc(config, func(m string) string {
		sub := relativeSource.FindStringSubmatch(m)
		return sub[1] + strconv.Quote(filepath.Join(from, filepath.FromSlash(sub[2])))
	})
}

// usesDocker tells whether a configuration needs the kreuzwerker/docker provider: it requires
// it, or calls docker-region or its api module.
func usesDocker(config string) bool {
	return strings.Contains(config, "kreuzwerker/docker") || strings.Contains(config, "/modules/docker-region")
}

// requireDockerProvider fails the test unless kreuzwerker/docker is in the cache's provider
// mirror, from which the workspace's CLI config installs every provider but pgshard.
func requireDockerProvider(t *testing.T, where string) {
	t.Helper()
	cache, err := postgrestest.CacheDir()
	if err != nil {
		t.Fatal(err)
	}
	mirror := filepath.Join(cache, "mirror")
	bins, err := filepath.Glob(filepath.Join(mirror, postgrestest.TerraformRegistry, "kreuzwerker", "docker", "*", runtime.GOOS+"_"+runtime.GOARCH, "terraform-provider-docker_v*"))
	if err != nil {
		t.Fatal(err)
	}
	if len(bins) == 0 {
		t.Fatalf("%s needs the kreuzwerker/docker provider, which is not in the provider mirror %s. "+
			"Build it there from the Go module proxy (about 1.5 min) and rerun:\n\n\tPGSHARD_CACHE=%s make docker-provider\n\n"+
			"(`make test` builds it first through `scripts/demo.sh prepare`, but only where a Docker engine answers.)",
			where, mirror, cache)
	}
}

// fence opens or closes a fenced code block at the start of a line: its backticks and its
// language, if any.
var fence = regexp.MustCompile("^(```+)\\s*([A-Za-z0-9_+-]*)\\s*$")

// fencedBlocks returns the contents of the fenced code blocks of a Markdown text whose
// language is one of langs, in order.
func fencedBlocks(text string, langs ...string) []string {
	var blocks []string
	for _, b := range fencedBlocksAt(text, langs...) {
		blocks = append(blocks, b.text)
	}
	return blocks
}

// fencedBlock is the contents of a fenced code block and the line of its opening fence.
type fencedBlock struct {
	text string
	line int
}

// fencedBlocksAt returns the fenced code blocks of a Markdown text whose language is one of
// langs, in order.
func fencedBlocksAt(text string, langs ...string) []fencedBlock {
	var blocks []fencedBlock
	var open string // the opening fence's backticks, "" outside a block
	var keep bool
	var at int
	var b strings.Builder
	for n, line := range strings.Split(text, "\n") {
		m := fence.FindStringSubmatch(line)
		switch {
		case open == "" && m != nil:
			open, keep, at = m[1], slices.Contains(langs, m[2]), n+1
			b.Reset()
		case open != "" && m != nil && m[1] == open && m[2] == "":
			if keep {
				blocks = append(blocks, fencedBlock{b.String(), at})
			}
			open = ""
		case open != "":
			b.WriteString(line + "\n")
		}
	}
	return blocks
}
