// Package provider is the Terraform layer of pgshard: schemas, validators
// (validators.go), plan modifiers (planmodifiers.go), and the mapping between Terraform
// models and internal/postgres's plain structs. It never builds SQL nor reads a SQLSTATE:
// every statement, every rule about what a statement may destroy and the kinds of errors
// live in internal/postgres, which knows nothing of Terraform. Arrows point down only:
// provider -> postgres.
package provider

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/action"
	"github.com/hashicorp/terraform-plugin-framework/datasource"
	"github.com/hashicorp/terraform-plugin-framework/list"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/provider"
	"github.com/hashicorp/terraform-plugin-framework/provider/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

var (
	_ provider.Provider                  = (*pgshardProvider)(nil)
	_ provider.ProviderWithActions       = (*pgshardProvider)(nil)
	_ provider.ProviderWithListResources = (*pgshardProvider)(nil)
)

// New returns a constructor for the provider at the given version.
func New(version string) func() provider.Provider {
	return func() provider.Provider {
		return &pgshardProvider{version: version, getenv: os.Getenv, pools: postgres.NewPools()}
	}
}

type pgshardProvider struct {
	version string
	// getenv is injected so that tests can supply the libpq environment.
	getenv func(string) string
	// pools outlive Configure: one per connection target, for the life of the process.
	pools *postgres.Pools
}

func (p *pgshardProvider) Metadata(_ context.Context, _ provider.MetadataRequest, resp *provider.MetadataResponse) {
	resp.TypeName = "pgshard"
	resp.Version = p.version
}

func (p *pgshardProvider) Schema(_ context.Context, _ provider.SchemaRequest, resp *provider.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "The pgshard provider shards a PostgreSQL table across regional databases with " +
			"`postgres_fdw`: it manages the extension, foreign servers, user mappings, the partitioned parent " +
			"table and its foreign and local partitions on the base database.\n\n" +
			"Every argument falls back to the libpq environment variable named in its description. Configuring " +
			"the provider opens no connection, and a plan connects only to read what exists: it never connects " +
			"while an argument is still unknown, so the arguments may come from resources (a Docker container, " +
			"say) created in the same apply.",
		Attributes: map[string]schema.Attribute{
			"host": schema.StringAttribute{
				MarkdownDescription: "Server host name or address. Falls back to `PGHOST`, then `localhost`.",
				Optional:            true,
			},
			"port": schema.Int64Attribute{
				MarkdownDescription: "Server port. Falls back to `PGPORT`, then `5432`.",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.Between(1, 65535)},
			},
			"database": schema.StringAttribute{
				MarkdownDescription: "Database to manage (the base database holding the sharded table). Falls back to `PGDATABASE`, then `postgres`.",
				Optional:            true,
			},
			"username": schema.StringAttribute{
				MarkdownDescription: "Role to connect as. Falls back to `PGUSER`, then `postgres`.",
				Optional:            true,
			},
			"password": schema.StringAttribute{
				MarkdownDescription: "Password of `username`. Falls back to `PGPASSWORD`. Never logged.",
				Optional:            true,
				Sensitive:           true,
			},
			"sslmode": schema.StringAttribute{
				MarkdownDescription: "libpq SSL mode: `disable`, `allow`, `prefer`, `require`, `verify-ca` or `verify-full`. Falls back to `PGSSLMODE`, then `prefer`.",
				Optional:            true,
				Validators:          []validator.String{stringvalidator.OneOf("disable", "allow", "prefer", "require", "verify-ca", "verify-full")},
			},
			"sslrootcert": schema.StringAttribute{
				MarkdownDescription: "Path of a PEM file with the certificate authorities that sign the server's certificate; " +
					"`verify-ca` and `verify-full` check the server against it (and `require` too when it is set, as in libpq). " +
					"Falls back to `PGSSLROOTCERT`.",
				Optional:   true,
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"sslcert": schema.StringAttribute{
				MarkdownDescription: "Path of a PEM client certificate to present to the server, for `cert` authentication " +
					"or `clientcert` in `pg_hba.conf`. Falls back to `PGSSLCERT`.",
				Optional:   true,
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"sslkey": schema.StringAttribute{
				MarkdownDescription: "Path of the PEM private key of `sslcert`; the file must not be readable by group or others " +
					"(mode `0600`, or `0640` when owned by root). Falls back to `PGSSLKEY`.",
				Optional:   true,
				Validators: []validator.String{stringvalidator.LengthAtLeast(1)},
			},
			"connect_timeout": schema.Int64Attribute{
				MarkdownDescription: "Seconds to keep retrying, with backoff, a server that refuses connections or is starting up, before failing. Falls back to `PGCONNECT_TIMEOUT`, then `30`.",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.AtLeast(1)},
			},
			"max_connections": schema.Int64Attribute{
				MarkdownDescription: "Most connections the provider opens to one database at a time; every resource shares the pool. Default `8` (Terraform runs up to 10 operations at once).",
				Optional:            true,
				Validators:          []validator.Int64{int64validator.AtLeast(1)},
			},
			"lock_timeout": schema.StringAttribute{
				MarkdownDescription: "How long every statement of the provider, plan reads included, waits for a lock held by another " +
					"session before it fails, in PostgreSQL's syntax: a whole number with the unit `us`, `ms`, `s`, `min`, `h` or `d` " +
					"(`\"10s\"`, `\"500ms\"`; no unit means milliseconds). `\"0\"` waits forever. Default `\"30s\"`. " +
					"When a change fails this way, the error names the sessions holding locks where the provider's role may see them.",
				Optional:   true,
				Validators: []validator.String{lockTimeoutValidator{}},
			},
			"analyze_foreign_partitions": schema.BoolAttribute{
				MarkdownDescription: "Run `ANALYZE` on a foreign partition after pgshard creates it or moves rows into or out of it " +
					"(a key moved between shards, a time period tiered to a server), so that the planner has its statistics: autovacuum " +
					"never analyzes foreign tables. postgres_fdw reads the shard table to sample it (on PostgreSQL 15, every row; see " +
					"the Performance guide for what it costs). A failure is a warning. Default `true`.",
				Optional: true,
			},
		},
	}
}

