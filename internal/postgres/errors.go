package postgres

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"
)

// ErrorKind is what went wrong with a statement or a connection, in the terms the user acts
// on: the Terraform layer says what to do about each kind (one table, in diagnostics.go),
// and never reads SQLSTATEs itself.
type ErrorKind int

// The kinds, by what to do next.
const (
	KindOther            ErrorKind = iota
	KindInterrupted                // canceled by the user (Ctrl-C): rolled back
	KindNoConnectionSlot           // the server has no connection left for this role
	KindTLSRejected                // the server's certificate was not accepted
	KindUnreachable                // no connection at all
	KindMoveIntoDefault            // rows leaving a partition did not fit the DEFAULT partition
	KindMoveFromDefault            // rows of DEFAULT did not fit the partition taking them
	KindDefaultHoldsRows           // a new bound would leave rows in DEFAULT
	KindExists                     // duplicate_object, duplicate_table, duplicate_schema
	KindPrivilege                  // insufficient_privilege
	KindDependents                 // dependent_objects_still_exist
	KindUndefined                  // undefined_object, invalid_schema_name
	KindBadOption                  // fdw_invalid_option_name, invalid_parameter_value
	KindOverlap                    // invalid_object_definition: overlapping bounds, among others
	KindRowsOutsideBound           // check_violation: stored rows outside a new bound
	KindCredentials                // the remote server refused the user mapping's credentials
	KindLockTimeout                // lock_timeout ran out (LockTimeoutError, ShardLockTimeoutError)
)

// kindOfCode maps the SQLSTATEs the provider has advice for.
var kindOfCode = map[string]ErrorKind{
	"42710": KindExists, "42P07": KindExists, "42P06": KindExists,
	"42501": KindPrivilege,
	"2BP01": KindDependents,
	"42704": KindUndefined, "3F000": KindUndefined,
	"HV00D": KindBadOption, "22023": KindBadOption,
	"42P17": KindOverlap,
	"23514": KindRowsOutsideBound,
	"28P01": KindCredentials, "28000": KindCredentials,
	"55P03": KindLockTimeout,
}

// KindOf classifies err. The first that applies wins: an interruption, then a connection
// that failed, then what this package knows of the step (a move of rows), then the
// server's SQLSTATE.
func KindOf(err error) ErrorKind {
	server := ServerErrorOf(err)
	var ce *ConnectError
	var move *MoveRowsError
	switch {
	case errors.Is(err, context.Canceled) || server != nil && server.Code == "57014" && strings.Contains(server.Message, "user request"):
		return KindInterrupted
	case errors.As(err, &ce):
		return connectKind(err, ce)
	case server == nil:
		return KindOther
	case errors.As(err, &move) && move.IntoDefault:
		return KindMoveIntoDefault
	case errors.As(err, &move):
		return KindMoveFromDefault
	case server.Code == "23514" && strings.Contains(server.Message, "default partition"):
		return KindDefaultHoldsRows
	}
	return kindOfCode[server.Code]
}

func connectKind(err error, ce *ConnectError) ErrorKind {
	var unknownAuthority x509.UnknownAuthorityError
	var hostname x509.HostnameError
	var verify *tls.CertificateVerificationError
	switch {
	case ce.NoSlotAdvice() != "":
		return KindNoConnectionSlot
	case errors.As(err, &unknownAuthority) || errors.As(err, &hostname) || errors.As(err, &verify) || strings.Contains(err.Error(), "x509:"):
		return KindTLSRejected
	}
	return KindUnreachable
}
