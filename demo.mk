# demo.mk: the images and the Terraform provider the sharded-tweets demo needs, built offline
# (nothing is pulled from a registry: Go module proxy and Debian packages only). Included by
# GNUmakefile; every target is idempotent and skips work already done.
#
# Variables (make command line or environment):
#   PGSHARD_CACHE            cache directory (default ~/.cache/pgshard): the Debian root file
#                            system tar (postgres/), the provider mirror (mirror/) and the CLI
#                            config terraform.rc that installs providers from that mirror only
#   DEMO_API_IMAGE           tag of the tweets API image (default pgshard/tweets-api:local)
#   DEMO_PG_IMAGE            the PostgreSQL image the demo uses (default pgshard/postgres:17-local,
#                            what postgres-image builds; it builds pgshard/postgres:15-local from
#                            Debian bookworm instead when trixie cannot be installed, and says so)
#   PG_SUITE, PG_MAJOR       force the Debian suite (trixie|bookworm) and PostgreSQL major
#   PG_WITH_JIT=1            keep LLVM and the JIT provider in the PostgreSQL image (+160 MB)
#   DEBIAN_MIRROR            Debian mirror for the image (default: the one apt is configured with)
#   DOCKER_PROVIDER_VERSION  version under which kreuzwerker/docker is put in the mirror (4.6.0)
#   FORCE=1                  rebuild even what is up to date
#
# After `make docker-provider` (and `make install` for pgshard/pgshard), Terraform finds both
# providers with: export TF_CLI_CONFIG_FILE=$(PGSHARD_CACHE)/terraform.rc

DEMO_DIR                := $(patsubst %/,%,$(dir $(lastword $(MAKEFILE_LIST))))
PGSHARD_CACHE           ?= $(HOME)/.cache/pgshard
DEMO_API_IMAGE          ?= pgshard/tweets-api:local
DEMO_PG_IMAGE           ?= pgshard/postgres:17-local
DOCKER_PROVIDER_VERSION ?= 4.6.0
DOCKER_PROVIDER_BIN     := $(PGSHARD_CACHE)/mirror/registry.terraform.io/kreuzwerker/docker/$(DOCKER_PROVIDER_VERSION)/$(shell go env GOOS)_$(shell go env GOARCH)/terraform-provider-docker_v$(DOCKER_PROVIDER_VERSION)

.PHONY: images api-image postgres-image docker-provider tweets-api-test

images: api-image postgres-image ## Build the demo's Docker images (tweets API, PostgreSQL) offline.

api-image: ## Build the tweets API image (FROM scratch, static binary).
	PGSHARD_CACHE="$(PGSHARD_CACHE)" API_IMAGE="$(DEMO_API_IMAGE)" FORCE="$(FORCE)" \
	  bash $(DEMO_DIR)/scripts/build-api-image.sh

postgres-image: ## Build the PostgreSQL image from Debian packages (mmdebstrap + docker import).
	PGSHARD_CACHE="$(PGSHARD_CACHE)" PG_SUITE="$(PG_SUITE)" PG_MAJOR="$(PG_MAJOR)" \
	  PG_WITH_JIT="$(PG_WITH_JIT)" DEBIAN_MIRROR="$(DEBIAN_MIRROR)" FORCE="$(FORCE)" \
	  bash $(DEMO_DIR)/scripts/build-postgres-image.sh

docker-provider: ## Build kreuzwerker/docker from the Go module proxy into the provider mirror.
	PGSHARD_CACHE="$(PGSHARD_CACHE)" DOCKER_PROVIDER_VERSION="$(DOCKER_PROVIDER_VERSION)" FORCE="$(FORCE)" \
	  bash $(DEMO_DIR)/scripts/build-docker-provider.sh

# The tweets API module's tests, against a throwaway cluster of the test harness (make test
# runs them too).
TWEETS_API_TEST = cd $(DEMO_DIR) && go run ./internal/postgrestest/cmd/with-cluster -env TWEETS_API_TEST_DATABASE_URL -- \
  sh -c 'cd examples/sharded-tweets/tweets-api && go vet ./... && go test -count=1 ./...'

tweets-api-test: ## Test the tweets API module against a throwaway cluster of the test harness (host binaries, else Docker).
	$(TWEETS_API_TEST)
