package auth

import (
	"context"
	"errors"
	"testing"

	"github.com/google/uuid"
)

func TestWriterRefusesRolesThatOnlyRead(t *testing.T) {
	readOnly := errors.New("your role may read widgets but not change them")
	tenant := uuid.New()
	for role, want := range map[string]error{RoleAdmin: nil, RoleManager: nil, RoleRep: nil, RoleViewer: readOnly, RoleAnalyst: readOnly} {
		p, err := Writer(WithPrincipal(context.Background(), Principal{TenantID: tenant, UserID: "u", Roles: []string{role}}), readOnly)
		if err != want || p.UserID != "u" {
			t.Errorf("%s: %v, %v", role, p.UserID, err)
		}
	}
	if _, err := Writer(context.Background(), readOnly); err != ErrUnauthenticated {
		t.Errorf("no principal: %v", err)
	}
}

func TestConfigurerAdmitsAdminsAndManagersOnly(t *testing.T) {
	notAllowed := errors.New("only admins and managers may change outcomes")
	tenant := uuid.New()
	for role, want := range map[string]error{RoleAdmin: nil, RoleManager: nil, RoleRep: notAllowed, RoleViewer: notAllowed, RoleAnalyst: notAllowed} {
		p, err := Configurer(WithPrincipal(context.Background(), Principal{TenantID: tenant, UserID: "u", Roles: []string{role}}), notAllowed)
		if err != want || p.UserID != "u" {
			t.Errorf("%s: %v, %v", role, p.UserID, err)
		}
	}
	if _, err := Configurer(context.Background(), notAllowed); err != ErrUnauthenticated {
		t.Errorf("no principal: %v", err)
	}
}
