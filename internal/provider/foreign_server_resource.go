package provider

import (
	"context"
	"fmt"
	"strconv"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

var (
	_ resource.ResourceWithConfigure      = (*foreignServerResource)(nil)
	_ resource.ResourceWithImportState    = (*foreignServerResource)(nil)
	_ resource.ResourceWithValidateConfig = (*foreignServerResource)(nil)
)

// NewForeignServerResource returns the pgshard_foreign_server resource.
func NewForeignServerResource() resource.Resource { return &foreignServerResource{} }

type foreignServerResource struct{ client *Client }

// serverAttributeOptions are server options that have attributes of their own.
var serverAttributeOptions = map[string]string{"host": "host", "port": "port", "dbname": "dbname"}

func (r *foreignServerResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_foreign_server"
}

func (r *foreignServerResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A foreign server: how the base database reaches one shard's PostgreSQL through `postgres_fdw` " +
			"(`CREATE SERVER`). Options change in place with `ALTER SERVER ... OPTIONS (ADD|SET|DROP ...)`; the owner with " +
			"`ALTER SERVER ... OWNER TO`. Destroy never cascades: foreign tables and user mappings that still use the server make it fail.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The server name.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"name": schema.StringAttribute{
				MarkdownDescription: "Server name, unique in the database (at most 63 bytes). Changing it replaces the server.",
				Required:            true,
				Validators:          []validator.String{identifier{}},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"foreign_data_wrapper": schema.StringAttribute{
				MarkdownDescription: "Foreign-data wrapper. Default `postgres_fdw` (its extension must be installed, for example with `pgshard_extension`). Changing it replaces the server.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString("postgres_fdw"),
				Validators:          []validator.String{identifier{}},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"host": schema.StringAttribute{
				MarkdownDescription: "Host of the shard's PostgreSQL, as the base database server sees it (the `host` option).",
				Optional:            true,
			},
			"port": schema.Int64Attribute{
				MarkdownDescription: "Port of the shard's PostgreSQL (the `port` option).",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.Between(1, 65535)},
			},
			"dbname": schema.StringAttribute{
				MarkdownDescription: "Database on the shard (the `dbname` option).",
				Optional:            true,
			},
			"options": schema.MapAttribute{
				MarkdownDescription: "Other server options: libpq connection keywords (`sslmode`, `connect_timeout`, `application_name`, ...) and " +
					"postgres_fdw's own (`fetch_size`, `batch_size`, `async_capable`, `use_remote_estimate`, `updatable`, `truncatable`, " +
					"`extensions`, `keep_connections`, `parallel_commit`, `fdw_startup_cost`, `fdw_tuple_cost`). Unknown keys, and " +
					"`host`, `port` or `dbname` (use the attributes), are rejected at plan time. Changed in place.",
				Optional:    true,
				ElementType: types.StringType,
			},
			"owner": schema.StringAttribute{
				MarkdownDescription: "Owner role. Default: the role the provider connects as. Changed in place.",
				Optional:            true,
				Computed:            true,
				Validators:          []validator.String{identifier{}},
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
		},
	}
}

func (r *foreignServerResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

func (r *foreignServerResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m foreignServerModelV0
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	// Option keys are only known for postgres_fdw; other wrappers validate their own.
	if w := m.ForeignDataWrapper; !w.IsNull() && !w.IsUnknown() && w.ValueString() != "postgres_fdw" {
		return
	}
	v := validOptions("foreign server", postgres.ServerOptionKeys(), serverAttributeOptions)
	vr := &validator.MapResponse{}
	v.ValidateMap(ctx, validator.MapRequest{Path: path.Root("options"), ConfigValue: m.Options}, vr)
	resp.Diagnostics.Append(vr.Diagnostics...)
}

func (r *foreignServerResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	createState(ctx, r.client, "Foreign Server", req, resp, r.readInto, func(ctx context.Context, db *postgres.DB, plan, _ *foreignServerModelV0, diags *diag.Diagnostics) (string, error) {
		server, d := plan.toServer(ctx)
		if diags.Append(d...); d.HasError() {
			return serverPhrase(server.Name), nil
		}
		return serverPhrase(server.Name), postgres.CreateServer(ctx, db, server)
	})
}

func (r *foreignServerResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	readState(ctx, r.client, req, resp, r.readInto)
}

func (r *foreignServerResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	updateState(ctx, r.client, "Foreign Server", req, resp, r.readInto, func(ctx context.Context, db *postgres.DB, plan, _ *foreignServerModelV0, diags *diag.Diagnostics) (string, error) {
		to, d := plan.toServer(ctx)
		if diags.Append(d...); d.HasError() {
			return serverPhrase(to.Name), nil
		}
		// Diff against the catalog, not the prior state, so that ADD/SET/DROP always match.
		from, err := postgres.ReadServer(ctx, db, to.Name)
		if err == nil {
			err = postgres.UpdateServer(ctx, db, *from, to)
		}
		return serverPhrase(to.Name), err
	})
}

func (r *foreignServerResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx = r.client.withStepLog(ctx)
	var state foreignServerModelV0
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	if resp.Diagnostics.HasError() {
		return
	}
	defer r.client.enter(ctx)()
	db, err := r.client.DB()
	if err == nil {
		err = postgres.DropServer(ctx, db, state.Name.ValueString())
	}
	if err != nil {
		addObjectError(&resp.Diagnostics, "Foreign Server", "Delete", serverPhrase(state.Name.ValueString()), r.client.Database(), err)
	}
}

func (r *foreignServerResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	if err := postgres.CheckIdentifier(req.ID); err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("The import ID of a foreign server is its name; %q %s.", req.ID, err))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), req.ID)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), req.ID)...)
}

