package provider

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/stringvalidator"
	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/booldefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/int64default"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/planmodifier"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringdefault"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema/stringplanmodifier"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

var (
	_ resource.ResourceWithConfigure      = (*timePartitionsResource)(nil)
	_ resource.ResourceWithImportState    = (*timePartitionsResource)(nil)
	_ resource.ResourceWithValidateConfig = (*timePartitionsResource)(nil)
	_ resource.ResourceWithModifyPlan     = (*timePartitionsResource)(nil)
)

const kindTimePartitions = "Time Partitions"

// NewTimePartitionsResource returns the pgshard_time_partitions resource.
func NewTimePartitionsResource() resource.Resource { return &timePartitionsResource{} }

type timePartitionsResource struct{ client *Client }

type timePartitionsModel struct {
	ID           types.String `tfsdk:"id"`
	Parent       types.String `tfsdk:"parent"`
	Interval     types.String `tfsdk:"interval"`
	Start        types.String `tfsdk:"start"`
	Premake      types.Int64  `tfsdk:"premake"`
	AsOf         types.String `tfsdk:"as_of"`
	Server       types.String `tfsdk:"server"`
	RemoteSchema types.String `tfsdk:"remote_schema"`
	RemoteParent types.String `tfsdk:"remote_parent"`
	// RemoteIdentity is the remote parent's identity column, set when pgshard creates it.
	// Nested attributes are objects and lists that may be unknown at plan (nested.go).
	RemoteIdentity types.Object `tfsdk:"remote_identity"`
	Tiers          types.List   `tfsdk:"tiers"`     // of tierModel
	Retention      types.Object `tfsdk:"retention"` // a retentionModel
	ForceDestroy   types.Bool   `tfsdk:"force_destroy"`
	Partitions     types.List   `tfsdk:"partitions"`
	Detached       types.List   `tfsdk:"detached"`
	PremadeUntil   types.String `tfsdk:"premade_until"`
}

type tierModel struct {
	After  types.String `tfsdk:"after"`
	Server types.String `tfsdk:"server"`
}

type retentionModel struct {
	After  types.String `tfsdk:"after"`
	Action types.String `tfsdk:"action"`
}

const (
	retainDetach = "detach"
	retainDrop   = "drop"
)

var periodAttrTypes = map[string]attr.Type{"name": types.StringType, "from": types.StringType, "to": types.StringType, "server": types.StringType, "frozen": types.BoolType}

func (r *timePartitionsResource) Metadata(_ context.Context, req resource.MetadataRequest, resp *resource.MetadataResponse) {
	resp.TypeName = req.ProviderTypeName + "_time_partitions"
}

