package postgres

// Periods: the rolling RANGE partitions of one time column that pgshard_time_partitions
// keeps. A period is [from, to) of one interval, at midnight UTC; its partition is named
// after the parent and its first day (PeriodName). The catalog's bounds are read with the
// session's TimeZone at UTC and DateStyle ISO, so that PostgreSQL prints them exactly as
// FormatPeriodBound writes them: a period is compared with the catalog in the server's form.

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Interval is the length of a period: N days, weeks, months or years.
type Interval struct {
	N    int
	Unit string // day, week, month or year
}

var intervalRE = regexp.MustCompile(`^\s*(\d{1,4})\s+(day|week|month|year)s?\s*$`)

// ParseInterval reads "1 day", "2 weeks", "1 month", "3 months", "1 year".
func ParseInterval(s string) (Interval, error) {
	m := intervalRE.FindStringSubmatch(strings.ToLower(s))
	if m == nil {
		return Interval{}, fmt.Errorf("%q is not an interval of whole days, weeks, months or years (for example \"1 day\", \"1 week\", \"1 month\", \"3 months\", \"1 year\")", s)
	}
	n, _ := strconv.Atoi(m[1])
	if n < 1 {
		return Interval{}, fmt.Errorf("%q is not a positive interval", s)
	}
	return Interval{N: n, Unit: m[2]}, nil
}

// String is the interval's canonical spelling ("1 month", "3 months").
func (iv Interval) String() string {
	if iv.N == 1 {
		return "1 " + iv.Unit
	}
	return strconv.Itoa(iv.N) + " " + iv.Unit + "s"
}

// Add returns t plus k intervals (k may be negative). Months and years keep the day of
// the month, clamped to the month's last day, as PostgreSQL's date + interval does.
func (iv Interval) Add(t time.Time, k int) time.Time {
	switch iv.Unit {
	case "day":
		return t.AddDate(0, 0, k*iv.N)
	case "week":
		return t.AddDate(0, 0, 7*k*iv.N)
	case "year":
		return addMonths(t, 12*k*iv.N)
	default:
		return addMonths(t, k*iv.N)
	}
}

func addMonths(t time.Time, months int) time.Time {
	first := time.Date(t.Year(), t.Month(), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), time.UTC).AddDate(0, months, 0)
	last := first.AddDate(0, 1, -1).Day()
	return first.AddDate(0, 0, min(t.Day(), last)-1)
}

// epochMonday is a Monday: weeks start on Mondays (ISO 8601).
var epochMonday = time.Date(1970, 1, 5, 0, 0, 0, 0, time.UTC)

// calendarStart is the first instant of the calendar period holding t: days since the
// Unix epoch, weeks from Mondays, months from January of year 0, years from year 0, each
// in steps of N.
func (iv Interval) calendarStart(t time.Time) time.Time {
	day := time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	switch iv.Unit {
	case "day":
		n := floorDiv(int(day.Unix()/86400), iv.N)
		return time.Unix(0, 0).UTC().AddDate(0, 0, n*iv.N)
	case "week":
		n := floorDiv(int((day.Unix()-epochMonday.Unix())/86400), 7*iv.N)
		return epochMonday.AddDate(0, 0, n*7*iv.N)
	case "year":
		return time.Date(floorDiv(t.Year(), iv.N)*iv.N, 1, 1, 0, 0, 0, 0, time.UTC)
	default:
		m := floorDiv(t.Year()*12+int(t.Month())-1, iv.N) * iv.N
		return time.Date(m/12, time.Month(m%12+1), 1, 0, 0, 0, 0, time.UTC)
	}
}

func floorDiv(a, b int) int {
	q := a / b
	if a%b != 0 && (a < 0) != (b < 0) {
		q--
	}
	return q
}

// CheckStart says why start cannot begin a period of iv: it is a date, and for months
// and years the first of a month.
func (iv Interval) CheckStart(start time.Time) error {
	if (iv.Unit == "month" || iv.Unit == "year") && start.Day() != 1 {
		return fmt.Errorf("a period of %s starts on the first day of a month; %s does not", iv, start.Format(time.DateOnly))
	}
	return nil
}

// ParseDate reads a date (YYYY-MM-DD) as midnight UTC.
func ParseDate(s string) (time.Time, error) {
	t, err := time.Parse(time.DateOnly, strings.TrimSpace(s))
	if err != nil {
		return time.Time{}, fmt.Errorf("%q is not a date (YYYY-MM-DD)", s)
	}
	return t, nil
}

