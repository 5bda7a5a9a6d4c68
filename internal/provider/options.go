package provider

import (
	"context"

	"github.com/hashicorp/terraform-plugin-framework/diag"
	"github.com/hashicorp/terraform-plugin-framework/types"
)

// optionsFromMap reads a Terraform map of strings; null and unknown give an empty map.
func optionsFromMap(ctx context.Context, v types.Map) (map[string]string, diag.Diagnostics) {
	out := map[string]string{}
	if v.IsNull() || v.IsUnknown() {
		return out, nil
	}
	diags := v.ElementsAs(ctx, &out, false)
	return out, diags
}

// optionsToMap builds the state value of an `options` map. No options read back as null,
// unless the prior value was an empty map, so that `options = {}` plans no diff.
func optionsToMap(m map[string]string, prior types.Map) (types.Map, diag.Diagnostics) {
	if len(m) == 0 {
		if !prior.IsNull() && !prior.IsUnknown() {
			return types.MapValueMust(types.StringType, nil), nil
		}
		return types.MapNull(types.StringType), nil
	}
	return types.MapValueFrom(context.Background(), types.StringType, m)
}

// takeOption removes key from m and returns its value, or null when absent.
func takeOption(m map[string]string, key string) types.String {
	v, ok := m[key]
	if !ok {
		return types.StringNull()
	}
	delete(m, key)
	return types.StringValue(v)
}

// putOption sets key in m from a Terraform string when it is known and not null.
func putOption(m map[string]string, key string, v types.String) {
	if !v.IsNull() && !v.IsUnknown() {
		m[key] = v.ValueString()
	}
}
