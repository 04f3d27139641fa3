-- +goose Up
-- Duplicates and merge (docs/architecture.md, "Duplicates and merge").

-- +goose StatementBegin
-- contacts_name_key is a name's transliteration skeleton: two spellings of
-- one name, in Cyrillic or Latin letters, in any word order, get one key
-- ("Иванов Андрей", "Andrey Ivanov" and "Andrei Ivanov" are all
-- 'andrei ivanov'). The letters are folded (case, accents, ё, й),
-- Cyrillic is transliterated, and the sounds transliterations spell
-- differently get one spelling (kh/h, x/ks, y/j/i, shch/sch/sh, a doubled
-- letter, an i before a vowel: Юлия, Yuliya, Julia are 'ula'); the words
-- are sorted. A patronymic is left out when two more words remain. Fewer
-- than two words give no key: a first name alone says too little.
--
-- It runs in the generated column below for contacts of a company only
-- (about 12 µs for a Latin name, 25 µs for a Cyrillic one). Changing it
-- means recomputing the column (a table rewrite) in a later migration.
create function contacts_name_key(first text, last text) returns text
language plpgsql immutable parallel safe as $$
declare
    s text := lower(concat_ws(' ', first, last));
    w text;
    words text[];
    kept text[] := '{}';
    i int;
    j int;
begin
    if s ~ '[^ -~]' then
        -- Decompose and drop the combining marks: é is e, й is и, ё is е.
        s := regexp_replace(normalize(s, NFD), '[\u0300-\u036f]', '', 'g');
        -- lower() leaves Cyrillic capitals alone in a database of the C
        -- locale; the key must not depend on it.
        if s ~ '[А-ЯЁІЇЄҐ]' then
            s := translate(s, 'АБВГДЕЖЗИКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯІЇЄҐ', 'абвгдежзиклмнопрстуфхцчшщъыьэюяіїєґ');
        end if;
        if s ~ '[а-яіїєґ]' then
            -- Cyrillic to Latin, straight to the letters the rules below keep.
            s := replace(replace(replace(replace(replace(replace(replace(s,
                'щ', 'sh'), 'ш', 'sh'), 'ж', 'zh'), 'ч', 'ch'), 'ц', 'ts'), 'ю', 'iu'), 'я', 'ia');
            s := translate(s, 'абвгдезиклмнопрстуфхыэіїєґъь', 'abvgdeziklmnoprstufhieiieg');
        end if;
        s := translate(replace(replace(replace(s, 'ß', 'ss'), 'æ', 'ae'), 'œ', 'oe'), 'øłđı', 'oldi');
    end if;
    -- Apostrophes and hyphens join; anything else that is no letter parts words.
    s := regexp_replace(regexp_replace(s, '[''’`-]', '', 'g'), '[^a-z]+', ' ', 'g');
    -- One spelling for the sounds transliterations spell differently.
    s := replace(replace(replace(s, 'shch', 'sh'), 'sch', 'sh'), 'tch', 'ch');
    s := replace(replace(replace(replace(s, 'kh', 'h'), 'ph', 'f'), 'x', 'ks'), 'ck', 'k');
    s := regexp_replace(s, 'c(?!h)', 'k', 'g');
    s := regexp_replace(replace(translate(s, 'wq', 'vk'), 'yo', 'e'), '([oe])ff\M', '\1v', 'g');
    s := translate(s, 'yj', 'ii');
    -- A doubled letter counts once (Anna, Ana; Kirill; Андреев, Andreyev).
    -- Plain replace(): a back-reference regular expression costs 20 µs.
    s := replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(replace(
         replace(replace(replace(replace(replace(replace(replace(s,
         'aa', 'a'), 'bb', 'b'), 'dd', 'd'), 'ee', 'e'), 'ff', 'f'), 'gg', 'g'), 'hh', 'h'), 'ii', 'i'), 'kk', 'k'),
         'll', 'l'), 'mm', 'm'), 'nn', 'n'), 'oo', 'o'), 'pp', 'p'), 'rr', 'r'), 'ss', 's'), 'tt', 't'), 'uu', 'u'),
         'vv', 'v'), 'zz', 'z');
    s := regexp_replace(s, 'i([aeou])', '\1', 'g');
    s := replace(replace(replace(replace(s, 'aa', 'a'), 'ee', 'e'), 'oo', 'o'), 'uu', 'u');
    -- Alexander, Aleksandr; Peter, Пётр.
    s := regexp_replace(s, 'er\M', 'r', 'g');
    words := string_to_array(btrim(s), ' ');
    foreach w in array coalesce(words, '{}') loop
        continue when w = '' or (cardinality(words) >= 3 and w ~ '(ich|ovna|evna|ichna)$');
        kept := kept || w;
    end loop;
    if cardinality(kept) < 2 then
        return null;
    end if;
    -- Word order does not matter: the words are sorted, bytewise.
    for i in 2..cardinality(kept) loop
        w := kept[i];
        j := i - 1;
        while j >= 1 and kept[j] > w collate "C" loop
            kept[j + 1] := kept[j];
            j := j - 1;
        end loop;
        kept[j + 1] := w;
    end loop;
    return array_to_string(kept, ' ');
