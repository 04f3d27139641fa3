// Package tenancy carries the tenant lifecycle across the platform. A
// Provisioner (deploy/local now, the operator later) publishes TenantRecords
// on the compacted topic crm.tenants.v1; every service runs an Applier that
// applies each record in its own database and acknowledges it on
// crm.tenant-acks.v1; a Directory answers "is this tenant known, active, and
// what are its quotas" on the request path.
package tenancy

import (
	"github.com/google/uuid"
)

const (
	// TopicTenants is compacted, keyed by tenant id: the latest record wins.
	TopicTenants = "crm.tenants.v1"
	// TopicAcks carries each service's answer to each generation.
	TopicAcks = "crm.tenant-acks.v1"

	TypeRecord = "crm.tenant.record"
	TypeAck    = "crm.tenant.ack"
	// TypeTombstone marks a tenant gone for good: its message on
	// crm.tenants.v1 has no value, so compaction drops the tenant's records.
	TypeTombstone = "crm.tenant.tombstone"
)

// localNamespace makes local-mode tenant ids stable: `make run` and the dev
// token command agree on the id of "demo" without sharing state.
var localNamespace = uuid.MustParse("6f1e7c2a-3b8d-5e4f-9a01-7c6d5e4f3a2b")

// LocalID is the id of a tenant provisioned by name in local mode (in
// Kubernetes the id is the Tenant object's UID).
func LocalID(name string) uuid.UUID { return uuid.NewSHA1(localNamespace, []byte(name)) }
