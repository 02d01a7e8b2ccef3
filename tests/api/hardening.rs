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
async fn notes_already_in_buyers_streams_are_purged(pool: PgPool) {
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
    let note_id = note(&app, &w.agent, &w.conv, "Secret").await;
    let buyer: Uuid = w.buyer.id.parse().unwrap();
    let note: Uuid = note_id.parse().unwrap();
    // What the old code left behind: the note in the buyer's stream, a read receipt naming
    // it, and the buyer's read marker on it.
    for (seq, kind, payload) in [
        (
            100i64,
            "message.created",
            json!({"conversation_id": w.conv, "message": {"id": note_id, "kind": "note", "body": "Secret"}}),
        ),
        (
            101,
            "read",
            json!({"conversation_id": w.conv, "user_id": w.agent.id, "up_to": note_id}),
        ),
    ] {
        sqlx::query(
            "insert into user_events (user_id, seq, kind, payload) values ($1, $2, $3, $4)",
        )
        .bind(buyer)
        .bind(seq)
        .bind(kind)
        .bind(payload)
        .execute(&app.pool)
        .await
        .unwrap();
    }
    sqlx::query(
        "insert into conversation_reads (conversation_id, user_id, last_read_message_id, last_read_at)
         values ($1, $2, $3, now()) on conflict (conversation_id, user_id) do update set last_read_message_id = $3",
    )
    .bind(w.conv.parse::<Uuid>().unwrap())
    .bind(buyer)
    .bind(note)
    .execute(&app.pool)
    .await
    .unwrap();
    sqlx::raw_sql(include_str!(
        "../../migrations/20261201000011_purge_buyer_note_events.sql"
    ))
    .execute(&app.pool)
    .await
    .unwrap();
    let stream = stored_stream(&app, &w.buyer).await;
    assert!(!stream.contains(&note_id), "{stream}");
    let marker: Option<Uuid> = sqlx::query_scalar(
        "select last_read_message_id from conversation_reads where user_id = $1",
    )
    .bind(buyer)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(marker.unwrap().to_string(), first["id"].as_str().unwrap());
    assert!(
        stored_stream(&app, &w.agent).await.contains(&note_id),
        "staff keep theirs"
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

#[sqlx::test]
async fn edited_and_deleted_text_is_never_replayed_or_notified(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let w = world(&app).await;
    let c = &w.conv;
    let edited = expect_status(
        send(
            &app,
            &w.buyer,
            c,
            json!({"client_id": "e1", "body": "Mi DNI es 12345678Z"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let gone = expect_status(
        send(
            &app,
            &w.buyer,
            c,
            json!({"client_id": "e2", "body": "Vivo en la calle Sol 3"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let kept = expect_status(
        send(
            &app,
            &w.buyer,
            c,
            json!({"client_id": "e3", "body": "¿Sigue disponible?"}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let (eid, gid) = (edited["id"].as_str().unwrap(), gone["id"].as_str().unwrap());
    // Both were stored in the streams before the change.
    assert!(stored_stream(&app, &w.agent).await.contains("12345678Z"));
    expect_status(
        app.patch(
            &format!("/api/v1/conversations/{c}/messages/{eid}"),
            &json!({"body": "Le paso mis datos luego"}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        app.delete(
            &format!("/api/v1/conversations/{c}/messages/{gid}"),
            Some(&w.buyer.access)
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );

    for who in [&w.agent, &w.buyer] {
        let stream = stored_stream(&app, who).await;
        assert!(
            !stream.contains("12345678Z") && !stream.contains("calle Sol"),
            "{stream}"
        );
        assert!(stream.contains("Le paso mis datos luego") && stream.contains("Sigue disponible"));
        let mut replay = Ws::connect(&app, &who.access, Some(0)).await;
        while replay.next(2).await.is_some() {}
        let replayed = serde_json::to_string(&replay.seen).unwrap();
        assert!(replayed.contains("Le paso mis datos luego"), "{replayed}");
        assert!(
            !replayed.contains("12345678Z") && !replayed.contains("calle Sol"),
            "{replayed}"
        );
    }
    let notes = expect_status(
        app.get("/api/v1/notifications", Some(&w.agent.access))
            .await,
        StatusCode::OK,
    )
    .await;
    let text = notes.to_string();
    assert!(text.contains(kept["id"].as_str().unwrap()), "{text}");
    assert!(
        !text.contains("12345678Z") && !text.contains("calle Sol"),
        "{text}"
    );
    // The thread itself shows the deletion without its text.
    let page = expect_status(
        app.get(
            &format!("/api/v1/conversations/{c}/messages"),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let deleted = page
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == gid)
        .unwrap();
    assert!(deleted["body"].is_null() && deleted["deleted_at"].is_string());
    assert_eq!(deleted["meta"], json!({}));
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
    // Nor can the buyer open a new conversation with the agent about another listing.
    let listing = Uuid::now_v7();
    sqlx::query(
        "insert into properties (id, agency_id, agent_id, title, description, price_cents, city, property_type)
         select $1, agency_id, id, 'Otro piso', 'x', 10000000, 'Cádiz', 'apartment' from users where id = $2",
    )
    .bind(listing)
    .bind(w.agent.id.parse::<Uuid>().unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
    expect_problem(
        app.post(
            "/api/v1/conversations",
            &json!({"property_id": listing}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::FORBIDDEN,
        "blocked",
    )
    .await;
    let convs: i64 = sqlx::query_scalar("select count(*) from conversations")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(convs, 1, "no conversation was opened");
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

// ---------------------------------------------------------------------------------------------
// 3. A socket does not outlive its account, session or token.

/// A raw socket, to see how the server closes it.
struct RawWs(
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>,
);

impl RawWs {
    async fn open(app: &TestApp, query: &str) -> Self {
        let url = format!("{}/api/v1/ws?{query}", app.base.replace("http://", "ws://"));
        let (stream, _) = tokio_tungstenite::connect_async(url)
            .await
            .expect("ws connect");
        let mut ws = Self(stream);
        let hello = ws.frame(5).await.expect("hello");
        assert_eq!(hello["type"], "hello");
        ws
    }

    async fn token(app: &TestApp, token: &str) -> Self {
        Self::open(app, &format!("access_token={token}")).await
    }

    async fn send(&mut self, v: Value) {
        use futures_util::SinkExt;
        self.0
            .send(tokio_tungstenite::tungstenite::Message::Text(
                v.to_string().into(),
            ))
            .await
            .unwrap();
    }

    /// The next text frame (None: closed, or nothing within `secs`).
    async fn frame(&mut self, secs: u64) -> Option<Value> {
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let msg = tokio::time::timeout_at(deadline, self.0.next())
                .await
                .ok()??;
            if let tokio_tungstenite::tungstenite::Message::Text(t) = msg.ok()? {
                return Some(serde_json::from_str(t.as_str()).unwrap());
            }
        }
    }

    /// Wait up to `secs` for the server to close; its (code, reason).
    async fn closed(&mut self, secs: u64) -> (u16, String) {
        use futures_util::StreamExt;
        let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(secs);
        loop {
            let msg = tokio::time::timeout_at(deadline, self.0.next())
                .await
                .expect("the server did not close the socket in time");
            match msg {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(f)))) => {
                    return (u16::from(f.code), f.reason.to_string())
                }
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(None))) | None => {
                    panic!("closed without a close code")
                }
                Some(Ok(_)) => continue,
                Some(Err(e)) => panic!("socket error instead of a close: {e}"),
            }
        }
    }

    /// The socket still answers.
    async fn alive(&mut self) {
        self.send(json!({"type": "ping"})).await;
        loop {
            let f = self.frame(5).await.expect("the socket is still open");
            if f["type"] == "pong" {
                return;
            }
        }
    }
}

#[sqlx::test]
async fn sockets_close_on_every_replica_when_the_account_or_session_ends(pool: PgPool) {
    let app = TestApp::spawn_with(pool.clone(), |c| c.waha.supervise = false).await;
    // A second replica on the same database.
    let other = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let w = world(&app).await;

    // Deactivation (on one replica) closes the agent's socket (on the other): 4001.
    let mut agent_ws = RawWs::token(&other, &w.agent.access).await;
    agent_ws.alive().await;
    expect_status(
        app.post(
            &format!("/api/v1/agency/agents/{}/deactivate", w.agent.id),
            &json!({}),
            Some(&w.admin.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        agent_ws.closed(5).await,
        (4001, "account_inactive".to_string())
    );

    // Two sessions of the buyer; logging one out closes only its socket: 4002 session_ended.
    let second = app
        .login("buyer@example.com", crate::helpers::PASSWORD)
        .await;
    let mut first_ws = RawWs::token(&other, &w.buyer.access).await;
    let mut second_ws = RawWs::token(&other, &second.access).await;
    expect_status(
        app.post(
            "/api/v1/auth/logout",
            &json!({"refresh_token": w.buyer.refresh}),
            None,
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(
        first_ws.closed(5).await,
        (4002, "session_ended".to_string())
    );
    second_ws.alive().await;

    // A ticket's socket belongs to the session of the token that asked for it; changing the
    // password ends every earlier session: 4002 password_changed.
    let ticket = expect_status(
        app.post("/api/v1/ws/ticket", &json!({}), Some(&second.access))
            .await,
        StatusCode::OK,
    )
    .await["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    let mut ticket_ws = RawWs::open(&other, &format!("ticket={ticket}")).await;
    let changed = expect_status(
        app.patch(
            "/api/v1/me",
            &json!({"current_password": crate::helpers::PASSWORD, "new_password": "a much newer passphrase"}),
            Some(&second.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        second_ws.closed(5).await,
        (4002, "password_changed".to_string())
    );
    assert_eq!(
        ticket_ws.closed(5).await,
        (4002, "password_changed".to_string())
    );
    // The session the change handed out keeps working.
    let fresh = changed["tokens"]["access_token"].as_str().unwrap();
    RawWs::token(&other, fresh).await.alive().await;
}

#[sqlx::test]
async fn a_socket_lives_as_long_as_its_token_unless_the_client_renews_it(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| {
        c.waha.supervise = false;
        c.access_token_ttl_secs = 3;
    })
    .await;
    let w = world(&app).await;
    // Opened with a ticket: the socket lives to the asking token's expiry.
    let buyer = app
        .login("buyer@example.com", crate::helpers::PASSWORD)
        .await;
    let ticket = expect_status(
        app.post("/api/v1/ws/ticket", &json!({}), Some(&buyer.access))
            .await,
        StatusCode::OK,
    )
    .await["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    let mut expiring = RawWs::open(&app, &format!("ticket={ticket}")).await;
    let mut renewed = RawWs::token(&app, &buyer.access).await;

    // Another user's token does not renew it; a newer token of the same user does.
    renewed
        .send(json!({"type": "auth", "access_token": w.agent.access}))
        .await;
    let err = renewed.frame(5).await.unwrap();
    assert_eq!(err["code"], "wrong_user", "{err}");
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    let newer = app
        .login("buyer@example.com", crate::helpers::PASSWORD)
        .await;
    renewed
        .send(json!({"type": "auth", "access_token": newer.access}))
        .await;
    let ok = renewed.frame(5).await.unwrap();
    assert_eq!(ok["type"], "auth_ok", "{ok}");

    assert_eq!(
        expiring.closed(6).await,
        (4003, "token_expired".to_string())
    );
    // The renewed socket outlived the first token, then ends with the newer one.
    renewed.alive().await;
    assert_eq!(renewed.closed(6).await, (4003, "token_expired".to_string()));
}

// ---------------------------------------------------------------------------------------------
// 4. Bad input is refused early, without harming other work.

#[sqlx::test]
async fn an_oversized_websocket_frame_is_refused_at_its_header(pool: PgPool) {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let w = world(&app).await;
    let mut ws = Ws::connect(&app, &w.buyer.access, None).await;
    ws.next(5).await; // hello
                      // A masked text frame announcing 10 MiB, of which only the header and a little is sent:
                      // the server must refuse it from the header, not wait to buffer 10 MiB.
    let mut frame = vec![0x81u8, 0x80 | 127];
    frame.extend_from_slice(&(10u64 * 1024 * 1024).to_be_bytes());
    frame.extend_from_slice(&[1, 2, 3, 4]);
    frame.extend_from_slice(&[b'x'; 1024]);
    match ws.stream.get_mut() {
        tokio_tungstenite::MaybeTlsStream::Plain(tcp) => tcp.write_all(&frame).await.unwrap(),
        _ => unreachable!("plain ws"),
    }
    let next = tokio::time::timeout(std::time::Duration::from_secs(5), ws.stream.next())
        .await
        .expect("the server waited for the rest of a 10 MiB frame");
    match next {
        Some(Ok(tokio_tungstenite::tungstenite::Message::Close(Some(f)))) => {
            assert_eq!(u16::from(f.code), 1009, "message too big: {f:?}")
        }
        // The server may drop the connection after its close frame.
        Some(Err(_)) | None => {}
        other => panic!("unexpected answer to an oversized frame: {other:?}"),
    }
}

/// A WAHA stand-in answering `body_len` bytes of JSON to every request.
async fn huge_waha(body_len: usize) -> String {
    use axum::routing::any;
    let app = axum::Router::new().fallback(any(move || async move {
        let chunk = vec![b' '; 64 * 1024];
        let chunks = body_len / chunk.len();
        let stream = futures_util::stream::iter(
            (0..chunks)
                .map(move |_| Ok::<_, std::io::Error>(axum::body::Bytes::from(chunk.clone()))),
        );
        (
            [("content-type", "application/json")],
            axum::body::Body::from_stream(stream),
        )
    }));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

#[tokio::test]
async fn waha_answers_are_capped_while_they_stream() {
    let base = huge_waha(64 * 1024 * 1024).await;
    let client = puente::waha::WahaClient::new(
        puente::waha::WahaClient::http_client().unwrap(),
        &base,
        "key-key-key-key-key",
    )
    .unwrap();
    match client.session().await {
        Err(puente::waha::WahaError::TooLarge { max_bytes }) => {
            assert_eq!(max_bytes, puente::waha::client::MAX_JSON_BYTES)
        }
        other => panic!("a 64 MiB JSON answer was read: {other:?}"),
    }
    match client
        .download_media(&format!("{base}/api/files/default/x.jpg"), 1024 * 1024)
        .await
    {
        Err(puente::waha::WahaError::TooLarge { max_bytes }) => assert_eq!(max_bytes, 1024 * 1024),
        other => panic!("media over the limit was read: {other:?}"),
    }
}

#[sqlx::test]
async fn any_file_name_downloads_with_a_valid_disposition(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let w = world(&app).await;
    let id = Uuid::now_v7();
    let key = puente::files::new_key();
    app.state.files.put(&key, b"%PDF-1.4").await.unwrap();
    // What a WhatsApp sender can put in a document's name.
    let name = "Contrato\u{1}\r\n\"final\"\\ 家.pdf";
    sqlx::query(
        "insert into files (id, owner_user_id, storage_key, mimetype, size_bytes, sha256, original_name)
         values ($1, $2, $3, 'application/pdf', 8, $4, $5)",
    )
    .bind(id)
    .bind(w.buyer.id.parse::<Uuid>().unwrap())
    .bind(&key)
    .bind(puente::files::sha256(b"%PDF-1.4"))
    .bind(name)
    .execute(&app.pool)
    .await
    .unwrap();
    let resp = app
        .get(&format!("/api/v1/files/{id}"), Some(&w.buyer.access))
        .await;
    assert_eq!(resp.status(), StatusCode::OK);
    let disposition = resp.headers()["content-disposition"]
        .to_str()
        .unwrap()
        .to_string();
    assert!(
        disposition.starts_with("attachment; filename=\"Contrato_final__ _.pdf\""),
        "{disposition}"
    );
    assert!(
        disposition.ends_with("filename*=UTF-8''Contrato%22final%22%5C%20%E5%AE%B6.pdf"),
        "{disposition}"
    );
    assert_eq!(resp.bytes().await.unwrap().as_ref(), b"%PDF-1.4");
}

fn crc32(bytes: &[u8]) -> u32 {
    let mut crc = 0xFFFF_FFFFu32;
    for &b in bytes {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 == 1 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// A PNG claiming `w`×`h` pixels (its header is all a size check needs to read).
fn png_claiming(w: u32, h: u32) -> Vec<u8> {
    let mut png = b"\x89PNG\r\n\x1a\n".to_vec();
    let mut chunk = |kind: &[u8], data: &[u8]| {
        png.extend_from_slice(&(data.len() as u32).to_be_bytes());
        let mut body = kind.to_vec();
        body.extend_from_slice(data);
        png.extend_from_slice(&body);
        png.extend_from_slice(&crc32(&body).to_be_bytes());
    };
    let mut ihdr = Vec::new();
    ihdr.extend_from_slice(&w.to_be_bytes());
    ihdr.extend_from_slice(&h.to_be_bytes());
    ihdr.extend_from_slice(&[8, 2, 0, 0, 0]); // 8-bit RGB
    chunk(b"IHDR", &ihdr);
    chunk(b"IDAT", &[0x78, 0x9c, 0x03, 0x00, 0x00, 0x00, 0x00, 0x01]);
    chunk(b"IEND", &[]);
    png
}

#[sqlx::test]
async fn an_image_too_large_is_refused_from_its_header(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let w = world(&app).await;
    let resp = app
        .client
        .post(app.url("/api/v1/files"))
        .bearer_auth(&w.buyer.access)
        .header("content-type", "image/png")
        .body(png_claiming(7999, 7999))
        .send()
        .await
        .unwrap();
    let problem = expect_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    assert!(problem.to_string().contains("7999×7999"), "{problem}");
    let stored: i64 = sqlx::query_scalar("select count(*) from files")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 0);
}

#[sqlx::test]
async fn a_nul_character_neither_fails_its_webhook_nor_the_others_batched_with_it(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let admin = app.register_admin("admin@nul.example", "Nul Homes").await;
    let agent = app.register_agent(&admin, "agent@nul.example").await;
    let agency: Uuid = admin.body["user"]["agency_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let mut links = Vec::new();
    for n in 0..2 {
        let id = Uuid::now_v7();
        puente::db::links::insert(
            &app.pool,
            id,
            agent.id.parse().unwrap(),
            agency,
            "GOWS",
            "puente/waha-emulator:dev",
            &format!("c{n}"),
        )
        .await
        .unwrap();
        let key = puente::links::keys::hmac_key(
            app.state.config.waha.master_secret.expose().as_bytes(),
            id,
            1,
        );
        links.push((id, key));
    }
    // The poison event's JSON holds \u0000 (as WAHA escapes a NUL in a message's text), sent
    // together with ordinary events of both links so they share the writer's batches.
    let body_of = |id: &str, text: &str| {
        format!(
            r#"{{"id":"{id}","timestamp":1,"event":"engine.event","session":"default","payload":{{"text":"{text}"}}}}"#
        )
        .into_bytes()
    };
    let mut posts = Vec::new();
    for i in 0..24 {
        let (link, key) = &links[i % 2];
        let body = if i == 5 {
            body_of("evt_poison", r"hola\u0000adios")
        } else {
            body_of(&format!("evt_{i}"), "ok")
        };
        let sig = puente::waha::signature::sign(key.as_bytes(), &body);
        let req = app
            .client
            .post(app.url(&format!("/webhooks/waha/{link}")))
            .header("content-type", "application/json")
            .header("x-webhook-hmac", sig)
            .header("x-webhook-hmac-algorithm", "sha512")
            .body(body);
        posts.push(async move { req.send().await.unwrap().status() });
    }
    let statuses = futures_util::future::join_all(posts).await;
    assert!(
        statuses.iter().all(|s| *s == StatusCode::OK),
        "every event stored: {statuses:?}"
    );
    let stored: i64 = sqlx::query_scalar("select count(*) from waha_events")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 24);
    let (text, raw): (String, Vec<u8>) = sqlx::query_as(
        "select payload -> 'payload' ->> 'text', body from waha_events where event_id = 'evt_poison'",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        text, "hola\u{FFFD}adios",
        "stored with the replacement character"
    );
    assert!(
        String::from_utf8(raw).unwrap().contains(r"hola\u0000adios"),
        "the raw body keeps the exact bytes"
    );
}

#[sqlx::test]
async fn cors_answers_configured_origins_only(pool: PgPool) {
    let preflight = |app: &TestApp, origin: &str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/api/v1/me"))
            .header("origin", origin)
            .header("access-control-request-method", "PATCH")
            .header(
                "access-control-request-headers",
                "authorization, content-type",
            )
            .send()
    };
    // By default no origin is allowed: the app is same-origin.
    let app = TestApp::spawn_with(pool.clone(), |c| c.waha.supervise = false).await;
    let resp = preflight(&app, "https://app.example.com").await.unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    let resp = app
        .client
        .get(app.url("/healthz"))
        .header("origin", "https://app.example.com")
        .send()
        .await
        .unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    app.stop();

    let app = TestApp::spawn_with(pool, |c| {
        c.waha.supervise = false;
        c.cors_origins = vec!["https://app.example.com".into()];
    })
    .await;
    let resp = preflight(&app, "https://app.example.com").await.unwrap();
    assert!(resp.status().is_success(), "{}", resp.status());
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    assert!(h["access-control-allow-methods"]
        .to_str()
        .unwrap()
        .contains("PATCH"));
    assert!(h.get("access-control-allow-credentials").is_none());
    let resp = preflight(&app, "https://evil.example").await.unwrap();
    assert!(resp.headers().get("access-control-allow-origin").is_none());
    // A real request from the allowed origin can read the API's answer and its Retry-After.
    let resp = app
        .client
        .post(app.url("/api/v1/auth/login"))
        .header("origin", "https://app.example.com")
        .json(&json!({"email": "nobody@example.com", "password": "wrong password"}))
        .send()
        .await
        .unwrap();
    let h = resp.headers();
    assert_eq!(h["access-control-allow-origin"], "https://app.example.com");
    assert!(h["access-control-expose-headers"]
        .to_str()
        .unwrap()
        .contains("retry-after"));
}

#[sqlx::test]
async fn json_is_compressed_for_clients_that_ask(pool: PgPool) {
    // gzip only: brotli's encoder would take the image past its size budget.
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let plain = app
        .client
        .get(app.url("/api/openapi.json"))
        .send()
        .await
        .unwrap();
    assert!(plain.headers().get("content-encoding").is_none());
    let plain = plain.bytes().await.unwrap();
    assert!(serde_json::from_slice::<Value>(&plain).is_ok());
    for (encoding, magic) in [("gzip", &[0x1f_u8, 0x8b][..])] {
        let resp = app
            .client
            .get(app.url("/api/openapi.json"))
            .header("accept-encoding", encoding)
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-encoding"], encoding);
        let packed = resp.bytes().await.unwrap();
        assert!(packed.starts_with(magic));
        assert!(
            packed.len() * 4 < plain.len(),
            "{encoding}: {} of {} bytes",
            packed.len(),
            plain.len()
        );
    }
}
