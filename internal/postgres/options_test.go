package postgres

import (
	"reflect"
	"testing"
)

func TestDiffOptions(t *testing.T) {
	from := map[string]string{"fetch_size": "100", "keep": "x", "gone": "1"}
	to := map[string]string{"fetch_size": "500", "keep": "x", "new": "a=b'c"}
	got := diffOptions(from, to)
	want := []OptionChange{
		{Op: "SET", Key: "fetch_size", Value: "500"},
		{Op: "DROP", Key: "gone"},
		{Op: "ADD", Key: "new", Value: "a=b'c"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("DiffOptions = %+v, want %+v", got, want)
	}
	clause := alterOptionsClause(got)
	wantClause := `OPTIONS (SET "fetch_size" '500', DROP "gone", ADD "new" 'a=b''c')`
	if clause != wantClause {
		t.Fatalf("clause = %s, want %s", clause, wantClause)
	}
	if diffOptions(to, to) != nil || alterOptionsClause(nil) != "" {
		t.Fatal("no change should render nothing")
	}
	if diffOptions(nil, nil) != nil {
		t.Fatal("nil maps")
	}
}

func TestCreateOptionsClause(t *testing.T) {
	got := CreateOptionsClause(map[string]string{"b": `x\y`, "a": "1"})
	want := ` OPTIONS ("a" '1', "b"  E'x\\y')`
	if got != want {
		t.Fatalf("got %s want %s", got, want)
	}
	if CreateOptionsClause(nil) != "" {
		t.Fatal("empty")
	}
}

func TestParseOptionArray(t *testing.T) {
	got := parseOptionArray([]string{"host=a", "options=-c x=y", "empty="})
	want := map[string]string{"host": "a", "options": "-c x=y", "empty": ""}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("%v", got)
	}
}

func TestCheckOptionValue(t *testing.T) {
	good := [][2]string{{"fetch_size", "100"}, {"async_capable", "true"}, {"updatable", "off"}, {"fdw_tuple_cost", "0.01"}, {"host", "anything"}}
	bad := [][2]string{{"fetch_size", "0"}, {"fetch_size", "-3"}, {"batch_size", "ten"}, {"async_capable", "maybe"}, {"fdw_startup_cost", "-1"}, {"fetch_size", "10x"}}
	for _, g := range good {
		if err := CheckOptionValue(g[0], g[1]); err != nil {
			t.Errorf("%v rejected: %v", g, err)
		}
	}
	for _, b := range bad {
		if err := CheckOptionValue(b[0], b[1]); err == nil {
			t.Errorf("%v accepted", b)
		}
	}
}
