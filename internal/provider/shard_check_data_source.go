package provider

import (
	"context"
	"errors"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

var _ datasource.DataSourceWithConfigure = (*shardCheckDataSource)(nil)

// NewShardCheckDataSource returns the pgshard_shard_check data source.
func NewShardCheckDataSource() datasource.DataSource { return &shardCheckDataSource{} }

type shardCheckDataSource struct{ client *Client }

func (d *shardCheckDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_shard_check"
}

func (d *shardCheckDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "Checks that every row of a partitioned table is where its partition key says it belongs. " +
			"PostgreSQL keeps the rows of local partitions within their bounds, but not those of a shard: rows written on the " +
			"shard directly are held to the bound only by the shard table's own `CHECK` (which `create_remote_table` adds, and " +
			"which anyone on the shard can drop), and a row outside the bound is missed by every query that PostgreSQL prunes " +
			"to the partition its key belongs to. Use it in a `check` block (Terraform 1.5 or later) to be warned on every plan " +
			"and apply; a failed check is a warning and does not stop the run.\n\n" +
			"**Cost.** The counts are exact, so they are full scans, made whenever Terraform reads the data source (every plan " +
			"and refresh; in a `check` block, once more during each apply): one count over each partition (for a foreign " +
			"partition, one query on its shard, which postgres_fdw sends whole, so that one row comes back), and one count over " +
			"the DEFAULT partition for all the other bounds at once. They run in one `READ ONLY`, `REPEATABLE READ` " +
			"transaction, so the base's counts are one snapshot; each shard's are one snapshot of that shard, taken when the " +
			"transaction first reaches it. Where postgres_fdw cannot send the comparison, the key columns of every row are " +
			"read from the shard and compared on the base: a `RANGE` bound over several columns (postgres_fdw does not send " +
			"row comparisons), a partition key calling a function that is not built in, and `HASH` bounds " +
			"(`satisfies_hash_partition` needs the parent, which only the base has).\n\n" +
			"While the provider's connection settings are not known (they come from a resource that the same run creates), " +
			"the read fails: in a `check` block that is a warning and a failed check; elsewhere, give the data source " +
			"`depends_on` with those resources, and Terraform reads it during the apply.",
		Attributes: map[string]schema.Attribute{
			"parent": schema.StringAttribute{
				MarkdownDescription: "The partitioned table to check, as `schema.name` (a bare name is in schema `public`).",
				Required:            true,
				Validators:          []validator.String{validTableID()},
			},
			"partitions": schema.ListNestedAttribute{
				MarkdownDescription: "One entry per direct partition of `parent`, ordered by schema and name. A partition that is " +
					"partitioned itself is counted over its whole tree.",
				Computed: true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":    schema.StringAttribute{Computed: true, MarkdownDescription: "The partition, as `schema.name`."},
					"foreign": schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether it is a foreign table, whose rows live on a shard."},
					"server":  schema.StringAttribute{Computed: true, MarkdownDescription: "The foreign server of a foreign partition; empty for a local one."},
					"bound": schema.StringAttribute{Computed: true, MarkdownDescription: "The bound as PostgreSQL prints it, such as " +
						"`FOR VALUES IN ('europe')` or `DEFAULT`."},
					"rows": schema.Int64Attribute{Computed: true, MarkdownDescription: "How many rows the partition holds (on its shard, for a foreign one)."},
					"rows_outside_bound": schema.Int64Attribute{Computed: true, MarkdownDescription: "How many of those rows have a key " +
						"that the bound does not admit; a NULL key counts as outside unless the bound lists `NULL`, and a `RANGE` bound " +
						"admits no key with a NULL column. It must be 0: such rows are read through the parent only by queries " +
						"PostgreSQL does not prune to other partitions. Always 0 for the DEFAULT partition, whose stray rows are " +
						"`default_rows_claimed`."},
				}},
			},
			"default_rows_claimed": schema.Int64Attribute{
				Computed: true,
				MarkdownDescription: "How many rows of the DEFAULT partition the bound of another partition admits (0 when there is " +
					"no DEFAULT partition). PostgreSQL refuses to create or attach a partition while DEFAULT holds its rows, so this " +
					"is 0 unless something went around it: a DEFAULT that is a foreign table (PostgreSQL does not check its shard's " +
					"rows) or a partition key over a function that was redefined.",
			},
			"ok": schema.BoolAttribute{
				Computed:            true,
				MarkdownDescription: "Whether every `rows_outside_bound` and `default_rows_claimed` is 0: every row is in its partition.",
			},
		},
	}
}

