-- +goose Up
-- The next task a user is served (GET /v1/tasks/next) is claimed for a
-- short while by the device that asked (claimed_by: user and device), so
-- that two devices, or two people, are never served the same task.
alter table tasks
    add column claimed_by  text not null default '',
    add column claim_until timestamptz;

-- +goose Down
alter table tasks drop column claimed_by, drop column claim_until;
