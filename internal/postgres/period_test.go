package postgres

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func day(s string) time.Time {
	t, err := time.Parse(time.DateOnly, s)
	if err != nil {
		panic(err)
	}
	return t
}

func TestParseInterval(t *testing.T) {
	for in, want := range map[string]string{"1 day": "1 day", "2 Weeks": "2 weeks", " 1 month ": "1 month", "3 months": "3 months", "1 years": "1 year"} {
		iv, err := ParseInterval(in)
		if err != nil || iv.String() != want {
			t.Errorf("ParseInterval(%q) = %v, %v; want %s", in, iv, err, want)
		}
	}
	for _, in := range []string{"", "1 hour", "0 days", "month", "1 month; DROP TABLE x", "-1 day", "1.5 months"} {
		if _, err := ParseInterval(in); err == nil {
			t.Errorf("ParseInterval(%q) accepted", in)
		}
	}
}

// Periods follow the calendar: months from January, quarters, ISO weeks, and month ends
// clamp as PostgreSQL's date + interval does.
func TestIntervalCalendar(t *testing.T) {
	cases := []struct {
		iv   string
		at   string
		want string
	}{
		{"1 month", "2026-12-15", "2026-12-01"},
		{"3 months", "2026-08-31", "2026-07-01"},
		{"1 week", "2026-12-03", "2026-11-30"}, // a Thursday; Monday before
		{"1 week", "2026-11-30", "2026-11-30"},
		{"1 day", "2026-12-03", "2026-12-03"},
		{"2 days", "1969-12-31", "1969-12-30"},
		{"1 year", "2026-06-01", "2026-01-01"},
	}
	for _, c := range cases {
		iv, _ := ParseInterval(c.iv)
		if got := iv.calendarStart(day(c.at).Add(13 * time.Hour)).Format(time.DateOnly); got != c.want {
			t.Errorf("%s period holding %s starts %s; want %s", c.iv, c.at, got, c.want)
		}
	}
	month, _ := ParseInterval("1 month")
	if got := month.Add(day("2026-03-31"), -1).Format(time.DateOnly); got != "2026-02-28" {
		t.Errorf("2026-03-31 - 1 month = %s; want 2026-02-28", got)
	}
}

