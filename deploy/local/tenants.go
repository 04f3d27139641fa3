package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"
	"google.golang.org/protobuf/types/known/timestamppb"

	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

// demoTenant is a tenant `make run` provisions.
type demoTenant struct {
	Name, Display, Locale, Currency, Country string
	// Parent names the tenant this one is a department of.
	Parent string
}

// demoTenants: a Russian tenant to try the product with, a department of
// it (its admins read the department: HQ sees its branches), and an English
// one to see that tenants never see each other's data.
var demoTenants = []demoTenant{
	{Name: "demo", Display: "Demo", Locale: "ru", Currency: "RUB", Country: "RU"},
	{Name: "demo-north", Display: "Demo · North", Locale: "ru", Currency: "RUB", Country: "RU", Parent: "demo"},
	{Name: "demo-2", Display: "Demo 2", Locale: "en", Currency: "USD", Country: "US"},
}

// provisionSource is the CloudEvents source of records published by make run.
const provisionSource = "/rapport/local"

// instrumentation names the tracer of make run's own spans.
const instrumentation = "github.com/rapportcrm/rapport/deploy/local"

// defaultTenantRPS is the demo tenants' requests-per-second quota unless
// -tenant-rps sets another: high enough for load tests through the gateway.
const defaultTenantRPS = 5000

// record is the desired state of t with a quota of rps requests per second.
// Its generation stays 1: publishing it again on the next run is a no-op
// the services acknowledge again. Only the gateway reads the rate quota,
// and it takes the newest record of a generation, so a -tenant-rps changed
// between runs applies without a new generation.
func (t demoTenant) record(rps int64) *tenancyv1.TenantRecord {
	rec := &tenancyv1.TenantRecord{
		Id:             tenancy.LocalID(t.Name).String(),
		Name:           t.Name,
		DisplayName:    t.Display,
		Region:         "local",
		Admins:         []string{defaultUser("admin", t.Name)},
		Quotas:         &tenancyv1.Quotas{Users: 100, Contacts: 1_000_000, StorageBytes: 10 << 30, RequestsPerSecond: rps},
		DeletionPolicy: tenancyv1.DeletionPolicy_DELETION_POLICY_RETAIN,
		Generation:     1,
		Locale:         t.Locale,
		BaseCurrency:   t.Currency,
		DefaultCountry: t.Country,
		UpdatedAt:      timestamppb.Now(),
	}
	if t.Parent != "" {
		rec.ParentId = tenancy.LocalID(t.Parent).String()
		rec.ParentChain = []string{rec.ParentId}
	}
	return rec
}

// provisionTenants publishes every demo tenant and waits until each domain
// service has acknowledged it. Provisioning one tenant is one trace: its
// span parents the record's publish span, so every service's handling of
// the record (and its acknowledgement) joins it rather than starting a
// trace of its own.
func provisionTenants(ctx context.Context, brokers []string, services []string, rps int64, timeout time.Duration, say *lineWriter) error {
	p := tenancy.NewProvisioner(brokers, provisionSource)
	defer p.Close()
	recs := make([]*tenancyv1.TenantRecord, len(demoTenants))
	spans := make([]trace.Span, len(demoTenants))
	defer func() {
		for _, span := range spans {
			if span != nil {
				span.End()
			}
		}
	}()
	for i, t := range demoTenants {
		recs[i] = t.record(rps)
		var pctx context.Context
		pctx, spans[i] = otel.Tracer(instrumentation).Start(ctx, "provision tenant "+t.Name,
			trace.WithAttributes(attribute.String("rapport.tenant_id", recs[i].GetId()), attribute.String("rapport.tenant_name", t.Name)))
		if err := p.Publish(pctx, recs[i]); err != nil {
			spans[i].SetStatus(codes.Error, err.Error())
			return fmt.Errorf("publish tenant %s: %w", t.Name, err)
		}
	}
	if len(services) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for i, rec := range recs {
		if _, err := p.WaitAcks(ctx, rec.GetId(), rec.GetGeneration(), services); err != nil {
			spans[i].SetStatus(codes.Error, err.Error())
			return fmt.Errorf("tenant %s: %w", rec.GetName(), err)
		}
		spans[i].End()
		spans[i] = nil // ended: the deferred End is for those left open
		say.Printf("tenant %s (%s) ready in %s", rec.GetName(), rec.GetId(), strings.Join(services, ", "))
	}
	return nil
}
