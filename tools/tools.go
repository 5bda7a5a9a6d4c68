//go:build tools

// Package tools pins the Go programs that the demo builds from the Go module proxy (there is
// no Terraform registry offline). The build tag keeps this file out of every build, while
// `go mod tidy` still sees the import and keeps the requirement in go.mod/go.sum.
//
// Build the kreuzwerker/docker Terraform provider with scripts/build-docker-provider.sh.
package tools

import (
	_ "github.com/terraform-providers/terraform-provider-docker"
)
