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
// the provider's protocol server, here with the provider's own settings unknown too (no
// database: the plan-time checks that need one wait).
func TestUnknownAtPlan_EveryAttribute(t *testing.T) {
	tryUnknownAttributes(t, map[string]tftypes.Value{"port": tftypes.NewValue(tftypes.Number, tftypes.UnknownValue)})
}

// The same with a real database, so that the plan-time checks that read the catalog run too.
func TestAccEveryResource_UnknownAtPlan(t *testing.T) {
	a := newAccDatabase(t, nil)
	tryUnknownAttributes(t, map[string]tftypes.Value{
		"host": tftypes.NewValue(tftypes.String, a.Cluster.Host), "port": tftypes.NewValue(tftypes.Number, a.Cluster.Port),
		"database": tftypes.NewValue(tftypes.String, a.Name), "username": tftypes.NewValue(tftypes.String, a.Cluster.User),
		"password": tftypes.NewValue(tftypes.String, a.Cluster.Password), "sslmode": tftypes.NewValue(tftypes.String, "disable"),
	})
}

// tryUnknownAttributes configures the provider with settings and tries every attribute unknown.
func tryUnknownAttributes(t *testing.T, settings map[string]tftypes.Value) {
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
	configured, err := server.ConfigureProvider(ctx, &tfprotov6.ConfigureProviderRequest{Config: dynamic(t, providerType, nullObject(providerType, settings))})
	if err != nil {
		t.Fatal(err)
	}
	if msgs := diagText(configured.Diagnostics); msgs != "" {
		t.Fatalf("configuring the provider: %s", msgs)
	}

	type attempt struct {
		data      bool // a data source
		typeName  string
		typ       tftypes.Object
		attribute string
		variant   string
		value     tftypes.Value
	}
	var attempts []attempt
	for _, data := range []bool{false, true} {
		all := schemas.ResourceSchemas
		if data {
			all = schemas.DataSourceSchemas
		}
		for _, typeName := range sortedKeys(all) {
			s := all[typeName]
			for _, a := range s.Block.Attributes {
				if !a.Optional && !a.Required {
					continue
				}
				for variant, v := range unknownVariants(a) {
					attempts = append(attempts, attempt{data, typeName, schemaObject(t, s), a.Name, variant, v})
				}
			}
		}
	}
	if len(attempts) < 50 {
		t.Fatalf("only %d unknown attribute values to try: the schemas were not read", len(attempts))
	}
	t.Logf("trying %d unknown attribute values", len(attempts))
	for _, at := range attempts {
		func() {
			name := fmt.Sprintf("%s.%s (%s)", at.typeName, at.attribute, at.variant)
			typ := at.typ
			config := nullObject(typ, map[string]tftypes.Value{at.attribute: at.value})
			var diags []*tfprotov6.Diagnostic
			if at.data {
				resp, err := server.ValidateDataResourceConfig(ctx, &tfprotov6.ValidateDataResourceConfigRequest{TypeName: at.typeName, Config: dynamic(t, typ, config)})
				if err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
				diags = resp.Diagnostics
			} else {
				resp, err := server.ValidateResourceConfig(ctx, &tfprotov6.ValidateResourceConfigRequest{TypeName: at.typeName, Config: dynamic(t, typ, config)})
				if err != nil {
					t.Errorf("%s: %v", name, err)
					return
				}
				diags = resp.Diagnostics
				// A create, and an update from a prior state.
				for _, prior := range []tftypes.Value{tftypes.NewValue(typ, nil), nullObject(typ, nil)} {
					plan, err := server.PlanResourceChange(ctx, &tfprotov6.PlanResourceChangeRequest{
						TypeName: at.typeName, PriorState: dynamic(t, typ, prior),
						ProposedNewState: dynamic(t, typ, config), Config: dynamic(t, typ, config),
					})
					if err != nil {
						t.Errorf("%s: %v", name, err)
						return
					}
					diags = append(diags, plan.Diagnostics...)
				}
			}
			for _, d := range diags {
				if d.Severity == tfprotov6.DiagnosticSeverityError && (strings.Contains(d.Detail, "unknown value") || strings.Contains(d.Summary, "Value Conversion Error")) {
					t.Errorf("%s: %s: %s", name, d.Summary, d.Detail)
				}
			}
		}()
	}
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

// dynamic is v for the protocol.
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
