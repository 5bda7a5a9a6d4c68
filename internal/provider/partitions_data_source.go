package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/datasource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

var _ datasource.DataSourceWithConfigure = (*partitionsDataSource)(nil)

// NewPartitionsDataSource returns the pgshard_partitions data source.
func NewPartitionsDataSource() datasource.DataSource { return &partitionsDataSource{} }

type partitionsDataSource struct{ client *Client }

func (d *partitionsDataSource) Metadata(_ context.Context, req datasource.MetadataRequest, resp *datasource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_partitions"
}

func (d *partitionsDataSource) Schema(_ context.Context, _ datasource.SchemaRequest, resp *datasource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The shard map of a partitioned table: its partitions, foreign and local, with their bounds, ordered by schema and name.",
		Attributes: map[string]schema.Attribute{
			"parent": schema.StringAttribute{
				MarkdownDescription: "The partitioned table, as `schema.name`.",
				Required:            true,
				Validators:          []validator.String{tableIDValidator{}},
			},
			"partitions": schema.ListNestedAttribute{
				MarkdownDescription: "The partitions.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"schema":     schema.StringAttribute{Computed: true, MarkdownDescription: "Schema of the partition."},
					"name":       schema.StringAttribute{Computed: true, MarkdownDescription: "Name of the partition."},
					"foreign":    schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether it is a foreign table (a shard)."},
					"server":     schema.StringAttribute{Computed: true, MarkdownDescription: "Foreign server of a foreign partition; empty for a local one."},
					"bound":      schema.StringAttribute{Computed: true, MarkdownDescription: "The bound as PostgreSQL renders it, such as `FOR VALUES IN ('europe')` or `DEFAULT`."},
					"is_default": schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether it is the DEFAULT partition."},
				}},
			},
		},
	}
}

func (d *partitionsDataSource) Configure(_ context.Context, req datasource.ConfigureRequest, resp *datasource.ConfigureResponse) {
	d.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (d *partitionsDataSource) Read(ctx context.Context, req datasource.ReadRequest, resp *datasource.ReadResponse) {
	var m partitionsModelV0
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	schemaName, name, _ := parseTableID(m.Parent.ValueString())
	db, err := d.client.DB()
	var parts []postgres.PartitionInfo
	if err == nil {
		parts, err = postgres.ListPartitions(ctx, db, schemaName, name)
	}
	if err != nil {
		resp.Diagnostics.AddError("Partitions Read Error", fmt.Sprintf("Could not read the partitions of %s.%s in database %q: %s.\n\nOriginal error: %s", schemaName, name, d.client.Database(), reason(err), err))
		return
	}
	m.Partitions = make([]partitionInfoModelV0, len(parts))
	for i, p := range parts {
		m.Partitions[i] = partitionInfoModelV0{
			Schema: types.StringValue(p.Schema), Name: types.StringValue(p.Name), Foreign: types.BoolValue(p.Foreign),
			Server: types.StringValue(p.Server), Bound: types.StringValue(p.Bound), IsDefault: types.BoolValue(p.IsDefault),
		}
	}
	resp.Diagnostics.Append(resp.State.Set(ctx, &m)...)
}

type partitionsModelV0 struct {
	Parent     types.String           `tfsdk:"parent"`
	Partitions []partitionInfoModelV0 `tfsdk:"partitions"`
}

type partitionInfoModelV0 struct {
	Schema    types.String `tfsdk:"schema"`
	Name      types.String `tfsdk:"name"`
	Foreign   types.Bool   `tfsdk:"foreign"`
	Server    types.String `tfsdk:"server"`
	Bound     types.String `tfsdk:"bound"`
	IsDefault types.Bool   `tfsdk:"is_default"`
}