func (p *pgshardProvider) Configure(ctx context.Context, req provider.ConfigureRequest, resp *provider.ConfigureResponse) {
	var cfg providerModelV0
	resp.Diagnostics.Append(req.Config.Get(ctx, &cfg)...)
	if resp.Diagnostics.HasError() {
		return
	}
	if p.pools == nil {
		p.pools = postgres.NewPools()
	}
	client := &Client{pools: p.pools, config: req.Config.Raw, version: p.version}
	// Values not known yet (a container created in the same apply) are left for the apply:
	// until then reads keep prior state.
	for _, v := range []interface{ IsUnknown() bool }{cfg.Host, cfg.Port, cfg.Database, cfg.Username, cfg.Password, cfg.SSLMode, cfg.SSLRootCert, cfg.SSLCert, cfg.SSLKey, cfg.ConnectTimeout, cfg.MaxConnections, cfg.LockTimeout} {
		if v.IsUnknown() {
			client.unknown = true
		}
	}
	// Attributes first, then the libpq environment; what is left unset takes
	// internal/postgres's defaults (ConnConfig.WithDefaults).
	conn := postgres.ConnConfig{
		Host:     stringOr(cfg.Host, p.getenv("PGHOST")),
		Database: stringOr(cfg.Database, p.getenv("PGDATABASE")),
		User:     stringOr(cfg.Username, p.getenv("PGUSER")),
		Password: stringOr(cfg.Password, p.getenv("PGPASSWORD")),
		SSLMode:  stringOr(cfg.SSLMode, p.getenv("PGSSLMODE")),

		SSLRootCert: stringOr(cfg.SSLRootCert, p.getenv("PGSSLROOTCERT")),
		SSLCert:     stringOr(cfg.SSLCert, p.getenv("PGSSLCERT")),
		SSLKey:      stringOr(cfg.SSLKey, p.getenv("PGSSLKEY")),
	}
	var ok bool
	if conn.Port, ok = intOr(cfg.Port, p.getenv("PGPORT")); !ok {
		resp.Diagnostics.AddAttributeError(path.Root("port"), "Invalid Provider Port",
			"The PGPORT environment variable is "+strconv.Quote(p.getenv("PGPORT"))+", which is not a port number. Set `port` in the provider block or fix PGPORT.")
	}
	timeout, ok := intOr(cfg.ConnectTimeout, p.getenv("PGCONNECT_TIMEOUT"))
	if !ok {
		resp.Diagnostics.AddAttributeError(path.Root("connect_timeout"), "Invalid Provider Connect Timeout",
			"The PGCONNECT_TIMEOUT environment variable is "+strconv.Quote(p.getenv("PGCONNECT_TIMEOUT"))+", which is not a number of seconds. Set `connect_timeout` in the provider block or fix PGCONNECT_TIMEOUT.")
	}
	conn.ConnectTimeout = time.Duration(timeout) * time.Second
	conn.MaxConnections, _ = intOr(cfg.MaxConnections, "")
	conn.LockTimeout = stringOr(cfg.LockTimeout, "")
	client.conn = conn.WithDefaults()
	client.analyze = cfg.AnalyzeForeignPartitions.IsNull() || cfg.AnalyzeForeignPartitions.IsUnknown() || cfg.AnalyzeForeignPartitions.ValueBool()
	resp.ResourceData = client
	resp.DataSourceData = client
	resp.ActionData = client
	resp.ListResourceData = client
}

