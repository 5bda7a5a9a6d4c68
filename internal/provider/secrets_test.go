package provider

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	mathrand "math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

// Passwords never appear in plan or apply output, in error diagnostics, in `terraform
// show`, or in a TF_LOG=TRACE log of core and provider, even while they are used to
// connect (the provider's own connection, and the user mapping through dblink and
// postgres_fdw) and while a connection through the mapping fails. Only the state file
// holds them, as Terraform state always does. This runs the real CLI with the provider
// installed from a filesystem mirror, the way users run it.
func TestAccProvider_SecretsNeverLeak(t *testing.T) {
	base := newAccDatabase(t, nil, "postgres_fdw", "dblink")
	shard := newAccDatabase(t, func(e *postgrestest.Env) *postgrestest.Cluster { return e.Shard1 })

	// Each secret carries a random core, so that a hit in any spelling (SQL literal with
	// doubled quotes, JSON or Go escapes, a libpq DSN with backslash escapes) is found by
	// the core alone; the quote, equals sign and backslash exercise that escaping.
	mappingSecret := `s3cr3t'=\pw-` + randomHex(t)
	oobSecret := `00b'=\pw-` + randomHex(t)     // set out of band, read back by a refresh
	wrongSecret := `wr0ng'=\pw-` + randomHex(t) // a wrong provider password
	rotatedSecret := `r0t'=\pw-` + randomHex(t) // the shard role's password after a rotation
	secrets := map[string]string{
		"provider password":            base.Cluster.Password,
		"user mapping password":        mappingSecret,
		"out-of-band mapping password": oobSecret,
		"wrong provider password":      wrongSecret,
		"rotated shard password":       rotatedSecret,
	}

	role := fmt.Sprintf("pgshard_leak_%06d", mathrand.IntN(1000000))
	shard.Exec(t, fmt.Sprintf(`CREATE ROLE %s LOGIN PASSWORD %s`, quoteIdent(role), quoteLiteral(mappingSecret)))
	t.Cleanup(func() {
		shard.Exec(t, `DROP OWNED BY `+quoteIdent(role))
		shard.Exec(t, `DROP ROLE `+quoteIdent(role))
	})
	shard.Exec(t, `GRANT CREATE ON SCHEMA public TO `+quoteIdent(role))

	config := func(providerPassword, extra string) string {
		return fmt.Sprintf(`
terraform {
  required_providers {
    pgshard = { source = "pgshard/pgshard" }
  }
}

provider "pgshard" {
  host            = %q
  port            = %d
  database        = %q
  username        = %q
  password        = %q
  sslmode         = "disable"
  connect_timeout = 3
}

resource "pgshard_foreign_server" "europe" {
  name   = "europe"
  host   = %q
  port   = %d
  dbname = %q
}

resource "pgshard_user_mapping" "europe" {
  server   = pgshard_foreign_server.europe.name
  user     = %q
  password = %q
}

resource "pgshard_partitioned_table" "tweets" {
  name = "tweets"
  columns = [
    { name = "id", type = "bigserial" },
    { name = "location", type = "text", not_null = true },
    { name = "text", type = "text" },
  ]
  partition_by  = { strategy = "list", key = ["location"] }
  force_destroy = true
}

resource "pgshard_foreign_partition" "europe" {
  parent              = pgshard_partitioned_table.tweets.id
  name                = "europe_tweets"
  server              = pgshard_foreign_server.europe.name
  values_in           = ["europe"]
  create_remote_table = true
  depends_on          = [pgshard_user_mapping.europe]
}
%s
`, base.Cluster.Host, base.Cluster.Port, base.Name, base.Cluster.User, providerPassword,
			shard.Cluster.Host, shard.Cluster.Port, shard.Name, role, mappingSecret, extra)
	}
	// A second shard table, created through the mapping after the shard's password rotated.
	const morePartition = `
resource "pgshard_foreign_partition" "europe_more" {
  parent              = pgshard_partitioned_table.tweets.id
  name                = "europe_more_tweets"
  server              = pgshard_foreign_server.europe.name
  values_in           = ["eu"]
  create_remote_table = true
  depends_on          = [pgshard_user_mapping.europe]
}
`

	src := t.TempDir()
	if err := os.WriteFile(filepath.Join(src, "main.tf"), []byte(config(base.Cluster.Password, "")), 0o600); err != nil {
		t.Fatal(err)
	}
	ws := postgrestest.NewWorkspace(t, src)
	tf := newTraceRunner(t, ws)
	setConfig := func(c string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(ws.Dir, "main.tf"), []byte(c), 0o600); err != nil {
			t.Fatal(err)
		}
	}

	tf.must("init", "-no-color")
	plan := tf.must("plan", "-no-color")
	if !strings.Contains(plan, "pgshard_user_mapping.europe will be created") || !sensitivePassword.MatchString(plan) {
		t.Errorf("the plan should create the mapping and show its password as (sensitive value):\n%s", plan)
	}
	tf.must("apply", "-auto-approve", "-no-color")

	// The mapping works: a row written through the parent lands on the shard.
	base.Exec(t, `INSERT INTO tweets (location, text) VALUES ('europe', 'hallo')`)
	if err := shard.ExpectQuery("hallo", `SELECT text FROM europe_tweets`)(); err != nil {
		t.Fatal(err)
	}
	if show := tf.must("show", "-no-color"); !sensitivePassword.MatchString(show) {
		t.Errorf("terraform show should print the password as (sensitive value):\n%s", show)
	}

	// The mapping's password changed out of band: the refresh reads it back and the plan
	// puts the configured one back, showing neither.
	base.Exec(t, fmt.Sprintf(`ALTER USER MAPPING FOR postgres SERVER europe OPTIONS (SET password %s)`, quoteLiteral(oobSecret)))
	if out, code := tf.run("plan", "-no-color", "-detailed-exitcode"); code != 2 || !strings.Contains(out, "pgshard_user_mapping.europe will be updated in-place") {
		t.Errorf("the out-of-band password change should plan an in-place update (exit 2), got exit %d:\n%s", code, out)
	}
	tf.must("apply", "-auto-approve", "-no-color")

	// The shard role's password rotates: creating a shard table through the mapping fails
	// with an authentication error, which names the role but not the password.
	shard.Exec(t, fmt.Sprintf(`ALTER ROLE %s PASSWORD %s`, quoteIdent(role), quoteLiteral(rotatedSecret)))
	setConfig(config(base.Cluster.Password, morePartition))
	out, code := tf.run("apply", "-auto-approve", "-no-color")
	if code == 0 || !containsFold(out, "password authentication failed") || !strings.Contains(out, role) {
		t.Errorf("the apply should fail with the shard's authentication error for %s, got exit %d:\n%s", role, code, out)
	}

	// A wrong provider password: the refresh fails with the server's authentication error.
	setConfig(config(wrongSecret, ""))
	out, code = tf.run("plan", "-no-color")
	if code == 0 || !containsFold(out, "password authentication failed") {
		t.Errorf("the plan should fail to authenticate with the wrong provider password, got exit %d:\n%s", code, out)
	}

	// Back to working credentials, and destroy.
	shard.Exec(t, fmt.Sprintf(`ALTER ROLE %s PASSWORD %s`, quoteIdent(role), quoteLiteral(mappingSecret)))
	setConfig(config(base.Cluster.Password, ""))
	tf.must("destroy", "-auto-approve", "-no-color")

	// The search must be able to see a secret: the state from before the destroy holds the
	// mapping's password (state is not searched; it holds secrets by design).
	state, err := os.ReadFile(filepath.Join(ws.Dir, "terraform.tfstate.backup"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(state, []byte(secretCore(mappingSecret))) {
		t.Errorf("the state before the destroy should hold the mapping password (else the search below proves nothing):\n%s", state)
	}
	// The TRACE logs really hold the provider's and the plugin framework's traces.
	logs := tf.logs()
	for _, want := range []string{"terraform-provider-pgshard", "ApplyResourceChange", "ConfigureProvider", "@module=sdk.framework"} {
		if !strings.Contains(logs, want) {
			t.Errorf("the TRACE logs should mention %q; is TF_LOG=TRACE honoured?", want)
		}
	}

	transcripts := map[string]string{}
	for i, r := range tf.history {
		transcripts[fmt.Sprintf("output of #%d terraform %s", i+1, r.args)] = r.out
		transcripts[fmt.Sprintf("TRACE log of #%d terraform %s", i+1, r.args)] = r.log
	}
	for where, text := range transcripts {
		for what, secret := range secrets {
			for _, needle := range []string{secret, secretCore(secret)} {
				if needle == "" {
					continue
				}
				if hits := occurrences(text, needle); len(hits) > 0 {
					t.Errorf("the %s leaks in the %s (%d times):\n%s", what, where, len(hits), strings.Join(hits, "\n---\n"))
					break
				}
			}
		}
	}
}

// sensitivePassword matches the mapping's password line of a plan or `terraform show`
// (Terraform aligns the = of a block's attributes).
var sensitivePassword = regexp.MustCompile(`\bpassword +=\s+\(sensitive value\)`)

// traceRunner runs the Terraform CLI in a workspace with TF_LOG=TRACE, one log file per
// command, and keeps every command's output and log. (Workspace.Run drops TF_* from the
// environment, TF_LOG included.)
type traceRunner struct {
	t       *testing.T
	ws      *postgrestest.Workspace
	tf      string
	env     []string
	logDir  string
	history []traceRun
}

type traceRun struct{ args, out, log string }

func newTraceRunner(t *testing.T, ws *postgrestest.Workspace) *traceRunner {
	t.Helper()
	tf := os.Getenv("TF_ACC_TERRAFORM_PATH")
	if tf == "" {
		var err error
		if tf, err = postgrestest.TerraformPath(); err != nil {
			t.Fatal(err)
		}
	}
	env := []string{
		"TF_CLI_CONFIG_FILE=" + filepath.Join(ws.Dir, ".terraformrc"),
		"CHECKPOINT_DISABLE=1", "TF_IN_AUTOMATION=1", "TF_INPUT=0",
		"TF_LOG=TRACE", "TF_LOG_CORE=TRACE", "TF_LOG_PROVIDER=TRACE",
		"TF_LOG_SDK=TRACE", "TF_LOG_SDK_FRAMEWORK=TRACE", "TF_LOG_SDK_PROTO=TRACE",
	}
	for _, kv := range os.Environ() {
		// libpq variables would be a second source of the provider's settings; keep them out.
		if !strings.HasPrefix(kv, "TF_") && !strings.HasPrefix(kv, "PG") {
			env = append(env, kv)
		}
	}
	return &traceRunner{t: t, ws: ws, tf: tf, env: env, logDir: t.TempDir()}
}

// run runs terraform with args and returns its combined output and exit code.
func (r *traceRunner) run(args ...string) (string, int) {
	r.t.Helper()
	logPath := filepath.Join(r.logDir, fmt.Sprintf("%02d-%s.log", len(r.history)+1, args[0]))
	ctx, cancel := context.WithTimeout(r.t.Context(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, r.tf, args...)
	cmd.Dir = r.ws.Dir
	cmd.Env = append(append([]string{}, r.env...), "TF_LOG_PATH="+logPath)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	code := 0
	if exitErr, ok := err.(*exec.ExitError); ok {
		code = exitErr.ExitCode()
	} else if err != nil {
		r.t.Fatalf("terraform %s: %v", strings.Join(args, " "), err)
	}
	log, err := os.ReadFile(logPath)
	if err != nil {
		r.t.Fatalf("terraform %s wrote no TRACE log: %v", strings.Join(args, " "), err)
	}
	r.history = append(r.history, traceRun{args: strings.Join(args, " "), out: out.String(), log: string(log)})
	return out.String(), code
}

// must runs terraform and fails the test unless it exits 0.
func (r *traceRunner) must(args ...string) string {
	r.t.Helper()
	out, code := r.run(args...)
	if code != 0 {
		r.t.Fatalf("terraform %s exited %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// logs is every TRACE log so far.
func (r *traceRunner) logs() string {
	var b strings.Builder
	for _, h := range r.history {
		b.WriteString(h.log)
	}
	return b.String()
}

// occurrences returns, for each line holding needle, that line with two lines of context
// either side (long lines shortened around the hit).
func occurrences(text, needle string) []string {
	lines := strings.Split(text, "\n")
	var hits []string
	for i, line := range lines {
		if !strings.Contains(line, needle) {
			continue
		}
		var b strings.Builder
		for j := max(0, i-2); j <= min(len(lines)-1, i+2); j++ {
			l := lines[j]
			if len(l) > 600 {
				at := strings.Index(l, needle)
				if at < 0 {
					at = 0
				}
				l = "…" + l[max(0, at-300):min(len(l), at+300)] + "…"
			}
			marker := "  "
			if j == i {
				marker = "> "
			}
			fmt.Fprintf(&b, "%s%s\n", marker, l)
		}
		hits = append(hits, b.String())
	}
	return hits
}

// secretCore is the random part of a test secret (after its last '-'), or "" when the
// secret has none.
func secretCore(s string) string {
	if i := strings.LastIndex(s, "-"); i >= 0 && len(s)-i > 16 {
		return s[i+1:]
	}
	return ""
}

func randomHex(t *testing.T) string {
	t.Helper()
	b := make([]byte, 12)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}

func containsFold(s, sub string) bool {
	return strings.Contains(strings.ToLower(s), strings.ToLower(sub))
}
