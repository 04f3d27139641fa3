// Package oidctest runs a real OpenID provider for tests: zitadel/oidc's
// provider (the library ZITADEL is built on) with its example login page,
// in memory, on a loopback port. Its access tokens are JWTs carrying
// Rapport's claims (tenant_id, roles, team) for the users a test names, as
// an enterprise IdP would be configured to issue them.
package oidctest

import (
	"context"
	"errors"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/zitadel/oidc/v3/example/server/exampleop"
	"github.com/zitadel/oidc/v3/example/server/storage"
	"github.com/zitadel/oidc/v3/pkg/op"
	"golang.org/x/text/language"
)

// ClientSecret is the secret of the provider's one client.
const ClientSecret = "rapport-test-secret"

// User is one account of the provider.
type User struct {
	Username, Password string
	Tenant             uuid.UUID
	Roles              []string
	Team               string
}

// Provider is a running OpenID provider.
type Provider struct {
	// Issuer is its URL; the discovery document is under it.
	Issuer   string
	ClientID string
	// KeysURL is its JWKS, which services verify access tokens with.
	KeysURL string
}

// Start runs a provider for clientID (the audience of its access tokens)
// redirecting to redirectURI, with users; it stops when t ends. A user's id
// (the tokens' sub) is its Username.
func Start(t testing.TB, clientID, redirectURI string, users ...User) *Provider {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	issuer := "http://" + l.Addr().String()
	byID := map[string]*storage.User{}
	claims := map[string]User{}
	for _, u := range users {
		byID[u.Username] = &storage.User{ID: u.Username, Username: u.Username, Password: u.Password, FirstName: u.Username,
			Email: u.Username, EmailVerified: true, PreferredLanguage: language.English}
		claims[u.Username] = u
	}
	st := &rapportStorage{
		Storage: storage.NewStorageWithClients(userStore{byID}, map[string]*storage.Client{
			clientID: storage.WebClient(clientID, ClientSecret, redirectURI),
		}),
		claims: claims,
	}
	srv := &http.Server{Handler: exampleop.SetupServer(issuer, st, nil, false), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.Errorf("oidc provider: %v", err)
		}
	}()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx)
	})
	return &Provider{Issuer: issuer, ClientID: clientID, KeysURL: issuer + "/keys"}
}

// rapportStorage is the example's in-memory storage issuing JWT access
// tokens with Rapport's claims.
type rapportStorage struct {
	*storage.Storage
	claims map[string]User
}

func (s *rapportStorage) GetClientByClientID(ctx context.Context, id string) (op.Client, error) {
	c, err := s.Storage.GetClientByClientID(ctx, id)
	if err != nil {
		return nil, err
	}
	return jwtClient{c}, nil
}

func (s *rapportStorage) GetPrivateClaimsFromScopes(_ context.Context, userID, _ string, _ []string) (map[string]any, error) {
	u, ok := s.claims[userID]
	if !ok {
		return nil, nil
	}
	return map[string]any{"tenant_id": u.Tenant.String(), "roles": u.Roles, "team": u.Team}, nil
}

// jwtClient makes the client's access tokens JWTs, which Rapport's services
// verify themselves.
type jwtClient struct{ op.Client }

func (jwtClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeJWT }

type userStore struct{ users map[string]*storage.User }

func (u userStore) GetUserByID(id string) *storage.User { return u.users[id] }

func (u userStore) GetUserByUsername(name string) *storage.User { return u.users[name] }

func (u userStore) ExampleClientID() string { return "service" }