func (r *timePartitionsResource) Schema(_ context.Context, _ resource.SchemaRequest, resp *resource.SchemaResponse) {
	resp.Schema = schema.Schema{
		MarkdownDescription: "A rolling set of RANGE partitions (periods) of one partitioned table whose key is one `date`, `timestamp` or " +
			"`timestamptz` column: `premake` periods are kept ahead of `as_of`, periods past `retention` are detached or dropped, and rows " +
			"that reached the parent's DEFAULT partition before their period existed are moved into it when it is created. Periods are " +
			"`[from, to)` at midnight UTC, named `<parent>_pYYYYMMDD` after their first day (the parent's name cut so that the name fits " +
			"in 63 bytes). The plan says what rolls, with row counts.",
		Attributes: map[string]schema.Attribute{
			"id": schema.StringAttribute{
				MarkdownDescription: "The parent, as `schema.name`.",
				Computed:            true,
				PlanModifiers:       []planmodifier.String{stringplanmodifier.UseStateForUnknown()},
			},
			"parent": schema.StringAttribute{
				MarkdownDescription: "The partitioned table, as `schema.name`, partitioned by RANGE on one `date`, `timestamp` or `timestamptz` " +
					"column. It can itself be a partition (a `pgshard_partitioned_table` with `parent`). Changing it replaces the resource.",
				Required:      true,
				Validators:    []validator.String{tableIDValidator{}},
				PlanModifiers: []planmodifier.String{stringplanmodifier.RequiresReplace()},
			},
			"interval": schema.StringAttribute{
				MarkdownDescription: "The length of a period: `\"1 day\"`, `\"1 week\"` (from Mondays), `\"1 month\"`, `\"3 months\"`, `\"1 year\"`, or any " +
					"whole number of days, weeks, months or years. Without `start`, periods follow the calendar (months from January, weeks from " +
					"Mondays). A change applies to periods not yet made; a new period that would overlap an existing partition is not made.",
				Required: true,
			},
			"start": schema.StringAttribute{
				MarkdownDescription: "The first day of the first period (`YYYY-MM-DD`; the first of a month for months and years). Periods from it " +
					"on are made, back-filling the past. Default: the period holding `as_of`.",
				Optional: true,
			},
			"premake": schema.Int64Attribute{
				MarkdownDescription: "How many periods are kept after the one holding `as_of`. Default `3`.",
				Optional:            true,
				Computed:            true,
				Default:             int64default.StaticInt64(3),
				Validators:          []validator.Int64{int64validator.Between(0, postgres.MaxNewPeriods-1)},
			},
			"as_of": schema.StringAttribute{
				MarkdownDescription: "The instant the periods are kept around (RFC 3339, or `YYYY-MM-DD`). Default: the base database's clock " +
					"when planning, so that a plan changes only when the set of periods does. Tests and back-fills set it.",
				Optional: true,
			},
			"server": schema.StringAttribute{
				MarkdownDescription: "A foreign server: new periods are foreign partitions on it, each over a shard table of the same name in " +
					"`remote_schema` that pgshard creates (with the parent's columns and a CHECK of the period). Default: new periods are local.",
				Optional: true,
			},
			"remote_schema": schema.StringAttribute{
				MarkdownDescription: "The schema of the shard tables on `server`. Default `public`.",
				Optional:            true,
				Computed:            true,
				Default:             stringdefault.StaticString("public"),
			},
			"tiers": schema.ListNestedAttribute{
				MarkdownDescription: "Where periods go once old enough: a local period whose upper bound is `after` or more before `as_of` " +
					"moves, whole, to a shard table of its name in `remote_schema` on `server` (made by pgshard), and a foreign partition " +
					"takes its place. The rows are copied, counted and checksummed as the shard took them, deleted from the period (the " +
					"tier fails, changing nothing, if they changed meanwhile), and only the switch locks the parent, briefly. With several " +
					"tiers, the one with the longest `after` a period has passed wins. A foreign period (`server`, or an earlier tier) is " +
					"frozen on its shard while it is copied (its shard table refuses writes, with an error naming it), then switched, and " +
					"its old shard table dropped.",
				Optional: true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"after": schema.StringAttribute{
						MarkdownDescription: "An interval, as `interval` takes it (`\"3 months\"`).",
						Required:            true,
					},
					"server": schema.StringAttribute{
						MarkdownDescription: "The foreign server the periods move to.",
						Required:            true,
					},
				}},
			},
			"remote_parent": schema.StringAttribute{
				MarkdownDescription: "With `server`: a partitioned table in `remote_schema` on the server (made by pgshard when missing, with " +
					"the parent's columns, partitioned by RANGE on the same column) whose partitions are the periods' shard tables. A regional " +
					"service writes to this one table and the shard routes each row to its period; each foreign period of the base reads one " +
					"period's table. A row for a period not made yet is refused by the shard (no partition for it): keep `premake` ahead. " +
					"A change applies to periods made from then on.",
				Optional: true,
			},
			"remote_identity": remoteIdentityAttribute("With `remote_parent`: make this column of the shard's partitioned table " +
				"`GENERATED BY DEFAULT AS IDENTITY (START WITH start INCREMENT BY increment)` when pgshard creates it, so that the rows a " +
				"regional service writes to that table get ids of the shard's own range (such as `start = 1000000000000 * n` for shard n " +
				"with a `bigserial` id, whose base sequence counts from 1). Only used when the table is created: a change later applies nothing."),
			"retention": schema.SingleNestedAttribute{
				MarkdownDescription: "How long periods are kept: a period whose upper bound is `after` or more before `as_of` leaves the parent.",
				Optional:            true,
				Attributes: map[string]schema.Attribute{
					"after": schema.StringAttribute{
						MarkdownDescription: "An interval, as `interval` takes it (`\"12 months\"`).",
						Required:            true,
					},
					"action": schema.StringAttribute{
						MarkdownDescription: "`detach`: the period is detached and kept as a table (listed in `detached`). `drop`: it is dropped; " +
							"a period holding rows is refused at plan, counted, unless `force_destroy = true`. A foreign period's shard table is " +
							"never dropped.",
						Required:   true,
						Validators: []validator.String{stringvalidator.OneOf(retainDetach, retainDrop)},
					},
				},
			},
			"force_destroy": schema.BoolAttribute{
				MarkdownDescription: "Let retention's `drop` and a destroy drop periods that hold rows (they are lost). Default `false`.",
				Optional:            true,
				Computed:            true,
				Default:             booldefault.StaticBool(false),
			},
			"partitions": schema.ListNestedAttribute{
				MarkdownDescription: "The periods, oldest first.",
				Computed:            true,
				NestedObject: schema.NestedAttributeObject{Attributes: map[string]schema.Attribute{
					"name":   schema.StringAttribute{Computed: true, MarkdownDescription: "The partition, in the parent's schema."},
					"from":   schema.StringAttribute{Computed: true, MarkdownDescription: "Lower bound (included), as PostgreSQL prints it in UTC."},
					"to":     schema.StringAttribute{Computed: true, MarkdownDescription: "Upper bound (excluded)."},
					"server": schema.StringAttribute{Computed: true, MarkdownDescription: "The foreign server of a foreign period; empty for a local one."},
					"frozen": schema.BoolAttribute{Computed: true, MarkdownDescription: "Whether an interrupted tier left the period's shard table refusing writes; " +
						"the next apply finishes the tier or lifts the freeze."},
				}},
			},
			"detached": schema.ListAttribute{
				MarkdownDescription: "Tables retention detached (in the parent's schema): they keep their rows and are no longer managed.",
				Computed:            true,
				ElementType:         types.StringType,
			},
			"premade_until": schema.StringAttribute{
				MarkdownDescription: "The upper bound of the last period (RFC 3339), for a `check` block that warns before rows would go to " +
					"DEFAULT: `timecmp(timeadd(plantimestamp(), \"720h\"), pgshard_time_partitions.x.premade_until) < 0`. Empty with no period.",
				Computed: true,
			},
		},
	}
}

func (r *timePartitionsResource) Configure(_ context.Context, req resource.ConfigureRequest, resp *resource.ConfigureResponse) {
	r.client = clientFrom(req.ProviderData, &resp.Diagnostics)
}

