package migrations_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/riverqueue/river/riverdriver/riverpgxv5"
	"github.com/riverqueue/river/rivermigrate"

	"github.com/rapportcrm/rapport/services/tasks/migrations"
)

// riverFiles renders river's migrations, as the river module in go.mod
// ships them, as goose files with every object in schema river. Each
// version is a file of its own (river runs each in its own transaction),
// and each records itself in river's own history too, so that
// rivermigrate agrees with goose.
func riverFiles(t *testing.T) map[string]string {
	t.Helper()
	m, err := rivermigrate.New(riverpgxv5.New(nil), &rivermigrate.Config{Schema: migrations.RiverSchema})
	if err != nil {
		t.Fatal(err)
	}
	schema := migrations.RiverSchema
	out := map[string]string{}
	for _, v := range m.AllVersions() {
		in := func(sql string) string { return strings.ReplaceAll(sql, "/* TEMPLATE: schema */", `"`+schema+`".`) }
		var b strings.Builder
		fmt.Fprintf(&b, "-- Generated from github.com/riverqueue/river rivermigrate, line main, version %d (%s):\n", v.Version, v.Name)
		b.WriteString("-- RAPPORT_UPDATE_RIVER=1 go test ./services/tasks/migrations writes it again.\n")
		b.WriteString("-- +goose Up\n-- +goose StatementBegin\n")
		if v.Version == 1 {
			b.WriteString("CREATE SCHEMA IF NOT EXISTS " + schema + ";\n")
		}
		b.WriteString(in(v.SQLUp))
		b.WriteString("\n-- +goose StatementEnd\n")
		ins := fmt.Sprintf("INSERT INTO %s.river_migration (line, version) VALUES ('main', %d);", schema, v.Version)
		del := fmt.Sprintf("DELETE FROM %s.river_migration WHERE line = 'main' AND version = %d;", schema, v.Version)
		if v.Version < 5 { // the line column arrives in version 5
			ins = fmt.Sprintf("INSERT INTO %s.river_migration (version) VALUES (%d);", schema, v.Version)
			del = fmt.Sprintf("DELETE FROM %s.river_migration WHERE version = %d;", schema, v.Version)
		}
		fmt.Fprintf(&b, "-- +goose StatementBegin\n%s\n-- +goose StatementEnd\n", ins)
		b.WriteString("-- +goose Down\n")
		if v.Version > 1 { // version 1's down drops the table
			fmt.Fprintf(&b, "-- +goose StatementBegin\n%s\n-- +goose StatementEnd\n", del)
		}
		b.WriteString("-- +goose StatementBegin\n" + in(v.SQLDown) + "\n-- +goose StatementEnd\n")
		out[fmt.Sprintf("%05d_river_%03d.sql", v.Version, v.Version)] = b.String()
	}
	return out
}

// The river migrations embedded are those of the river module go.mod
// names: an upgrade that brings a migration fails here until they are
// written again.
func TestRiverMigrationsAreCurrent(t *testing.T) {
	want := riverFiles(t)
	if os.Getenv("RAPPORT_UPDATE_RIVER") != "" {
		old, _ := filepath.Glob("river/*.sql")
		for _, f := range old {
			_ = os.Remove(f)
		}
		for name, body := range want {
			if err := os.WriteFile(filepath.Join("river", name), []byte(body), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	have, _ := filepath.Glob("river/*.sql")
	if len(have) != len(want) {
		t.Fatalf("river/ holds %d files, river has %d versions: RAPPORT_UPDATE_RIVER=1 go test ./services/tasks/migrations", len(have), len(want))
	}
	for name, body := range want {
		got, err := os.ReadFile(filepath.Join("river", name))
		if err != nil || string(got) != body {
			t.Errorf("river/%s is not river's migration as go.mod's river renders it (%v): RAPPORT_UPDATE_RIVER=1 go test ./services/tasks/migrations", name, err)
		}
	}
}
