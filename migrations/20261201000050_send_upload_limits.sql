-- Rate limits on sends and uploads, and a storage quota per user, count the user's own rows:
-- messages sent through Puente (they carry a client id) and files they uploaded, by time.
-- A deleted upload keeps its row (bytes gone, `deleted_at` set) so it still counts toward
-- the hourly limit while no longer counting toward the quota.
alter table files add column deleted_at timestamptz;
create index messages_author_sent_recent_idx on messages (author_user_id, created_at)
    where client_id is not null;
create index files_owner_time_idx on files (owner_user_id, created_at);
