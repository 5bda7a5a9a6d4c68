package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/list"
	listschema "github.com/hashicorp/terraform-plugin-framework/list/schema"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// List resources (Terraform 1.14+, terraform query) find the objects that exist in the
// provider's database, each with its identity ({id}, the import ID) and, with
// include_resource, the resource object that importing it gives: made by the resource's own
// import and read, through a provider of its own configured as this one, so that what
// terraform query -generate-config-out writes is what an import block would import, and
// plans empty once applied.

// listed is one list resource: the resource type it finds objects for and its filters.
type listed struct {
	typeName string // without the provider's prefix
	kind     postgres.ListKind
	filters  []string // of "schema", "parent", "server"
	what     string   // the objects, in words
	client   *Client
}

var listResources = []func() list.ListResource{
	newLister("extension", postgres.ListKindExtension, "extensions installed (but plpgsql)"),
	newLister("foreign_server", postgres.ListKindServer, "foreign servers", "server"),
	newLister("user_mapping", postgres.ListKindUserMapping, "user mappings", "server"),
	newLister("foreign_server_usage", postgres.ListKindServerUsage, "grants of USAGE on foreign servers (but the owner's)", "server"),
	newLister("partitioned_table", postgres.ListKindPartitionedTable, "partitioned tables, those that are partitions of another too", "schema", "parent"),
	newLister("partition", postgres.ListKindPartition, "local partitions (plain tables attached to a partitioned table)", "schema", "parent"),
	newLister("foreign_partition", postgres.ListKindForeignPartition, "foreign partitions", "schema", "parent", "server"),
	newLister("table", postgres.ListKindTable, "plain tables that are not partitions", "schema"),
	newLister("foreign_schema_import", postgres.ListKindSchemaImport,
		"imported foreign schemas (the foreign tables that are not partitions, by local schema, server and remote schema)", "schema", "server"),
	newLister("time_partitions", postgres.ListKindTimePartitions,
		"parents partitioned by RANGE on one date, timestamp or timestamptz column, whose periods pgshard_time_partitions can keep", "schema"),
	newLister("settings", postgres.ListKindSettings, "settings of the provider's database, its own and each role's in it"),
}

func newLister(typeName string, kind postgres.ListKind, what string, filters ...string) func() list.ListResource {
	return func() list.ListResource { return &listed{typeName: typeName, kind: kind, filters: filters, what: what} }
}

var _ list.ListResourceWithConfigure = (*listed)(nil)

func (l *listed) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_" + l.typeName
}

func (l *listed) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	l.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

var listFilterDescriptions = map[string]string{
	"schema": "Only objects in this schema.",
	"parent": "Only the direct partitions of this partitioned table, as `schema.name` (a bare name is in schema `public`).",
	"server": "Only those of this foreign server.",
}

func (l *listed) ListResourceConfigSchema(_ context.Context, _ list.ListResourceSchemaRequest, resp *list.ListResourceSchemaResponse) {
	attrs := map[string]listschema.Attribute{}
	for _, f := range l.filters {
		a := listschema.StringAttribute{MarkdownDescription: listFilterDescriptions[f], Optional: true}
		switch f {
		case "parent":
			a.Validators = []validator.String{validTableID()}
		default:
			a.Validators = []validator.String{identifier{}}
		}
		attrs[f] = a
	}
	resp.Schema = listschema.Schema{
		MarkdownDescription: fmt.Sprintf("Finds the %s in the provider's database, each with the identity and (with `include_resource`) the object that importing it as `pgshard_%s` gives. Every filter is optional. Needs Terraform 1.14 or later.", l.what, l.typeName),
		Attributes:          attrs,
	}
}