// ValidateConfig checks each value that needs no database, naming the attribute and the fix.
func (r *timePartitionsResource) ValidateConfig(ctx context.Context, req resource.ValidateConfigRequest, resp *resource.ValidateConfigResponse) {
	var m timePartitionsModel
	resp.Diagnostics.Append(req.Config.Get(ctx, &m)...)
	if resp.Diagnostics.HasError() {
		return
	}
	m.spec(ctx, nil, postgres.TimeKey{}, &resp.Diagnostics)
}

// spec reads the model's values into a PeriodSpec (Parent and Key as given, AsOf zero when
// as_of is unset); an unknown value leaves its part out.
func (m timePartitionsModel) spec(ctx context.Context, parent *postgres.Table, key postgres.TimeKey, diags *diag.Diagnostics) postgres.PeriodSpec {
	spec := postgres.PeriodSpec{Parent: parent, Key: key, Premake: int(m.Premake.ValueInt64()), Server: m.Server.ValueString()}
	bad := func(attr, value string, err error, fix string) {
		diags.AddAttributeError(path.Root(attr), "Invalid "+attr, fmt.Sprintf("%s = %q: %s. %s", attr, value, err, fix))
	}
	if known(m.Interval) {
		iv, err := postgres.ParseInterval(m.Interval.ValueString())
		if err != nil {
			bad("interval", m.Interval.ValueString(), err, "Use a whole number of days, weeks, months or years.")
		}
		spec.Interval = iv
	}
	if known(m.Start) {
		start, err := postgres.ParseDate(m.Start.ValueString())
		if err == nil && spec.Interval.N > 0 {
			err = spec.Interval.CheckStart(start)
		}
		if err != nil {
			bad("start", m.Start.ValueString(), err, "Give the first day of the first period, such as \"2026-01-01\".")
		} else {
			spec.Start = &start
		}
	}
	if known(m.AsOf) {
		t, err := postgres.ParseInstant(m.AsOf.ValueString())
		if err != nil {
			bad("as_of", m.AsOf.ValueString(), err, "Leave it unset for the database's clock.")
		}
		spec.AsOf = t
	}
	if ret := objectAs[retentionModel](ctx, m.Retention, diags); ret != nil && known(ret.After) {
		iv, err := postgres.ParseInterval(ret.After.ValueString())
		if err != nil {
			diags.AddAttributeError(path.Root("retention").AtName("after"), "Invalid retention.after",
				fmt.Sprintf("retention.after = %q: %s. Use a whole number of days, weeks, months or years, such as \"12 months\".", ret.After.ValueString(), err))
		}
		spec.Retention = &iv
	}
	for i, t := range listAs[tierModel](ctx, m.Tiers, diags) {
		at := path.Root("tiers").AtListIndex(i)
		if known(t.After) {
			iv, err := postgres.ParseInterval(t.After.ValueString())
			if err != nil {
				diags.AddAttributeError(at.AtName("after"), "Invalid tiers.after",
					fmt.Sprintf("tiers[%d].after = %q: %s. Use a whole number of days, weeks, months or years, such as \"3 months\".", i, t.After.ValueString(), err))
			}
			spec.Tiers = append(spec.Tiers, postgres.Tier{After: iv, Server: t.Server.ValueString()})
		}
		if known(t.Server) {
			if err := postgres.CheckIdentifier(t.Server.ValueString()); err != nil {
				diags.AddAttributeError(at.AtName("server"), "Invalid tiers.server",
					fmt.Sprintf("tiers[%d].server = %q: %s. Name a foreign server (pgshard_foreign_server).", i, t.Server.ValueString(), err))
			}
		}
	}
	if known(m.Server) {
		if err := postgres.CheckIdentifier(m.Server.ValueString()); err != nil {
			bad("server", m.Server.ValueString(), err, "Name a foreign server (pgshard_foreign_server).")
		}
	}
	if known(m.RemoteParent) {
		if err := postgres.CheckIdentifier(m.RemoteParent.ValueString()); err != nil {
			bad("remote_parent", m.RemoteParent.ValueString(), err, "Name the shard's table a regional service writes to.")
		} else if m.Server.IsNull() {
			bad("remote_parent", m.RemoteParent.ValueString(), fmt.Errorf("it needs server"), "Set server to the shard that holds it, or remove remote_parent.")
		}
	}
	if !m.RemoteIdentity.IsNull() && !m.RemoteIdentity.IsUnknown() && m.RemoteParent.IsNull() {
		diags.AddAttributeError(path.Root("remote_identity"), "Invalid remote_identity",
			"remote_identity makes an identity column of the shard's partitioned table, so it needs remote_parent: set remote_parent, or remove remote_identity.")
	}
	return spec
}

func known(v types.String) bool { return !v.IsNull() && !v.IsUnknown() }

// dropsOnRetention reports whether retention is known to drop the periods it retires.
func (m timePartitionsModel) dropsOnRetention() bool {
	if m.Retention.IsNull() || m.Retention.IsUnknown() {
		return false
	}
	action, ok := m.Retention.Attributes()["action"].(types.String)
	return ok && action.ValueString() == retainDrop
}

