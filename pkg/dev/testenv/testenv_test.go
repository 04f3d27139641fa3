package testenv_test

import (
	"context"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/rapportcrm/rapport/pkg/dev/testenv"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func TestNewDatabaseGivesOwnerAndAppRoles(t *testing.T) {
	ctx := context.Background()
	db := testenv.NewDatabase(t)
	owner, err := pgx.Connect(ctx, db.OwnerURL)
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close(ctx)
	if _, err := owner.Exec(ctx, `create table t (x int)`); err != nil {
		t.Fatal(err)
	}
	app, err := pgx.Connect(ctx, db.AppURL)
	if err != nil {
		t.Fatal(err)
	}
	defer app.Close(ctx)
	if _, err := app.Exec(ctx, `select * from t`); err == nil {
		t.Fatal("app role reads a table it was never granted")
	}
	var user string
	if err := app.QueryRow(ctx, `select current_user`).Scan(&user); err != nil || user != db.AppRole {
		t.Fatalf("have user %q (%v), want %q", user, err, db.AppRole)
	}
}