func TestPlanPeriods(t *testing.T) {
	parent := &Table{Schema: "public", Name: "tweets_europe"}
	key := TimeKey{Column: "created_at", Type: "timestamptz"}
	month, _ := ParseInterval("1 month")
	keep, _ := ParseInterval("3 months")
	spec := PeriodSpec{Parent: parent, Key: key, Interval: month, Premake: 2, AsOf: day("2026-01-15"), Retention: &keep}
	plan, err := PlanPeriods(spec, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(plan.Create); got != "tweets_europe_p20260101 tweets_europe_p20260201 tweets_europe_p20260301" {
		t.Fatalf("created %s", got)
	}
	if p := plan.Create[0]; p.From != "2026-01-01 00:00:00+00" || p.To != "2026-02-01 00:00:00+00" {
		t.Errorf("first period [%s, %s)", p.From, p.To)
	}
	// Later: the old ones stay until retention passes them; a hand-made partition over
	// May keeps May from being made.
	ours := plan.Create
	others := []Period{{Name: "hand_may", from: day("2026-05-10"), to: day("2026-05-20")}}
	spec.AsOf = day("2026-05-02")
	plan, err = PlanPeriods(spec, ours, others)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(plan.Retire); got != "tweets_europe_p20260101" {
		t.Errorf("retired %q", got)
	}
	if got := names(plan.Create); got != "tweets_europe_p20260401 tweets_europe_p20260601 tweets_europe_p20260701" {
		t.Errorf("created %q", got)
	}
	if len(plan.Skipped) != 1 || !strings.HasPrefix(plan.Skipped[0], "not create tweets_europe_p20260501: another partition") {
		t.Errorf("skipped %v", plan.Skipped)
	}
	// From months to years: the year already begun is bridged from the last month on, and
	// no day is left without a period.
	year, _ := ParseInterval("1 year")
	months, err := PlanPeriods(PeriodSpec{Parent: parent, Key: key, Interval: month, Premake: 4, AsOf: day("2026-01-10")}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	plan, err = PlanPeriods(PeriodSpec{Parent: parent, Key: key, Interval: year, Premake: 1, AsOf: day("2026-03-10")}, months.Create, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := names(plan.Create); got != "tweets_europe_p20260601 tweets_europe_p20270101" || plan.Create[0].To != "2027-01-01 00:00:00+00" || len(plan.Skipped) != 0 {
		t.Errorf("months to years: created %q, first to %s, skipped %v", got, plan.Create[0].To, plan.Skipped)
	}
	// Beyond the year 9999 nothing is planned.
	if _, err := PlanPeriods(PeriodSpec{Parent: parent, Key: key, Interval: year, Premake: 10, AsOf: day("9995-01-01")}, nil, nil); err == nil || !strings.Contains(err.Error(), "9999") {
		t.Errorf("past 9999: %v", err)
	}
	// Far from 1970, days still follow the calendar.
	day1, _ := ParseInterval("1 day")
	if got := day1.calendarStart(day("2300-01-01").Add(5 * time.Hour)).Format(time.DateOnly); got != "2300-01-01" {
		t.Errorf("the day holding 2300-01-01 05:00 starts %s", got)
	}
	// A start in the past back-fills, up to retention, on the start's grid of weeks.
	week, _ := ParseInterval("1 week")
	start := day("2026-11-04") // a Wednesday
	spec = PeriodSpec{Parent: &Table{Schema: "s", Name: strings.Repeat("x", 63)}, Key: TimeKey{Type: "date"}, Interval: week, Start: &start, Premake: 1, AsOf: day("2026-11-20")}
	plan, err = PlanPeriods(spec, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Create) != 4 || plan.Create[3].From != "2026-11-25" || plan.Create[3].To != "2026-12-02" {
		t.Errorf("weeks from a Wednesday: %+v", plan.Create)
	}
	if n := plan.Create[0].Name; len(n) != 63 || !strings.HasSuffix(n, "_p20261104") {
		t.Errorf("long name %q (%d bytes)", n, len(n))
	}
	long := day("2000-01-01")
	spec = PeriodSpec{Parent: parent, Key: key, Interval: day1, Start: &long, AsOf: day("2026-01-01")}
	if _, err := PlanPeriods(spec, nil, nil); !errors.Is(err, ErrTooManyPeriods) {
		t.Errorf("a back-fill of 9,000 days: %v", err)
	}
}

func names(ps []Period) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name)
	}
	return strings.Join(out, " ")
}

// The shard's partitioned table gets the identity only on a column the parent has.
func TestRemoteParentOf(t *testing.T) {
	spec := PeriodSpec{Parent: &Table{Schema: "public", Name: "tweets_europe", Columns: []Column{{Name: "id", Type: "bigint"}, {Name: "created_at", Type: "timestamp with time zone"}}}, Key: TimeKey{Column: "created_at"}}
	got, err := spec.RemoteParentOf("europe", "public", "europe_tweets", &Identity{Column: "id", Start: 7, Increment: 1})
	if err != nil {
		t.Fatal(err)
	}
	if sql := shardTableSQL(got); !strings.Contains(sql, `"id" bigint GENERATED BY DEFAULT AS IDENTITY (START WITH 7 INCREMENT BY 1)`) || !strings.HasSuffix(sql, `PARTITION BY RANGE ("created_at")`) {
		t.Errorf("RemoteTableSQL = %s", sql)
	}
	if _, err := spec.RemoteParentOf("europe", "public", "europe_tweets", &Identity{Column: "tweet_id", Start: 7, Increment: 1}); err == nil || !strings.Contains(err.Error(), `"tweet_id"`) {
		t.Errorf("an identity on a missing column: %v", err)
	}
}
