//! Findings of the security review, each pinned by a test: internal notes never reach a
//! buyer by any path, blocks hold on every write path, sockets close when the account or
//! session behind them ends, and bad input is refused without harming other work.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{expect_problem, expect_status, Session, TestApp, Ws};

struct World {
    admin: Session,
    agent: Session,
    buyer: Session,
    conv: String,
}

/// An agency with one agent and a listing, and a buyer's in-app conversation about it.
async fn world(app: &TestApp) -> World {
    let admin = app.register_admin("admin@hard.example", "Hard Homes").await;
    let agent = app.register_agent(&admin, "agent@hard.example").await;
    let buyer = app.register_buyer("buyer@example.com").await;
    let property = Uuid::now_v7();
    sqlx::query(
        "insert into properties (id, agency_id, agent_id, title, description, price_cents, city, property_type)
         select $1, agency_id, id, 'Piso', 'Con balcón', 20000000, 'Sevilla', 'apartment' from users where id = $2",
    )
    .bind(property)
    .bind(agent.id.parse::<Uuid>().unwrap())
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
    World {
        admin,
        agent,
        buyer,
        conv,
    }
}

async fn send(app: &TestApp, who: &Session, conv: &str, body: Value) -> reqwest::Response {
    app.post(
        &format!("/api/v1/conversations/{conv}/messages"),
        &body,
        Some(&who.access),
    )
    .await
}

