// Package e2e holds the end-to-end tests of the examples and modules that run in Docker: the
// sharded-tweets example (and its monthly time partitions) and the docker-region module, the
// regional stack and the pgshard objects applied together by the real Terraform CLI.
package e2e
