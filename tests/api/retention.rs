//! The retention sweep removes what only grows — settled webhook events, finished outbox
//! jobs, old realtime events, files nothing carries — after its setting, and nothing else.

use reqwest::StatusCode;
use serde_json::json;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{expect_status, TestApp};

async fn count(pool: &PgPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

#[sqlx::test]
async fn the_sweep_removes_only_what_its_settings_let_go(pool: PgPool) {
    let dir = std::env::temp_dir().join(format!("puente-retention-{}", Uuid::now_v7().simple()));
    let files_dir = dir.clone();
    let app = TestApp::spawn_with(pool, move |c| {
        c.waha.supervise = false;
        c.data_dir = files_dir;
    })
    .await;
    let admin = app.register_admin("admin@ret.example", "Ret Homes").await;
    let agent = app.register_agent(&admin, "agent@ret.example").await;
    let buyer = app.register_buyer("buyer@example.com").await;
    let agent_id: Uuid = agent.id.parse().unwrap();
    let agency: Uuid = admin.body["user"]["agency_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let link = Uuid::now_v7();
    puente::db::links::insert(
        &app.pool,
        link,
        agent_id,
        agency,
        "NOWEB",
        "puente/waha-emulator:dev",
        "x",
    )
    .await
    .unwrap();

    // Webhook events: settled old ones go; pending, deferred and recent ones stay.
    for (n, status, days) in [
        (1, "applied", 30),
        (2, "skipped", 30),
        (3, "malformed", 30),
        (4, "failed", 30),
        (5, "pending", 30),
        (6, "deferred", 30),
        (7, "applied", 1),
    ] {
        sqlx::query(
            "insert into waha_events (link_id, event_id, event, body, status, received_at)
             values ($1, $2, 'message', '\\x7b7d', $3, now() - make_interval(days => $4))",
        )
        .bind(link)
        .bind(format!("evt_{n}"))
        .bind(status)
        .bind(days)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    // Outbox jobs: finished long ago go; finished lately and unfinished stay.
    for (done_days, created_days) in [(Some(20), 21), (Some(1), 2), (None, 30)] {
        sqlx::query(
            "insert into outbox (kind, link_id, created_at, done_at)
             values ('send', $1, now() - make_interval(days => $2),
                     now() - make_interval(days => $3))",
        )
        .bind(link)
        .bind(created_days)
        .bind(done_days)
        .execute(&app.pool)
        .await
        .unwrap();
    }

    // Files: a sent upload stays however old; an unsent old one goes, bytes included; an
    // unsent fresh one stays.
    let property = Uuid::now_v7();
    sqlx::query(
        "insert into properties (id, agency_id, agent_id, title, description, price_cents, city, property_type)
         values ($1, $2, $3, 'Casa', 'Con patio', 10000000, 'Cádiz', 'house')",
    )
    .bind(property)
    .bind(agency)
    .bind(agent_id)
    .execute(&app.pool)
    .await
    .unwrap();
    let conv = expect_status(
        app.post(
            "/api/v1/conversations",
            &json!({"property_id": property}),
            Some(&buyer.access),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let mut uploads = Vec::new();
    for name in ["sent", "abandoned", "fresh"] {
        let resp = app
            .client
            .post(app.url(&format!("/api/v1/files?name={name}.pdf")))
            .bearer_auth(&buyer.access)
            .header("content-type", "application/pdf")
            .body(format!("%PDF {name}").into_bytes())
            .send()
            .await
            .unwrap();
        uploads.push(
            expect_status(resp, StatusCode::CREATED).await["id"]
                .as_str()
                .unwrap()
                .to_string(),
        );
    }
    expect_status(
        app.post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &json!({"client_id": "f", "file_id": uploads[0]}),
            Some(&buyer.access),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    sqlx::query(
        "update files set created_at = now() - interval '3 days' where id = any($1::uuid[])",
    )
    .bind(&uploads[..2])
    .execute(&app.pool)
    .await
    .unwrap();
    let on_disk = || std::fs::read_dir(&dir).map_or(0, |d| d.count());
    assert_eq!(on_disk(), 3);

    // Realtime events older than their setting go.
    let events_before = count(&app.pool, "select count(*) from user_events").await;
    assert!(events_before > 0);
    sqlx::query(
        "update user_events set created_at = now() - interval '10 days'
         where seq = (select min(seq) from user_events e2 where e2.user_id = user_events.user_id)",
    )
    .execute(&app.pool)
    .await
    .unwrap();
    let aged = count(
        &app.pool,
        "select count(*) from user_events where created_at < now() - interval '7 days'",
    )
    .await;

    let removed = puente::supervise::retention::sweep(&app.state)
        .await
        .unwrap();
    assert_eq!(removed.webhook_events, 4);
    assert_eq!(removed.outbox_jobs, 1);
    assert_eq!(removed.files, 1);
    assert_eq!(removed.realtime_events, aged as u64);

    let left: Vec<String> =
        sqlx::query_scalar("select event_id from waha_events order by event_id")
            .fetch_all(&app.pool)
            .await
            .unwrap();
    assert_eq!(left, ["evt_5", "evt_6", "evt_7"]);
    assert_eq!(count(&app.pool, "select count(*) from outbox").await, 2);
    let files_left: Vec<String> = sqlx::query_scalar("select id::text from files order by id")
        .fetch_all(&app.pool)
        .await
        .unwrap();
    assert_eq!(files_left, [uploads[0].clone(), uploads[2].clone()]);
    assert_eq!(
        on_disk(),
        2,
        "the abandoned upload's bytes went with its row"
    );
    // The sent file still downloads.
    let got = app
        .get(
            &format!("/api/v1/files/{}", uploads[0]),
            Some(&agent.access),
        )
        .await;
    assert_eq!(got.status(), StatusCode::OK);
    // A second sweep finds nothing.
    let again = puente::supervise::retention::sweep(&app.state)
        .await
        .unwrap();
    assert_eq!(again.total(), 0);
    let _ = std::fs::remove_dir_all(&dir);
}
