-- +goose Up
-- An erased contact keeps its id (deals and tasks still point at it) and
-- loses every personal value; erased_at says when.
alter table contacts add column erased_at timestamptz;

-- +goose Down
alter table contacts drop column erased_at;
