-- Generated from github.com/riverqueue/river rivermigrate, line main, version 1 (create river migration):
-- RAPPORT_UPDATE_RIVER=1 go test ./services/tasks/migrations writes it again.
-- +goose Up
-- +goose StatementBegin
CREATE SCHEMA IF NOT EXISTS river;
CREATE TABLE "river".river_migration(
  id bigserial PRIMARY KEY,
  created_at timestamptz NOT NULL DEFAULT NOW(),
  version bigint NOT NULL,
  CONSTRAINT version CHECK (version >= 1)
);

CREATE UNIQUE INDEX ON "river".river_migration USING btree(version);
-- +goose StatementEnd
-- +goose StatementBegin
INSERT INTO river.river_migration (version) VALUES (1);
-- +goose StatementEnd
-- +goose Down
-- +goose StatementBegin
DROP TABLE "river".river_migration;
-- +goose StatementEnd
