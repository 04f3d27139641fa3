package tenancy_test

import (
	"context"
	"crypto/sha256"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/google/uuid"
	"google.golang.org/protobuf/proto"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
	tenancyv1 "github.com/rapportcrm/rapport/pkg/gen/crm/tenancy/v1"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

var apiKeyFormat = regexp.MustCompile(`^rpk_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$`)

func newKey(t *testing.T) (string, *tenancyv1.ApiKey) {
	t.Helper()
	key, rec, err := tenancy.IssueAPIKey()
	if err != nil {
		t.Fatalf("a fresh key is refused: %v", err)
	}
	return key, rec
}

func TestNewAPIKeyFormat(t *testing.T) {
	ids, keys := map[string]bool{}, map[string]bool{}
	for range 100 {
		key, rec := newKey(t)
		if !apiKeyFormat.MatchString(key) {
			t.Fatalf("key %q does not match %s", key, apiKeyFormat)
		}
		if want := key[len("rpk_") : len("rpk_")+16]; rec.GetId() != want {
			t.Fatalf("record id: want %q, have %q", want, rec.GetId())
		}
		if want := sha256.Sum256([]byte(key)); !reflect.DeepEqual(rec.GetSha256(), want[:]) {
			t.Fatalf("record hash: want the SHA-256 of the whole key, have %x", rec.GetSha256())
		}
		ids[rec.GetId()], keys[key[len("rpk_")+17:]] = true, true
	}
	if len(ids) != 100 || len(keys) != 100 {
		t.Fatalf("100 keys had %d distinct ids and %d distinct secrets", len(ids), len(keys))
	}
}

func TestAPIKeyRecordIsDeterministic(t *testing.T) {
	key, first := newKey(t)
	second, err := tenancy.APIKeyRecord(key)
	if err != nil {
		t.Fatal(err)
	}
	if !proto.Equal(first, second) {
		t.Fatalf("the same key gave two records: %v and %v", first, second)
	}
	_, other := newKey(t)
	if proto.Equal(first, other) {
		t.Fatal("two keys gave the same record")
	}
}

func TestAPIKeyRecordRejectsMalformedKeys(t *testing.T) {
	good, _ := newKey(t)
	secret := good[len(good)-43:]
	// The 43rd character of 32 bytes in base64url carries two spare bits,
	// which must be zero: the key's one spelling.
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	spare := good[:len(good)-1] + string(alphabet[strings.IndexByte(alphabet, good[len(good)-1])|1])
	for _, tc := range []struct {
		name, key, want string
	}{
		{"empty", "", "a key has 64 characters, this one 0"},
		{"a JWT", "eyJhbGciOiJFUzI1NiJ9.eyJzdWIiOiJ1In0.c2ln", "a key has 64 characters"},
		{"truncated", good[:63], "this one 63"},
		{"too long", good + "A", "this one 65"},
		{"another prefix", "rpx_" + good[4:], `a key begins with "rpk_"`},
		{"upper-case id", "rpk_0123456789ABCDEF_" + secret, "16 lowercase hex digits"},
		{"non-hex id", "rpk_0123456789abcdeg_" + secret, "16 lowercase hex digits"},
		{"no separator", good[:20] + "-" + good[21:], `followed by "_"`},
		{"a character outside base64url", good[:63] + "!", "43 base64url characters"},
		{"standard base64", good[:63] + "+", "43 base64url characters"},
		{"padding", good[:62] + "==", "43 base64url characters"},
		{"non-zero spare bits", spare, "43 base64url characters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			rec, err := tenancy.APIKeyRecord(tc.key)
			if err == nil {
				t.Fatalf("accepted: %v", rec)
			}
			if !strings.Contains(err.Error(), "malformed API key") || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error: want it to say %q, have %q", tc.want, err)
			}
			if strings.Contains(err.Error(), secret) {
				t.Fatalf("the error quotes the secret: %q", err)
			}
		})
	}
}

