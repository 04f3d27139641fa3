-- +goose Up
-- Who sees each projected contact, by the contacts service's rule
-- (pkg/access): a deal may name only a contact its writer sees. Rows
-- projected before this migration, and rows from events that did not say
-- (an older contacts service), have visibility_known false: a write naming
-- one asks the contacts service with the writer's token, as for a contact
-- sales has never seen, and the answer fills these columns.
alter table contacts
    add column owner_id         text not null default '',
    add column team             text not null default '',
    add column shared_users     text[] not null default '{}',
    add column shared_teams     text[] not null default '{}',
    add column visibility_known boolean not null default false;

-- +goose Down
alter table contacts
    drop column owner_id,
    drop column team,
    drop column shared_users,
    drop column shared_teams,
    drop column visibility_known;
