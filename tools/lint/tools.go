//go:build tools

// Package lint pins golangci-lint, which `make lint` builds once into $PGSHARD_CACHE/bin. It is
// a module of its own so that golangci-lint's dependencies never meet the provider's or the
// Docker provider's (tools/go.mod). The build tag keeps this file out of every build, while
// `go mod tidy` still sees the import and keeps the requirement in go.mod/go.sum.
package lint

import (
	_ "github.com/golangci/golangci-lint/v2/cmd/golangci-lint"
)
