package provider

// Validators of this provider, one type each, all listed in the assertions below; those
// that take arguments (validOptions) or read better in a schema have a constructor.

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/schema/validator"
	"github.com/hashicorp/terraform-plugin-framework/types"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

var (
	_ validator.String = identifier{}
	_ validator.Map    = optionMap{}
	_ validator.String = sqlType{}
	_ validator.String = sqlExpression{}
	_ validator.List   = uniqueColumnNames{}
	_ validator.String = tableIDValidator{}
	_ validator.String = roleName{}
	_ validator.String = lockTimeoutValidator{}
	_ validator.String = parameterNameValidator{}
)

// identifier checks a PostgreSQL name at plan time: not empty, at most 63 bytes, no NUL.
type identifier struct{}

// validIdentifier checks that a name can be a PostgreSQL identifier.
func validIdentifier() validator.String { return identifier{} }

func (identifier) Description(context.Context) string {
	return "must be a PostgreSQL identifier of 1 to 63 bytes"
}

func (identifier) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := postgres.CheckIdentifier(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid PostgreSQL Name",
			fmt.Sprintf("The value %q of %s %s.", req.ConfigValue.ValueString(), req.Path, err))
	}
}

func (v identifier) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

// optionMap checks the keys and values of an `options` map at plan time.
type optionMap struct {
	kind    string   // "foreign server", for messages
	allowed []string // valid keys, sorted
	// elsewhere maps keys that must be given as their own attribute instead.
	elsewhere map[string]string
}

// validOptions checks an options map of a kind of object: allowed keys, values postgres_fdw
// would reject, and keys that belong in an attribute of their own (elsewhere).
func validOptions(kind string, allowed []string, elsewhere map[string]string) validator.Map {
	return optionMap{kind: kind, allowed: allowed, elsewhere: elsewhere}
}

func (v optionMap) Description(context.Context) string {
	return "keys must be valid " + v.kind + " options: " + strings.Join(v.allowed, ", ")
}

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

func (v optionMap) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

// sqlType checks that a column type is one PostgreSQL type name.
type sqlType struct{}

func (sqlType) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := postgres.CheckType(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Column Type",
			fmt.Sprintf("The type %q of %s %s.", req.ConfigValue.ValueString(), req.Path, err))
	}
}

func (sqlType) Description(context.Context) string { return "must be a PostgreSQL type name" }

func (v sqlType) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

// sqlExpression checks that a default or key is one balanced SQL expression.
type sqlExpression struct{}

func (sqlExpression) Description(context.Context) string {
	return "must be a single SQL expression"
}

func (sqlExpression) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := postgres.CheckExpression(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid SQL Expression",
			fmt.Sprintf("The expression %q of %s %s. Write one SQL expression, such as 0, now() or 'europe' (strings in single quotes).", req.ConfigValue.ValueString(), req.Path, err))
	}
}

func (v sqlExpression) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

// uniqueColumnNames checks that no two columns share a name.
type uniqueColumnNames struct{}

func (v uniqueColumnNames) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (uniqueColumnNames) ValidateList(ctx context.Context, req validator.ListRequest, resp *validator.ListResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	var models []columnModelV0
	if d := req.ConfigValue.ElementsAs(ctx, &models, false); d.HasError() {
		return
	}
	seen := map[string]bool{}
	for i, m := range models {
		if m.Name.IsNull() || m.Name.IsUnknown() {
			continue
		}
		n := m.Name.ValueString()
		if seen[n] {
			resp.Diagnostics.AddAttributeError(req.Path.AtListIndex(i).AtName("name"), "Duplicate Column Name",
				fmt.Sprintf("The column name %q appears more than once in %s. Each column needs its own name.", n, req.Path))
		}
		seen[n] = true
	}
}

func (uniqueColumnNames) Description(context.Context) string { return "column names must be unique" }

