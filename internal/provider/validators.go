package provider

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// identifier checks a PostgreSQL name at plan time: not empty, at most 63 bytes, no NUL.
type identifier struct{}

func (identifier) Description(context.Context) string {
	return "must be a PostgreSQL identifier of 1 to 63 bytes"
}
func (v identifier) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (identifier) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := postgres.CheckIdentifier(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid PostgreSQL Name",
			fmt.Sprintf("The value %q of %s %s.", req.ConfigValue.ValueString(), req.Path, err))
	}
}

// optionMap checks the keys and values of an `options` map at plan time.
type optionMap struct {
	kind    string   // "foreign server", for messages
	allowed []string // valid keys, sorted
	// elsewhere maps keys that must be given as their own attribute instead.
	elsewhere map[string]string
}

func (v optionMap) Description(context.Context) string {
	return "keys must be valid " + v.kind + " options: " + strings.Join(v.allowed, ", ")
}
func (v optionMap) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

func (v optionMap) ValidateMap(ctx context.Context, req validator.MapRequest, resp *validator.MapResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	for key, elem := range req.ConfigValue.Elements() {
		p := req.Path.AtMapKey(key)
		if attr, ok := v.elsewhere[key]; ok {
			resp.Diagnostics.AddAttributeError(p, "Option Set In The Wrong Place",
				fmt.Sprintf("The %s option %q belongs in the `%s` attribute, not in `options`. Move it there (it may be given only once).", v.kind, key, attr))
			continue
		}
		if !slices.Contains(v.allowed, key) {
			resp.Diagnostics.AddAttributeError(p, "Invalid Option Name",
				fmt.Sprintf("%q is not a valid %s option for postgres_fdw. Valid options are: %s.", key, v.kind, strings.Join(v.allowed, ", ")))
			continue
		}
		s, ok := elem.(types.String)
		if !ok || s.IsNull() || s.IsUnknown() {
			continue
		}
		if strings.ContainsRune(s.ValueString(), 0) {
			resp.Diagnostics.AddAttributeError(p, "Invalid Option Value",
				fmt.Sprintf("The %s option %q contains a NUL character, which PostgreSQL cannot store.", v.kind, key))
			continue
		}
		if err := postgres.CheckOptionValue(key, s.ValueString()); err != nil {
			resp.Diagnostics.AddAttributeError(p, "Invalid Option Value",
				fmt.Sprintf("The %s option %q %s.", v.kind, key, err))
		}
	}
}