// parentOf reads the parent and its time key.
func (r *timePartitionsResource) parentOf(ctx context.Context, db *postgres.DB, id string) (*postgres.Table, postgres.TimeKey, error) {
	schemaName, name, err := parseTableID(id)
	if err != nil {
		return nil, postgres.TimeKey{}, err
	}
	parent, err := postgres.ReadTable(ctx, db, schemaName, name)
	if err != nil {
		return nil, postgres.TimeKey{}, err
	}
	key, err := postgres.TimeKeyOf(parent)
	return parent, key, err
}

// ModifyPlan works out, at as_of (the database's clock by default), which periods the
// apply creates and retires, says so with row counts, and refuses a drop or destroy that
// would lose rows unless force_destroy. A plan whose set of periods is the state's keeps it.
func (r *timePartitionsResource) ModifyPlan(ctx context.Context, req resource.ModifyPlanRequest, resp *resource.ModifyPlanResponse) {
	var state timePartitionsModel
	if !req.State.Raw.IsNull() {
		resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	}
	if req.Plan.Raw.IsNull() {
		r.planDestroy(ctx, state, &resp.Diagnostics)
		return
	}
	var plan timePartitionsModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	if resp.Diagnostics.HasError() || !r.client.Known() || !known(plan.Parent) || !known(plan.Interval) || plan.Premake.IsUnknown() ||
		plan.AsOf.IsUnknown() || plan.Start.IsUnknown() || plan.Server.IsUnknown() || unknownInside(plan.Retention) || unknownInside(plan.Tiers) {
		return
	}
	if !req.State.Raw.IsNull() && sameInterval(plan.Interval, state.Interval) {
		plan.Interval = state.Interval
	}
	if !req.State.Raw.IsNull() && !sameTableID(plan.Parent.ValueString(), state.Parent.ValueString()) {
		// Another parent replaces the resource: its periods are dropped first.
		r.planDestroy(ctx, state, &resp.Diagnostics)
		return
	}
	if req.State.Raw.IsNull() && planDB(r.client) == nil {
		// A create in a plan that has not reached the database: the database server, the
		// parent or both come in this plan too, and the periods are worked out at apply.
		return
	}
	roll, spec, ok := r.roll(ctx, plan, true, &resp.Diagnostics)
	if !ok {
		return
	}
	r.describe(ctx, plan, spec, roll, &resp.Diagnostics)
	plan.setRoll(ctx, roll, state.Detached, &resp.Diagnostics)
	if !known(plan.AsOf) && len(roll.Create)+len(roll.Tier)+len(roll.Retire)+len(roll.Unfreeze) > 0 {
		// At the clock, the set is read again at apply: a boundary may pass in between
		// (a saved plan, a prompt across midnight), so what this plan says may change.
		plan.Partitions = types.ListUnknown(types.ObjectType{AttrTypes: periodAttrTypes})
		plan.Detached = types.ListUnknown(types.StringType)
		plan.PremadeUntil = types.StringUnknown()
	}
	resp.Diagnostics.Append(resp.Plan.Set(ctx, &plan)...)
}

// setRoll sets the computed values of m to those after roll: its periods, the tables
// retention detached (after those of before), the end of the last period.
func (m *timePartitionsModel) setRoll(ctx context.Context, roll postgres.PeriodPlan, before types.List, diags *diag.Diagnostics) {
	periods := slices.Concat(roll.Keep, roll.Tier, roll.Create)
	slices.SortFunc(periods, func(a, b postgres.Period) int { return a.Start().Compare(b.Start()) })
	m.Partitions = periodList(periods, diags)
	detached := slices.DeleteFunc(stringList(ctx, before, diags), func(name string) bool {
		return slices.ContainsFunc(periods, func(p postgres.Period) bool { return p.Name == name })
	})
	if !m.dropsOnRetention() {
		for _, p := range roll.Retire {
			if !slices.Contains(detached, p.Name) {
				detached = append(detached, p.Name)
			}
		}
	}
	m.Detached = stringListValue(detached, diags)
	m.PremadeUntil = premadeUntil(periods)
	m.ID = types.StringValue(m.Parent.ValueString())
}

// roll reads the parent and its periods and plans how they roll.
// A parent that does not exist yet while planning (atPlan) is no error: nothing is planned.
func (r *timePartitionsResource) roll(ctx context.Context, m timePartitionsModel, atPlan bool, diags *diag.Diagnostics) (postgres.PeriodPlan, postgres.PeriodSpec, bool) {
	db, err := r.client.DB()
	var parent *postgres.Table
	var key postgres.TimeKey
	if err == nil {
		parent, key, err = r.parentOf(ctx, db, m.Parent.ValueString())
	}
	if errors.Is(err, postgres.ErrNotFound) && atPlan {
		// Made in the same apply: the periods are worked out then.
		return postgres.PeriodPlan{}, postgres.PeriodSpec{}, false
	}
	if err != nil {
		diags.AddAttributeError(path.Root("parent"), kindTimePartitions+" Plan Error",
			fmt.Sprintf("Could not read parent %q in database %q: %s. Create it first (pgshard_partitioned_table) with partition_by RANGE on one date, timestamp or timestamptz column.",
				m.Parent.ValueString(), r.client.Database(), reason(err)))
		return postgres.PeriodPlan{}, postgres.PeriodSpec{}, false
	}
	spec := m.spec(ctx, parent, key, diags)
	if diags.HasError() {
		return postgres.PeriodPlan{}, spec, false
	}
	if !known(m.AsOf) {
		if spec.AsOf, err = postgres.Now(ctx, db); err != nil {
			addObjectError(diags, kindTimePartitions, "Plan", "the clock", r.client.Database(), err)
			return postgres.PeriodPlan{}, spec, false
		}
	}
	ours, others, err := postgres.ReadPeriods(ctx, db, parent, key)
	if err == nil {
		var roll postgres.PeriodPlan
		if roll, err = postgres.PlanPeriods(spec, ours, others); err == nil {
			return roll, spec, true
		}
	}
	addObjectError(diags, kindTimePartitions, "Plan", tablePhrase("periods of", parent.Schema, parent.Name), r.client.Database(), err)
	return postgres.PeriodPlan{}, spec, false
}

