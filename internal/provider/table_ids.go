package provider

import (
	"context"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/path"
	"github.com/hashicorp/terraform-plugin-framework/resource"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// Table IDs (schema.name) and how messages name tables, for every table and partition resource.

func tablePhrase(kind, schema, name string) string {
	return fmt.Sprintf("%s %q", kind, schema+"."+name)
}

// importTableID sets id, schema and name from a `schema.name` import ID.
func importTableID(ctx context.Context, req resource.ImportStateRequest, resp *resource.ImportStateResponse, kind string) {
	schemaName, name, err := parseTableID(req.ID)
	if err == nil {
		err = postgres.CheckIdentifier(schemaName)
	}
	if err == nil {
		err = postgres.CheckIdentifier(name)
	}
	if err != nil {
		resp.Diagnostics.AddError("Invalid Import ID", fmt.Sprintf("The import ID of a %s is schema.name (either part may be double-quoted): %s.", kind, err))
		return
	}
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("id"), tableID(schemaName, name))...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("schema"), schemaName)...)
	resp.Diagnostics.Append(resp.State.SetAttribute(ctx, path.Root("name"), name)...)
}

// parseTableID reads `schema.name` (either part may be double-quoted); a bare name is in
// schema public.
func parseTableID(id string) (schema, name string, err error) {
	parts, err := postgres.SplitID(id, '.', 2)
	if err != nil {
		// A bare name (no dot, or all of it in quotes) is in public.
		if !strings.Contains(id, ".") || strings.HasPrefix(id, `"`) && strings.HasSuffix(id, `"`) {
			if single, err1 := postgres.SplitID(id, '.', 1); err1 == nil {
				return "public", single[0], nil
			}
		}
		return "", "", fmt.Errorf("want schema.name (double-quote a part that contains a dot): %w", err)
	}
	return parts[0], parts[1], nil
}

// tableID renders schema.name, quoting a part that needs it.
func tableID(schema, name string) string { return postgres.JoinID('.', schema, name) }
