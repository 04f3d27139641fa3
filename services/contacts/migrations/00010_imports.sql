-- +goose Up
-- A CSV import is a job: the file is stored as it came, in chunks, in the
-- upload's transaction (so a failed upload leaves nothing), then a worker
-- reads it back, row by row, and commits its rows in batches together with
-- the job's progress. A restarted service resumes from rows_done; a worker
-- holds a job by its lease (lease_until), so a dead worker's job is taken
-- over when the lease runs out.
create table imports (
    tenant_id    uuid not null,
    id           uuid not null,
    entity       text not null,
    on_duplicate text not null,
    dry_run      boolean not null,
    encoding     text not null,
    delimiter    text not null,
    -- The field each column fills, '' for a dropped column.
    columns      text[] not null,
    status       text not null,
    bytes        bigint not null default 0,
    rows_total   bigint not null default 0,
    rows_done    bigint not null default 0,
    created      bigint not null default 0,
    updated      bigint not null default 0,
    skipped      bigint not null default 0,
    failed       bigint not null default 0,
    error        text not null default '',
    created_by   text not null,
    role         text not null,
    team         text not null default '',
    created_at   timestamptz not null,
    updated_at   timestamptz not null,
    finished_at  timestamptz,
    lease_until  timestamptz,
    primary key (tenant_id, id)
);
-- The worker's queue: jobs to run or resume, in order of arrival.
create index imports_pending on imports (created_at) where status in ('queued', 'running');
alter table imports enable row level security;
alter table imports force row level security;
-- The worker finds pending jobs of every tenant in the system scope; it
-- then works on each inside its tenant's scope.
create policy imports_tenant on imports
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or current_setting('app.system', true) = 'on')
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or current_setting('app.system', true) = 'on');

create table import_chunks (
    tenant_id uuid not null,
    import_id uuid not null,
    seq       integer not null,
    data      bytea not null,
    primary key (tenant_id, import_id, seq),
    foreign key (tenant_id, import_id) references imports (tenant_id, id) on delete cascade
);
alter table import_chunks enable row level security;
alter table import_chunks force row level security;
create policy import_chunks_tenant on import_chunks
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- Rejected rows: the line of the file (the header is line 1), the column
-- (its header) and why.
create table import_errors (
    tenant_id uuid not null,
    import_id uuid not null,
    line      bigint not null,
    col       text not null,
    message   text not null,
    foreign key (tenant_id, import_id) references imports (tenant_id, id) on delete cascade
);
create index import_errors_line on import_errors (tenant_id, import_id, line);
alter table import_errors enable row level security;
alter table import_errors force row level security;
create policy import_errors_tenant on import_errors
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- +goose Down
drop table import_errors;
drop table import_chunks;
drop table imports;
