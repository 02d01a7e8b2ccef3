-- Puente core schema: accounts, WhatsApp links, contacts, listings, the conversation model,
-- delivery machinery (outbox, raw webhook inbox), files, moderation and audit.
--
-- Conventions: ids are UUIDs chosen by the application (v7, time-ordered); enumerations are
-- text with named CHECK constraints; every unique key that makes a write idempotent is named
-- so the code can map a violation to a clear answer. Landed migrations are never edited.

create table agencies (
    id          uuid primary key,
    name        text not null constraint agencies_name_check check (char_length(name) between 1 and 200),
    created_at  timestamptz not null default now(),
    updated_at  timestamptz not null default now()
);

create table users (
    id              uuid primary key,
    email           text not null constraint users_email_check check (email = lower(email) and char_length(email) <= 254),
    password_hash   text not null,
    display_name    text not null constraint users_display_name_check check (char_length(display_name) between 1 and 100),
    phone           text constraint users_phone_check check (phone ~ '^[0-9]{6,15}$'),
    role            text not null constraint users_role_check check (role in ('operator', 'agency_admin', 'agent', 'buyer')),
    agency_id       uuid references agencies (id) on delete restrict,
    active          boolean not null default true,
    deactivated_at  timestamptz,
    created_at      timestamptz not null default now(),
    updated_at      timestamptz not null default now(),
    constraint users_email_key unique (email),
    -- Agency staff belong to exactly one agency; operators and buyers to none.
    constraint users_agency_role_check check ((role in ('agency_admin', 'agent')) = (agency_id is not null))
);
create index users_agency_idx on users (agency_id, role) where agency_id is not null;
create index users_phone_idx on users (phone) where phone is not null;

-- Invite codes an agency admin hands to an agent; only a hash of the code is kept.
create table agency_invites (
    id          uuid primary key,
    agency_id   uuid not null references agencies (id) on delete cascade,
    code_hash   bytea not null,
    email       text,
    created_by  uuid not null references users (id),
    created_at  timestamptz not null default now(),
    expires_at  timestamptz not null,
    used_at     timestamptz,
    used_by     uuid references users (id),
    revoked_at  timestamptz,
    constraint agency_invites_code_hash_key unique (code_hash)
);
create index agency_invites_agency_idx on agency_invites (agency_id, created_at desc);

-- Refresh tokens, stored only as SHA-256 hashes. Each login starts a family; each refresh
-- spends one token and issues its successor in the same family. Presenting a spent token
-- revokes the whole family (it was stolen, or the client is confused: both end the session).
create table refresh_tokens (
    id           uuid primary key,
    user_id      uuid not null references users (id) on delete cascade,
    family_id    uuid not null,
    token_hash   bytea not null,
    issued_at    timestamptz not null default now(),
    expires_at   timestamptz not null,
    used_at      timestamptz,
    revoked_at   timestamptz,
    replaced_by  uuid references refresh_tokens (id) on delete set null,
    user_agent   text,
    constraint refresh_tokens_token_hash_key unique (token_hash)
);
create index refresh_tokens_family_idx on refresh_tokens (family_id);
create index refresh_tokens_user_idx on refresh_tokens (user_id) where revoked_at is null;

-- One row per WhatsApp number an agent links; one WAHA container serves it.
create table whatsapp_links (
    id                uuid primary key,
    agent_id          uuid not null references users (id) on delete restrict,
    agency_id         uuid not null references agencies (id) on delete restrict,
    status            text not null default 'provisioning'
        constraint whatsapp_links_status_check
        check (status in ('provisioning', 'starting', 'scan_qr', 'working', 'failed', 'stopped')),
    status_reason     text,
    desired_state     text not null default 'running'
        constraint whatsapp_links_desired_state_check check (desired_state in ('running', 'stopped', 'deleted')),
    engine            text not null,
    image             text not null,
    -- Bumped to rotate the per-link API and webhook keys derived from the master secret.
    key_version       integer not null default 1,
    container_id      text,
    container_name    text,
    phone             text,
    push_name         text,
    wa_id             text,
    wa_lid            text,
    last_event_at     timestamptz,
    -- Catch-up watermark: the WhatsApp time of the newest event applied for this link.
    watermark_at      timestamptz,
    restart_count     integer not null default 0,
    consecutive_failures integer not null default 0,
    last_restart_at   timestamptz,
    next_attempt_at   timestamptz,
    created_at        timestamptz not null default now(),
    updated_at        timestamptz not null default now(),
    deleted_at        timestamptz
);
create index whatsapp_links_agent_idx on whatsapp_links (agent_id) where deleted_at is null;
create index whatsapp_links_agency_idx on whatsapp_links (agency_id) where deleted_at is null;