// describe says what the roll does, with counts: periods made (and the DEFAULT rows each
// takes), periods detached or dropped (and their rows); a drop of rows without
// force_destroy is refused.
func (r *timePartitionsResource) describe(ctx context.Context, m timePartitionsModel, spec postgres.PeriodSpec, roll postgres.PeriodPlan, diags *diag.Diagnostics) {
	db, err := r.client.DB()
	if err != nil || len(roll.Create)+len(roll.Tier)+len(roll.Retire)+len(roll.Skipped)+len(roll.Unfreeze) == 0 {
		return
	}
	var lines []string
	for _, p := range roll.Tier {
		n, err := postgres.CountRows(ctx, db, spec.Parent.Schema, p.Name)
		count := fmt.Sprintf("%d rows", n)
		if err != nil {
			count = "rows not counted: " + reason(err)
		}
		from := "the base"
		if p.From0 != "" {
			from = "server " + p.From0 + " (its shard table refuses writes from the start of the copy to the switch)"
		}
		lines = append(lines, fmt.Sprintf("tier %s [%s, %s) (%s) from %s to server %s", p.Name, p.From, p.To, count, from, p.Server))
	}
	for _, name := range roll.Unfreeze {
		i := slices.IndexFunc(roll.Keep, func(p postgres.Period) bool { return p.Name == name })
		if i >= 0 && roll.Keep[i].OldTable != nil {
			o := roll.Keep[i].OldTable
			lines = append(lines, fmt.Sprintf("drop %s's old shard table %s.%s on server %s, which a tier left (%d rows, all on server %s)",
				name, o.Schema, o.Table, o.Server, o.Rows, roll.Keep[i].Server))
			continue
		}
		lines = append(lines, fmt.Sprintf("lift the freeze an interrupted tier left on %s (its shard table refuses writes until then)", name))
	}
	for _, p := range roll.Create {
		line := fmt.Sprintf("create %s [%s, %s)", p.Name, p.From, p.To)
		if p.Server != "" {
			line += " on server " + p.Server
		}
		def, n, err := postgres.DefaultRowsMatching(ctx, db, spec.Parent, p.Bound())
		switch {
		case err != nil:
			line += fmt.Sprintf(" (could not count DEFAULT's rows of it: %s)", reason(err))
		case n > 0:
			line += fmt.Sprintf(", moving into it the %d rows of DEFAULT %s that belong to it", n, def)
		}
		lines = append(lines, line)
	}
	drop := m.dropsOnRetention()
	for _, p := range roll.Retire {
		n, err := postgres.CountRows(ctx, db, spec.Parent.Schema, p.Name)
		count := fmt.Sprintf("%d rows", n)
		if err != nil {
			count = "rows not counted: " + reason(err)
		}
		switch {
		case !drop:
			lines = append(lines, fmt.Sprintf("detach %s [%s, %s) (%s), kept as a table", p.Name, p.From, p.To, count))
		case p.Foreign:
			lines = append(lines, fmt.Sprintf("drop foreign table %s [%s, %s) (%s, kept in its shard table on server %s)", p.Name, p.From, p.To, count, p.Server))
		case err == nil && n == 0:
			lines = append(lines, fmt.Sprintf("drop %s [%s, %s) (empty)", p.Name, p.From, p.To))
		case m.ForceDestroy.ValueBool():
			lines = append(lines, fmt.Sprintf("drop %s [%s, %s) with its %s, which are lost (force_destroy = true)", p.Name, p.From, p.To, count))
		default:
			diags.AddAttributeError(path.Root("retention"), kindTimePartitions+" Drop Refused", fmt.Sprintf(
				"Retention would drop %s.%s [%s, %s) in database %q, which holds %s that would be lost.\n\n"+
					"Nothing has been changed. Use retention.action = \"detach\" to keep the period as a table, move or delete its rows, "+
					"or set force_destroy = true to drop it with its rows.", spec.Parent.Schema, p.Name, p.From, p.To, r.client.Database(), count))
		}
	}
	lines = append(lines, roll.Skipped...)
	diags.AddWarning(kindTimePartitions+" Roll", fmt.Sprintf("At %s, the periods of %s.%s in database %q roll: this plan will\n- %s",
		spec.AsOf.Format(time.RFC3339), spec.Parent.Schema, spec.Parent.Name, r.client.Database(), strings.Join(lines, "\n- ")))
}

// planDestroy refuses, while planning, a destroy that would drop a local period's rows
// unless force_destroy.
func (r *timePartitionsResource) planDestroy(ctx context.Context, state timePartitionsModel, diags *diag.Diagnostics) {
	schemaName, _, err := parseTableID(state.Parent.ValueString())
	if err != nil {
		return
	}
	for _, p := range periodsOf(ctx, state.Partitions, diags) {
		if p.Server == "" {
			refuseDestroyAtPlan(ctx, r.client, kindTimePartitions, "Destroy", schemaName, p.Name, state.ForceDestroy.ValueBool(), diags)
		}
	}
}

