package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/attr"
	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
	"github.com/hashicorp/terraform-plugin-framework/types/basetypes"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// Models hold configurable nested attributes (objects, lists of objects) as types.Object and
// types.List, never as Go structs or slices: at plan, any of them may be unknown, wholly or in
// part (another resource's output, a module input built with try()), which a struct cannot
// hold. They are read into their structs with objectAs and listAs once known.

// unknownInside reports whether v, or anything inside it, is unknown.
func unknownInside(v attr.Value) bool {
	if v == nil || v.IsUnknown() {
		return v != nil
	}
	if v.IsNull() {
		return false
	}
	switch v := v.(type) {
	case basetypes.ObjectValue:
		for _, a := range v.Attributes() {
			if unknownInside(a) {
				return true
			}
		}
	case basetypes.ListValue:
		for _, e := range v.Elements() {
			if unknownInside(e) {
				return true
			}
		}
	case basetypes.SetValue:
		for _, e := range v.Elements() {
			if unknownInside(e) {
				return true
			}
		}
	case basetypes.MapValue:
		for _, e := range v.Elements() {
			if unknownInside(e) {
				return true
			}
		}
	}
	return false
}

// unknownElements reports whether l is unknown or holds an unknown element (a list of objects
// whose elements are decoded into structs then cannot be).
func unknownElements(l types.List) bool {
	if l.IsUnknown() {
		return true
	}
	for _, e := range l.Elements() {
		if e.IsUnknown() {
			return true
		}
	}
	return false
}

// objectAs is o read into a T (a struct of attr.Value fields), nil when o is null or unknown.
func objectAs[T any](ctx context.Context, o types.Object, diags *diag.Diagnostics) *T {
	if o.IsNull() || o.IsUnknown() {
		return nil
	}
	var v T
	diags.Append(o.As(ctx, &v, basetypes.ObjectAsOptions{})...)
	return &v
}

// listAs is l's objects read into Ts, nil when l is null, unknown or holds an unknown object.
func listAs[T any](ctx context.Context, l types.List, diags *diag.Diagnostics) []T {
	if l.IsNull() || unknownElements(l) {
		return nil
	}
	var v []T
	diags.Append(l.ElementsAs(ctx, &v, false)...)
	return v
}

var remoteIdentityAttrTypes = map[string]attr.Type{"column": types.StringType, "start": types.Int64Type, "increment": types.Int64Type}

// identityOf is a remote_identity's domain identity: nil when it is null or not yet known.
func identityOf(ctx context.Context, o types.Object, diags *diag.Diagnostics) *postgres.Identity {
	if unknownInside(o) {
		return nil
	}
	id := objectAs[remoteIdentityModel](ctx, o, diags)
	if id == nil {
		return nil
	}
	return &postgres.Identity{Column: id.Column.ValueString(), Start: id.Start.ValueInt64(), Increment: id.Increment.ValueInt64()}
}

// identityObject is id as a remote_identity value.
func identityObject(id *postgres.Identity) types.Object {
	return types.ObjectValueMust(remoteIdentityAttrTypes, map[string]attr.Value{
		"column": types.StringValue(id.Column), "start": types.Int64Value(id.Start), "increment": types.Int64Value(id.Increment),
	})
}
