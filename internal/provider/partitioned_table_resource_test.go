package provider

import (
	"testing"

	"github.com/hashicorp/terraform-plugin-testing/helper/resource"
)

// A partition key that is only known at apply (another resource's output), at every level:
// one element, the whole list, the whole partition_by object. Validation must let it pass.
func TestAccPartitionedTable_KeyUnknownAtPlan(t *testing.T) {
	a := newAccDatabase(t, nil)
	const columns = `[
    { name = "id", type = "bigint", not_null = true },
    { name = "location", type = "text", not_null = true },
  ]`
	config := a.ProviderConfig() + `
resource "terraform_data" "key" {
  input = "location"
}

resource "terraform_data" "keys" {
  input = ["location"]
}

resource "terraform_data" "partition_by" {
  input = { strategy = "list", key = ["location"] }
}

resource "pgshard_partitioned_table" "element" {
  name         = "by_element"
  columns      = ` + columns + `
  partition_by = { strategy = "list", key = [terraform_data.key.output] }
}

resource "pgshard_partitioned_table" "list" {
  name         = "by_list"
  columns      = ` + columns + `
  partition_by = { strategy = "list", key = terraform_data.keys.output }
}

resource "pgshard_partitioned_table" "object" {
  name         = "by_object"
  columns      = ` + columns + `
  partition_by = terraform_data.partition_by.output
}
`
	partKey := `SELECT pg_get_partkeydef($1::regclass)`
	resource.Test(t, resource.TestCase{
		ProtoV6ProviderFactories: testAccProtoV6ProviderFactories,
		Steps: []resource.TestStep{
			{
				Config: config,
				Check: dbChecks(
					a.ExpectQuery("LIST (location)", partKey, "by_element"),
					a.ExpectQuery("LIST (location)", partKey, "by_list"),
					a.ExpectQuery("LIST (location)", partKey, "by_object"),
				),
			},
			{Config: config, PlanOnly: true},
		},
	})
}
