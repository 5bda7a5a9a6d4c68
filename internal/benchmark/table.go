package main

import (
	"context"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

func benchTable(ctx context.Context, base, shard *postgrestest.Cluster, rows int) error {
	return nil
}
