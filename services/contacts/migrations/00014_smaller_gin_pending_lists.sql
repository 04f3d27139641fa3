-- +goose Up
-- New rows reach a GIN index through its pending list, which every search
-- reads in full until it is merged into the index (when it outgrows
-- gin_pending_list_limit, or at vacuum). At the default 4 MB an import
-- left searches of a freshly imported base three to four times slower
-- until autovacuum came by; a quarter of that keeps the merges cheap and
-- the searches fast.
alter index contacts_search set (gin_pending_list_limit = 1024);
alter index companies_search set (gin_pending_list_limit = 1024);

-- +goose Down
alter index companies_search reset (gin_pending_list_limit);
alter index contacts_search reset (gin_pending_list_limit);
