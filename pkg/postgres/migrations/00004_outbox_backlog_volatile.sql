-- +goose Up
-- What 00002 (and contacts 00019) guard against, stated more narrowly than
-- their comments do. They took app.system out of the policies of outbox,
-- inbox, tenants and imports: a single switch that any code on the request
-- path could turn on (a bug, a connection reused with it set) to lift
-- row-level security for every tenant at once. What crosses tenants is now
-- a few SECURITY DEFINER functions of schema system, each doing one narrow
-- thing. They do not protect against anyone holding the app role's
-- credentials: that role sets app.tenant_id itself, and
-- system.tenant_records() and system.outbox_pending() list every tenant id,
-- so such a client can still read and change every tenant's rows, one
-- tenant at a time. Against that only the secrecy of the credentials helps.
--
-- outbox_backlog reads clock_timestamp(), whose value changes while a
-- statement runs: 00002 declared it stable, which promises one result per
-- statement. It is volatile.
alter function system.outbox_backlog() volatile;

-- +goose Down
alter function system.outbox_backlog() stable;
