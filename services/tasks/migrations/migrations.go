// Package migrations embeds the tasks service's numbered SQL migrations,
// and river's job queue as goose migrations of their own.
package migrations

import (
	"embed"
	"io/fs"

	"github.com/rapportcrm/rapport/pkg/postgres"
)

//go:embed *.sql
var files embed.FS

// Set is the service's migration set, applied after postgres.Platform().
func Set() postgres.MigrationSet { return postgres.MigrationSet{Table: "goose_tasks", FS: files} }

//go:embed river/*.sql
var riverFiles embed.FS

// RiverSchema holds river's tables: they carry every tenant's jobs (ids
// and times only) and no row-level security, which river's own queries
// could not work under, so they stay out of schema public.
const RiverSchema = "river"

// River is river's job queue (github.com/riverqueue/river), generated from
// its rivermigrate into river/ (river_test.go keeps the files current).
func River() postgres.MigrationSet {
	sub, _ := fs.Sub(riverFiles, "river")
	return postgres.MigrationSet{Table: "goose_river", FS: sub, Schema: RiverSchema, Private: []string{"river_migration"}}
}
