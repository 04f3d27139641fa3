package tenancy

import (
	"bytes"
	"crypto/sha256"
	"slices"
	"strings"
	"sync"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
)

// State is where a tenant stands in a service.
type State string

const (
	StateActive   State = "active"
	StateRetained State = "retained" // deleted with policy Retain: read-only
	StateDeleted  State = "deleted"  // deleted with policy Delete: rows purged
)

// Tenant is what the request path needs to know about a tenant.
type Tenant struct {
	ID         uuid.UUID
	Name       string
	Suspended  bool
	State      State
	Generation int64
	Record     *tenancyv1.TenantRecord
}

// Directory is an in-memory view of the tenants, safe for concurrent use.
type Directory struct {
	mu      sync.RWMutex
	tenants map[uuid.UUID]Tenant
	// keys indexes the API keys of the known tenants' records by key id.
	keys map[string][]apiKeyHolder
}

// apiKeyHolder is one tenant's hash of an API key.
type apiKeyHolder struct {
	tenant uuid.UUID
	sha256 []byte
}

// NewDirectory returns an empty directory.
func NewDirectory() *Directory {
	return &Directory{tenants: map[uuid.UUID]Tenant{}, keys: map[string][]apiKeyHolder{}}
}

// Lookup returns the tenant with id.
func (d *Directory) Lookup(id uuid.UUID) (Tenant, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	t, ok := d.tenants[id]
	return t, ok
}

// Put records a tenant unless a newer generation is already known. The API
// keys of its record replace those of the generation it supersedes.
func (d *Directory) Put(t Tenant) {
	d.mu.Lock()
	defer d.mu.Unlock()
	old, ok := d.tenants[t.ID]
	if ok && old.Generation > t.Generation {
		return
	}
	if ok {
		d.unindexKeys(old)
	}
	d.tenants[t.ID] = t
	d.indexKeys(t)
}

// Remove forgets a tenant (its record was tombstoned): its tokens are
// refused from then on as those of an unknown tenant, its API keys as
// unknown keys.
func (d *Directory) Remove(id uuid.UUID) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if old, ok := d.tenants[id]; ok {
		d.unindexKeys(old)
	}
	delete(d.tenants, id)
}

// indexKeys adds t's API keys to the index; entries no key could match (a
// malformed id or hash) are left out. d.mu is held.
func (d *Directory) indexKeys(t Tenant) {
	if d.keys == nil {
		d.keys = map[string][]apiKeyHolder{}
	}
	for _, k := range t.Record.GetApiKeys() {
		if len(k.GetId()) != apiKeyIDLen || !isLowerHex(k.GetId()) || len(k.GetSha256()) != sha256.Size {
			continue
		}
		d.keys[k.GetId()] = append(d.keys[k.GetId()], apiKeyHolder{tenant: t.ID, sha256: bytes.Clone(k.GetSha256())})
	}
}

// unindexKeys removes t's API keys from the index. d.mu is held.
func (d *Directory) unindexKeys(t Tenant) {
	for _, k := range t.Record.GetApiKeys() {
		holders := d.keys[k.GetId()]
		kept := holders[:0]
		for _, h := range holders {
			if h.tenant != t.ID {
				kept = append(kept, h)
			}
		}
		if len(kept) == 0 {
			delete(d.keys, k.GetId())
		} else {
			d.keys[k.GetId()] = kept
		}
	}
}

// PutRecord records the tenant a record describes.
func (d *Directory) PutRecord(rec *tenancyv1.TenantRecord) error {
	t, err := FromRecord(rec)
	if err != nil {
		return err
	}
	d.Put(t)
	return nil
}

// Tenants are the known tenants, by name.
func (d *Directory) Tenants() []Tenant {
	d.mu.RLock()
	defer d.mu.RUnlock()
	all := make([]Tenant, 0, len(d.tenants))
	for _, t := range d.tenants {
		all = append(all, t)
	}
	slices.SortFunc(all, func(a, b Tenant) int { return strings.Compare(a.Name, b.Name) })
	return all
}

// Len is the number of known tenants.
func (d *Directory) Len() int {
	d.mu.RLock()
	defer d.mu.RUnlock()
	return len(d.tenants)
}

// FromRecord converts a record into the directory's view of it.
func FromRecord(rec *tenancyv1.TenantRecord) (Tenant, error) {
	id, err := uuid.Parse(rec.GetId())
	if err != nil {
		return Tenant{}, err
	}
	state := StateActive
	if rec.GetDeleting() {
		state = StateRetained
		if rec.GetDeletionPolicy() == tenancyv1.DeletionPolicy_DELETION_POLICY_DELETE {
			state = StateDeleted
		}
	}
	return Tenant{ID: id, Name: rec.GetName(), Suspended: rec.GetSuspended(), State: state,
		Generation: rec.GetGeneration(), Record: proto.Clone(rec).(*tenancyv1.TenantRecord)}, nil
}
