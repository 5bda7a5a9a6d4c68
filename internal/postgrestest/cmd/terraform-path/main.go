// Command terraform-path prints the path of a Terraform CLI >= 1.5, building 1.5.7 with
// `go install` when none is on PATH. make docs and .ci/run use it.
package main

import (
	"fmt"
	"os"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

func main() {
	path, err := postgrestest.TerraformPath()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Println(path)
}
