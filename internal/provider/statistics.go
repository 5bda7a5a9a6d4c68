package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// analyzeWritten gives a foreign partition that pgshard just created or moved rows into or
// out of its statistics (analyze_foreign_partitions): autovacuum never analyzes a foreign
// table, and without statistics the planner guesses its size. The write has committed, so
// a failure is a warning that says how to run it later.
func analyzeWritten(ctx context.Context, client *Client, db *postgres.DB, schema, name string, diags *diag.Diagnostics) {
	if !client.analyze {
		return
	}
	if _, err := postgres.AnalyzeForeignPartition(ctx, db, postgres.PartitionInfo{Schema: schema, Name: name}); err != nil {
		diags.AddWarning("Foreign Partition Not Analyzed", fmt.Sprintf("The change to foreign partition %s.%s in database %q is done, but ANALYZE of it failed: %s. "+
			"The planner keeps its old statistics (or none) for it until it is analyzed: run ANALYZE %s, or the pgshard_analyze action (Terraform 1.14+).",
			schema, name, client.Database(), reason(err), postgres.QualifiedIdent(schema, name)))
	}
}
