-- Generated from github.com/riverqueue/river rivermigrate, line main, version 8 (job id autoincrement):
-- RAPPORT_UPDATE_RIVER=1 go test ./services/tasks/migrations writes it again.
-- +goose Up
-- +goose StatementBegin
-- No-op. Postgres sequences already prevent automatically generated job IDs
-- from being reused.
SELECT 1;

-- +goose StatementEnd
-- +goose StatementBegin
INSERT INTO river.river_migration (line, version) VALUES ('main', 8);
-- +goose StatementEnd
-- +goose Down
-- +goose StatementBegin
DELETE FROM river.river_migration WHERE line = 'main' AND version = 8;
-- +goose StatementEnd
-- +goose StatementBegin
-- No-op. Postgres sequences already prevent automatically generated job IDs
-- from being reused.
SELECT 1;

-- +goose StatementEnd
