package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/action/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// Actions (Terraform 1.14+) are day-two operations that are not resources: run with
// `terraform apply -invoke=action.<type>.<name>`, or from a resource's
// lifecycle { action_trigger { ... } }. Each reports progress and stops when Terraform
// cancels it (Ctrl-C cancels the context, and lib/pq cancels the running statement).

var (
	_ action.ActionWithConfigure = (*analyzeAction)(nil)
	_ action.ActionWithConfigure = (*verifyResidencyAction)(nil)
)

// actionModel is the configuration of the actions that take a parent.
type actionModel struct {
	Parent types.String `tfsdk:"parent"`
}

func parentAttribute(what string) schema.StringAttribute {
	return schema.StringAttribute{
		MarkdownDescription: "The partitioned table " + what + ", as `schema.name` (a bare name is in schema `public`).",
		Required:            true,
		Validators:          []validator.String{validTableID()},
	}
}

// actionParent reads the parent and the pool, or reports why it cannot.
func actionParent(ctx context.Context, client *Client, kind string, req action.InvokeRequest, resp *action.InvokeResponse) (*postgres.DB, string, string, bool) {
	var m actionModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return nil, "", "", false
	}
	schemaName, name, err := parseTableID(m.Parent.ValueString())
	if err != nil {
		resp.Diagnostics.AddError(kind+" Not Run", fmt.Sprintf("parent = %q: %s. Give the partitioned table as schema.name.", m.Parent.ValueString(), err))
		return nil, "", "", false
	}
	db, err := client.DB()
	if err != nil {
		addObjectError(&resp.Diagnostics, kind, "Invoke", tablePhrase("partitioned table", schemaName, name), client.Database(), err)
		return nil, "", "", false
	}
	return db, schemaName, name, true
}

// NewAnalyzeAction returns the pgshard_analyze action.
func NewAnalyzeAction() action.Action { return &analyzeAction{} }

type analyzeAction struct{ client *Client }

func (a *analyzeAction) Metadata(_ context.Context, req action.MetadataRequest, resp *action.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_analyze"
}

func (a *analyzeAction) Schema(_ context.Context, _ action.SchemaRequest, resp *action.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Runs `ANALYZE` on every foreign partition of a partitioned table (those of its partitioned " +
			"partitions too), one at a time, so that the base's planner has statistics for the shards' rows: autovacuum " +
			"never analyzes foreign tables, and without statistics PostgreSQL guesses their size. postgres_fdw samples each " +
			"shard table (reading it, not locking it against writers). Progress names each partition with the rows its " +
			"statistics now estimate. Needs Terraform 1.14 or later.",
		Attributes: map[string]schema.Attribute{"parent": parentAttribute("whose foreign partitions to analyze")},
	}
}

