package postgrestest

import (
	"bufio"
	"context"
	"errors"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// Interrupt runs terraform with args and TF_LOG=INFO, and sends it SIGINT (what Ctrl-C
// does) at the first output line for which at returns true. It returns the output, the exit
// code, and whether the signal was sent.
func (w *Workspace) Interrupt(t testing.TB, at func(line string) bool, args ...string) (out string, code int, sent bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.tf, args...)
	cmd.Dir = w.Dir
	cmd.Env = append(append([]string{}, w.env...), "TF_LOG=INFO")
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	if err := cmd.Start(); err != nil {
		t.Fatalf("terraform %s: %v", strings.Join(args, " "), err)
	}
	var b strings.Builder
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		sc := bufio.NewScanner(pr)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		for sc.Scan() {
			line := sc.Text()
			b.WriteString(line + "\n")
			if !sent && at(line) {
				sent = cmd.Process.Signal(os.Interrupt) == nil
			}
		}
		_, _ = io.Copy(io.Discard, pr)
	}()
	err := cmd.Wait()
	pw.Close()
	wg.Wait()
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("terraform %s: %v", strings.Join(args, " "), err)
	}
	return b.String(), code, sent
}
