//go:build tools

// Package docs pins tfplugindocs, which `make docs` builds once into $PGSHARD_CACHE/bin. It is
// a module of its own so that its dependencies never meet the provider's or the other tools'.
// The build tag keeps this file out of every build, while `go mod tidy` still sees the import
// and keeps the requirement in go.mod/go.sum.
package docs

import (
	_ "github.com/hashicorp/terraform-plugin-docs/cmd/tfplugindocs"
)
