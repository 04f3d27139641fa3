-- +goose Up
-- An import tells companies without a tax id apart by name, in any case.
create index companies_lower_name on companies (tenant_id, lower(name));

-- +goose Down
drop index companies_lower_name;