func (r *timePartitionsResource) Create(ctx context.Context, req resource.CreateRequest, resp *resource.CreateResponse) {
	var plan timePartitionsModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	r.apply(ctx, plan, types.ListNull(types.StringType), &resp.State, &resp.Diagnostics)
}

func (r *timePartitionsResource) Update(ctx context.Context, req resource.UpdateRequest, resp *resource.UpdateResponse) {
	var plan, prior timePartitionsModel
	resp.Diagnostics.Append(req.Plan.Get(ctx, &plan)...)
	resp.Diagnostics.Append(req.State.Get(ctx, &prior)...)
	r.apply(ctx, plan, prior.Detached, &resp.State, &resp.Diagnostics)
}

// stateSetter is the state of a Create or Update response.
type stateSetter interface {
	Set(ctx context.Context, val any) diag.Diagnostics
}

// apply makes the parent's periods the plan's: each missing period is created (moving
// DEFAULT's rows of it in) and each on another server than the plan's is tiered, oldest
// first, then each period the plan no longer has is detached or dropped. Each is its own transaction; after a failure the state says what
// was done.
func (r *timePartitionsResource) apply(ctx context.Context, plan timePartitionsModel, before types.List, state stateSetter, diags *diag.Diagnostics) {
	if diags.HasError() {
		return
	}
	if plan.Partitions.IsUnknown() {
		// Left to the apply: as_of is the clock, read now, or the parent was made in this
		// apply (or the plan could not connect).
		roll, _, ok := r.roll(ctx, plan, false, diags)
		if !ok {
			return
		}
		plan.setRoll(ctx, roll, before, diags)
	}
	ctx = r.client.withStepLog(ctx)
	db, err := r.client.DB()
	var parent *postgres.Table
	var key postgres.TimeKey
	if err == nil {
		parent, key, err = r.parentOf(ctx, db, plan.Parent.ValueString())
	}
	var ours []postgres.Period
	if err == nil {
		ours, _, err = postgres.ReadPeriods(ctx, db, parent, key)
	}
	if err != nil {
		addObjectError(diags, kindTimePartitions, "Apply", "the periods of "+plan.Parent.ValueString(), r.client.Database(), err)
		return
	}
	spec := postgres.PeriodSpec{Parent: parent, Key: key}
	want := periodsOf(ctx, plan.Partitions, diags)
	have := map[string]postgres.Period{}
	for _, p := range ours {
		have[p.Name] = p
	}
	// Every step is tried, whatever failed before it: periods are created first (the
	// periods ahead matter most), then tiered or unfrozen, then retired.
	var errs []error
	step := func(name string, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", name, err))
		}
	}
	for _, p := range want {
		if _, ok := have[p.Name]; !ok {
			step(p.Name, r.createPeriod(ctx, db, spec, p, plan.RemoteSchema.ValueString(), remoteParentFor(plan, p), identityOf(ctx, plan.RemoteIdentity, diags), diags))
		}
	}
	for _, p := range want {
		switch cur, ok := have[p.Name]; {
		case ok && cur.Server != p.Server:
			err := postgres.TierPeriod(ctx, db, spec, cur, p.Server, plan.RemoteSchema.ValueString())
			if err == nil && p.Server != "" {
				analyzeWritten(ctx, r.client, db, parent.Schema, p.Name, diags)
			}
			step(p.Name, err)
		case ok && cur.OldTable != nil && !p.Frozen:
			step(p.Name, postgres.DropOldShardTable(ctx, db, parent.Schema, p.Name, *cur.OldTable))
		case ok && cur.Frozen && !p.Frozen:
			step(p.Name, postgres.UnfreezePeriod(ctx, db, parent.Schema, p.Name))
		}
	}
	drop := plan.dropsOnRetention()
	for _, p := range ours {
		if slices.ContainsFunc(want, func(w postgres.Period) bool { return w.Name == p.Name }) {
			continue
		}
		if p.Frozen {
			// A freeze an interrupted tier left, or its old shard table, goes before the
			// period leaves.
			finish := func() error { return postgres.UnfreezePeriod(ctx, db, parent.Schema, p.Name) }
			if p.OldTable != nil {
				finish = func() error { return postgres.DropOldShardTable(ctx, db, parent.Schema, p.Name, *p.OldTable) }
			}
			if err := finish(); err != nil {
				step(p.Name, err)
				continue
			}
		}
		switch {
		case !drop:
			step(p.Name, postgres.DetachPartition(ctx, db, parent.Schema, p.Name))
		case p.Foreign:
			step(p.Name, postgres.DropForeignTable(ctx, db, parent.Schema, p.Name))
		default:
			step(p.Name, postgres.DropTable(ctx, db, parent.Schema, p.Name, plan.ForceDestroy.ValueBool()))
		}
	}
	if err := errors.Join(errs...); err != nil {
		addObjectError(diags, kindTimePartitions, "Apply", tablePhrase("periods of", parent.Schema, parent.Name), r.client.Database(), err)
	}
	if !r.readInto(ctx, &plan, diags) && !diags.HasError() {
		diags.AddError(kindTimePartitions+" Apply Error", fmt.Sprintf("The parent %s vanished from database %q while its periods were made.", plan.Parent.ValueString(), r.client.Database()))
	}
	diags.Append(state.Set(ctx, &plan)...)
}

