package provider

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// DESIGN.md's "Where things live" names every Go file of internal/ but tests, so that a
// file added without a word there fails here.
func TestDesignNamesEveryFile(t *testing.T) {
	design, err := os.ReadFile("../../DESIGN.md")
	if err != nil {
		t.Fatal(err)
	}
	section := string(design)
	start := strings.Index(section, "## Where things live")
	if start < 0 {
		t.Fatal(`DESIGN.md has no "## Where things live" section`)
	}
	section = section[start:]
	if end := strings.Index(section[3:], "\n## "); end >= 0 {
		section = section[:end+3]
	}
	err = filepath.WalkDir("..", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return err
		}
		if !strings.Contains(section, "`"+d.Name()+"`") {
			t.Errorf("DESIGN.md's \"Where things live\" does not name internal/%s: say in a few words what it holds", filepath.ToSlash(path[3:]))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