// Resources are each given their identity (identity.go).
func (p *pgshardProvider) Resources(_ context.Context) []func() resource.Resource {
	return []func() resource.Resource{
		withIdentity(NewExtensionResource),
		withIdentity(NewForeignServerResource),
		withIdentity(NewUserMappingResource),
		withIdentity(NewForeignServerUsageResource),
		withIdentity(NewPartitionedTableResource),
		withIdentity(NewForeignPartitionResource),
		withIdentity(NewPartitionResource),
		withIdentity(NewTimePartitionsResource),
		withIdentity(NewTableResource),
		withIdentity(NewForeignSchemaImportResource),
		withIdentity(NewSettingsResource),
	}
}

// ListResources find the objects of a database for terraform query (Terraform 1.14+).
func (p *pgshardProvider) ListResources(_ context.Context) []func() list.ListResource {
	return listResources
}

// Actions are day-two operations (Terraform 1.14+; older CLIs and OpenTofu ignore them).
func (p *pgshardProvider) Actions(_ context.Context) []func() action.Action {
	return []func() action.Action{NewAnalyzeAction, NewVerifyResidencyAction}
}

func (p *pgshardProvider) DataSources(_ context.Context) []func() datasource.DataSource {
	return []func() datasource.DataSource{NewPartitionsDataSource, NewShardCheckDataSource}
}

var lockTimeoutSyntax = regexp.MustCompile(`^(\d+)(us|ms|s|min|h|d)?$`)

// millisecondsPer converts lock_timeout units to the server's own, milliseconds.
var millisecondsPer = map[string]float64{"us": 0.001, "": 1, "ms": 1, "s": 1e3, "min": 60e3, "h": 3600e3, "d": 86400e3}

// stringOr is the attribute when it is set, else the environment variable's value env: ""
// when neither is, for ConnConfig.WithDefaults to fill in.
func stringOr(v types.String, env string) string {
	if !v.IsNull() && !v.IsUnknown() {
		return v.ValueString()
	}
	return env
}

// intOr is stringOr for numbers: 0 when neither is set, and false when env is not a number.
func intOr(v types.Int64, env string) (int, bool) {
	if !v.IsNull() && !v.IsUnknown() {
		return int(v.ValueInt64()), true
	}
	if env != "" {
		n, err := strconv.Atoi(env)
		return n, err == nil
	}
	return 0, true
}

type providerModelV0 struct {
	Host           types.String `tfsdk:"host"`
	Port           types.Int64  `tfsdk:"port"`
	Database       types.String `tfsdk:"database"`
	Username       types.String `tfsdk:"username"`
	Password       types.String `tfsdk:"password"`
	SSLMode        types.String `tfsdk:"sslmode"`
	SSLRootCert    types.String `tfsdk:"sslrootcert"`
	SSLCert        types.String `tfsdk:"sslcert"`
	SSLKey         types.String `tfsdk:"sslkey"`
	ConnectTimeout types.Int64  `tfsdk:"connect_timeout"`
	MaxConnections types.Int64  `tfsdk:"max_connections"`
	LockTimeout    types.String `tfsdk:"lock_timeout"`

	AnalyzeForeignPartitions types.Bool `tfsdk:"analyze_foreign_partitions"`
}
