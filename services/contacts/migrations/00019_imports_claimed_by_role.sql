-- +goose Up
-- The import worker found the pending jobs of every tenant through
-- app.system, a setting the app role may set itself: anyone holding the
-- service's credentials could read and change every tenant's jobs. Now the
-- policy admits the app role by app.tenant_id only, and the one thing the
-- worker does across tenants, taking the next job, is system.claim_import:
-- a SECURITY DEFINER function owned by the role running this migration (the
-- owner, which alone sees every job: "to current_user"), which names the job
-- and nothing else of it. The worker reads the job in its tenant's scope.
drop policy imports_tenant on imports;
create policy imports_tenant on imports
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);
create policy imports_owner on imports to current_user using (true) with check (true);

-- +goose StatementBegin
-- claim_import leases the oldest job that is queued, or running under a
-- lease that ran out (its worker died), for p_lease (at most ten minutes,
-- so that a caller cannot hold every tenant's jobs), counts the attempt and
-- names the job; no row when there is none.
create function system.claim_import(p_lease interval) returns table (tenant_id uuid, id uuid)
language sql volatile security definer set search_path = pg_catalog, pg_temp as $$
    update public.imports i
    set status = 'running', lease_until = now() + least(p_lease, interval '10 minutes'), updated_at = now(),
        attempts = i.attempts + 1
    where (i.tenant_id, i.id) = (select j.tenant_id, j.id from public.imports j
        where j.status in ('queued', 'running') and (j.lease_until is null or j.lease_until < now())
        order by j.created_at limit 1 for update skip locked)
    returning i.tenant_id, i.id
$$;
-- +goose StatementEnd
revoke execute on function system.claim_import(interval) from public;

-- Every table's primary key leads with tenant_id (rows of one tenant stay
-- together, and a sharded database places them by it); rejected rows had
-- none, having no natural one: a row may be rejected for several reasons in
-- one column.
alter table import_errors add column seq bigint generated always as identity;
alter table import_errors add primary key (tenant_id, import_id, seq);

-- +goose Down
alter table import_errors drop constraint import_errors_pkey;
alter table import_errors drop column seq;
drop function system.claim_import(interval);
drop policy imports_owner on imports;
drop policy imports_tenant on imports;
create policy imports_tenant on imports
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or current_setting('app.system', true) = 'on')
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid
           or current_setting('app.system', true) = 'on');