// remoteParentFor is the shard's partitioned table a new period p's shard table is a
// partition of: remote_parent for a period on server, none for one on a tier's server.
func remoteParentFor(m timePartitionsModel, p postgres.Period) string {
	if p.Server == "" || p.Server != m.Server.ValueString() {
		return ""
	}
	return m.RemoteParent.ValueString()
}

// createPeriod creates period p: local, or a foreign partition over a shard table pgshard
// makes; DEFAULT's rows of it move in, verified, when there are any. A table of its name
// that is no partition is attached instead.
func (r *timePartitionsResource) createPeriod(ctx context.Context, db *postgres.DB, spec postgres.PeriodSpec, p postgres.Period, remoteSchema, remoteParent string, identity *postgres.Identity, diags *diag.Diagnostics) error {
	part := spec.PartitionOf(p, remoteSchema)
	switch _, err := postgres.ReadPartition(ctx, db, part.Schema, part.Name); {
	case err == nil:
		// Detached out of band, or by retention before it was lengthened: attached again,
		// rows and all, once they are checked against the period.
		return postgres.AttachDetached(ctx, db, part)
	case !errors.Is(err, postgres.ErrNotFound):
		return err
	}
	_, n, err := postgres.DefaultRowsMatching(ctx, db, spec.Parent, part.Bound)
	if err != nil {
		return err
	}
	if !part.Foreign {
		return postgres.CreateLocalPartition(ctx, db, part, spec.Parent, n > 0)
	}
	remote := spec.ShardTableOf(part, remoteSchema, remoteParent)
	if remoteParent != "" {
		shardParent, err := spec.RemoteParentOf(part.Server, remoteSchema, remoteParent, identity)
		if err != nil {
			return err
		}
		if err := postgres.EnsureShardTable(ctx, db, shardParent, spec.Parent); err != nil {
			return err
		}
	}
	leftBehind, err := postgres.CreateForeignPartitionWithShardTable(ctx, db, part, spec.Parent, remote, n > 0)
	if leftBehind != nil {
		diags.AddWarning(kindTimePartitions+" Shard Table Left Behind", fmt.Sprintf(
			"The shard table %s.%s created on server %s for period %s could not be dropped after the create failed: %s. Drop it by hand if it is empty.",
			remote.Schema, remote.Name, part.Server, p.Name, reason(leftBehind)))
	}
	return err
}

func (r *timePartitionsResource) Read(ctx context.Context, req resource.ReadRequest, resp *resource.ReadResponse) {
	readState(ctx, r.client, req, resp, func(ctx context.Context, m *timePartitionsModel, diags *diag.Diagnostics, _ string) bool {
		return r.readInto(ctx, m, diags)
	})
}

// readInto reads the parent's periods into m; false with no error when the parent is gone.
// After an import (interval unset) the interval is the first period's.
func (r *timePartitionsResource) readInto(ctx context.Context, m *timePartitionsModel, diags *diag.Diagnostics) bool {
	db, err := r.client.DB()
	var parent *postgres.Table
	var key postgres.TimeKey
	if err == nil {
		parent, key, err = r.parentOf(ctx, db, m.Parent.ValueString())
	}
	var ours []postgres.Period
	if err == nil {
		ours, _, err = postgres.ReadPeriods(ctx, db, parent, key)
	}
	switch {
	case errors.Is(err, postgres.ErrNotFound):
		return false
	case err != nil:
		addObjectError(diags, kindTimePartitions, "Read", "the periods of "+m.Parent.ValueString(), r.client.Database(), err)
		return false
	}
	m.ID = types.StringValue(m.Parent.ValueString())
	m.Partitions = periodList(ours, diags)
	m.PremadeUntil = premadeUntil(ours)
	// Detached tables are those retention detached that are not periods (again) now, once.
	var detached []string
	for _, name := range stringList(ctx, m.Detached, diags) {
		if !slices.Contains(detached, name) && !slices.ContainsFunc(ours, func(p postgres.Period) bool { return p.Name == name }) {
			detached = append(detached, name)
		}
	}
	m.Detached = stringListValue(detached, diags)
	if m.Interval.IsNull() && len(ours) > 0 {
		m.Interval = types.StringValue(intervalOf(ours[0]))
	}
	return true
}

// intervalOf names the interval of one period, for an import.
func intervalOf(p postgres.Period) string {
	from, to := p.Start(), p.End()
	months := (to.Year()-from.Year())*12 + int(to.Month()) - int(from.Month())
	switch days := int(to.Sub(from).Hours() / 24); {
	case from.Day() == 1 && to.Day() == 1 && months%12 == 0:
		return postgres.Interval{N: months / 12, Unit: "year"}.String()
	case from.Day() == 1 && to.Day() == 1:
		return postgres.Interval{N: months, Unit: "month"}.String()
	case days%7 == 0 && from.Weekday() == time.Monday:
		return postgres.Interval{N: days / 7, Unit: "week"}.String()
	default:
		return postgres.Interval{N: days, Unit: "day"}.String()
	}
}

// sameInterval reports whether two interval spellings mean the same length.
func sameInterval(a, b types.String) bool {
	x, err1 := postgres.ParseInterval(a.ValueString())
	y, err2 := postgres.ParseInterval(b.ValueString())
	return err1 == nil && err2 == nil && x == y
}

