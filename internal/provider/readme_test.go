package provider

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// Every Terraform snippet of the README is a whole configuration that a newcomer can paste:
// each ```hcl or ```terraform block passes `terraform init` and `terraform validate` on its
// own, with the provider installed from the test's filesystem mirror. Validating reads the
// provider's schema and never configures it, so no database is needed, nor TF_ACC.
func TestReadmeSnippetsValidate(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	snippets := fencedBlocks(string(readme), "hcl", "terraform")
	if len(snippets) == 0 {
		t.Fatal("README.md has no hcl or terraform block")
	}
	for i, snippet := range snippets {
		t.Run(fmt.Sprintf("block_%d", i+1), func(t *testing.T) {
			t.Parallel()
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "main.tf"), []byte(snippet), 0o644); err != nil {
				t.Fatal(err)
			}
			ws := postgrestest.NewWorkspace(t, dir)
			for _, args := range [][]string{{"init", "-no-color"}, {"validate", "-no-color"}} {
				if out, code := ws.Run(t, args...); code != 0 {
					t.Fatalf("README.md's block %d fails `terraform %s` (exit %d):\n%s\n\nThe block:\n%s", i+1, strings.Join(args, " "), code, out, snippet)
				}
			}
		})
	}
}

// fence opens or closes a fenced code block at the start of a line: its backticks and its
// language, if any.
var fence = regexp.MustCompile("^(```+)\\s*([A-Za-z0-9_+-]*)\\s*$")

// fencedBlocks returns the contents of the fenced code blocks of a Markdown text whose
// language is one of langs, in order.
func fencedBlocks(text string, langs ...string) []string {
	var blocks []string
	var open string // the opening fence's backticks, "" outside a block
	var keep bool
	var b strings.Builder
	for _, line := range strings.Split(text, "\n") {
		m := fence.FindStringSubmatch(line)
		switch {
		case open == "" && m != nil:
			open, keep = m[1], slices.Contains(langs, m[2])
			b.Reset()
		case open != "" && m != nil && m[1] == open && m[2] == "":
			if keep {
				blocks = append(blocks, b.String())
			}
			open = ""
		case open != "":
			b.WriteString(line + "\n")
		}
	}
	return blocks
}
