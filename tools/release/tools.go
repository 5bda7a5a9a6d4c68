//go:build tools

// Package release pins goreleaser, which `make release-snapshot` builds once into
// $PGSHARD_CACHE/bin. It is a module of its own so that goreleaser's dependencies never meet
// the provider's, the Docker provider's (tools/go.mod) or golangci-lint's (tools/lint). The
// build tag keeps this file out of every build, while `go mod tidy` still sees the import and
// keeps the requirement in go.mod/go.sum.
package release

import (
	_ "github.com/goreleaser/goreleaser/v2"
)
