-- +goose Up
-- How many times a worker has taken the job: a job that breaks on
-- something other than a rejected row (a lost connection, a restarted
-- database) is tried again later, up to a limit, before it is failed.
alter table imports add column attempts integer not null default 0;

-- +goose Down
alter table imports drop column attempts;
