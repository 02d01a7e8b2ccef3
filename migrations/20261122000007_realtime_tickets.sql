-- Realtime: WebSocket tickets, presence across replicas, notification marks.

-- Short-lived, single-use WebSocket tickets for browsers (which cannot set headers on a
-- WebSocket). Only the SHA-256 of the ticket is kept; redeeming deletes the row, so a ticket
-- works once, on whichever replica the socket lands.
create table realtime_tickets (
    token_hash  bytea primary key,
    user_id     uuid not null references users (id) on delete cascade,
    -- The `jti` of the access token that asked for it (audit lines of the socket).
    token_id    uuid not null,
    expires_at  timestamptz not null,
    created_at  timestamptz not null default now()
);
create index realtime_tickets_expires_idx on realtime_tickets (expires_at);

-- Puente processes holding WebSockets, with a heartbeat: a process whose heartbeat is stale
-- no longer counts when deciding whether a user is online.
create table realtime_processes (
    id            uuid primary key,
    started_at    timestamptz not null default now(),
    heartbeat_at  timestamptz not null default now()
);

-- Which users hold at least one socket on which process.
create table realtime_presence (
    user_id     uuid not null references users (id) on delete cascade,
    process_id  uuid not null references realtime_processes (id) on delete cascade,
    since       timestamptz not null default now(),
    primary key (user_id, process_id)
);
create index realtime_presence_process_idx on realtime_presence (process_id);

-- Per user: notifications (`GET /api/v1/notifications`) are the events after this sequence.
create table notification_marks (
    user_id      uuid primary key references users (id) on delete cascade,
    cleared_seq  bigint not null constraint notification_marks_cleared_seq_check check (cleared_seq >= 0),
    cleared_at   timestamptz not null default now()
);
