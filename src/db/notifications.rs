//! Notification marks (`notification_marks`): how far into their event stream a user has
//! cleared their notifications, and the notifications after it.

use uuid::Uuid;

use super::realtime::EventRow;
use crate::error::Result;

/// The newest `limit` of `user`'s events after their mark whose kind is one of `kinds`
/// (newest first), leaving out the messages they wrote themselves (or, as an agent, sent from
/// their phone), and how many such events there are in all.
pub async fn list(
    db: &sqlx::PgPool,
    user: Uuid,
    kinds: &[&str],
    limit: i64,
) -> Result<(Vec<EventRow>, i64)> {
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
        kinds as &[&str],
        limit
    )
    .fetch_all(db)
    .await?;
    let unread = rows.first().map_or(0, |r| r.unread);
    let items = rows
        .into_iter()
        .map(|r| EventRow {
            seq: r.seq,
            kind: r.kind,
            payload: r.payload,
            created_at: r.created_at,
        })
        .collect();
    Ok((items, unread))
}

/// Move the user's mark to `up_to` (default: their newest event), never back and never past
/// their newest event; returns the mark.
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
