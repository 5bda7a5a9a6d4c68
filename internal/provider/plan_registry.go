package provider

import (
	"fmt"
	"strings"
	"sync"

	"github.com/pgshard/terraform-provider-pgshard/internal/postgres"
)

// planRegistry is what the plan of one provider process has seen so far: Terraform plans
// every resource of a run in the one process, so a conflict between two resources' plans
// (a destroy that moves rows into a DEFAULT partition the same plan destroys) is caught, and
// both ends of a key's move are named, whichever of the two is planned second. Its zero
// value is ready; it is safe for concurrent use.
type planRegistry struct {
	mu sync.Mutex

	// destroys, by parent
	defaultsGoing  map[string]string   // parent -> its DEFAULT partition being destroyed
	movingIntoGone map[string][]string // parent -> partitions whose destroy moves rows into DEFAULT

	// keys moving between partitions through DEFAULT, by parent and key (as postgres.KeyRows
	// prints it)
	keysLeaving map[string]map[string]keyLeaving
	keysTaken   map[string]map[string]string // parent -> key -> partition taking it from DEFAULT
}

// keyLeaving is a key whose rows a partition moves into DEFAULT in this plan.
type keyLeaving struct {
	partition string
	rows      int64
}

// noteKeysLeaving records keys that partition moves into DEFAULT, and returns the partition
// that this plan has already seen taking each of them from DEFAULT.
func (r *planRegistry) noteKeysLeaving(parent, partition string, keys []postgres.KeyRows) map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keysLeaving == nil {
		r.keysLeaving = map[string]map[string]keyLeaving{}
	}
	if r.keysLeaving[parent] == nil {
		r.keysLeaving[parent] = map[string]keyLeaving{}
	}
	takers := map[string]string{}
	for _, k := range keys {
		r.keysLeaving[parent][k.Key] = keyLeaving{partition, k.Rows}
		if t, ok := r.keysTaken[parent][k.Key]; ok {
			takers[k.Key] = t
		}
	}
	return takers
}

// noteKeysTaken records keys that partition takes from DEFAULT, and returns what this plan
// has already seen another partition move into DEFAULT of each.
func (r *planRegistry) noteKeysTaken(parent, partition string, keys []string) map[string]keyLeaving {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.keysTaken == nil {
		r.keysTaken = map[string]map[string]string{}
	}
	if r.keysTaken[parent] == nil {
		r.keysTaken[parent] = map[string]string{}
	}
	givers := map[string]keyLeaving{}
	for _, k := range keys {
		r.keysTaken[parent][k] = partition
		if g, ok := r.keysLeaving[parent][k]; ok {
			givers[k] = g
		}
	}
	return givers
}

// noteDestroy records a planned destroy of a partition of parent: the DEFAULT one, or one
// that moves its rows into DEFAULT. It says what conflicts, "" when nothing does.
func (r *planRegistry) noteDestroy(parent, partition string, isDefault, movesToDefault bool) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.defaultsGoing == nil {
		r.defaultsGoing, r.movingIntoGone = map[string]string{}, map[string][]string{}
	}
	switch {
	case isDefault:
		r.defaultsGoing[parent] = partition
	case movesToDefault:
		r.movingIntoGone[parent] = append(r.movingIntoGone[parent], partition)
	default:
		return ""
	}
	if def, ok := r.defaultsGoing[parent]; ok && len(r.movingIntoGone[parent]) > 0 {
		return fmt.Sprintf("this plan destroys the DEFAULT partition %s of %s and also %s, whose destroy moves its rows into that DEFAULT partition "+
			"(on_rows_outside_bound = \"move_to_default\"): the rows would be pulled into the base and dropped with it. Set on_rows_outside_bound = \"fail\" "+
			"on %s and apply that first (its rows then stay on the shard), or keep the DEFAULT partition",
			def, parent, strings.Join(r.movingIntoGone[parent], ", "), strings.Join(r.movingIntoGone[parent], ", "))
	}
	return ""
}
