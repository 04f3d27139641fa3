-- +goose Up
-- A tenant names kinds of its own besides call, meeting, e-mail, visit and
-- to-do (a demo, a delivery): the service checks a task's kind against
-- them, so the table no longer lists the kinds.
alter table tasks drop constraint tasks_kind_check;
alter table task_settings add column kinds text[] not null default '{}';

-- +goose Down
alter table task_settings drop column kinds;
update tasks set kind = 'todo' where kind not in ('call', 'meeting', 'email', 'visit', 'todo');
alter table tasks add constraint tasks_kind_check check (kind in ('call', 'meeting', 'email', 'visit', 'todo'));