-- A person seen on a link: by phone id (@c.us), by privacy id (@lid), or both once known.
create table contacts (
    id             uuid primary key,
    link_id        uuid not null references whatsapp_links (id) on delete cascade,
    wa_id          text,
    lid            text,
    phone          text,
    push_name      text,
    buyer_user_id  uuid references users (id) on delete set null,
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now(),
    constraint contacts_identity_check check (wa_id is not null or lid is not null)
);
create unique index contacts_link_wa_id_key on contacts (link_id, wa_id) where wa_id is not null;
create unique index contacts_link_lid_key on contacts (link_id, lid) where lid is not null;
create index contacts_phone_idx on contacts (phone) where phone is not null;

-- Uploaded or downloaded files. The bytes live in the file store under storage_key.
create table files (
    id              uuid primary key,
    owner_user_id   uuid references users (id) on delete set null,
    link_id         uuid references whatsapp_links (id) on delete set null,
    storage_key     text not null,
    mimetype        text not null,
    size_bytes      bigint not null constraint files_size_check check (size_bytes >= 0),
    sha256          bytea,
    original_name   text,
    width           integer,
    height          integer,
    thumbnail_key   text,
    created_at      timestamptz not null default now(),
    constraint files_storage_key_key unique (storage_key)
);

create table properties (
    id             uuid primary key,
    agency_id      uuid not null references agencies (id) on delete restrict,
    agent_id       uuid not null references users (id) on delete restrict,
    title          text not null constraint properties_title_check check (char_length(title) between 1 and 200),
    description    text not null default '' constraint properties_description_check check (char_length(description) <= 10000),
    price_cents    bigint not null constraint properties_price_check check (price_cents >= 0),
    currency       text not null default 'EUR' constraint properties_currency_check check (currency ~ '^[A-Z]{3}$'),
    address        text not null default '',
    city           text not null,
    property_type  text not null constraint properties_type_check check (property_type in ('house', 'apartment', 'condo', 'land')),
    status         text not null default 'active'
        constraint properties_status_check check (status in ('active', 'pending', 'sold', 'inactive')),
    created_at     timestamptz not null default now(),
    updated_at     timestamptz not null default now()
);
create index properties_browse_idx on properties (status, city, price_cents);
create index properties_agency_idx on properties (agency_id, created_at desc);

create table property_photos (
    property_id  uuid not null references properties (id) on delete cascade,
    file_id      uuid not null references files (id) on delete cascade,
    position     integer not null default 0,
    primary key (property_id, file_id)
);

-- The one conversation model for both channels.
create table conversations (
    id               uuid primary key,
    agency_id        uuid not null references agencies (id) on delete restrict,
    agent_id         uuid not null references users (id) on delete restrict,
    channel          text not null constraint conversations_channel_check check (channel in ('whatsapp', 'in_app')),
    link_id          uuid references whatsapp_links (id) on delete set null,
    contact_id       uuid references contacts (id) on delete set null,
    chat_id          text,
    is_group         boolean not null default false,
    buyer_id         uuid references users (id) on delete restrict,
    property_id      uuid references properties (id) on delete set null,
    status           text not null default 'open'
        constraint conversations_status_check check (status in ('open', 'archived', 'closed')),
    last_message_at  timestamptz,
    created_at       timestamptz not null default now(),
    updated_at       timestamptz not null default now(),
    constraint conversations_channel_parties_check check (
        (channel = 'whatsapp' and chat_id is not null)
        or (channel = 'in_app' and buyer_id is not null)
    )
);
-- One conversation per link and WhatsApp chat (kept after the link is deleted: link_id is
-- then null and the key no longer applies).
create unique index conversations_link_chat_key on conversations (link_id, chat_id) where link_id is not null;
-- One in-app conversation per buyer, listing and agent.
create unique index conversations_buyer_property_agent_key on conversations (buyer_id, property_id, agent_id)
    where channel = 'in_app' and property_id is not null;
create index conversations_agent_activity_idx on conversations (agent_id, last_message_at desc nulls last, id desc);
create index conversations_agency_activity_idx on conversations (agency_id, last_message_at desc nulls last, id desc);
create index conversations_buyer_activity_idx on conversations (buyer_id, last_message_at desc nulls last, id desc)
    where buyer_id is not null;

