package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rapportcrm/rapport/pkg/auth"
	"github.com/rapportcrm/rapport/pkg/tenancy"
)

func TestTokenPrintsOneLineThatVerifiesWithTheDefaults(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want auth.Principal
	}{
		{[]string{"-tenant", "demo", "-role", "admin"},
			auth.Principal{TenantID: tenancy.LocalID("demo"), UserID: "admin@demo", Roles: []string{"admin"}, Team: "team-1"}},
		{[]string{"-tenant", "demo-2", "-role", "rep", "-user", "olga", "-team", "north", "-ttl", "5m"},
			auth.Principal{TenantID: tenancy.LocalID("demo-2"), UserID: "olga", Roles: []string{"rep"}, Team: "north"}},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			data := t.TempDir()
			var stdout, stderr bytes.Buffer
			if code := cli(append([]string{"token", "-data", data}, tc.args...), &stdout, &stderr); code != 0 {
				t.Fatalf("exit %d, stderr %q", code, stderr.String())
			}
			out := stdout.String()
			if strings.Count(out, "\n") != 1 || !strings.HasSuffix(out, "\n") {
				t.Fatalf("stdout is not exactly one line: %q", out)
			}
			if stderr.Len() != 0 {
				t.Errorf("stderr not empty: %q", stderr.String())
			}

			v := verifierFor(t, data, 0)
			have, err := v.Verify(context.Background(), strings.TrimSpace(out))
			if err != nil {
				t.Fatalf("token does not verify with the dev issuer's key: %v", err)
			}
			if have.TenantID != tc.want.TenantID || have.UserID != tc.want.UserID || have.Team != tc.want.Team || !slices.Equal(have.Roles, tc.want.Roles) {
				t.Fatalf("have principal %+v, want %+v", have, tc.want)
			}
		})
	}
}

func TestTokenRejectsBadFlagsWithExitCode2(t *testing.T) {
	for _, args := range [][]string{
		{"-role", "superuser"},
		{"-tenant", ""},
		{"-ttl", "-1h"},
		{"-nope"},
		{"extra"},
	} {
		var stdout, stderr bytes.Buffer
		code := cli(append([]string{"token", "-data", t.TempDir()}, args...), &stdout, &stderr)
		if code != 2 {
			t.Errorf("%v: exit %d, want 2", args, code)
		}
		if stdout.Len() != 0 {
			t.Errorf("%v: printed %q on stdout", args, stdout.String())
		}
		if stderr.Len() == 0 {
			t.Errorf("%v: says nothing on stderr", args)
		}
	}
}

// A token the services would refuse for its lifetime is not printed: the
// command says so and names the variable that moves the maximum, which it
// and the services read alike.
func TestTokenTTLStaysWithinTheServicesMaximum(t *testing.T) {
	t.Setenv("AUTH_MAX_TOKEN_LIFETIME", "")
	var stdout, stderr bytes.Buffer
	if code := cli([]string{"token", "-data", t.TempDir(), "-ttl", "25h"}, &stdout, &stderr); code != 2 {
		t.Fatalf("-ttl 25h: exit %d, want 2 (stdout %q)", code, stdout.String())
	}
	for _, want := range []string{"-ttl 25h ", "(24h,", "AUTH_MAX_TOKEN_LIFETIME"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("the refusal %q does not mention %q", stderr.String(), want)
		}
	}

	t.Setenv("AUTH_MAX_TOKEN_LIFETIME", "48h")
	data := t.TempDir()
	stdout.Reset()
	stderr.Reset()
	if code := cli([]string{"token", "-data", data, "-ttl", "30h"}, &stdout, &stderr); code != 0 {
		t.Fatalf("-ttl 30h under a maximum of 48h: exit %d, stderr %q", code, stderr.String())
	}
	maxLifetime, err := auth.MaxTokenLifetimeFromEnv()
	if err != nil || maxLifetime != 48*time.Hour {
		t.Fatalf("the services would read a maximum of %s (%v)", maxLifetime, err)
	}
	v := verifierFor(t, data, maxLifetime)
	if _, err := v.Verify(context.Background(), strings.TrimSpace(stdout.String())); err != nil {
		t.Fatalf("a 30h token under a maximum of 48h: %v", err)
	}
	if _, err := verifierFor(t, data, 0).Verify(context.Background(), strings.TrimSpace(stdout.String())); err == nil {
		t.Fatal("a 30h token verifies under the default maximum")
	}
}

func TestTokenHelpDocumentsTheDefaults(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if code := cli([]string{"token", "-help"}, &stdout, &stderr); code != 0 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"<role>@<tenant>", "team-1", "admin, manager, rep, analyst, viewer"} {
		if !strings.Contains(stderr.String(), want) {
			t.Errorf("help does not mention %q:\n%s", want, stderr.String())
		}
	}
}

// verifierFor trusts the dev issuer kept in data the way services do: from
// the public key file make run writes.
func verifierFor(t *testing.T, data string, maxLifetime time.Duration) auth.Verifier {
	t.Helper()
	l := layout{dir: data}
	if err := writeIssuerKeys(l); err != nil {
		t.Fatal(err)
	}
	pem, err := os.ReadFile(filepath.Join(data, "auth", "dev-issuer.pub.pem"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := auth.NewVerifier(context.Background(), auth.Config{PublicKeyPEM: pem, Issuer: auth.DevIssuerName, Audience: auth.DevAudience, MaxTokenLifetime: maxLifetime})
	if err != nil {
		t.Fatal(err)
	}
	return v
}
