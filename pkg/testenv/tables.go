package testenv

import (
	"fmt"
	"strings"
	"testing/fstest"

	"github.com/rapportcrm/rapport/pkg/postgres"
)

// TenantTables is a migration set (version table goose_<set>) creating each
// table, given as "name (columns…)" with a tenant_id column, with row-level
// security forced on tenant_id the way every service's migrations do it.
func TenantTables(set string, tables ...string) postgres.MigrationSet {
	var up, down strings.Builder
	for _, t := range tables {
		name := strings.Fields(t)[0]
		fmt.Fprintf(&up, "create table %s;\n", t)
		fmt.Fprintf(&up, "alter table %[1]s enable row level security;\nalter table %[1]s force row level security;\n", name)
		fmt.Fprintf(&up, "create policy %[1]s_tenant on %[1]s\n"+
			"  using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)\n"+
			"  with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);\n", name)
		fmt.Fprintf(&down, "drop table %s;\n", name)
	}
	sql := "-- +goose Up\n" + up.String() + "-- +goose Down\n" + down.String()
	return postgres.MigrationSet{Table: "goose_" + set, FS: fstest.MapFS{"00001_" + set + ".sql": {Data: []byte(sql)}}}
}
