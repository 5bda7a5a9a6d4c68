package provider

import (
	"context"
	"fmt"

	"github.com/hashicorp/terraform-plugin-framework-validators/int64validator"
	"github.com/hashicorp/terraform-plugin-framework-validators/listvalidator"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource/schema"
	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/tfsdk"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// boundAttributes are the partition bound attributes shared by pgshard_foreign_partition
// and pgshard_partition. Exactly one kind must be set (checked in validateBound).
func boundAttributes() map[string]schema.Attribute {
	return map[string]schema.Attribute{
		"values_in": schema.ListAttribute{
			MarkdownDescription: "LIST bound: the key values this partition holds (`FOR VALUES IN (...)`). Values are SQL literals " +
				"written without quotes (`\"europe\"`, `\"42\"`); `NULL` is the null value. Changed in place (detach and re-attach in one transaction).",
			Optional:    true,
			ElementType: types.StringType,
			Validators:  []validator.List{listvalidator.SizeAtLeast(1), listvalidator.UniqueValues()},
		},
		"values_from": schema.ListAttribute{
			MarkdownDescription: "RANGE bound, inclusive lower end, one value per key column; `MINVALUE` and `MAXVALUE` are allowed. Needs `values_to`.",
			Optional:            true,
			ElementType:         types.StringType,
			Validators:          []validator.List{listvalidator.SizeAtLeast(1)},
		},
		"values_to": schema.ListAttribute{
			MarkdownDescription: "RANGE bound, exclusive upper end, one value per key column; `MINVALUE` and `MAXVALUE` are allowed. Needs `values_from`.",
			Optional:            true,
			ElementType:         types.StringType,
			Validators:          []validator.List{listvalidator.SizeAtLeast(1)},
		},
		"modulus": schema.Int64Attribute{
			MarkdownDescription: "HASH bound modulus (at least 1). Needs `remainder`.",
			Optional:            true,
			Validators:          []validator.Int64{int64validator.AtLeast(1)},
		},
		"remainder": schema.Int64Attribute{
			MarkdownDescription: "HASH bound remainder, from 0 to `modulus` - 1. Needs `modulus`.",
			Optional:            true,
			Validators:          []validator.Int64{int64validator.AtLeast(0)},
		},
		"is_default": schema.BoolAttribute{
			MarkdownDescription: "`true` makes this the DEFAULT partition, which holds the rows no other partition takes. Omit it otherwise.",
			Optional:            true,
		},
	}
}

type boundModel struct {
	ValuesIn   types.List  `tfsdk:"values_in"`
	ValuesFrom types.List  `tfsdk:"values_from"`
	ValuesTo   types.List  `tfsdk:"values_to"`
	Modulus    types.Int64 `tfsdk:"modulus"`
	Remainder  types.Int64 `tfsdk:"remainder"`
	IsDefault  types.Bool  `tfsdk:"is_default"`
}

// validateBound checks at plan time that exactly one bound kind is given, completely.
func validateBound(b boundModel, diags *diag.Diagnostics) {
	var kinds []string
	if set(b.ValuesIn) {
		kinds = append(kinds, "values_in")
	}
	if set(b.ValuesFrom) || set(b.ValuesTo) {
		kinds = append(kinds, "values_from/values_to")
		if !set(b.ValuesFrom) || !set(b.ValuesTo) {
			diags.AddAttributeError(path.Root("values_from"), "Incomplete Range Bound",
				"A RANGE bound needs both values_from and values_to.")
		}
	}
	if set(b.Modulus) || set(b.Remainder) {
		kinds = append(kinds, "modulus/remainder")
		if !set(b.Modulus) || !set(b.Remainder) {
			diags.AddAttributeError(path.Root("modulus"), "Incomplete Hash Bound",
				"A HASH bound needs both modulus and remainder.")
		} else if !b.Modulus.IsUnknown() && !b.Remainder.IsUnknown() && b.Remainder.ValueInt64() >= b.Modulus.ValueInt64() {
			diags.AddAttributeError(path.Root("remainder"), "Invalid Hash Bound",
				fmt.Sprintf("remainder is %d but must be less than modulus (%d).", b.Remainder.ValueInt64(), b.Modulus.ValueInt64()))
		}
	}
	if set(b.IsDefault) {
		if !b.IsDefault.IsUnknown() && !b.IsDefault.ValueBool() {
			diags.AddAttributeError(path.Root("is_default"), "Invalid Bound",
				"is_default = false is not a bound: omit is_default, and give values_in, values_from/values_to or modulus/remainder.")
		}
		kinds = append(kinds, "is_default")
	}
	switch len(kinds) {
	case 0:
		diags.AddError("Missing Partition Bound",
			"A partition needs exactly one bound: values_in (LIST), values_from and values_to (RANGE), modulus and remainder (HASH), or is_default = true.")
	case 1:
	default:
		diags.AddError("Conflicting Partition Bounds",
			fmt.Sprintf("A partition has exactly one bound, but %v are all set. Keep one of them.", kinds))
	}
	if set(b.ValuesFrom) && set(b.ValuesTo) && !b.ValuesFrom.IsUnknown() && !b.ValuesTo.IsUnknown() && len(b.ValuesFrom.Elements()) != len(b.ValuesTo.Elements()) {
		diags.AddAttributeError(path.Root("values_to"), "Invalid Range Bound",
			fmt.Sprintf("values_from has %d values but values_to has %d: give one per key column in both.", len(b.ValuesFrom.Elements()), len(b.ValuesTo.Elements())))
	}
}

func (b boundModel) toBound(ctx context.Context, diags *diag.Diagnostics) postgres.Bound {
	return postgres.Bound{
		Default:   b.IsDefault.ValueBool(),
		In:        stringList(ctx, b.ValuesIn, diags),
		From:      stringList(ctx, b.ValuesFrom, diags),
		To:        stringList(ctx, b.ValuesTo, diags),
		Modulus:   b.Modulus.ValueInt64(),
		Remainder: b.Remainder.ValueInt64(),
	}
}

// readBound sets the bound attributes from the catalog's bound pb of a partition of
// parentSchema.parentName, keeping the prior (planned or last read) attributes when the
// server reads them as pb: a bound written 2020-01-01 and printed 2020-01-01 00:00:00+00
// reads back as written.
func (b *boundModel) readBound(ctx context.Context, client *Client, parentSchema, parentName string, pb postgres.Bound, diags *diag.Diagnostics) {
	var d diag.Diagnostics
	prior := b.toBound(ctx, &d)
	if !d.HasError() && b.boundKnown() && len(prior.In)+len(prior.From) > 0 && prior.Kind() == pb.Kind() && !prior.Equal(pb) {
		if db, err := client.DB(); err == nil {
			if same, err := postgres.SameBound(ctx, db, parentSchema, parentName, prior, pb); err == nil && same {
				return
			}
		}
	}
	b.fromBound(ctx, pb, diags)
}

// keepBoundSpelling plans the prior state's bound attributes where the configured bound is
// the same bound to the server (only the prior value may stand for a configured one), so
// that an imported partition whose bound is written another way plans no change.
func keepBoundSpelling(ctx context.Context, client *Client, parent string, plan *boundModel, state boundModel, resp *tfsdk.Plan, diags *diag.Diagnostics) {
	if !client.Known() || !plan.boundKnown() {
		return
	}
	var d diag.Diagnostics
	want, have := plan.toBound(ctx, &d), state.toBound(ctx, &d)
	if d.HasError() || want.Kind() != have.Kind() || want.Equal(have) || want.Kind() == "default" || want.Kind() == "hash" {
		return
	}
	parentSchema, parentName, err := parseTableID(parent)
	if err != nil {
		return
	}
	db, err := client.DB()
	if err != nil {
		return
	}
	if same, err := postgres.SameBound(ctx, db, parentSchema, parentName, want, have); err == nil && same {
		plan.ValuesIn, plan.ValuesFrom, plan.ValuesTo = state.ValuesIn, state.ValuesFrom, state.ValuesTo
		diags.Append(resp.SetAttribute(ctx, path.Root("values_in"), plan.ValuesIn)...)
		diags.Append(resp.SetAttribute(ctx, path.Root("values_from"), plan.ValuesFrom)...)
		diags.Append(resp.SetAttribute(ctx, path.Root("values_to"), plan.ValuesTo)...)
	}
}

// fromBound sets the bound attributes from the catalog. A values_in list holding the same
// values as the prior one keeps the prior order (PostgreSQL may print them in another).
func (b *boundModel) fromBound(ctx context.Context, pb postgres.Bound, diags *diag.Diagnostics) {
	prior := stringList(ctx, b.ValuesIn, diags)
	*b = boundModel{
		ValuesIn: types.ListNull(types.StringType), ValuesFrom: types.ListNull(types.StringType), ValuesTo: types.ListNull(types.StringType),
		Modulus: types.Int64Null(), Remainder: types.Int64Null(), IsDefault: types.BoolNull(),
	}
	list := func(vs []string) types.List {
		l, d := types.ListValueFrom(ctx, types.StringType, vs)
		diags.Append(d...)
		return l
	}
	switch pb.Kind() {
	case "default":
		b.IsDefault = types.BoolValue(true)
	case "hash":
		b.Modulus, b.Remainder = types.Int64Value(pb.Modulus), types.Int64Value(pb.Remainder)
	case "range":
		b.ValuesFrom, b.ValuesTo = list(pb.From), list(pb.To)
	default:
		in := pb.In
		if sameSet(prior, in) {
			in = prior
		}
		b.ValuesIn = list(in)
	}
}

// boundKnown reports whether every bound attribute is known.
func (b boundModel) boundKnown() bool {
	return !b.ValuesIn.IsUnknown() && !b.ValuesFrom.IsUnknown() && !b.ValuesTo.IsUnknown() && !b.Modulus.IsUnknown() && !b.Remainder.IsUnknown() && !b.IsDefault.IsUnknown()
}
