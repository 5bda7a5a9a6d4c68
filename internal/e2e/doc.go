// Package e2e holds the end-to-end test of the sharded-tweets example: the regional stack in
// Docker and the pgshard objects, applied together by the real Terraform CLI.
package e2e
