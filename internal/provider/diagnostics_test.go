package provider

import (
	"context"
	"database/sql/driver"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// Ctrl-C is reported as an interruption even when the driver called it a bad connection
// (the flake seen under Terraform 1.5.7 on a loaded machine).
func TestObjectErrorSaysInterrupted(t *testing.T) {
	var diags diag.Diagnostics
	err := &postgres.InterruptedError{Cause: context.Canceled, Err: driver.ErrBadConn}
	addObjectError(&diags, "Foreign Partition", "Update", `foreign partition "public.europe"`, "tweets", err)
	if len(diags) != 1 {
		t.Fatalf("want one diagnostic, got %v", diags)
	}
	detail := diags[0].Detail()
	for _, want := range []string{"the apply was interrupted", "The apply was interrupted (Ctrl-C makes Terraform stop the provider", "apply again"} {
		if !strings.Contains(detail, want) {
			t.Errorf("the detail lacks %q:\n%s", want, detail)
		}
	}
}