func (l *listed) List(ctx context.Context, req list.ListRequest, stream *list.ListResultsStream) {
	var diags diag.Diagnostics
	var f postgres.ListFilter
	for _, name := range l.filters {
		var v types.String
		diags.Append(req.Config.GetAttribute(ctx, path.Root(name), &v)...)
		switch s := v.ValueString(); name {
		case "schema":
			f.Schema = s
		case "server":
			f.Server = s
		case "parent":
			if s != "" {
				var err error
				if f.ParentSchema, f.ParentName, err = parseTableID(s); err != nil {
					diags.AddAttributeError(path.Root("parent"), "Invalid parent", fmt.Sprintf("parent = %q: %s. Give the partitioned table as schema.name.", s, err))
				}
			}
		}
	}
	kind := "List " + strings.ReplaceAll(l.typeName, "_", " ")
	var ids []string
	if !diags.HasError() {
		db, err := l.client.DB()
		if err == nil {
			ids, err = postgres.ListObjects(ctx, db, l.kind, f)
		}
		if err != nil {
			addObjectError(&diags, kind, "Query", "the "+l.what, l.client.Database(), err)
		}
	}
	if diags.HasError() {
		stream.Results = list.ListResultsStreamDiagnostics(diags)
		return
	}
	var reader *importReader
	stream.Results = func(push func(list.ListResult) bool) {
		for i, id := range ids {
			if req.Limit > 0 && int64(i) >= req.Limit {
				return
			}
			res := req.NewListResult(ctx)
			res.DisplayName = id
			res.Diagnostics.Append(res.Identity.SetAttribute(ctx, path.Root("id"), id)...)
			if req.IncludeResource {
				if reader == nil {
					reader, res.Diagnostics = newImportReader(ctx, l.client, res.Diagnostics)
				}
				if reader != nil {
					v, err := reader.read(ctx, "pgshard_"+l.typeName, id)
					if err != nil {
						res.Diagnostics.AddError(kind+" Error", fmt.Sprintf("Could not import %s %q from database %q to list it: %s", "pgshard_"+l.typeName, id, l.client.Database(), reason(err)))
					} else {
						res.Resource.Raw = v
					}
				}
			}
			if !push(res) {
				return
			}
		}
	}
}

// importReader imports and reads objects through a provider server of its own, configured
// as the one that lists them.
type importReader struct {
	server  tfprotov6.ProviderServer
	schemas *tfprotov6.GetProviderSchemaResponse
}

func newImportReader(ctx context.Context, c *Client, diags diag.Diagnostics) (*importReader, diag.Diagnostics) {
	server, err := providerserver.NewProtocol6WithError(New(c.version)())()
	if err != nil {
		diags.AddError("List Error", "Could not start the provider that reads what is listed: "+err.Error())
		return nil, diags
	}
	schemas, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err == nil {
		err = protoErrors(schemas.Diagnostics)
	}
	var cfg tfprotov6.DynamicValue
	if err == nil {
		cfg, err = tfprotov6.NewDynamicValue(schemas.Provider.ValueType(), c.config)
	}
	if err == nil {
		var conf *tfprotov6.ConfigureProviderResponse
		if conf, err = server.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{Config: &cfg}); err == nil {
			err = protoErrors(conf.Diagnostics)
		}
	}
	if err != nil {
		diags.AddError("List Error", "Could not configure the provider that reads what is listed: "+err.Error())
		return nil, diags
	}
	return &importReader{server: server, schemas: schemas}, diags
}

// read is the state of typeName that importing id and reading it gives.
func (r *importReader) read(ctx context.Context, typeName, id string) (tftypes.Value, error) {
	s, ok := r.schemas.ResourceSchemas[typeName]
	if !ok {
		return tftypes.Value{}, fmt.Errorf("no resource type %s", typeName)
	}
	imp, err := r.server.ImportResourceState(ctx, &tfprotov6.ImportResourceStateRequest{TypeName: typeName, ID: id})
	if err == nil {
		err = protoErrors(imp.Diagnostics)
	}
	if err == nil && len(imp.ImportedResources) != 1 {
		err = fmt.Errorf("the import gave %d objects", len(imp.ImportedResources))
	}
	if err != nil {
		return tftypes.Value{}, err
	}
	got := imp.ImportedResources[0]
	read, err := r.server.ReadResource(ctx, &tfprotov6.ReadResourceRequest{TypeName: typeName, CurrentState: got.State, Private: got.Private, CurrentIdentity: got.Identity})
	if err == nil {
		err = protoErrors(read.Diagnostics)
	}
	if err != nil {
		return tftypes.Value{}, err
	}
	v, err := read.NewState.Unmarshal(s.ValueType())
	if err == nil && v.IsNull() {
		err = errors.New("it is gone")
	}
	return v, err
}

// protoErrors joins the error diagnostics of a protocol response.
func protoErrors(diags []*tfprotov6.Diagnostic) error {
	var errs []error
	for _, d := range diags {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			errs = append(errs, fmt.Errorf("%s: %s", d.Summary, d.Detail))
		}
	}
	return errors.Join(errs...)
}
