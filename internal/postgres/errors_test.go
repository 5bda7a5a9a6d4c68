package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/lib/pq"
	"github.com/lib/pq/pqerror"
)

func TestKindOf(t *testing.T) {
	server := func(code, msg string) error {
		return fmt.Errorf("step: %w", &pq.Error{Code: pqerror.Code(code), Message: msg})
	}
	for _, c := range []struct {
		name string
		err  error
		want ErrorKind
	}{
		{"plain error", errors.New("boom"), KindOther},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), KindInterrupted},
		{"canceled by the server at the user's request", server("57014", "canceling statement due to user request"), KindInterrupted},
		{"statement timeout is no interruption", server("57014", "canceling statement due to statement timeout"), KindOther},
		{"unreachable", &ConnectError{Target: "h:1", Err: errors.New("connection refused")}, KindUnreachable},
		{"tls", &ConnectError{Target: "h:1", Err: errors.New("x509: certificate signed by unknown authority")}, KindTLSRejected},
		{"exists", server("42P07", "relation exists"), KindExists},
		{"privilege", server("42501", "permission denied"), KindPrivilege},
		{"default holds rows", server("23514", `updated partition constraint for default partition "d" would be violated`), KindDefaultHoldsRows},
		{"rows outside", server("23514", "check constraint violated"), KindRowsOutsideBound},
		// What this package knows of the step wins over the SQLSTATE.
		{"move into default, any code", &MoveRowsError{Err: server("42501", "permission denied"), IntoDefault: true}, KindMoveIntoDefault},
		{"move from default", &MoveRowsError{Err: server("23514", "check constraint violated")}, KindMoveFromDefault},
		{"lock timeout", server("55P03", "canceling statement due to lock timeout"), KindLockTimeout},
		{"unknown code", server("XX000", "internal"), KindOther},
	} {
		if got := KindOf(c.err); got != c.want {
			t.Errorf("%s: KindOf = %d, want %d", c.name, got, c.want)
		}
	}
}