// ParseInstant reads an RFC 3339 timestamp ("2026-12-01T12:00:00Z"), a timestamp without
// zone (taken as UTC) or a date (midnight UTC).
func ParseInstant(s string) (time.Time, error) {
	s = strings.TrimSpace(s)
	for _, layout := range []string{time.RFC3339Nano, time.DateTime, "2006-01-02T15:04:05", time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a timestamp (RFC 3339, such as \"2026-12-01T00:00:00Z\", or a date YYYY-MM-DD)", s)
}

// TimeKey is the one column of a RANGE partition key that periods split, and its type.
type TimeKey struct {
	Column string
	Type   string // date, timestamp or timestamptz
}

// TimeKeyOf returns parent's time key: it must be partitioned by RANGE on one column of
// type date, timestamp or timestamptz.
func TimeKeyOf(parent *Table) (TimeKey, error) {
	if parent.PartitionBy == nil || parent.PartitionBy.Strategy != "range" || len(parent.PartitionBy.Key) != 1 || IsKeyExpression(parent.PartitionBy.Key[0]) {
		return TimeKey{}, fmt.Errorf("%s.%s is not partitioned by RANGE on one column: time partitions need PARTITION BY RANGE (a date, timestamp or timestamptz column)", parent.Schema, parent.Name)
	}
	col := parent.PartitionBy.Key[0]
	for _, c := range parent.Columns {
		if c.Name != col {
			continue
		}
		typ := c.Type
		if i := strings.Index(typ, "("); i >= 0 {
			if j := strings.Index(typ, ")"); j > i {
				typ = typ[:i] + typ[j+1:]
			}
		}
		switch strings.TrimSpace(typ) {
		case "date":
			return TimeKey{Column: col, Type: "date"}, nil
		case "timestamp without time zone", "timestamp":
			return TimeKey{Column: col, Type: "timestamp"}, nil
		case "timestamp with time zone", "timestamptz":
			return TimeKey{Column: col, Type: "timestamptz"}, nil
		}
		return TimeKey{}, fmt.Errorf("%s.%s is partitioned on %s of type %s: time partitions need a date, timestamp or timestamptz column", parent.Schema, parent.Name, col, c.Type)
	}
	return TimeKey{}, fmt.Errorf("%s.%s has no column %s, its partition key", parent.Schema, parent.Name, col)
}

// formatPeriodBound writes midnight t as PostgreSQL prints a bound of the key's type with
// TimeZone UTC and DateStyle ISO.
func formatPeriodBound(t time.Time, typ string) string {
	switch typ {
	case "date":
		return t.Format(time.DateOnly)
	case "timestamp":
		return t.Format(time.DateTime)
	default:
		return t.Format(time.DateTime) + "+00"
	}
}

// parsePeriodBound reads a bound FormatPeriodBound wrote; false when it is not a midnight
// in that form.
func parsePeriodBound(s, typ string) (time.Time, bool) {
	s, ok := strings.CutSuffix(s, "+00")
	if ok != (typ == "timestamptz") {
		return time.Time{}, false
	}
	layout := time.DateTime
	if typ == "date" {
		layout = time.DateOnly
	}
	t, err := time.Parse(layout, s)
	return t, err == nil && t.Equal(time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC))
}

// periodName is the name of parent's period starting on day from: the parent's name,
// cut to fit, then _pYYYYMMDD; at most 63 bytes.
func periodName(parent string, from time.Time) string {
	return TruncateIdentifier(parent, "_p"+from.Format("20060102"))
}

// Period is one partition in the range of its parent's time key.
type Period struct {
	Name     string
	From, To string // bound values as the server prints them (see the file comment)
	Server   string // "" for a local partition
	Foreign  bool
	// Frozen says an interrupted tier left the period's shard table refusing writes (see
	// tierForeignPeriod); the plan lifts the freeze or finishes the tier.
	Frozen bool
	// OldTable, on a tiered period, is its old shard table that is still to be dropped (a
	// drop that failed, or a provider killed before it); it shows as Frozen.
	OldTable *OldShardTable
	// From0 is, for a period the plan tiers, the server it leaves ("" for the base).
	From0    string
	from, to time.Time
	ours     bool // named PeriodName and bounded at midnights
}