end
$$;
-- +goose StatementEnd

-- name_key compares the names of a company's contacts (GET
-- /v1/contacts/duplicates): generated, so every writer (the API, the
-- import's COPY) keeps it, and adding it computes it for every existing row
-- in the table rewrite, which row-level security does not restrict. Only
-- contacts of a company have one, so the others pay nothing.
alter table contacts add column name_key text
    generated always as (case when company_id is not null then contacts_name_key(first_name, last_name) end) stored;
create index contacts_name_key on contacts (tenant_id, company_id, name_key, id) where name_key is not null;

-- merges records each contact merged into another until the merge is
-- undone: the source's contacts row as it was (every column), what it gave
-- the target (values the target lacked), and the activities and timeline
-- entries it handed over. Unmerge puts the row back as it was, takes those
-- back, and deletes the record.
create table merges (
    tenant_id     uuid not null,
    source_id     uuid not null,
    target_id     uuid not null,
    -- One merge request folds up to 20 sources; it is its event's id.
    merge_id      uuid not null,
    merged_at     timestamptz not null,
    actor         text not null,
    contact       jsonb not null,
    contribution  jsonb not null,
    activities    uuid[] not null default '{}',
    timeline      uuid[] not null default '{}',
    -- Timeline entries the target already had (one event about both):
    -- kept here rather than twice in the target's timeline.
    timeline_kept jsonb not null default '[]',
    primary key (tenant_id, source_id)
);
create index merges_target on merges (tenant_id, target_id);
alter table merges enable row level security;
alter table merges force row level security;
create policy merges_tenant on merges
    using (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid)
    with check (tenant_id = nullif(current_setting('app.tenant_id', true), '')::uuid);

-- +goose StatementBegin
-- A contact deleted (not merged away: a merge records its source before it
-- deletes it) or erased takes along what was merged into it, and what was
-- merged into those, so no copy of personal data outlives it and nothing
-- can be unmerged into a record that is gone.
create function contacts_forget_merges() returns trigger language plpgsql as $$
begin
    if tg_op = 'DELETE' then
        with recursive doomed as (
            select m.tenant_id, m.source_id from merges m join gone g on m.tenant_id = g.tenant_id and m.target_id = g.id
            where not exists (select 1 from merges x where x.tenant_id = g.tenant_id and x.source_id = g.id)
            union
            select m.tenant_id, m.source_id from merges m join doomed d on m.tenant_id = d.tenant_id and m.target_id = d.source_id
        )
        delete from merges m using doomed d where m.tenant_id = d.tenant_id and m.source_id = d.source_id;
    else
        with recursive doomed as (
            select m.tenant_id, m.source_id from merges m where m.tenant_id = new.tenant_id and m.target_id = new.id
            union
            select m.tenant_id, m.source_id from merges m join doomed d on m.tenant_id = d.tenant_id and m.target_id = d.source_id
        )
        delete from merges m using doomed d where m.tenant_id = d.tenant_id and m.source_id = d.source_id;
    end if;
    return null;
end
$$;
-- +goose StatementEnd
-- One call per delete statement (a tenant's purge deletes all its contacts
-- at once); erasure is rare, and the condition keeps every other update free.
create trigger contacts_deleted_forget_merges after delete on contacts
    referencing old table as gone for each statement execute function contacts_forget_merges();
create trigger contacts_erased_forget_merges after update of erased_at on contacts
    for each row when (old.erased_at is null and new.erased_at is not null) execute function contacts_forget_merges();

-- +goose Down
drop trigger contacts_erased_forget_merges on contacts;
drop trigger contacts_deleted_forget_merges on contacts;
drop function contacts_forget_merges();
drop table merges;
drop index contacts_name_key;
alter table contacts drop column name_key;
drop function contacts_name_key(text, text);
