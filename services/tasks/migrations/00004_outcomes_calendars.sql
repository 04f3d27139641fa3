-- +goose Up
-- The buttons that end a task: seeded in the tenant's language, edited by
-- its admins. A retry outcome has a ladder: the minutes before each next
-- attempt.
create table outcomes (
    tenant_id      uuid not null,
    id             uuid not null,
    key            text not null,
    label          text not null,
    action         text not null check (action in ('complete', 'retry', 'callback')),
    ladder_minutes integer[] not null,
    position       integer not null,
    archived       boolean not null,
    version        bigint not null,
    updated_at     timestamptz not null,
    primary key (tenant_id, id),
    unique (tenant_id, key)
);

-- When people work: the tenant's default calendar (user_id '') and a
-- user's own. spec is the calendar as the API describes it.
create table calendars (
    tenant_id  uuid not null,
    id         uuid not null,
    user_id    text not null,
    spec       jsonb not null,
    version    bigint not null,
    updated_at timestamptz not null,
    primary key (tenant_id, id),
    unique (tenant_id, user_id)
);

-- A tenant's rules of tasks: the next-step discipline, the client's call
-- window (minutes after midnight, client time), the first response to a
-- new deal, the reminder's lead time, the repeat sale after a won deal
-- (0: none), and whether exhausted attempts lose the deal.
create table task_settings (
    tenant_id              uuid primary key,
    discipline             text not null check (discipline in ('strict', 'warn', 'off')),
    call_window_from       integer not null check (call_window_from between 0 and 1440),
    call_window_to         integer not null check (call_window_to between 0 and 1440),
    first_response_minutes integer not null check (first_response_minutes between 1 and 43200),
    reminder_minutes       integer not null check (reminder_minutes between 0 and 10080),
    repeat_sale_days       integer not null check (repeat_sale_days between 0 and 3650),
    exhausted_loses_deal   boolean not null,
    version                bigint not null,
    updated_at             timestamptz not null,
    check (call_window_from < call_window_to)
);

select tenant_rls('outcomes');
select tenant_rls('calendars');
select tenant_rls('task_settings');

-- +goose Down
drop table task_settings;
drop table calendars;
drop table outcomes;