func (a *analyzeAction) Configure(_ context.Context, req action.ConfigureRequest, resp *action.ConfigureResponse) {
	a.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (a *analyzeAction) Invoke(ctx context.Context, req action.InvokeRequest, resp *action.InvokeResponse) {
	const kind = "Analyze"
	ctx = a.client.withStepLog(ctx)
	db, schemaName, name, ok := actionParent(ctx, a.client, kind, req, resp)
	if !ok {
		return
	}
	what := tablePhrase("the foreign partitions of", schemaName, name)
	parts, err := postgres.ForeignPartitionsIn(ctx, db, schemaName, name)
	if errors.Is(err, postgres.ErrNotFound) {
		err = fmt.Errorf("the table %s does not exist: %w", tableID(schemaName, name), err)
	}
	if err != nil {
		addObjectError(&resp.Diagnostics, kind, "Invoke", what, a.client.Database(), err)
		return
	}
	if len(parts) == 0 {
		resp.SendProgress(action.InvokeProgressEvent{Message: fmt.Sprintf("%s has no foreign partition: nothing to analyze", tableID(schemaName, name))})
		return
	}
	for i, p := range parts {
		done, err := postgres.AnalyzeForeignPartition(ctx, db, p)
		if err != nil {
			if ctx.Err() != nil {
				err = fmt.Errorf("interrupted after %d of %d foreign partitions: %w", i, len(parts), err)
			}
			addObjectError(&resp.Diagnostics, kind, "Invoke", tablePhrase("foreign partition", p.Schema, p.Name)+" (server "+p.Server+")", a.client.Database(), err)
			return
		}
		resp.SendProgress(action.InvokeProgressEvent{Message: fmt.Sprintf("analyzed %d of %d: %s on server %s, about %d rows",
			i+1, len(parts), tableID(p.Schema, p.Name), p.Server, done.Rows)})
	}
}

// NewVerifyResidencyAction returns the pgshard_verify_residency action.
func NewVerifyResidencyAction() action.Action { return &verifyResidencyAction{} }

type verifyResidencyAction struct{ client *Client }

func (a *verifyResidencyAction) Metadata(_ context.Context, req action.MetadataRequest, resp *action.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_verify_residency"
}

func (a *verifyResidencyAction) Schema(_ context.Context, _ action.SchemaRequest, resp *action.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Fails when any row of a partitioned table is outside the partition its key belongs to, " +
			"naming each partition and its count: the action form of the `pgshard_shard_check` data source, with the same " +
			"exact counts (full scans, one `READ ONLY`, `REPEATABLE READ` transaction). Rows written on a shard directly are " +
			"held to the partition's bound only by the shard table's own `CHECK`, and a row outside it is missed by every " +
			"query pruned to the partition its key names. Needs Terraform 1.14 or later.",
		Attributes: map[string]schema.Attribute{"parent": parentAttribute("to check")},
	}
}

func (a *verifyResidencyAction) Configure(_ context.Context, req action.ConfigureRequest, resp *action.ConfigureResponse) {
	a.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (a *verifyResidencyAction) Invoke(ctx context.Context, req action.InvokeRequest, resp *action.InvokeResponse) {
	const kind = "Residency"
	db, schemaName, name, ok := actionParent(ctx, a.client, kind, req, resp)
	if !ok {
		return
	}
	parent := tableID(schemaName, name)
	resp.SendProgress(action.InvokeProgressEvent{Message: "counting the rows of every partition of " + parent})
	check, err := postgres.CheckResidency(ctx, db, schemaName, name)
	if errors.Is(err, postgres.ErrNotFound) {
		err = fmt.Errorf("the table %s does not exist: %w", parent, err)
	}
	if err != nil {
		addObjectError(&resp.Diagnostics, kind, "Invoke", "the rows of the partitions of "+parent, a.client.Database(), err)
		return
	}
	var rows int64
	var stray []string
	for _, p := range check.Partitions {
		rows += p.Rows
		if p.RowsOutsideBound > 0 {
			where := "local"
			if p.Foreign {
				where = "on server " + p.Server
			}
			stray = append(stray, fmt.Sprintf("- %s (%s, %s): %d of its %d rows are outside it", tableID(p.Schema, p.Name), where, p.Bound, p.RowsOutsideBound, p.Rows))
		}
	}
	if check.DefaultRowsClaimed > 0 {
		stray = append(stray, fmt.Sprintf("- the DEFAULT partition holds %d rows that another partition's bound admits", check.DefaultRowsClaimed))
	}
	if len(stray) > 0 {
		resp.Diagnostics.AddError("Rows Outside Their Partition", fmt.Sprintf("In %s of database %q, rows are not in the partition their key belongs to:\n%s\n\n"+
			"Queries that PostgreSQL prunes to the partition a key names miss them. They were written on a shard directly (after its CHECK was dropped) "+
			"or into DEFAULT before the partition existed: move them (delete and insert through %s), or see the data-safety guide.",
			parent, a.client.Database(), strings.Join(stray, "\n"), parent))
		return
	}
	resp.SendProgress(action.InvokeProgressEvent{Message: fmt.Sprintf("every one of the %d rows of the %d partitions of %s is in its partition", rows, len(check.Partitions), parent)})
}
