-- +goose Up
-- A rep's board (and a manager's) adds up only the deals they may see. With
-- the owner or team first, a stage's newest visible deals are the start of
-- one index range and the sums an index-only scan, however many deals other
-- people hold in the stage.
create index deals_owner_stage on deals (tenant_id, owner_id, stage_id, stage_entered_at desc, id desc) include (amount, currency);
create index deals_team_stage on deals (tenant_id, team, stage_id, stage_entered_at desc, id desc) include (amount, currency);

-- +goose Down
drop index deals_team_stage;
drop index deals_owner_stage;
