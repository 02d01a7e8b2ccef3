-- What each link's WAHA image says it is (GET /api/server/version), read on every container
-- start: operators see it, and images too old to sign webhooks are refused.
alter table whatsapp_links
    add column waha_version text,
    add column waha_engine text,
    add column waha_tier text,
    -- The container start (Docker's StartedAt) whose session Puente last prepared: created or
    -- started with Puente's config. WAHA Core keeps session config only in memory, so every
    -- new start needs it again.
    add column session_prepared_for timestamptz;