func TestVerifyAPIKey(t *testing.T) {
	tenantA, tenantB := uuid.New(), uuid.New()
	keyA, recA := newKey(t)
	keyB, recB := newKey(t)
	rotated, recRotated := newKey(t)
	// keyA's id with another key's secret.
	wrongSecret := keyA[:len(keyA)-43] + rotated[len(rotated)-43:]
	unknown, _ := newKey(t)

	record := func(id uuid.UUID, gen int64, keys ...*tenancyv1.ApiKey) *tenancyv1.TenantRecord {
		return &tenancyv1.TenantRecord{Id: id.String(), Generation: gen, ApiKeys: keys}
	}
	setup := func(t *testing.T) *tenancy.Directory {
		d := tenancy.NewDirectory()
		for _, rec := range []*tenancyv1.TenantRecord{record(tenantA, 1, recA), record(tenantB, 1, recB)} {
			if err := d.PutRecord(rec); err != nil {
				t.Fatal(err)
			}
		}
		return d
	}
	principal := func(tenant uuid.UUID, rec *tenancyv1.ApiKey) auth.Principal {
		return auth.Principal{TenantID: tenant, UserID: "apikey:" + rec.GetId(), Roles: []string{auth.RoleAdmin}}
	}
	for _, tc := range []struct {
		name   string
		change func(*testing.T, *tenancy.Directory)
		key    string
		want   auth.Principal // zero: refused
		detail string
	}{
		{name: "tenant A's key", key: keyA, want: principal(tenantA, recA)},
		{name: "tenant B's key", key: keyB, want: principal(tenantB, recB)},
		{name: "wrong secret", key: wrongSecret, detail: "invalid API key"},
		{name: "unknown id", key: unknown, detail: "invalid API key"},
		{name: "malformed", key: "rpk_nope", detail: "invalid API key: a key has 64 characters"},
		{
			name: "replaced by a newer generation: the old key",
			change: func(t *testing.T, d *tenancy.Directory) {
				mustPut(t, d, record(tenantA, 2, recRotated))
			},
			key: keyA, detail: "invalid API key",
		},
		{
			name: "replaced by a newer generation: the new key",
			change: func(t *testing.T, d *tenancy.Directory) {
				mustPut(t, d, record(tenantA, 2, recRotated))
			},
			key: rotated, want: principal(tenantA, recRotated),
		},
		{
			name: "an older generation changes nothing",
			change: func(t *testing.T, d *tenancy.Directory) {
				mustPut(t, d, record(tenantA, 2, recA))
				mustPut(t, d, record(tenantA, 1, recRotated))
			},
			key: keyA, want: principal(tenantA, recA),
		},
		{
			name: "a key an older generation offers is not taken",
			change: func(t *testing.T, d *tenancy.Directory) {
				mustPut(t, d, record(tenantA, 2, recA))
				mustPut(t, d, record(tenantA, 1, recRotated))
			},
			key: rotated, detail: "invalid API key",
		},
		{
			name:   "removed tenant",
			change: func(t *testing.T, d *tenancy.Directory) { d.Remove(tenantA) },
			key:    keyA, detail: "invalid API key",
		},
		{
			name:   "removing one tenant keeps the others' keys",
			change: func(t *testing.T, d *tenancy.Directory) { d.Remove(tenantA) },
			key:    keyB, want: principal(tenantB, recB),
		},
		{
			name: "a key two tenants list is nobody's",
			change: func(t *testing.T, d *tenancy.Directory) {
				mustPut(t, d, record(tenantB, 2, recB, recA))
			},
			key: keyA, detail: "invalid API key",
		},
		{
			name: "a key its tenant lists twice",
			change: func(t *testing.T, d *tenancy.Directory) {
				mustPut(t, d, record(tenantA, 2, recA, recA))
			},
			key: keyA, want: principal(tenantA, recA),
		},
		{
			name: "a suspended tenant's key still verifies (Admit refuses it)",
			change: func(t *testing.T, d *tenancy.Directory) {
				mustPut(t, d, &tenancyv1.TenantRecord{Id: tenantA.String(), Generation: 2, Suspended: true, ApiKeys: []*tenancyv1.ApiKey{recA}})
			},
			key: keyA, want: principal(tenantA, recA),
		},
		{
			name: "entries no key can match are ignored",
			change: func(t *testing.T, d *tenancy.Directory) {
				mustPut(t, d, record(tenantA, 2, &tenancyv1.ApiKey{Id: recA.GetId(), Sha256: recA.GetSha256()[:8]}, &tenancyv1.ApiKey{}, recA))
			},
			key: keyA, want: principal(tenantA, recA),
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := setup(t)
			if tc.change != nil {
				tc.change(t, d)
			}
			have, err := d.VerifyAPIKey(tc.key)
			if tc.want.TenantID != uuid.Nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				if !reflect.DeepEqual(have, tc.want) {
					t.Fatalf("principal: want %+v, have %+v", tc.want, have)
				}
				return
			}
			e, ok := apperr.As(err)
			if !ok || e.Kind != apperr.KindUnauthorized || e.Slug != "invalid-token" || !strings.HasPrefix(e.Message, tc.detail) {
				t.Fatalf("want a 401 invalid-token %q, have %+v, %v", tc.detail, have, err)
			}
			if have.TenantID != uuid.Nil || have.UserID != "" {
				t.Fatalf("a refused key came with a principal: %+v", have)
			}
		})
	}
}

func TestAPIKeyVerifierServesAuthWithAPIKeys(t *testing.T) {
	d := tenancy.NewDirectory()
	tenant := uuid.New()
	key, rec := newKey(t)
	mustPut(t, d, &tenancyv1.TenantRecord{Id: tenant.String(), Generation: 1, ApiKeys: []*tenancyv1.ApiKey{rec}})
	refuseJWT := auth.VerifierFunc(func(_ context.Context, _ string) (auth.Principal, error) {
		return auth.Principal{}, apperr.New(apperr.KindUnauthorized, "invalid-token", "not a JWT")
	})
	p, err := auth.WithAPIKeys(refuseJWT, d.APIKeyVerifier()).Verify(context.Background(), key)
	if err != nil || p.TenantID != tenant || !p.IsAPIKey() {
		t.Fatalf("want tenant %s's key principal, have %+v, %v", tenant, p, err)
	}
}

func mustPut(t *testing.T, d *tenancy.Directory, rec *tenancyv1.TenantRecord) {
	t.Helper()
	if err := d.PutRecord(rec); err != nil {
		t.Fatal(err)
	}
}
