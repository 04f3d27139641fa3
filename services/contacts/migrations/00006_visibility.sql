-- +goose Up
-- team is the team that owns the contact (its managers see it); shares are
-- the users ('user:<id>') and teams ('team:<name>') it is shared with.
alter table contacts add column team text not null default '';
alter table contacts add column shares text[] not null default '{}';
create index contacts_team on contacts (tenant_id, team, id);
-- Partial, like contacts_tags: most contacts are shared with nobody.
create index contacts_shares on contacts using gin (shares) where shares <> '{}';

-- +goose Down
drop index contacts_shares;
drop index contacts_team;
alter table contacts drop column shares, drop column team;