func (r *timePartitionsResource) Delete(ctx context.Context, req resource.DeleteRequest, resp *resource.DeleteResponse) {
	ctx = r.client.withStepLog(ctx)
	var state timePartitionsModel
	resp.Diagnostics.Append(req.State.Get(ctx, &state)...)
	schemaName, _, err := parseTableID(state.Parent.ValueString())
	if resp.Diagnostics.HasError() || err != nil {
		return
	}
	for _, p := range periodsOf(ctx, state.Partitions, &resp.Diagnostics) {
		if p.Frozen {
			// The shard table it keeps (or the table's rows) must take writes again, and the
			// old shard table a tier left goes.
			db, err := r.client.DB()
			var old *postgres.OldShardTable
			if err == nil {
				old, err = oldShardTableOf(ctx, db, state.Parent.ValueString(), p.Name)
			}
			switch {
			case err == nil && old != nil:
				err = postgres.DropOldShardTable(ctx, db, schemaName, p.Name, *old)
			case err == nil:
				err = postgres.UnfreezePeriod(ctx, db, schemaName, p.Name)
			}
			if errors.Is(err, postgres.ErrNotFound) {
				continue
			}
			if err != nil {
				addObjectError(&resp.Diagnostics, kindTimePartitions, "Delete", tablePhrase("period", schemaName, p.Name), r.client.Database(), err)
				continue
			}
		}
		if p.Server != "" {
			deleteForeignPeriod(ctx, r.client, schemaName, p.Name, &resp.Diagnostics)
			continue
		}
		deleteTable(ctx, r.client, kindTimePartitions, schemaName, p.Name, state.ForceDestroy.ValueBool(), &resp.Diagnostics)
	}
}

// oldShardTableOf reads the old shard table a tier left to drop for period name of parent
// (nil for none).
func oldShardTableOf(ctx context.Context, db *postgres.DB, parentID, name string) (*postgres.OldShardTable, error) {
	schemaName, parentName, err := parseTableID(parentID)
	if err != nil {
		return nil, err
	}
	parent, err := postgres.ReadTable(ctx, db, schemaName, parentName)
	if err != nil {
		return nil, err
	}
	key, err := postgres.TimeKeyOf(parent)
	if err != nil {
		return nil, err
	}
	ours, _, err := postgres.ReadPeriods(ctx, db, parent, key)
	for _, p := range ours {
		if p.Name == name {
			return p.OldTable, err
		}
	}
	return nil, err
}

// deleteForeignPeriod drops a foreign period's foreign table (its shard table is kept).
func deleteForeignPeriod(ctx context.Context, client *Client, schemaName, name string, diags *diag.Diagnostics) {
	db, err := client.DB()
	if err == nil {
		err = postgres.DropForeignTable(ctx, db, schemaName, name)
	}
	if err != nil {
		addObjectError(diags, kindTimePartitions, "Delete", tablePhrase("foreign period", schemaName, name), client.Database(), err)
	}
}

// ImportState takes the parent's `schema.name`; the periods are those of its partitions
// named and bounded as periods.
func (r *timePartitionsResource) ImportState(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse) {
	schemaName, name, err := parseTableID(req.ID)
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("The import ID of pgshard_time_partitions is the parent as `schema.name`: %s.", err))
		return
	}
	id := tableID(schemaName, name)
	for attr, v := range map[string]any{"id": id, "parent": id, "premake": int64(3), "force_destroy": false, "remote_schema": "public"} {
		resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root(attr), v)...)
	}
}

func periodList(ps []postgres.Period, diags *diag.Diagnostics) types.List {
	elems := make([]attr.Value, 0, len(ps))
	for _, p := range ps {
		v, d := types.ObjectValue(periodAttrTypes, map[string]attr.Value{
			"name": types.StringValue(p.Name), "from": types.StringValue(p.From), "to": types.StringValue(p.To), "server": types.StringValue(p.Server),
			"frozen": types.BoolValue(p.Frozen)})
		diags.Append(d...)
		elems = append(elems, v)
	}
	l, d := types.ListValue(types.ObjectType{AttrTypes: periodAttrTypes}, elems)
	diags.Append(d...)
	return l
}

type periodModel struct {
	Name   types.String `tfsdk:"name"`
	From   types.String `tfsdk:"from"`
	To     types.String `tfsdk:"to"`
	Server types.String `tfsdk:"server"`
	Frozen types.Bool   `tfsdk:"frozen"`
}

// periodsOf reads a partitions list back (none when null or unknown).
func periodsOf(ctx context.Context, l types.List, diags *diag.Diagnostics) []postgres.Period {
	if l.IsNull() || l.IsUnknown() {
		return nil
	}
	var ms []periodModel
	diags.Append(l.ElementsAs(ctx, &ms, false)...)
	out := make([]postgres.Period, 0, len(ms))
	for _, m := range ms {
		out = append(out, postgres.Period{Name: m.Name.ValueString(), From: m.From.ValueString(), To: m.To.ValueString(),
			Server: m.Server.ValueString(), Foreign: m.Server.ValueString() != "", Frozen: m.Frozen.ValueBool()})
	}
	return out
}

func premadeUntil(ps []postgres.Period) types.String {
	if len(ps) == 0 {
		return types.StringValue("")
	}
	return types.StringValue(ps[len(ps)-1].End().Format(time.RFC3339))
}

func stringListValue(ss []string, diags *diag.Diagnostics) types.List {
	l, d := types.ListValueFrom(context.Background(), types.StringType, append([]string{}, ss...))
	diags.Append(d...)
	return l
}