// readInto refreshes m from the catalog. It returns false when the server does not exist.
func (r *foreignServerResource) readInto(ctx context.Context, m *foreignServerModelV0, diags *diag.Diagnostics, action string) bool {
	name := m.Name.ValueString()
	s, ok := readObject(ctx, r.client, "Foreign Server", serverPhrase(name), action, diags, func(ctx context.Context, _ *postgres.DB) (*postgres.Server, error) {
		reader, err := r.client.Reader()
		if err != nil {
			return nil, err
		}
		return reader.Server(ctx, name) // coalesced with the other servers read meanwhile
	})
	if !ok {
		return false
	}
	diags.Append(m.fromServer(s)...)
	return !diags.HasError()
}

type foreignServerModelV0 struct {
	ID                 types.String `tfsdk:"id"`
	Name               types.String `tfsdk:"name"`
	ForeignDataWrapper types.String `tfsdk:"foreign_data_wrapper"`
	Host               types.String `tfsdk:"host"`
	Port               types.Int64  `tfsdk:"port"`
	DBName             types.String `tfsdk:"dbname"`
	Options            types.Map    `tfsdk:"options"`
	Owner              types.String `tfsdk:"owner"`
}

func (m foreignServerModelV0) toServer(ctx context.Context) (postgres.Server, diag.Diagnostics) {
	opts, diags := optionsFromMap(ctx, m.Options)
	putOption(opts, "host", m.Host)
	putOption(opts, "dbname", m.DBName)
	if !m.Port.IsNull() && !m.Port.IsUnknown() {
		opts["port"] = strconv.FormatInt(m.Port.ValueInt64(), 10)
	}
	s := postgres.Server{Name: m.Name.ValueString(), Wrapper: m.ForeignDataWrapper.ValueString(), Options: opts}
	if !m.Owner.IsNull() && !m.Owner.IsUnknown() {
		s.Owner = m.Owner.ValueString()
	}
	return s, diags
}

func (m *foreignServerModelV0) fromServer(s *postgres.Server) diag.Diagnostics {
	var diags diag.Diagnostics
	opts := map[string]string{}
	for k, v := range s.Options {
		opts[k] = v
	}
	m.ID = types.StringValue(s.Name)
	m.Name = types.StringValue(s.Name)
	m.ForeignDataWrapper = types.StringValue(s.Wrapper)
	m.Owner = types.StringValue(s.Owner)
	m.Host = takeOption(opts, "host")
	m.DBName = takeOption(opts, "dbname")
	m.Port = types.Int64Null()
	if p, ok := opts["port"]; ok {
		n, err := strconv.ParseInt(p, 10, 64)
		if err != nil {
			diags.AddAttributeError(path.Root("port"), "Unsupported Port Option",
				fmt.Sprintf("Foreign server %q has port option %q, which is not a single port number; set it to one port with ALTER SERVER.", s.Name, p))
			return diags
		}
		delete(opts, "port")
		m.Port = types.Int64Value(n)
	}
	var d diag.Diagnostics
	m.Options, d = optionsToMap(opts, m.Options)
	diags.Append(d...)
	return diags
}

func serverPhrase(name string) string { return fmt.Sprintf("foreign server %q", name) }
