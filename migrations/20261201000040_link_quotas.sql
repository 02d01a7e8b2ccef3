-- Per-agency link quotas: a new agency may run a few WhatsApp links (one container each) until
-- an operator raises its quota. Agencies that already run more keep what they have.
alter table agencies
    add column link_quota integer not null default 3
        constraint agencies_link_quota_check check (link_quota between 0 and 100000);

update agencies a
   set link_quota = greatest(3, (select count(*) from whatsapp_links l
                                  where l.agency_id = a.id and l.deleted_at is null));