create table messages (
    id                 uuid primary key,
    conversation_id    uuid not null references conversations (id) on delete cascade,
    direction          text not null constraint messages_direction_check check (direction in ('in', 'out')),
    author_user_id     uuid references users (id) on delete set null,
    author_contact_id  uuid references contacts (id) on delete set null,
    kind               text not null default 'text'
        constraint messages_kind_check
        check (kind in ('text', 'image', 'file', 'audio', 'voice', 'video', 'location', 'contact', 'system', 'offer', 'note')),
    body               text constraint messages_body_check check (char_length(body) <= 65536),
    media_file_id      uuid references files (id) on delete set null,
    meta               jsonb not null default '{}',
    reply_to_id        uuid references messages (id) on delete set null,
    status             text not null default 'pending'
        constraint messages_status_check check (status in ('pending', 'sent', 'delivered', 'read', 'failed')),
    failure_reason     text,
    -- Internal notes are visible to agency staff only, never to the buyer.
    internal           boolean not null default false,
    link_id            uuid references whatsapp_links (id) on delete set null,
    wa_message_id      text,
    client_id          text constraint messages_client_id_check check (char_length(client_id) between 1 and 100),
    -- When the message happened: WhatsApp's timestamp for WhatsApp messages, else insert time.
    sent_at            timestamptz not null default now(),
    created_at         timestamptz not null default now(),
    edited_at          timestamptz,
    deleted_at         timestamptz
);
create unique index messages_link_wa_id_key on messages (link_id, wa_message_id) where wa_message_id is not null;
create unique index messages_author_client_key on messages (author_user_id, client_id) where client_id is not null;
create index messages_conversation_time_idx on messages (conversation_id, sent_at desc, id desc);

create table message_reactions (
    message_id  uuid not null references messages (id) on delete cascade,
    -- 'user:<uuid>' or 'contact:<uuid>': one reaction per author per message.
    author_key  text not null,
    emoji       text not null constraint message_reactions_emoji_check check (char_length(emoji) between 1 and 16),
    created_at  timestamptz not null default now(),
    primary key (message_id, author_key)
);

-- Per participant: the newest message they have read in a conversation.
create table conversation_reads (
    conversation_id       uuid not null references conversations (id) on delete cascade,
    user_id               uuid not null references users (id) on delete cascade,
    last_read_message_id  uuid references messages (id) on delete set null,
    last_read_at          timestamptz not null default now(),
    primary key (conversation_id, user_id)
);

-- Work to do after a commit (sending through WAHA, sendSeen, …), claimed with SKIP LOCKED.
create table outbox (
    id               bigint generated always as identity primary key,
    kind             text not null,
    message_id       uuid references messages (id) on delete cascade,
    link_id          uuid references whatsapp_links (id) on delete cascade,
    payload          jsonb not null default '{}',
    attempts         integer not null default 0,
    next_attempt_at  timestamptz not null default now(),
    locked_until     timestamptz,
    deadline_at      timestamptz,
    last_error       text,
    created_at       timestamptz not null default now(),
    done_at          timestamptz
);
create index outbox_due_idx on outbox (next_attempt_at) where done_at is null;

-- The raw webhook inbox: every delivery is stored here before it is acknowledged.
create table waha_events (
    id           bigint generated always as identity primary key,
    link_id      uuid not null references whatsapp_links (id) on delete cascade,
    -- The envelope id (evt_…); null when the body could not be parsed.
    event_id     text,
    event        text,
    body         bytea not null,
    payload      jsonb,
    status       text not null default 'pending'
        constraint waha_events_status_check check (status in ('pending', 'applied', 'skipped', 'deferred', 'failed', 'malformed')),
    error        text,
    received_at  timestamptz not null default now(),
    applied_at   timestamptz,
    attempts     integer not null default 0
);
create unique index waha_events_link_event_key on waha_events (link_id, event_id) where event_id is not null;
create index waha_events_pending_idx on waha_events (received_at) where status in ('pending', 'deferred');

create table blocks (
    blocker_id  uuid not null references users (id) on delete cascade,
    blocked_id  uuid not null references users (id) on delete cascade,
    created_at  timestamptz not null default now(),
    primary key (blocker_id, blocked_id),
    constraint blocks_not_self_check check (blocker_id <> blocked_id)
);

create table reports (
    id                uuid primary key,
    reporter_id       uuid not null references users (id) on delete cascade,
    reported_user_id  uuid not null references users (id) on delete cascade,
    conversation_id   uuid references conversations (id) on delete set null,
    message_id        uuid references messages (id) on delete set null,
    reason            text not null constraint reports_reason_check check (char_length(reason) between 1 and 2000),
    status            text not null default 'open'
        constraint reports_status_check check (status in ('open', 'resolved', 'dismissed')),
    resolved_by       uuid references users (id) on delete set null,
    resolved_at       timestamptz,
    resolution_note   text,
    created_at        timestamptz not null default now()
);
create index reports_open_idx on reports (created_at) where status = 'open';

-- Who did what, when, with what result. Never holds message bodies or secrets.
create table audit_log (
    id             bigint generated always as identity primary key,
    actor_user_id  uuid references users (id) on delete set null,
    actor_role     text,
    action         text not null,
    target_type    text,
    target_id      text,
    result         text not null constraint audit_log_result_check check (result in ('ok', 'error')),
    detail         jsonb not null default '{}',
    ip             text,
    created_at     timestamptz not null default now()
);
create index audit_log_time_idx on audit_log (created_at desc, id desc);
create index audit_log_actor_idx on audit_log (actor_user_id, created_at desc);