// Bound is the period's partition bound.
func (p Period) Bound() Bound { return Bound{From: []string{p.From}, To: []string{p.To}} }

// Start and End are the period's bounds as instants (zero for another partition's).
func (p Period) Start() time.Time { return p.from }

// End is the period's upper bound (see Start).
func (p Period) End() time.Time { return p.to }

// ReadPeriods reads parent's RANGE partitions: ours are the periods this provider keeps
// (named PeriodName and bounded at midnights), others every other partition that takes a
// range of the key, which a new period must not overlap (MINVALUE and MAXVALUE included).
func ReadPeriods(ctx context.Context, db *sql.DB, parent *Table, key TimeKey) (ours, others []Period, err error) {
	tx, err := db.BeginTx(ctx, &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return nil, nil, err
	}
	defer func() { _ = tx.Rollback() }()
	for _, set := range []string{"SET LOCAL TimeZone = 'UTC'", "SET LOCAL DateStyle = 'ISO, YMD'"} {
		if _, err := tx.ExecContext(ctx, set); err != nil {
			return nil, nil, err
		}
	}
	oid, _, _, err := relation(ctx, tx, parent.Schema, parent.Name)
	if err != nil {
		return nil, nil, err
	}
	parts, err := partitionsOf(ctx, tx, oid)
	if err != nil {
		return nil, nil, err
	}
	frozen := map[string]bool{}
	pending := map[string]*OldShardTable{}
	rows, err := tx.QueryContext(ctx, `SELECT c.relname, d.description FROM pg_inherits i JOIN pg_class c ON c.oid = i.inhrelid
JOIN pg_description d ON d.objoid = c.oid AND d.classoid = 'pg_class'::regclass AND d.objsubid = 0
WHERE i.inhparent = $1 AND (d.description = $2 OR starts_with(d.description, $3))`, oid, tierMark, oldTableMarkPrefix)
	if err != nil {
		return nil, nil, err
	}
	for rows.Next() {
		var name, mark string
		if err := rows.Scan(&name, &mark); err != nil {
			rows.Close()
			return nil, nil, err
		}
		if rest, ok := strings.CutPrefix(mark, oldTableMarkPrefix); ok {
			// A tier's old shard table still to drop: frozen, to the plan, until it is.
			var o OldShardTable
			if json.Unmarshal([]byte(rest), &o) == nil {
				pending[name] = &o
			}
		}
		frozen[name] = true
	}
	if err := rows.Err(); err != nil {
		rows.Close()
		return nil, nil, err
	}
	rows.Close()
	for _, pi := range parts {
		b, err := parseBound(pi.Bound)
		if err != nil || b.Kind() != "range" || len(b.From) != 1 || len(b.To) != 1 {
			continue
		}
		p := Period{Name: pi.Name, From: b.From[0], To: b.To[0], Server: pi.Server, Foreign: pi.Foreign, Frozen: frozen[pi.Name], OldTable: pending[pi.Name]}
		var okFrom, okTo bool
		p.from, okFrom = parsePeriodBound(p.From, key.Type)
		p.to, okTo = parsePeriodBound(p.To, key.Type)
		p.ours = okFrom && okTo && pi.Schema == parent.Schema && p.Name == periodName(parent.Name, p.from)
		if p.ours {
			ours = append(ours, p)
			continue
		}
		if !okFrom {
			p.from = rangeEdge(p.From, true)
		}
		if !okTo {
			p.to = rangeEdge(p.To, false)
		}
		others = append(others, p)
	}
	byStart := func(a, b Period) int { return a.from.Compare(b.from) }
	slices.SortFunc(ours, byStart)
	return ours, others, nil
}

