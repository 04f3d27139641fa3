// Package migrations embeds the tasks service's numbered SQL migrations.
package migrations

import (
	"embed"

	"github.com/rapportcrm/rapport/pkg/postgres"
)

//go:embed *.sql
var files embed.FS

// Set is the service's migration set, applied after postgres.Platform().
func Set() postgres.MigrationSet { return postgres.MigrationSet{Table: "goose_tasks", FS: files} }
