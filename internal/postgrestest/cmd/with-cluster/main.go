// Command with-cluster runs a command beside a throw-away PostgreSQL cluster of the test
// harness (the host's binaries, else Docker) and destroys the cluster afterwards:
//
//	go run ./internal/postgrestest/cmd/with-cluster -env NAME -- COMMAND [ARG...]
//
// NAME (default PGSHARD_TEST_DATABASE_URL) holds a key=value connection string to the
// database postgres as the superuser. The exit code is the command's. make tweets-api-test
// uses it, so that module's database tests run wherever make test does.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"syscall"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgrestest"
)

func main() {
	env := flag.String("env", "PGSHARD_TEST_DATABASE_URL", "environment variable that gets the connection string")
	flag.Parse()
	if flag.NArg() == 0 {
		fmt.Fprintln(os.Stderr, "usage: with-cluster [-env NAME] -- COMMAND [ARG...]")
		os.Exit(2)
	}
	os.Exit(run(*env, flag.Args()))
}

func run(env string, command []string) int {
	ctx, cancel := context.WithTimeout(context.Background(), postgrestest.SharedStartTimeout)
	c, err := postgrestest.StartCluster(ctx, "with-cluster")
	cancel()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	defer func() {
		if err := c.Destroy(); err != nil {
			fmt.Fprintln(os.Stderr, err)
		}
	}()
	// An interrupt reaches the command too; the cluster goes once the command has ended.
	signal.Ignore(os.Interrupt, syscall.SIGTERM)

	cmd := exec.Command(command[0], command[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), env+"="+c.DSN(postgrestest.AdminDatabase))
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &exit) && exit.ExitCode() > 0:
		return exit.ExitCode()
	default:
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
}
