-- +goose Up
-- An erased contact keeps its id (deals and tasks still point at it) and
-- loses every personal value; erased_at says when.
alter table contacts add column erased_at timestamptz;

-- +goose StatementBegin
-- contacts_assert_live fails with SQLSTATE RP410 unless the contact exists
-- and is not erased, and keeps it so (a share lock) until the transaction
-- ends: a write that attaches personal data to a contact (an activity)
-- cannot slip in while the contact is being erased.
create function contacts_assert_live(p_tenant uuid, p_contact uuid)
returns void language plpgsql as $$
begin
    perform 1 from contacts where tenant_id = p_tenant and id = p_contact and erased_at is null for share;
    if not found then
        raise exception using errcode = 'RP410', message = 'contact missing or erased';
    end if;
end
$$;
-- +goose StatementEnd

-- +goose Down
drop function contacts_assert_live(uuid, uuid);
alter table contacts drop column erased_at;
