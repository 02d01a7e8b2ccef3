//! Notifications: what a user should not miss between visits, read from their stored event
//! stream rather than kept twice.
//!
//! A notification is one of the user's `user_events` after their clear mark
//! (`notification_marks`) that is a `message.created` written by someone else — not by the
//! user (`author_user_id`), and not an agent's own message sent from their phone (`out` with
//! no author user) — or a `link.status`. Clearing moves the mark forward, never back, and
//! never past the user's newest event (so later events still count).

use uuid::Uuid;

use super::Event;
use crate::error::Result;

/// Event types that can be notifications.
pub const KINDS: &[&str] = &["message.created", "link.status"];

/// The newest `limit` notifications (newest first) and how many there are in all.
pub async fn list(db: &sqlx::PgPool, user: Uuid, limit: i64) -> Result<(Vec<Event>, i64)> {
    let rows = sqlx::query!(
        r#"select e.seq, e.kind, e.payload, e.created_at, count(*) over () as "unread!"
           from user_events e
           where e.user_id = $1
             and e.seq > coalesce((select cleared_seq from notification_marks where user_id = $1), 0)
             and e.kind = any($2)
             and (e.kind <> 'message.created' or (
                  (e.payload -> 'message' ->> 'author_user_id') is distinct from $1::uuid::text
                  and not (e.payload -> 'message' ->> 'direction' = 'out'
                           and e.payload -> 'message' ->> 'author_user_id' is null)))
           order by e.seq desc limit $3"#,
        user,
        KINDS as &[&str],
        limit
    )
    .fetch_all(db)
    .await?;
    let unread = rows.first().map_or(0, |r| r.unread);
    let items = rows
        .into_iter()
        .map(|r| Event {
            seq: r.seq,
            kind: r.kind,
            data: r.payload,
            at: r.created_at,
        })
        .collect();
    Ok((items, unread))
}

/// Move the user's mark to `up_to` (default: their newest event); returns the mark.
pub async fn clear(db: &sqlx::PgPool, user: Uuid, up_to: Option<i64>) -> Result<i64> {
    Ok(sqlx::query_scalar!(
        r#"insert into notification_marks (user_id, cleared_seq)
           select $1, least(coalesce($2, s.last), s.last)
           from (select coalesce((select last_seq from user_event_seqs where user_id = $1), 0) as last) s
           on conflict (user_id) do update
               set cleared_seq = greatest(notification_marks.cleared_seq, excluded.cleared_seq),
                   cleared_at = now()
           returning cleared_seq"#,
        user,
        up_to
    )
    .fetch_one(db)
    .await?)
}
