-- Realtime events and link supervision.
--
-- Every event pushed to a user over the WebSocket is first stored here with a per-user
-- sequence number (allocated under a row lock, so one user's events commit in order), then
-- announced with NOTIFY; a reconnecting client resumes from the last sequence it saw.

create table user_event_seqs (
    user_id   uuid primary key references users (id) on delete cascade,
    last_seq  bigint not null default 0
);

create table user_events (
    user_id     uuid not null references users (id) on delete cascade,
    seq         bigint not null,
    kind        text not null,
    payload     jsonb not null,
    created_at  timestamptz not null default now(),
    primary key (user_id, seq)
);
create index user_events_created_idx on user_events (created_at);

alter table whatsapp_links
    -- WAHA time (envelope timestamp) of the newest session.status applied; older ones are stale.
    add column status_at timestamptz,
    -- QR codes shown since the session last entered SCAN_QR_CODE.
    add column qr_rotations integer not null default 0,
    add column last_probe_at timestamptz,
    add column working_since timestamptz;