// tableIDValidator checks a `schema.name` reference at plan time.
type tableIDValidator struct{}

// validTableID checks a `schema.name` table reference.
func validTableID() validator.String { return tableIDValidator{} }

func (tableIDValidator) Description(context.Context) string {
	return "must be schema.name with each part a PostgreSQL identifier"
}

func (tableIDValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	s, n, err := parseTableID(req.ConfigValue.ValueString())
	if err == nil {
		if err = postgres.CheckIdentifier(s); err == nil {
			err = postgres.CheckIdentifier(n)
		}
	}
	if err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Table Reference",
			fmt.Sprintf("The value %q of %s is not a table reference: %s. Write schema.name, such as public.tweets.", req.ConfigValue.ValueString(), req.Path, err))
	}
}

func (v tableIDValidator) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

// roleName rejects the lower-case spelling of PUBLIC, which would read back differently.
type roleName struct{}

// validRole checks a user mapping's role.
func validRole() validator.String { return roleName{} }

func (roleName) Description(context.Context) string {
	return "`PUBLIC` (upper case) for the public mapping"
}

func (roleName) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if !req.ConfigValue.IsNull() && !req.ConfigValue.IsUnknown() && req.ConfigValue.ValueString() == "public" {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Role",
			`The role "public" is written "PUBLIC" in pgshard_user_mapping (the pseudo-role of every role without a mapping of its own). Set role = "PUBLIC".`)
	}
}

func (v roleName) MarkdownDescription(ctx context.Context) string { return v.Description(ctx) }

// lockTimeoutValidator accepts what PostgreSQL's lock_timeout does, less spaces, so that a
// bad value fails the plan instead of every connection.
type lockTimeoutValidator struct{}

func (lockTimeoutValidator) Description(context.Context) string {
	return `a PostgreSQL duration such as "30s", "500ms" or "0"`
}

func (v lockTimeoutValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (lockTimeoutValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	value := req.ConfigValue.ValueString()
	m := lockTimeoutSyntax.FindStringSubmatch(value)
	if m == nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Provider Lock Timeout", fmt.Sprintf(
			"lock_timeout is %q, which is not a PostgreSQL duration. Write a whole number followed, with no space, by one of the units "+
				"us, ms, s, min, h or d, such as \"30s\" or \"500ms\" (no unit means milliseconds), or \"0\" to wait forever.", value))
		return
	}
	n, _ := strconv.ParseFloat(m[1], 64) // all digits: cannot fail
	switch ms := n * millisecondsPer[m[2]]; {
	case ms > 2147483647:
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Provider Lock Timeout", fmt.Sprintf(
			"lock_timeout is %q, longer than PostgreSQL allows (2147483647ms, about 24 days). Choose a shorter duration, or \"0\" to wait forever.", value))
	case ms > 0 && ms < 1:
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Provider Lock Timeout", fmt.Sprintf(
			"lock_timeout is %q, less than a millisecond, which PostgreSQL rounds to 0 and so would wait forever. Write \"1ms\" or more, or \"0\" to wait forever on purpose.", value))
	}
}

// parameterNameValidator checks a configuration parameter name (a pgshard_settings key).
type parameterNameValidator struct{}

func (parameterNameValidator) Description(context.Context) string {
	return "a configuration parameter name in lower case"
}

func (v parameterNameValidator) MarkdownDescription(ctx context.Context) string {
	return v.Description(ctx)
}

func (parameterNameValidator) ValidateString(_ context.Context, req validator.StringRequest, resp *validator.StringResponse) {
	if req.ConfigValue.IsNull() || req.ConfigValue.IsUnknown() {
		return
	}
	if err := postgres.CheckParameterName(req.ConfigValue.ValueString()); err != nil {
		resp.Diagnostics.AddAttributeError(req.Path, "Invalid Parameter Name", fmt.Sprintf("%q %s.", req.ConfigValue.ValueString(), err))
	}
}
