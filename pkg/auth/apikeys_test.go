package auth_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"reflect"
	"testing"

	"github.com/google/uuid"
	"github.com/lestrrat-go/jwx/v3/jwa"

	"github.com/rapportcrm/rapport/pkg/apperr"
	"github.com/rapportcrm/rapport/pkg/auth"
)

// keyring stands in for the tenant directory: it knows one API key and
// counts what it was asked.
type keyring struct {
	key   string
	p     auth.Principal
	asked []string
}

func (k *keyring) Verify(_ context.Context, token string) (auth.Principal, error) {
	k.asked = append(k.asked, token)
	if token != k.key {
		return auth.Principal{}, &apperr.Error{Kind: apperr.KindUnauthorized, Slug: "invalid-token", Message: "invalid API key"}
	}
	return k.p, nil
}

func TestWithAPIKeysDispatchesOnThePrefix(t *testing.T) {
	es := newSigner(t, jwa.ES256(), "ec-1")
	const key = "rpk_0123456789abcdef_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"
	keyPrincipal := auth.Principal{TenantID: uuid.New(), UserID: auth.APIKeyUserPrefix + "0123456789abcdef", Roles: []string{auth.RoleAdmin}}
	jwt := es.sign(t, good())
	for _, tc := range []struct {
		name          string
		token         string
		wantStatus    int
		wantPrincipal auth.Principal
		wantKeysAsked bool
	}{
		{"a JWT goes to the JWT verifier", jwt, http.StatusNoContent, wantPrincipal(), false},
		{"an API key goes to the key verifier", key, http.StatusNoContent, keyPrincipal, true},
		{"a wrong API key is refused by the key verifier", key[:len(key)-1] + "Q", http.StatusUnauthorized, auth.Principal{}, true},
		{"anything else goes to the JWT verifier", "rpk-not-a-key", http.StatusUnauthorized, auth.Principal{}, false},
		{"the prefix is case-sensitive", "RPK_0123456789abcdef_x", http.StatusUnauthorized, auth.Principal{}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			keys := &keyring{key: key, p: keyPrincipal}
			v := auth.WithAPIKeys(newVerifier(t, auth.Config{PublicKeyPEM: es.publicPEM(t)}), keys)
			var seen auth.Principal
			h := auth.Middleware(v)(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				seen, _ = auth.PrincipalFrom(r.Context())
				w.WriteHeader(http.StatusNoContent)
			}))
			r := httptest.NewRequest(http.MethodGet, "/v1/things", nil)
			r.Header.Set("Authorization", "Bearer "+tc.token)
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)

			if w.Code != tc.wantStatus {
				t.Fatalf("status: want %d, have %d (%s)", tc.wantStatus, w.Code, w.Body)
			}
			if asked := len(keys.asked) > 0; asked != tc.wantKeysAsked {
				t.Fatalf("key verifier asked: want %v, have %v (%q)", tc.wantKeysAsked, asked, keys.asked)
			}
			if tc.wantStatus == http.StatusNoContent {
				if !reflect.DeepEqual(seen, tc.wantPrincipal) {
					t.Fatalf("principal: want %+v, have %+v", tc.wantPrincipal, seen)
				}
				return
			}
			if have := w.Header().Get("WWW-Authenticate"); have != `Bearer realm="rapport", error="invalid_token"` {
				t.Errorf("WWW-Authenticate: %q", have)
			}
			var p problem
			if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil || w.Header().Get("Content-Type") != "application/problem+json" {
				t.Fatalf("not a problem: %q %s", w.Header().Get("Content-Type"), w.Body)
			}
			if p.Type != "https://rapport.dev/problems/invalid-token" || p.Status != http.StatusUnauthorized {
				t.Fatalf("problem: %+v", p)
			}
		})
	}
}

func TestDefaultOwner(t *testing.T) {
	user := auth.Principal{TenantID: uuid.New(), UserID: "user-1", Roles: []string{auth.RoleRep}}
	owner, err := auth.DefaultOwner(user, "owner_id")
	if err != nil || owner != "user-1" {
		t.Fatalf("a user's default owner: want user-1, have %q, %v", owner, err)
	}
	if user.IsAPIKey() {
		t.Fatal("a user is taken for an API key")
	}

	key := auth.Principal{TenantID: uuid.New(), UserID: auth.APIKeyUserPrefix + "0123456789abcdef", Roles: []string{auth.RoleAdmin}}
	if !key.IsAPIKey() {
		t.Fatal("an API key's principal is not recognised")
	}
	owner, err = auth.DefaultOwner(key, "owner_id")
	e, ok := apperr.As(err)
	if !ok || e.Kind != apperr.KindInvalid || len(e.Fields) != 1 || e.Fields[0].Field != "owner_id" || owner != "" {
		t.Fatalf("an API key's default owner: want a 422 on owner_id, have %q, %v", owner, err)
	}
}
