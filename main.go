package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"runtime/debug"
	"runtime/pprof"

	"github.com/hashicorp/terraform-plugin-framework/providerserver"

	"github.com/pgshard/terraform-provider-pgshard/internal/provider"
)

// Run "go generate" to format example terraform files and generate the docs for the registry/website.
//go:generate terraform fmt -recursive ./examples/

// version is set by goreleaser at release time.
var version = "dev"

// quietSDKLogs turns the plugin SDK's trace logging off when no one asked for logs. The SDK
// logs every call at TRACE by default and leaves Terraform to drop the lines when TF_LOG is
// unset; encoding them was over a third of the provider's CPU time in a plan of 64 shards.
func quietSDKLogs() {
	for _, v := range []string{"TF_LOG", "TF_LOG_PROVIDER", "TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK", "TF_ACC_LOG_PATH", "TF_LOG_PATH_MASK"} {
		if os.Getenv(v) != "" {
			return
		}
	}
	for _, v := range []string{"TF_LOG_SDK", "TF_LOG_SDK_PROTO", "TF_LOG_SDK_FRAMEWORK"} {
		os.Setenv(v, "OFF")
	}
}

func main() {
	quietSDKLogs()
	if os.Getenv("GOGC") == "" {
		// A provider process lives for one Terraform command and allocates heavily while it
		// converts values; collecting less often saved a fifth of its CPU in a plan of 64 shards.
		debug.SetGCPercent(400)
	}
	var debug bool
	flag.BoolVar(&debug, "debug", false, "set to true to run the provider with support for debuggers like delve")
	flag.Parse()
	defer startCPUProfile()()

	err := providerserver.Serve(context.Background(), provider.New(version), providerserver.ServeOpts{
		Address:         "registry.terraform.io/pgshard/pgshard",
		Debug:           debug,
		ProtocolVersion: 6,
	})
	if err != nil {
		log.Fatal(err.Error())
	}
}

// startCPUProfile writes a CPU profile of the process to $PGSHARD_CPUPROFILE.<pid> when
// that variable is set (for profiling the provider under the real CLI, which starts several
// provider processes per command); the returned function stops it.
func startCPUProfile() func() {
	prefix := os.Getenv("PGSHARD_CPUPROFILE")
	if prefix == "" {
		return func() {}
	}
	f, err := os.Create(fmt.Sprintf("%s.%d", prefix, os.Getpid()))
	if err != nil {
		return func() {}
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return func() {}
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}
}
