package provider

import (
	"context"
	"fmt"
	"slices"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// Helpers for model values: whether one is set, and lists and sets of strings.

func set(v interface {
	IsNull() bool
	IsUnknown() bool
}) bool {
	return !v.IsNull()
}

// stringList returns the values of a list of strings. Elements not known until apply are
// left out, so that validation can check the ones it knows.
func stringList(ctx context.Context, l types.List, diags *diag.Diagnostics) []string {
	if l.IsNull() || l.IsUnknown() {
		return nil
	}
	var elements []types.String
	diags.Append(l.ElementsAs(ctx, &elements, false)...)
	out := make([]string, 0, len(elements))
	for i, e := range elements {
		switch {
		case e.IsUnknown():
		case e.IsNull():
			diags.AddError("Null List Element", fmt.Sprintf("Element %d of a list of values is null. Remove it, or give a value.", i))
		default:
			out = append(out, e.ValueString())
		}
	}
	return out
}

func sameSet(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	x, y := slices.Clone(a), slices.Clone(b)
	slices.Sort(x)
	slices.Sort(y)
	return slices.Equal(x, y)
}