async fn note(app: &TestApp, who: &Session, conv: &str, body: &str) -> String {
    expect_status(
        app.post(
            &format!("/api/v1/conversations/{conv}/notes"),
            &json!({"body": body}),
            Some(&who.access),
        )
        .await,
        StatusCode::CREATED,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// Everything stored for a user to read later (replay, notifications), as one text.
async fn stored_stream(app: &TestApp, user: &Session) -> String {
    let rows: Vec<(String, Value)> =
        sqlx::query_as("select kind, payload from user_events where user_id = $1 order by seq")
            .bind(user.id.parse::<Uuid>().unwrap())
            .fetch_all(&app.pool)
            .await
            .unwrap();
    serde_json::to_string(&rows).unwrap()
}

// ---------------------------------------------------------------------------------------------
// 1. Internal notes never reach a buyer.

#[sqlx::test]
async fn a_buyer_cannot_name_a_note_on_any_path(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let w = world(&app).await;
    let first = expect_status(
        send(
            &app,
            &w.buyer,
            &w.conv,
            json!({"client_id": "b1", "body": "Hola"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let note_id = note(&app, &w.agent, &w.conv, "Secret: offers 10% less").await;
    let c = &w.conv;

    // Reacting to it: as unknown as a wrong id, and nothing of it comes back.
    let resp = app
        .post(
            &format!("/api/v1/conversations/{c}/messages/{note_id}/reactions"),
            &json!({"emoji": "👍"}),
            Some(&w.buyer.access),
        )
        .await;
    let body = expect_problem(resp, StatusCode::NOT_FOUND, "not_found").await;
    assert!(!body.to_string().contains("Secret"), "{body}");
    // Replying to it.
    expect_problem(
        send(
            &app,
            &w.buyer,
            c,
            json!({"client_id": "b2", "body": "?", "reply_to": note_id}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // Reading up to it.
    expect_problem(
        app.post(
            &format!("/api/v1/conversations/{c}/read"),
            &json!({"up_to": note_id}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // Paging from it: the same answer as for an id that does not exist.
    for dir in ["before", "after"] {
        let with_note = app
            .get(
                &format!("/api/v1/conversations/{c}/messages?{dir}={note_id}"),
                Some(&w.buyer.access),
            )
            .await;
        expect_problem(
            with_note,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    // Staff still can.
    expect_status(
        app.get(
            &format!("/api/v1/conversations/{c}/messages?before={note_id}"),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    // A buyer's `read` without `up_to` while the note is the newest message marks the newest
    // message they can see, and says so.
    expect_status(
        app.post(
            &format!("/api/v1/conversations/{c}/read"),
            &json!({}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let marker: Option<Uuid> = sqlx::query_scalar(
        "select last_read_message_id from conversation_reads where user_id = $1",
    )
    .bind(w.buyer.id.parse::<Uuid>().unwrap())
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(marker.unwrap().to_string(), first["id"].as_str().unwrap());
    let stream = stored_stream(&app, &w.buyer).await;
    assert!(
        !stream.contains(&note_id),
        "note id in the buyer's stream: {stream}"
    );
}

#[sqlx::test]
async fn nothing_a_buyer_is_sent_or_can_replay_holds_a_note(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let w = world(&app).await;
    let c = &w.conv;
    expect_status(
        send(
            &app,
            &w.buyer,
            c,
            json!({"client_id": "b1", "body": "Hola"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let mut buyer_ws = Ws::connect(&app, &w.buyer.access, None).await;
    buyer_ws.next(5).await; // hello
    let note_id = note(&app, &w.agent, c, "Secret: cash buyer").await;

    // Staff react to the note: the buyer hears nothing.
    expect_status(
        app.post(
            &format!("/api/v1/conversations/{c}/messages/{note_id}/reactions"),
            &json!({"emoji": "👀"}),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    // The agent reads up to the note: the buyer is told of the message before it.
    expect_status(
        app.post(
            &format!("/api/v1/conversations/{c}/read"),
            &json!({"up_to": note_id}),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let read = buyer_ws.wait(5, "read", |v| v["type"] == "read").await;
    assert_ne!(read["data"]["up_to"], note_id.as_str());
    // The agent replies to the note: the buyer gets the reply, not what it answers.
    let reply = expect_status(
        send(
            &app,
            &w.agent,
            c,
            json!({"client_id": "a1", "body": "Le llamo mañana", "reply_to": note_id}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        reply["reply_to_id"],
        note_id.as_str(),
        "staff see the anchor"
    );
    let created = buyer_ws
        .wait(5, "message.created", |v| v["type"] == "message.created")
        .await;
    assert!(
        created["data"]["message"]["reply_to_id"].is_null(),
        "{created}"
    );
    let listed = expect_status(
        app.get(
            &format!("/api/v1/conversations/{c}/messages"),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(!listed.to_string().contains(&note_id), "{listed}");
    assert!(!listed.to_string().contains("Secret"), "{listed}");

    // Nothing live, stored, replayed or notified names the note.
    let live = serde_json::to_string(&buyer_ws.seen).unwrap();
    assert!(
        !live.contains(&note_id) && !live.contains("Secret"),
        "{live}"
    );
    let stream = stored_stream(&app, &w.buyer).await;
    assert!(
        !stream.contains(&note_id) && !stream.contains("Secret"),
        "{stream}"
    );
    let mut replay = Ws::connect(&app, &w.buyer.access, Some(0)).await;
    while replay.next(2).await.is_some() {}
    let replayed = serde_json::to_string(&replay.seen).unwrap();
    assert!(
        replayed.contains("Le llamo"),
        "the replay works: {replayed}"
    );
    assert!(!replayed.contains(&note_id), "{replayed}");
    let notes = expect_status(
        app.get("/api/v1/notifications", Some(&w.buyer.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert!(!notes.to_string().contains(&note_id), "{notes}");
    // The agent, of course, heard of all of it.
    let agent_stream = stored_stream(&app, &w.agent).await;
    assert!(agent_stream.contains(&note_id));
    let _ = &w.admin;
}

// ---------------------------------------------------------------------------------------------
// 2. A block holds on every write path.

#[sqlx::test]
async fn a_blocked_buyer_cannot_reach_the_agent_by_any_write_path(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let w = world(&app).await;
    let c = &w.conv;
    let mine = expect_status(
        send(
            &app,
            &w.buyer,
            c,
            json!({"client_id": "b1", "body": "Hola"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let mine_id = mine["id"].as_str().unwrap();
    let theirs = expect_status(
        send(
            &app,
            &w.agent,
            c,
            json!({"client_id": "a1", "body": "Buenas"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let theirs_id = theirs["id"].as_str().unwrap();
    expect_status(
        app.post(
            &format!("/api/v1/users/{}/block", w.buyer.id),
            &json!({}),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let mut agent_ws = Ws::connect(&app, &w.agent.access, None).await;
    agent_ws.next(5).await; // hello

    // Sending, editing an unread message, reacting: 403 blocked, nothing changes.
    expect_problem(
        send(
            &app,
            &w.buyer,
            c,
            json!({"client_id": "b2", "body": "¿Hola?"}),
        )
        .await,
        StatusCode::FORBIDDEN,
        "blocked",
    )
    .await;
    expect_problem(
        app.patch(
            &format!("/api/v1/conversations/{c}/messages/{mine_id}"),
            &json!({"body": "new text the agent should never get"}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::FORBIDDEN,
        "blocked",
    )
    .await;
    expect_problem(
        app.post(
            &format!("/api/v1/conversations/{c}/messages/{theirs_id}/reactions"),
            &json!({"emoji": "😡"}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::FORBIDDEN,
        "blocked",
    )
    .await;
    let body: Option<String> = sqlx::query_scalar("select body from messages where id = $1")
        .bind(mine_id.parse::<Uuid>().unwrap())
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(body.as_deref(), Some("Hola"));
    let reactions: i64 = sqlx::query_scalar("select count(*) from message_reactions")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(reactions, 0);

    // Typing over the socket: refused to the sender, nothing reaches the agent.
    let mut buyer_ws = Ws::connect(&app, &w.buyer.access, None).await;
    buyer_ws.next(5).await;
    buyer_ws
        .send(json!({"type": "typing", "conversation_id": c, "typing": true}))
        .await;
    let err = buyer_ws.wait(5, "error", |v| v["type"] == "error").await;
    assert_eq!(err["code"], "blocked", "{err}");
    // A read receipt moves the buyer's own marker but tells the agent nothing.
    expect_status(
        app.post(
            &format!("/api/v1/conversations/{c}/read"),
            &json!({}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    while agent_ws.next(2).await.is_some() {}
    assert!(
        agent_ws.seen.iter().all(|f| {
            !matches!(
                f["type"].as_str(),
                Some("read" | "typing" | "message.created" | "message.updated")
            )
        }),
        "the agent heard from a buyer they blocked: {:?}",
        agent_ws.seen
    );
    // Blocking is one-way: the agent can still write.
    expect_status(
        send(
            &app,
            &w.agent,
            c,
            json!({"client_id": "a2", "body": "Último aviso"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
}
