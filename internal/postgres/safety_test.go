package postgres

import (
	"database/sql"
	"errors"
	"strings"
	"testing"
)

// A plain table is not a partition tree: its own rows are counted, and dropping it
// refuses while it holds any (pg_partition_tree lists nothing for it).
func TestDropPlainTableCountsItsRows(t *testing.T) {
	db := freshDB(t)
	ctx := t.Context()
	mustExec(t, db, `CREATE TABLE plain (id int)`)
	mustExec(t, db, `INSERT INTO plain VALUES (1), (2)`)
	err := DropTable(ctx, db, "public", "plain", false)
	var loss *LossError
	if !errors.As(err, &loss) || !strings.Contains(err.Error(), "public.plain (2 rows)") {
		t.Fatalf("drop of a plain table with rows: %v", err)
	}
	// A detached partition is a plain table too.
	mustExec(t, db, `CREATE TABLE p (id int) PARTITION BY LIST (id)`)
	mustExec(t, db, `CREATE TABLE p_default PARTITION OF p DEFAULT`)
	mustExec(t, db, `INSERT INTO p VALUES (7)`)
	mustExec(t, db, `ALTER TABLE p DETACH PARTITION p_default`)
	if err := DropTable(ctx, db, "public", "p_default", false); !errors.As(err, &loss) {
		t.Fatalf("drop of a detached partition with rows: %v", err)
	}
	if err := DropTable(ctx, db, "public", "plain", true); err != nil {
		t.Fatal(err)
	}
}

// A rename keeps the values; a dropped column holding values is refused unless forced.
func TestAlterColumnsRenamesAndRefusesLoss(t *testing.T) {
	db := freshDB(t)
	ctx := t.Context()
	mustExec(t, db, `CREATE TABLE t (id int, body text, spare text)`)
	mustExec(t, db, `INSERT INTO t VALUES (1, 'hello', NULL)`)
	from := []Column{{Name: "id", Type: "integer"}, {Name: "body", Type: "text"}, {Name: "spare", Type: "text"}}
	alter := func(to []Column, force bool) (ColumnPlan, error) {
		var plan ColumnPlan
		err := inTx(ctx, db, func(tx *sql.Tx) error {
			var err error
			plan, err = alterColumns(ctx, tx, "public", "t", from, to, force)
			return err
		})
		return plan, err
	}
	// A rename without renamed_from is a drop and an add: refused, the value is there.
	_, err := alter([]Column{{Name: "id", Type: "integer"}, {Name: "text", Type: "text"}, {Name: "spare", Type: "text"}}, false)
	var loss *LossError
	if !errors.As(err, &loss) || !strings.Contains(err.Error(), `column "body" (1 values)`) {
		t.Fatalf("drop of a column holding values: %v", err)
	}
	// Declared, it is a rename; the empty column drops without force.
	plan, err := alter([]Column{{Name: "id", Type: "integer"}, {Name: "text", Type: "text", RenamedFrom: "body"}}, false)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Renames) != 1 || plan.Drops[0] != "spare" {
		t.Fatalf("plan %+v", plan)
	}
	var body string
	if err := db.QueryRow(`SELECT text FROM t`).Scan(&body); err != nil || body != "hello" {
		t.Fatalf("value after rename %q, %v", body, err)
	}
	// Applied again, the rename is done: nothing to do.
	from = []Column{{Name: "id", Type: "integer"}, {Name: "text", Type: "text"}}
	if plan, err := PlanColumns(from, []Column{{Name: "id", Type: "integer"}, {Name: "text", Type: "text", RenamedFrom: "body"}}); err != nil || !plan.Empty() {
		t.Fatalf("second plan %+v, %v", plan, err)
	}
	// Forced, the drop runs.
	if _, err := alter([]Column{{Name: "id", Type: "integer"}}, true); err != nil {
		t.Fatal(err)
	}
}
