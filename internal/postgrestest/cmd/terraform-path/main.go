// Command terraform-path prints the path of a Terraform CLI >= 1.5, building 1.5.7 with
// `go install` when none is on PATH; with -min 1.14, of one with list resources and actions
// (postgrestest.Terraform114Path). make docs, make test-tf114 and .ci/run use it.
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

func main() {
	minimum := flag.String("min", postgrestest.MinTerraformVersion, "the oldest version accepted: "+postgrestest.MinTerraformVersion+" or "+postgrestest.Terraform114Minimum)
	flag.Parse()
	find := postgrestest.TerraformPath
	switch *minimum {
	case postgrestest.MinTerraformVersion:
	case postgrestest.Terraform114Minimum:
		find = postgrestest.Terraform114Path
	default:
		fmt.Fprintf(os.Stderr, "terraform-path: -min %q: give %s or %s\n", *minimum, postgrestest.MinTerraformVersion, postgrestest.Terraform114Minimum)
		os.Exit(2)
	}
	path, err := find()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(path)
}
