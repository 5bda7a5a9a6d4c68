package provider

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"
	"github.com/hashicorp/terraform-plugin-go/tfprotov6"
	"github.com/hashicorp/terraform-plugin-go/tftypes"
)

// Any configurable attribute of any resource or data source may be known only at apply (another
// resource's output, a module input built with try()): wholly unknown, or a nested object or
// list element whose attributes are. Validation and planning must let every such value through,
// not fail with the framework's "Received unknown value" conversion error ("This is always an
// error in the provider"). Each attribute is tried alone, for a create and for an update, through
// the provider's protocol server, configured with a database that refuses at once (so that the
// paths that read the catalog run as far as their first query).
func TestUnknownAtPlan_EveryAttribute(t *testing.T) {
	ctx := t.Context()
	server, err := providerserver.NewProtocol6WithError(New("test")())()
	if err != nil {
		t.Fatal(err)
	}
	schemas, err := server.GetProviderSchema(ctx, &tfprotov6.GetProviderSchemaRequest{})
	if err != nil {
		t.Fatal(err)
	}
	providerType := schemaObject(t, schemas.Provider)
	pcfg := nullObject(providerType, map[string]tftypes.Value{
		"host":            tftypes.NewValue(tftypes.String, "127.0.0.1"),
		"port":            tftypes.NewValue(tftypes.Number, 1),
		"connect_timeout": tftypes.NewValue(tftypes.Number, 1),
	})
	configured, err := server.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{Config: dynamic(t, providerType, pcfg)})
	if err != nil {
		t.Fatal(err)
	}
	if msgs := diagText(configured.Diagnostics); msgs != "" {
		t.Fatalf("configuring the provider: %s", msgs)
	}

	type kind struct {
		name    string
		schemas map[string]*tfprotov6.Schema
	}
	tried := 0
	for _, k := range []kind{{"resource", schemas.ResourceSchemas}, {"data source", schemas.DataSourceSchemas}} {
		for _, typeName := range sortedKeys(k.schemas) {
			s := k.schemas[typeName]
			typ := schemaObject(t, s)
			for _, a := range s.Block.Attributes {
				if !a.Optional && !a.Required {
					continue
				}
				for variant, v := range unknownVariants(a) {
					tried++
					name := fmt.Sprintf("%s %s.%s (%s)", k.name, typeName, a.Name, variant)
					config := nullObject(typ, map[string]tftypes.Value{a.Name: v})
					var diags []*tfprotov6.Diagnostic
					if k.name == "data source" {
						resp, err := server.ValidateDataResourceConfig(ctx, &tfprotov6.ValidateDataResourceConfigRequest{TypeName: typeName, Config: dynamic(t, typ, config)})
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						diags = resp.Diagnostics
					} else {
						resp, err := server.ValidateResourceConfig(ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: typeName, Config: dynamic(t, typ, config)})
						if err != nil {
							t.Fatalf("%s: %v", name, err)
						}
						diags = resp.Diagnostics
						for _, prior := range []tftypes.Value{tftypes.NewValue(typ, nil), nullObject(typ, nil)} {
							plan, err := server.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
								TypeName: typeName, PriorState: dynamic(t, typ, prior),
								ProposedNewState: dynamic(t, typ, config), Config: dynamic(t, typ, config),
							})
							if err != nil {
								t.Fatalf("%s: %v", name, err)
							}
							diags = append(diags, plan.Diagnostics...)
						}
					}
					for _, d := range diags {
						if d.Severity == tfprotov6.DiagnosticSeverityError && (strings.Contains(d.Detail, "unknown value") || strings.Contains(d.Summary, "Value Conversion Error")) {
							t.Errorf("%s: %s: %s", name, d.Summary, d.Detail)
						}
					}
				}
			}
		}
	}
	if tried < 50 {
		t.Fatalf("tried only %d unknown attributes: the schemas were not read", tried)
	}
	t.Logf("tried %d unknown attribute values", tried)
}

// unknownVariants are the unknown values attribute a can take: wholly unknown and, for a
// nested attribute, one object (or list element) whose every attribute is unknown.
func unknownVariants(a *tfprotov6.SchemaAttribute) map[string]tftypes.Value {
	typ := a.ValueType()
	out := map[string]tftypes.Value{"wholly unknown": tftypes.NewValue(typ, tftypes.UnknownValue)}
	if a.NestedType == nil {
		return out
	}
	elemType := nestedObjectType(a.NestedType)
	fields := map[string]tftypes.Value{}
	for name, at := range elemType.AttributeTypes {
		fields[name] = tftypes.NewValue(at, tftypes.UnknownValue)
	}
	elem := tftypes.NewValue(elemType, fields)
	switch a.NestedType.Nesting {
	case tfprotov6.SchemaObjectNestingModeSingle:
		out["attributes unknown"] = elem
	case tfprotov6.SchemaObjectNestingModeList:
		out["element's attributes unknown"] = tftypes.NewValue(typ, []tftypes.Value{elem})
		out["an unknown element"] = tftypes.NewValue(typ, []tftypes.Value{tftypes.NewValue(elemType, tftypes.UnknownValue)})
	case tfprotov6.SchemaObjectNestingModeSet:
		out["element's attributes unknown"] = tftypes.NewValue(typ, []tftypes.Value{elem})
	case tfprotov6.SchemaObjectNestingModeMap:
		out["element's attributes unknown"] = tftypes.NewValue(typ, map[string]tftypes.Value{"k": elem})
	}
	return out
}

func nestedObjectType(o *tfprotov6.SchemaObject) tftypes.Object {
	attrs := map[string]tftypes.Type{}
	for _, a := range o.Attributes {
		attrs[a.Name] = a.ValueType()
	}
	return tftypes.Object{AttributeTypes: attrs}
}

func schemaObject(t *testing.T, s *tfprotov6.Schema) tftypes.Object {
	t.Helper()
	typ, ok := s.ValueType().(tftypes.Object)
	if !ok {
		t.Fatalf("schema type %s is not an object", s.ValueType())
	}
	return typ
}

// nullObject is an object of typ whose attributes are null but those in set.
func nullObject(typ tftypes.Object, set map[string]tftypes.Value) tftypes.Value {
	all := map[string]tftypes.Value{}
	for name, at := range typ.AttributeTypes {
		all[name] = tftypes.NewValue(at, nil)
	}
	for name, v := range set {
		all[name] = v
	}
	return tftypes.NewValue(typ, all)
}

func dynamic(t *testing.T, typ tftypes.Type, v tftypes.Value) *tfprotov6.DynamicValue {
	t.Helper()
	dv, err := tfprotov6.NewDynamicValue(typ, v)
	if err != nil {
		t.Fatal(err)
	}
	return &dv
}

func diagText(diags []*tfprotov6.Diagnostic) string {
	var out []string
	for _, d := range diags {
		if d.Severity == tfprotov6.DiagnosticSeverityError {
			out = append(out, d.Summary+": "+d.Detail)
		}
	}
	return strings.Join(out, "; ")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