// rangeEdge reads another partition's bound value as an instant, for overlap checks:
// MINVALUE and MAXVALUE as the ends of time, a value with a time of day or a zone as
// PostgreSQL printed it (UTC). An unreadable value (infinity, a BC date) is taken to reach
// as far as it can (the start of time for a lower bound, the end for an upper one), so
// that no period is made over it.
func rangeEdge(v string, lower bool) time.Time {
	first, last := time.Date(-4000, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(9999, 12, 31, 0, 0, 0, 0, time.UTC)
	switch v {
	case "MINVALUE":
		return first
	case "MAXVALUE":
		return last
	}
	for _, layout := range []string{"2006-01-02 15:04:05.999999-07", "2006-01-02 15:04:05.999999-07:00", "2006-01-02 15:04:05.999999", time.DateOnly} {
		if t, err := time.Parse(layout, v); err == nil {
			return t.UTC()
		}
	}
	if lower {
		return first
	}
	return last
}

// PeriodSpec is what a pgshard_time_partitions asks for.
type PeriodSpec struct {
	Parent    *Table
	Key       TimeKey
	Interval  Interval
	Start     *time.Time // nil: periods on the calendar grid (Interval.calendarStart)
	Premake   int
	AsOf      time.Time
	Retention *Interval // nil: periods are kept for good
	Server    string    // new periods' server, "" for local
	Tiers     []Tier    // where periods go once old enough
}

// PeriodPlan is how a set of periods rolls at AsOf: Keep stays, Create is made (in order),
// Tier moves to the server it names, Retire leaves (retention), Skipped says, in a
// sentence each, what is not done and why.
type PeriodPlan struct {
	Keep, Create, Tier, Retire []Period
	Skipped                    []string
	Unfreeze                   []string // kept periods whose freeze an interrupted tier left is lifted
}

// MaxNewPeriods bounds the periods one plan creates (a back-fill from a distant start).
const MaxNewPeriods = 1000

// ErrTooManyPeriods says a plan would create more than MaxNewPeriods periods.
var ErrTooManyPeriods = errors.New("too many periods")

// PlanPeriods rolls ours (the parent's periods now, oldest first) to spec: the periods
// from start (or from the one holding AsOf, or after the last of ours when that is older)
// to Premake periods after the one holding AsOf are made unless
// retention has passed them or another partition (others) overlaps them; a period of ours
// whose end is at or before AsOf minus the retention retires.
func PlanPeriods(spec PeriodSpec, ours, others []Period) (PeriodPlan, error) {
	var plan PeriodPlan
	var cutoff time.Time
	if spec.Retention != nil {
		cutoff = spec.Retention.Add(spec.AsOf, -1)
	}
	retired := func(end time.Time) bool { return spec.Retention != nil && !end.After(cutoff) }
	for _, p := range ours {
		server, tiered := spec.serverAt(p.to)
		switch {
		case retired(p.to):
			plan.Retire = append(plan.Retire, p)
		case !tiered || server == p.Server:
			if p.Frozen {
				plan.Unfreeze = append(plan.Unfreeze, p.Name)
				p.Frozen = false
			}
			plan.Keep = append(plan.Keep, p)
		default:
			p.From0 = p.Server
			p.Server, p.Foreign, p.Frozen = server, true, false
			plan.Tier = append(plan.Tier, p)
		}
	}
	iv := spec.Interval
	cur := iv.calendarStart(spec.AsOf)
	first := cur
	if spec.Start != nil {
		// The grid is the start's: the period holding AsOf is start + k intervals.
		k := 0
		for iv.Add(*spec.Start, k+1).Compare(spec.AsOf) <= 0 {
			k++
			if k > 1_000_000 {
				return plan, ErrTooManyPeriods
			}
		}
		for k > 0 && iv.Add(*spec.Start, k).After(spec.AsOf) {
			k--
		}
		cur, first = iv.Add(*spec.Start, k), *spec.Start
	} else if n := len(ours); n > 0 && ours[n-1].to.Before(cur) {
		// Periods missed since the last apply are made too: their rows wait in DEFAULT.
		first = iv.calendarStart(ours[n-1].to)
	}
	last := iv.Add(cur, spec.Premake)
	if y := iv.Add(last, 1).Year(); first.Year() < 1 || y > 9999 {
		return plan, fmt.Errorf("the periods of %s from %s reach the year %d: PostgreSQL's dates and pgshard's period names end in 9999; use a shorter interval or premake", iv, first.Format(time.DateOnly), y)
	}
	taken := append(slices.Clone(ours), others...)
	for k := 0; ; k++ {
		from := iv.Add(first, k)
		if from.After(last) {
			break
		}
		to := iv.Add(first, k+1)
		if retired(to) {
			continue
		}
		over := overlapping(taken, from, to)
		if len(over) > 0 {
			// Covered by periods of ours (another interval before this one): only the rest
			// of the grid period after them is made, a bridge to the grid.
			end := over[0].to
			for _, o := range over {
				if o.to.After(end) {
					end = o.to
				}
			}
			ok := !slices.ContainsFunc(over, func(o Period) bool { return !o.ours }) && !over[0].from.After(from) && contiguous(over)
			if ok && !end.Before(to) {
				continue
			}
			if !ok || len(overlapping(taken, end, to)) > 0 {
				plan.Skipped = append(plan.Skipped, fmt.Sprintf("not create %s: another partition of %s.%s takes part of its range",
					periodName(spec.Parent.Name, from), spec.Parent.Schema, spec.Parent.Name))
				continue
			}
			from = end
		}
		name := periodName(spec.Parent.Name, from)
		server, _ := spec.serverAt(to)
		if len(plan.Create) == MaxNewPeriods {
			return plan, fmt.Errorf("%w: this plan would create more than %d periods of %s from %s; lower premake, set start later, or create them in steps (as_of)",
				ErrTooManyPeriods, MaxNewPeriods, iv, first.Format(time.DateOnly))
		}
		plan.Create = append(plan.Create, Period{Name: name, From: formatPeriodBound(from, spec.Key.Type), To: formatPeriodBound(to, spec.Key.Type),
			Server: server, Foreign: server != "", from: from, to: to, ours: true})
	}
	return plan, nil
}

// ShardTableOf is the shard table a foreign period p reads: a table of its name in
// remoteSchema, or, with remoteParent, a partition of that partitioned table of the shard
// (see RemoteParentOf) with the period's bound.
func (spec PeriodSpec) ShardTableOf(part Partition, remoteSchema, remoteParent string) ShardTable {
	t := ShardTableFor(part, spec.Parent, nil)
	if remoteParent != "" {
		t.Check, t.CheckName = "", ""
		t.PartitionOf, t.PartitionBound = QualifiedIdent(remoteSchema, remoteParent), part.Bound
	}
	return t
}

// RemoteParentOf is the shard's partitioned table remoteParent in remoteSchema on server:
// the parent's columns, partitioned by RANGE on the time key, the one table a regional
// service writes to, with identity (nil for none) on its id column, which must be one of
// the parent's.
func (spec PeriodSpec) RemoteParentOf(server, remoteSchema, remoteParent string, identity *Identity) (ShardTable, error) {
	if identity != nil && !slices.ContainsFunc(spec.Parent.Columns, func(c Column) bool { return c.Name == identity.Column }) {
		return ShardTable{}, fmt.Errorf("remote_identity names column %q, which %s.%s does not have: name its id column", identity.Column, spec.Parent.Schema, spec.Parent.Name)
	}
	return ShardTable{Server: server, Schema: remoteSchema, Name: remoteParent, Columns: spec.Parent.Columns, RangeKey: spec.Key.Column, Identity: identity}, nil
}

// contiguous reports whether periods sorted by start leave no gap between them.
func contiguous(ps []Period) bool {
	end := ps[0].to
	for _, p := range ps[1:] {
		if p.from.After(end) {
			return false
		}
		if p.to.After(end) {
			end = p.to
		}
	}
	return true
}

// overlapping returns the periods of ps that share an instant with [from, to), by start.
func overlapping(ps []Period, from, to time.Time) []Period {
	var out []Period
	for _, o := range ps {
		if o.from.Before(to) && from.Before(o.to) {
			out = append(out, o)
		}
	}
	slices.SortFunc(out, func(a, b Period) int { return a.from.Compare(b.from) })
	return out
}

// PartitionOf is the partition of spec's parent that period p is.
func (spec PeriodSpec) PartitionOf(p Period, remoteSchema string) Partition {
	part := Partition{Schema: spec.Parent.Schema, Name: p.Name, ParentSchema: spec.Parent.Schema, ParentName: spec.Parent.Name, Bound: p.Bound()}
	if p.Server != "" {
		part.Foreign, part.Server = true, p.Server
		part.Options = map[string]string{"schema_name": remoteSchema, "table_name": p.Name}
	}
	return part
}

// CountRows counts the rows of schema.name (through postgres_fdw for a foreign table).
func CountRows(ctx context.Context, q Querier, schema, name string) (int64, error) {
	var n int64
	err := q.QueryRowContext(ctx, "SELECT count(*) FROM "+QualifiedIdent(schema, name)).Scan(&n)
	return n, err
}

// Now is the database's clock.
func Now(ctx context.Context, q Querier) (time.Time, error) {
	var t time.Time
	err := q.QueryRowContext(ctx, "SELECT now()").Scan(&t)
	return t.UTC(), err
}
