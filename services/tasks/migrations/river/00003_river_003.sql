-- Generated from github.com/riverqueue/river rivermigrate, line main, version 3 (river job tags non null):
-- RAPPORT_UPDATE_RIVER=1 go test ./services/tasks/migrations writes it again.
-- +goose Up
-- +goose StatementBegin
ALTER TABLE "river".river_job ALTER COLUMN tags SET DEFAULT '{}';
UPDATE "river".river_job SET tags = '{}' WHERE tags IS NULL;
ALTER TABLE "river".river_job ALTER COLUMN tags SET NOT NULL;

-- +goose StatementEnd
-- +goose StatementBegin
INSERT INTO river.river_migration (version) VALUES (3);
-- +goose StatementEnd
-- +goose Down
-- +goose StatementBegin
DELETE FROM river.river_migration WHERE version = 3;
-- +goose StatementEnd
-- +goose StatementBegin
ALTER TABLE "river".river_job
    ALTER COLUMN tags DROP NOT NULL,
    ALTER COLUMN tags DROP DEFAULT;

-- +goose StatementEnd
