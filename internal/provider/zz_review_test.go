package provider

import (
	"strings"
	"testing"
	"time"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

func zzDay(s string) time.Time { t, _ := time.Parse(time.DateOnly, s); return t }

func zzNames(ps []postgres.Period) string {
	var out []string
	for _, p := range ps {
		out = append(out, p.Name+"["+p.From+","+p.To+")")
	}
	return strings.Join(out, " ")
}

func TestZZReviewPure(t *testing.T) {
	parent := &postgres.Table{Schema: "public", Name: "ev"}
	key := postgres.TimeKey{Column: "at", Type: "date"}
	iv := func(s string) postgres.Interval { i, err := postgres.ParseInterval(s); if err != nil { t.Fatal(err) }; return i }

	// far future day/week
	for _, s := range []string{"1 day", "1 week", "3 days"} {
		for _, at := range []string{"2261-06-01", "2263-06-01", "2300-01-01", "1600-01-01"} {
			p, err := postgres.PlanPeriods(postgres.PeriodSpec{Parent: parent, Key: key, Interval: iv(s), Premake: 0, AsOf: zzDay(at).Add(5 * time.Hour)}, nil, nil)
			t.Logf("%s at %s: %v %s", s, at, err, zzNames(p.Create))
		}
	}
	// premake 1000
	_, err := postgres.PlanPeriods(postgres.PeriodSpec{Parent: parent, Key: key, Interval: iv("1 day"), Premake: 1000, AsOf: zzDay("2026-01-01")}, nil, nil)
	t.Logf("premake 1000: %v", err)
	// big years
	p, err := postgres.PlanPeriods(postgres.PeriodSpec{Parent: parent, Key: key, Interval: iv("3000 years"), Premake: 1, AsOf: zzDay("2026-01-01")}, nil, nil)
	t.Logf("3000 years: %v %s", err, zzNames(p.Create))

	// interval change 1 month -> 2 months: gap?
	m1, _ := postgres.PlanPeriods(postgres.PeriodSpec{Parent: parent, Key: key, Interval: iv("1 month"), Premake: 4, AsOf: zzDay("2026-01-10")}, nil, nil)
	t.Logf("monthly: %s", zzNames(m1.Create))
	m2, _ := postgres.PlanPeriods(postgres.PeriodSpec{Parent: parent, Key: key, Interval: iv("2 months"), Premake: 2, AsOf: zzDay("2026-05-10")}, m1.Create, nil)
	t.Logf("then 2 months at 05-10: keep %s create %s skipped %v", zzNames(m2.Keep), zzNames(m2.Create), m2.Skipped)
	m3, _ := postgres.PlanPeriods(postgres.PeriodSpec{Parent: parent, Key: key, Interval: iv("2 months"), Premake: 2, AsOf: zzDay("2026-06-10")}, m1.Create, nil)
	t.Logf("then 2 months at 06-10: keep %s create %s skipped %v", zzNames(m3.Keep), zzNames(m3.Create), m3.Skipped)

	// retention boundary exact
	keep := iv("1 month")
	r, _ := postgres.PlanPeriods(postgres.PeriodSpec{Parent: parent, Key: key, Interval: iv("1 month"), Premake: 0, AsOf: zzDay("2026-03-01"), Retention: &keep}, m1.Create, nil)
	t.Logf("retention 1 month at 03-01: retire %s keep %s create %s", zzNames(r.Retire), zzNames(r.Keep), zzNames(r.Create))

	// start in the future
	st := zzDay("2027-01-01")
	f, _ := postgres.PlanPeriods(postgres.PeriodSpec{Parent: parent, Key: key, Interval: iv("1 month"), Start: &st, Premake: 1, AsOf: zzDay("2026-03-01")}, nil, nil)
	t.Logf("start future: %s", zzNames(f.Create))

	// ParseInstant with offsets
	for _, s := range []string{"2026-03-01T00:30:00+01:00", "2026-03-01 00:30:00+01", "2026-03-01T00:30:00", "2026-03-01"} {
		x, err := postgres.ParseInstant(s)
		t.Logf("ParseInstant(%q) = %v %v", s, x, err)
	}
	// week grid + start Monday vs calendar
	w, _ := postgres.PlanPeriods(postgres.PeriodSpec{Parent: parent, Key: key, Interval: iv("2 weeks"), Premake: 1, AsOf: zzDay("2026-01-01")}, nil, nil)
	t.Logf("2 weeks: %s", zzNames(w.Create))
	// interval spellings
	for _, s := range []string{"1 months", "1 Month", "01 month", "12 months", "1  month"} {
		i, err := postgres.ParseInterval(s)
		t.Logf("%q -> %v %v", s, i, err)
	}
	// intervalOf for import
	for _, per := range append(m1.Create, w.Create...) {
		t.Logf("intervalOf %s = %s", per.Name, intervalOf(per))
	}
	d7, _ := postgres.PlanPeriods(postgres.PeriodSpec{Parent: parent, Key: key, Interval: iv("7 days"), Premake: 3, AsOf: zzDay("2026-01-01")}, nil, nil)
	for _, per := range d7.Create {
		t.Logf("7 days: intervalOf %s = %s", per.Name, intervalOf(per))
	}
	d31 := zzDay("2026-01-01")
	d, _ := postgres.PlanPeriods(postgres.PeriodSpec{Parent: parent, Key: key, Interval: iv("31 days"), Start: &d31, Premake: 0, AsOf: zzDay("2026-01-02")}, nil, nil)
	for _, per := range d.Create {
		t.Logf("31 days: intervalOf %s = %s", per.Name, intervalOf(per))
	}
}
