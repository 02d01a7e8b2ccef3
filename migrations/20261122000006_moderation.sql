-- Moderation: blocks and reports (the tables are in the core migration).
--
-- A report keeps the reported message's text as it was when reported (its evidence), so an
-- edit or delete afterwards cannot erase it; operators see this excerpt and nothing else of
-- any conversation. At most 500 characters, null when no message was reported.
alter table reports
    add column message_excerpt text
        constraint reports_message_excerpt_check check (char_length(message_excerpt) <= 500);

-- The per-reporter rate limit counts a reporter's recent reports.
create index reports_reporter_time_idx on reports (reporter_id, created_at desc);
-- The operators' queue: newest first, optionally by status, keyset on (created_at, id).
create index reports_status_time_idx on reports (status, created_at desc, id desc);
create index reports_time_idx on reports (created_at desc, id desc);

-- "Has the recipient blocked the sender?" (asked on every in-app send) is a primary key
-- lookup; deleting a user cascades to the rows where they are the blocked one, which needs this.
create index blocks_blocked_idx on blocks (blocked_id);
