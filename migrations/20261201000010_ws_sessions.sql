-- A WebSocket lives as long as the access token it was opened with (unless the client
-- refreshes it over the socket) and ends with that token's session: a ticket keeps both.
alter table realtime_tickets
    add column token_expires_at timestamptz,
    add column session_id uuid;
