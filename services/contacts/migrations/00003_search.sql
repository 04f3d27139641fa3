-- +goose Up
-- Trigram indexes find name fragments; btree_gin lets tenant_id lead them,
-- as it leads every index. Both extensions are trusted: the database owner
-- may create them.
create extension if not exists pg_trgm;
create extension if not exists btree_gin;

-- search holds a record's searchable words folded by the service (lower
-- case, accents stripped, ё read as е; see domain.Fold), so queries folded
-- the same way match case- and accent-insensitively.
alter table contacts add column search text not null default '';
-- sort_name orders by last then first name, folded, compared bytewise.
alter table contacts add column sort_name text not null default '';
alter table companies add column search text not null default '';
-- Tags are kept in lower case from now on.
update contacts set tags = array(select distinct lower(t) from unnest(tags) t) where tags <> '{}';
update companies set tags = array(select distinct lower(t) from unnest(tags) t) where tags <> '{}';
-- Rows written before this migration get an approximation of the fold; the
-- next write of each row stores the exact one.
update contacts set search = translate(lower(concat_ws(' ', first_name, last_name, position, array_to_string(emails, ' '))), 'ёй', 'еи');
update contacts set sort_name = translate(lower(concat_ws(' ', last_name, first_name)), 'ёй', 'еи');
update companies set search = translate(lower(concat_ws(' ', name, legal_name, tax_id)), 'ёй', 'еи');
create index contacts_search on contacts using gin (tenant_id, search gin_trgm_ops);
create index companies_search on companies using gin (tenant_id, search gin_trgm_ops);
drop index companies_name;

-- Filters and sorts of the contact list.
-- Ids are UUIDv7, so id order is creation order: the primary key and
-- contacts_owner serve the default sort.
create index contacts_updated on contacts (tenant_id, updated_at, id);
create index contacts_sort_name on contacts (tenant_id, sort_name collate "C", id);
create index contacts_tags on contacts using gin (tenant_id, tags);

-- +goose Down
drop index contacts_tags;
drop index contacts_sort_name;
drop index contacts_updated;
create index companies_name on companies (tenant_id, lower(name) text_pattern_ops);
drop index companies_search;
drop index contacts_search;
alter table companies drop column search;
alter table contacts drop column search, drop column sort_name;