func (d *shardCheckDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *shardCheckDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m shardCheckModelV0
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if !d.client.Known() {
		d.readUnknown(ctx, req, resp, &m)
		return
	}
	schemaName, name, _ := parseTableID(m.Parent.ValueString())
	db, err := d.client.DB()
	var check *postgres.ResidencyCheck
	if err == nil {
		check, err = postgres.CheckResidency(ctx, db, schemaName, name)
	}
	if errors.Is(err, postgres.ErrNotFound) {
		err = fmt.Errorf("the table %s does not exist: %w", tableID(schemaName, name), err)
	}
	if err != nil {
		addObjectError(&resp.Diagnostics, "Shard Check", "Read", "the rows of the partitions of "+tableID(schemaName, name), d.client.Database(), err)
		return
	}
	parts := make([]shardCheckPartitionModelV0, len(check.Partitions))
	for i, p := range check.Partitions {
		parts[i] = shardCheckPartitionModelV0{
			Name: types.StringValue(tableID(p.Schema, p.Name)), Foreign: types.BoolValue(p.Foreign), Server: types.StringValue(p.Server),
			Bound: types.StringValue(p.Bound), Rows: types.Int64Value(p.Rows), RowsOutsideBound: types.Int64Value(p.RowsOutsideBound),
		}
	}
	list, diags := types.ListValueFrom(ctx, shardCheckPartitionType, parts)
	resp.Diagnostics.Append(diags...)
	m.Partitions = list
	m.DefaultRowsClaimed = types.Int64Value(check.DefaultRowsClaimed)
	m.OK = types.BoolValue(check.OK())
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

// readUnknown answers while the provider's connection settings are not known (they come
// from a resource created in the same run). Terraform refuses unknown values from a data
// source unless it allows deferral, and a null ok would make a check block's condition an
// error, so the read fails instead: in a check block Terraform reports that as a warning and
// the check as failed, and the plan goes on.
func (d *shardCheckDataSource) readUnknown(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse, m *shardCheckModelV0) {
	if !req.ClientCapabilities.DeferralAllowed {
		resp.Diagnostics.AddError("Shard Check Not Run", fmt.Sprintf("Could not check the rows of the partitions of %s: the provider's "+
			"connection settings are not known yet (they come from resources this run creates), and Terraform reads a data source "+
			"while it plans. Give the data source depends_on with those resources: Terraform then reads it during the apply. In a "+
			"check block, Terraform reports this as a warning, and the check as failed.", m.Parent.ValueString()))
		return
	}
	m.Partitions, m.DefaultRowsClaimed, m.OK = types.ListUnknown(shardCheckPartitionType), types.Int64Unknown(), types.BoolUnknown()
	resp.Deferred = &datasource.Deferred{Reason: datasource.DeferredReasonProviderConfigUnknown}
	resp.Diagnostics.Append(resp.State.Set(ctx, m)...)
}

var shardCheckPartitionType = types.ObjectType{AttrTypes: map[string]attr.Type{
	"name": types.StringType, "foreign": types.BoolType, "server": types.StringType, "bound": types.StringType,
	"rows": types.Int64Type, "rows_outside_bound": types.Int64Type,
}}

type shardCheckModelV0 struct {
	Parent             types.String `tfsdk:"parent"`
	Partitions         types.List   `tfsdk:"partitions"`
	DefaultRowsClaimed types.Int64  `tfsdk:"default_rows_claimed"`
	OK                 types.Bool   `tfsdk:"ok"`
}

type shardCheckPartitionModelV0 struct {
	Name             types.String `tfsdk:"name"`
	Foreign          types.Bool   `tfsdk:"foreign"`
	Server           types.String `tfsdk:"server"`
	Bound            types.String `tfsdk:"bound"`
	Rows             types.Int64  `tfsdk:"rows"`
	RowsOutsideBound types.Int64  `tfsdk:"rows_outside_bound"`
}
