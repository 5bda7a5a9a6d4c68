package provider

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/hashicorp/terraform-plugin-framework/diag"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// addObjectError reports a failed operation on a database object in the house wording:
// "Foreign Server Create Error" / "Could not create foreign server "x" in database "y": ...".
// object names the object in words (`foreign server "x"`). Errors never carry SQL text or
// option values, so no password can leak through them.
func addObjectError(diags *diag.Diagnostics, kind, action, object, database string, err error) {
	detail := fmt.Sprintf("Could not %s %s in database %q: %s.",
		strings.ToLower(action), object, database, reason(err))
	if hint := hintFor(err); hint != "" {
		detail += "\n\n" + hint
	}
	detail += "\n\nOriginal error: " + err.Error()
	diags.AddError(kind+" "+action+" Error", detail)
}

// reason is the server's message without the driver's prefix.
func reason(err error) string {
	if errors.Is(err, context.Canceled) {
		return "the apply was interrupted"
	}
	if pqErr := postgres.ServerErrorOf(err); pqErr != nil {
		return pqErr.Message
	}
	var ce *postgres.ConnectError
	if errors.As(err, &ce) {
		return "the database server could not be reached (" + ce.Target + ")"
	}
	return err.Error()
}

// hintFor says what to do about err, by its kind (postgres.KindOf), then what the server
// added (its detail and hint) for an error of the server's.
func hintFor(err error) string {
	kind := postgres.KindOf(err)
	var hint string
	if say := hints[kind]; say != nil {
		hint = say(err)
	}
	server := postgres.ServerErrorOf(err)
	if server == nil || kind == postgres.KindInterrupted {
		return hint
	}
	for _, more := range []struct{ label, text string }{{"Detail: ", server.Detail}, {"PostgreSQL says: ", server.Hint}} {
		if more.text == "" {
			continue
		}
		if hint != "" {
			hint += " "
		}
		hint += more.label + more.text
	}
	return hint
}

// said is a hint that does not depend on the error.
func said(text string) func(error) string { return func(error) string { return text } }

// hints is what to do about each kind of error: the one table of the provider's advice.
var hints = map[postgres.ErrorKind]func(error) string{
	postgres.KindNoConnectionSlot: func(err error) string {
		var ce *postgres.ConnectError
		errors.As(err, &ce)
		return "The connection was refused because " + ce.NoSlotAdvice() + "."
	},
	postgres.KindTLSRejected: said("The server's TLS certificate was not accepted: check that sslrootcert (PGSSLROOTCERT) is the CA that signed it, " +
		"and, with sslmode = verify-full, that host is one of the names (or addresses) on the certificate."),
	postgres.KindUnreachable: said("Check that the server is running and that the provider's host, port, database, username and password are right; connect_timeout says how long the provider keeps retrying."),
	postgres.KindInterrupted: said("The apply was interrupted (Ctrl-C makes Terraform stop the provider, which cancels the running statement). " +
		"The running transaction was rolled back, so this change was not left half done; a move of rows resumes where it stopped: apply again."),
	postgres.KindMoveIntoDefault: said("The rows leaving the partition could not be written into the DEFAULT partition: it must accept them, with the parent's columns " +
		"and within its NOT NULL and CHECK constraints. Nothing was moved: fix the rows or the DEFAULT partition, then apply again."),
	postgres.KindMoveFromDefault: said("The rows of the DEFAULT partition that the bound takes could not be written into the new partition (for a shard, into its " +
		"shard table through the foreign server): the partition must accept them, with the parent's columns and within its NOT NULL " +
		"and CHECK constraints. Nothing was moved and nothing was created: fix the rows or the shard table, then apply again."),
	postgres.KindDefaultHoldsRows: said("The DEFAULT partition holds rows that the new bound takes, and PostgreSQL refuses a bound that would leave them there. " +
		"Move those rows out of the DEFAULT partition first (at create, move_rows_from_default = true does it in the same transaction), " +
		"or choose a bound that takes none of them. Nothing was changed."),
	postgres.KindExists:           said("The object already exists. Bring it under Terraform with `terraform import`, or choose another name."),
	postgres.KindPrivilege:        said("The provider's role lacks a privilege this needs: grant it, or connect as a role that has it (see the provider documentation on least privilege)."),
	postgres.KindDependents:       said("Other objects still depend on it. Remove them first (or let Terraform destroy them in the same run); the provider never drops dependent objects with CASCADE."),
	postgres.KindUndefined:        said("An object it refers to does not exist. Create it first, or make this resource depend on the one that creates it."),
	postgres.KindBadOption:        said("Fix the option named in the message."),
	postgres.KindOverlap:          said("Partition bounds must not overlap: compare with the parent's other partitions (data.pgshard_partitions lists them)."),
	postgres.KindRowsOutsideBound: said("Rows already stored fall outside the new bound: move or delete them first, or choose a bound that includes them."),
	postgres.KindCredentials:      said("The remote server refused the credentials: check the user mapping's user and password."),
	postgres.KindLockTimeout:      lockTimeoutHint,
}

// lockTimeoutHint names the sessions holding locks when the PostgreSQL layer could read
// them (changes made in one transaction), and says where to look otherwise (plan reads).
func lockTimeoutHint(err error) string {
	var shard *postgres.ShardLockTimeoutError
	if errors.As(err, &shard) {
		holders := make([]string, len(shard.Holders))
		for i, h := range shard.Holders {
			holders[i] = "- " + h.String()
		}
		where := "the session had let go when the provider looked"
		if len(holders) > 0 {
			where = "sessions holding locks there:\n" + strings.Join(holders, "\n")
		}
		return fmt.Sprintf("Another session holds a lock on the shard behind server %q that this change needs, and the provider waited lock_timeout (%s) for it; "+
			"%s\nNothing was changed on the base or any shard. Finish or end that session's transaction on the shard (SELECT pg_terminate_backend(pid) there), "+
			"or raise lock_timeout in the provider block.", shard.Server, shard.LockTimeout, where)
	}
	var lte *postgres.LockTimeoutError
	if !errors.As(err, &lte) {
		return "Another session holds a lock on a table this needs, and the provider waited lock_timeout for it. " +
			"Find that session in pg_locks and pg_stat_activity (a transaction left open, \"idle in transaction\", is the usual cause), " +
			"then finish it or end it (SELECT pg_terminate_backend(pid)); or raise lock_timeout in the provider block."
	}
	if len(lte.Holders) == 0 {
		return fmt.Sprintf("Another session held a lock on a table this needs, and the provider waited lock_timeout (%s) for it; "+
			"the session had let go when the provider looked. Apply again, or raise lock_timeout in the provider block.", lte.LockTimeout)
	}
	holders := make([]string, len(lte.Holders))
	for i, h := range lte.Holders {
		holders[i] = "- " + h.String()
	}
	return fmt.Sprintf("Another session holds a lock on a table this needs. Sessions holding locks in this database:\n%s\n"+
		"The provider waited lock_timeout (%s) for it. Finish or end that session's transaction: SELECT pg_terminate_backend(pid) ends it "+
		"(pg_cancel_backend(pid) only stops a running statement, not an idle open transaction). Or raise lock_timeout in the provider block.",
		strings.Join(holders, "\n"), lte.LockTimeout)
}
