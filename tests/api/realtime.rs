//! The realtime hub beyond the basics (`links::websocket_requires_auth_and_resumes_without_gaps`
//! covers auth, resume and the socket cap): tickets, typing, read over the socket, presence,
//! resync of a lagging client, two Puente processes on one database, notifications.
//! No containers: in-app conversations and messages are made directly in the database, and
//! events are published with `puente::realtime::publish`.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{expect_problem, expect_status, Session, TestApp, Ws};

async fn spawn(pool: PgPool) -> TestApp {
    TestApp::spawn_with(pool, |c| c.waha.supervise = false).await
}

fn uid(s: &Session) -> Uuid {
    s.id.parse().unwrap()
}

/// An agency with one agent and one buyer.
async fn people(app: &TestApp) -> (Session, Session) {
    let admin = app
        .register_admin("admin@costa.example", "Costa Homes")
        .await;
    let agent = app.register_agent(&admin, "diego@costa.example").await;
    let buyer = app.register_buyer("bea@example.com").await;
    (agent, buyer)
}

/// An in-app conversation whose last activity was `days_ago` days ago.
async fn conversation(pool: &PgPool, agent: &Session, buyer: &Session, days_ago: i32) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into conversations (id, agency_id, agent_id, channel, buyer_id, last_message_at, created_at)
         select $1, u.agency_id, u.id, 'in_app', $3, now() - make_interval(days => $4), now() - make_interval(days => $4)
         from users u where u.id = $2",
    )
    .bind(id)
    .bind(uid(agent))
    .bind(uid(buyer))
    .bind(days_ago)
    .execute(pool)
    .await
    .unwrap();
    id
}

async fn message(pool: &PgPool, conv: Uuid, direction: &str, author: &Session) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into messages (id, conversation_id, direction, author_user_id, body, status)
         values ($1, $2, $3, $4, 'hola', 'sent')",
    )
    .bind(id)
    .bind(conv)
    .bind(direction)
    .bind(uid(author))
    .execute(pool)
    .await
    .unwrap();
    id
}

async fn publish(pool: &PgPool, users: &[Uuid], kind: &str, data: Value) {
    let mut tx = pool.begin().await.unwrap();
    puente::realtime::publish(&mut tx, users, kind, &data)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

/// Open `/api/v1/ws?<query>`; the refusal's status and problem body when it is refused.
async fn ws_query(app: &TestApp, query: &str) -> Result<Ws, (u16, Value)> {
    let url = format!("{}/api/v1/ws?{query}", app.base.replace("http://", "ws://"));
    match tokio_tungstenite::connect_async(url).await {
        Ok((stream, _)) => Ok(Ws {
            stream,
            seen: Vec::new(),
        }),
        Err(tokio_tungstenite::tungstenite::Error::Http(resp)) => {
            let body = resp
                .body()
                .as_deref()
                .and_then(|b| serde_json::from_slice(b).ok())
                .unwrap_or(Value::Null);
            Err((resp.status().as_u16(), body))
        }
        Err(e) => panic!("ws connect: {e}"),
    }
}

/// A connected socket that has had its `hello`.
async fn socket(app: &TestApp, who: &Session) -> Ws {
    let mut ws = Ws::connect(app, &who.access, None).await;
    let hello = ws.next(10).await.expect("hello");
    assert_eq!(hello["type"], "hello");
    ws
}

async fn close(mut ws: Ws) {
    let _ = ws.stream.close(None).await;
}

/// Read for `secs` and fail if a frame matching `pred` arrives.
async fn none_within(ws: &mut Ws, secs: u64, what: &str, pred: impl Fn(&Value) -> bool) {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    while let Ok(Some(v)) = tokio::time::timeout_at(deadline, ws.next(secs)).await {
        assert!(!pred(&v), "unexpected {what} frame: {v}");
    }
}

async fn ticket(app: &TestApp, who: &Session) -> String {
    let body = expect_status(
        app.post("/api/v1/ws/ticket", &json!({}), Some(&who.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(body["expires_in"], 60);
    body["ticket"].as_str().unwrap().to_string()
}

async fn presence_rows(pool: &PgPool, who: &Session) -> i64 {
    sqlx::query_scalar("select count(*) from realtime_presence where user_id = $1")
        .bind(uid(who))
        .fetch_one(pool)
        .await
        .unwrap()
}

fn is_typing(v: &Value) -> bool {
    v["type"] == "typing"
}

fn is_presence(v: &Value) -> bool {
    v["type"] == "presence"
}

#[sqlx::test]
async fn a_ticket_opens_one_socket_once_within_a_minute(pool: PgPool) {
    let app = spawn(pool).await;
    let (agent, buyer) = people(&app).await;
    expect_problem(
        app.post("/api/v1/ws/ticket", &json!({}), None).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;

    // Valid: the socket belongs to the ticket's user; only a hash is stored.
    let t = ticket(&app, &buyer).await;
    assert!(t.len() >= 40, "{t}");
    let stored: i64 = sqlx::query_scalar(
        "select count(*) from realtime_tickets where token_hash = sha256($1::bytea) and user_id = $2",
    )
    .bind(t.as_bytes())
    .bind(uid(&buyer))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(stored, 1);
    let mut ws = ws_query(&app, &format!("ticket={t}")).await.unwrap();
    let hello = ws.next(10).await.unwrap();
    assert_eq!(hello["type"], "hello");
    assert_eq!(hello["user_id"], buyer.id);

    // Reused.
    let (status, body) = ws_query(&app, &format!("ticket={t}")).await.err().unwrap();
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_ticket"))
    );

    // Expired.
    let t2 = ticket(&app, &agent).await;
    sqlx::query("update realtime_tickets set expires_at = now() - interval '1 second'")
        .execute(&app.pool)
        .await
        .unwrap();
    let (status, body) = ws_query(&app, &format!("ticket={t2}")).await.err().unwrap();
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("invalid_ticket"))
    );

    // Garbage, empty, and a ticket does not replace a bad token with a good one.
    for q in [
        "ticket=nope",
        "ticket=",
        &format!("ticket={}", "A".repeat(500)),
    ] {
        let (status, body) = ws_query(&app, q).await.err().unwrap();
        assert_eq!(
            (status, body["code"].as_str()),
            (401, Some("invalid_ticket")),
            "{q}"
        );
        assert_eq!(body["type"], "urn:puente:problem:invalid_ticket");
    }
    let (status, _) = ws_query(&app, &format!("ticket=nope&access_token={}", agent.access))
        .await
        .err()
        .unwrap();
    assert_eq!(status, 401, "a ticket given is the credential checked");

    // A user deactivated after asking cannot use it.
    let t3 = ticket(&app, &agent).await;
    sqlx::query("update users set active = false, deactivated_at = now() where id = $1")
        .bind(uid(&agent))
        .execute(&app.pool)
        .await
        .unwrap();
    let (status, body) = ws_query(&app, &format!("ticket={t3}")).await.err().unwrap();
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("account_inactive"))
    );
}

#[sqlx::test]
async fn typing_goes_to_the_other_side_only_at_most_every_two_seconds(pool: PgPool) {
    let app = spawn(pool).await;
    let (agent, buyer) = people(&app).await;
    let stranger = app.register_buyer("sam@example.com").await;
    let conv = conversation(&app.pool, &agent, &buyer, 0).await;
    let mut a = socket(&app, &agent).await;
    let mut b = socket(&app, &buyer).await;
    let mut s = socket(&app, &stranger).await;

    let started = tokio::time::Instant::now();
    for _ in 0..5 {
        b.send(json!({"type": "typing", "conversation_id": conv, "typing": true}))
            .await;
    }
    let t = a.wait(10, "typing", is_typing).await;
    assert_eq!(
        t["data"],
        json!({"conversation_id": conv, "user_id": buyer.id, "typing": true, "expires_in_ms": 6000})
    );
    assert!(
        t.get("seq").is_none(),
        "a signal has no sequence number: {t}"
    );
    assert!(t["at"].is_string());
    // The four others inside the window were dropped, silently.
    none_within(&mut a, 1, "second typing", is_typing).await;
    none_within(&mut b, 0, "typing echoed to its sender", |v| {
        is_typing(v) || v["type"] == "error"
    })
    .await;
    // After the window, the next one goes through.
    tokio::time::sleep_until(started + Duration::from_millis(2500)).await;
    b.send(json!({"type": "typing", "conversation_id": conv, "typing": false}))
        .await;
    let t = a.wait(10, "typing false", is_typing).await;
    assert_eq!(t["data"]["typing"], false);

    // The agent's typing reaches the buyer, not the agent.
    a.send(json!({"type": "typing", "conversation_id": conv, "typing": true}))
        .await;
    let t = b.wait(10, "agent typing", is_typing).await;
    assert_eq!(t["data"]["user_id"], agent.id);
    none_within(&mut a, 1, "own typing", is_typing).await;

    // Someone who cannot see the conversation is refused; nobody hears about it.
    s.send(json!({"type": "typing", "conversation_id": conv, "typing": true}))
        .await;
    let err = s.wait(10, "error", |v| v["type"] == "error").await;
    assert_eq!(err["code"], "not_found");
    assert_eq!(err["conversation_id"], json!(conv));
    s.send(json!({"type": "typing", "conversation_id": Uuid::now_v7(), "typing": true}))
        .await;
    assert_eq!(
        s.wait(10, "error", |v| v["type"] == "error").await["code"],
        "not_found"
    );
    none_within(&mut a, 1, "stranger's typing", is_typing).await;
    none_within(&mut b, 0, "stranger's typing", is_typing).await;

    // Malformed typing frames are answered, not forwarded.
    b.send(json!({"type": "typing", "conversation_id": "nope"}))
        .await;
    assert_eq!(
        b.wait(10, "error", |v| v["type"] == "error").await["code"],
        "malformed_message"
    );
}

#[sqlx::test]
async fn read_over_the_socket_does_what_the_endpoint_does(pool: PgPool) {
    let app = spawn(pool).await;
    let (agent, buyer) = people(&app).await;
    let stranger = app.register_buyer("sam@example.com").await;
    let conv = conversation(&app.pool, &agent, &buyer, 0).await;
    let m1 = message(&app.pool, conv, "in", &buyer).await;
    let m2 = message(&app.pool, conv, "in", &buyer).await;
    let mut a = socket(&app, &agent).await;
    let mut b = socket(&app, &buyer).await;

    a.send(json!({"type": "read", "conversation_id": conv, "up_to": m1}))
        .await;
    let read = a.wait(10, "read", |v| v["type"] == "read").await;
    assert_eq!(
        read["data"],
        json!({"conversation_id": conv, "user_id": agent.id, "up_to": m1})
    );
    assert!(read["seq"].as_i64().unwrap() > 0, "a stored event");
    let seen = b.wait(10, "read", |v| v["type"] == "read").await;
    assert_eq!(seen["data"]["up_to"], json!(m1));
    let last: Option<Uuid> = sqlx::query_scalar(
        "select last_read_message_id from conversation_reads where conversation_id = $1 and user_id = $2",
    )
    .bind(conv)
    .bind(uid(&agent))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(last, Some(m1));

    // Without up_to: the newest message.
    a.send(json!({"type": "read", "conversation_id": conv}))
        .await;
    let read = a.wait(10, "read", |v| v["type"] == "read").await;
    assert_eq!(read["data"]["up_to"], json!(m2));

    // A message of another conversation, someone else's conversation, nonsense.
    a.send(json!({"type": "read", "conversation_id": conv, "up_to": Uuid::now_v7()}))
        .await;
    let err = a.wait(10, "error", |v| v["type"] == "error").await;
    assert_eq!(err["code"], "validation_failed");
    assert!(err["message"].as_str().unwrap().contains("up_to"), "{err}");
    let mut s = socket(&app, &stranger).await;
    s.send(json!({"type": "read", "conversation_id": conv}))
        .await;
    assert_eq!(
        s.wait(10, "error", |v| v["type"] == "error").await["code"],
        "not_found"
    );
    s.send(json!({"type": "dance"})).await;
    assert_eq!(
        s.wait(10, "error", |v| v["type"] == "error").await["code"],
        "unsupported_message"
    );
    s.send(json!({"no": "type"})).await;
    assert_eq!(
        s.wait(10, "error", |v| v["type"] == "error").await["code"],
        "malformed_message"
    );
    s.send(json!({"type": "ping"})).await;
    s.wait(10, "pong", |v| v["type"] == "pong").await;
    let last: Option<Uuid> = sqlx::query_scalar(
        "select last_read_message_id from conversation_reads where conversation_id = $1 and user_id = $2",
    )
    .bind(conv)
    .bind(uid(&agent))
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(last, Some(m2), "refused reads changed nothing");
}

#[sqlx::test]
async fn presence_is_announced_on_first_open_and_last_close(pool: PgPool) {
    let app = spawn(pool).await;
    let (agent, buyer) = people(&app).await;
    let old_buyer = app.register_buyer("olga@example.com").await;
    conversation(&app.pool, &agent, &buyer, 0).await;
    conversation(&app.pool, &agent, &old_buyer, 40).await;
    let mut a = socket(&app, &agent).await;

    let b1 = socket(&app, &buyer).await;
    let p = a.wait(10, "presence", is_presence).await;
    assert_eq!(p["data"]["user_id"], buyer.id);
    assert_eq!(p["data"]["online"], true);
    assert!(p["data"]["at"].is_string());
    assert!(p.get("seq").is_none(), "a signal: {p}");
    // A second socket, then closing one of two: no news.
    let b2 = socket(&app, &buyer).await;
    close(b1).await;
    none_within(&mut a, 2, "presence while still online", is_presence).await;
    close(b2).await;
    let p = a.wait(10, "offline", is_presence).await;
    assert_eq!(p["data"]["user_id"], buyer.id);
    assert_eq!(p["data"]["online"], false);

    // Someone whose only conversation went quiet 40 days ago is not a counterpart.
    let o = socket(&app, &old_buyer).await;
    none_within(&mut a, 2, "presence of an old contact", is_presence).await;
    close(o).await;

    // The agent's own coming online reaches the buyer.
    let mut b = socket(&app, &buyer).await;
    close(a).await;
    let p = b.wait(10, "agent offline", is_presence).await;
    assert_eq!(
        (p["data"]["user_id"].as_str(), p["data"]["online"].as_bool()),
        (Some(agent.id.as_str()), Some(false))
    );
    let _a = socket(&app, &agent).await;
    let p = b.wait(10, "agent online", is_presence).await;
    assert_eq!(
        (p["data"]["user_id"].as_str(), p["data"]["online"].as_bool()),
        (Some(agent.id.as_str()), Some(true))
    );
}

#[sqlx::test]
async fn a_client_that_stops_reading_is_told_to_resync(pool: PgPool) {
    let app = spawn(pool).await;
    let (agent, _) = people(&app).await;
    let user = uid(&agent);
    // A client with a tiny receive buffer that reads nothing for now.
    let addr: std::net::SocketAddr = app.base.trim_start_matches("http://").parse().unwrap();
    let tcp = tokio::net::TcpSocket::new_v4().unwrap();
    tcp.set_recv_buffer_size(4096).unwrap();
    let stream = tcp.connect(addr).await.unwrap();
    let url = format!("ws://{addr}/api/v1/ws?access_token={}", agent.access);
    let (stream, _) =
        tokio_tungstenite::client_async(url, tokio_tungstenite::MaybeTlsStream::Plain(stream))
            .await
            .unwrap();
    let mut ws = Ws {
        stream,
        seen: Vec::new(),
    };
    // The socket must be subscribed before the first event, or that event is not its to see.
    for _ in 0..200 {
        if app.state.hub.has(user) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(app.state.hub.has(user), "the socket subscribed");
    // Publish large events until the socket's queue (256) overflows.
    let pad = "x".repeat(6000);
    let mut published = 0i64;
    while app.state.hub.lagging() == 0 {
        assert!(published < 20_000, "the queue never overflowed");
        let mut tx = app.pool.begin().await.unwrap();
        for _ in 0..100 {
            published += 1;
            puente::realtime::publish(
                &mut tx,
                &[user],
                "test.event",
                &json!({"n": published, "pad": pad}),
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert!(published > 256);
    // Now read: the events that made it, in order, then a resync at the latest seq.
    assert_eq!(ws.next(10).await.unwrap()["type"], "hello");
    let mut expected = 1;
    let resync = loop {
        let v = ws.next(10).await.expect("a frame");
        if v["type"] == "resync" {
            break v;
        }
        assert_eq!(v["type"], "test.event");
        assert_eq!(v["seq"], expected, "in order, no gaps before the resync");
        expected += 1;
    };
    assert!(expected - 1 < published, "some events were skipped");
    assert_eq!(resync["last_seq"], published);
    assert_eq!(app.state.hub.lagging(), 0);
    // And the stream goes on from there.
    publish(&app.pool, &[user], "test.event", json!({"n": "after"})).await;
    let v = ws
        .wait(10, "next event", |v| v["type"] == "test.event")
        .await;
    assert_eq!(v["seq"], published + 1);
}

#[sqlx::test]
async fn two_processes_on_one_database_share_events_signals_presence_and_tickets(pool: PgPool) {
    let one = spawn(pool.clone()).await;
    let two = spawn(pool).await;
    assert_ne!(one.state.hub.process_id(), two.state.hub.process_id());
    let (agent, buyer) = people(&one).await;
    let conv = conversation(&one.pool, &agent, &buyer, 0).await;
    let m = message(&one.pool, conv, "in", &buyer).await;

    // The agent's socket is on process two, opened with a ticket issued by process one.
    let t = ticket(&one, &agent).await;
    let mut a = ws_query(&two, &format!("ticket={t}")).await.unwrap();
    assert_eq!(a.next(10).await.unwrap()["type"], "hello");

    // The buyer comes online on process one: presence crosses over.
    let mut b1 = socket(&one, &buyer).await;
    let p = a.wait(10, "presence", is_presence).await;
    assert_eq!(
        (p["data"]["user_id"].as_str(), p["data"]["online"].as_bool()),
        (Some(buyer.id.as_str()), Some(true))
    );

    // An event stored through process one reaches the socket on process two.
    expect_status(
        one.post(
            &format!("/api/v1/conversations/{conv}/read"),
            &json!({"up_to": m}),
            Some(&buyer.access),
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    let read = a.wait(10, "read", |v| v["type"] == "read").await;
    assert_eq!(read["data"]["user_id"], buyer.id);
    publish(&one.pool, &[uid(&agent)], "test.event", json!({"n": 1})).await;
    a.wait(10, "published event", |v| v["type"] == "test.event")
        .await;

    // A signal sent by a socket on process one, to a socket on process two.
    b1.send(json!({"type": "typing", "conversation_id": conv, "typing": true}))
        .await;
    let t = a.wait(10, "typing", is_typing).await;
    assert_eq!(t["data"]["user_id"], buyer.id);

    // The buyer moves to process two before leaving process one: still online, no news.
    let b2 = socket(&two, &buyer).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while presence_rows(&one.pool, &buyer).await < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "process two never registered the buyer"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    close(b1).await;
    none_within(
        &mut a,
        2,
        "offline while online on the other process",
        is_presence,
    )
    .await;
    assert_eq!(
        presence_rows(&one.pool, &buyer).await,
        1,
        "one process holds the buyer now"
    );
    close(b2).await;
    let p = a.wait(10, "offline", is_presence).await;
    assert_eq!(p["data"]["online"], false);
}

#[sqlx::test]
async fn notifications_list_what_others_did_until_cleared(pool: PgPool) {
    let app = spawn(pool).await;
    let (agent, buyer) = people(&app).await;
    let me = uid(&agent);
    let conv = conversation(&app.pool, &agent, &buyer, 0).await;
    let msg = |direction: &str, author: Option<&str>| json!({"conversation_id": conv, "message": {"id": Uuid::now_v7(), "direction": direction, "author_user_id": author, "body": "hola"}});
    expect_problem(
        app.get("/api/v1/notifications", None).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    let list = |limit: Option<i64>| {
        let path = match limit {
            Some(l) => format!("/api/v1/notifications?limit={l}"),
            None => "/api/v1/notifications".into(),
        };
        let app = &app;
        let token = agent.access.clone();
        async move { expect_status(app.get(&path, Some(&token)).await, StatusCode::OK).await }
    };
    assert_eq!(list(None).await, json!({"items": [], "unread": 0}));

    // seq 1: from the buyer; 2: the agent's own; 3: the agent's own, sent from the phone;
    // 4: link status; 5, 6: not notifications.
    publish(
        &app.pool,
        &[me],
        "message.created",
        msg("in", Some(buyer.id.as_str())),
    )
    .await;
    publish(
        &app.pool,
        &[me],
        "message.created",
        msg("out", Some(agent.id.as_str())),
    )
    .await;
    publish(&app.pool, &[me], "message.created", msg("out", None)).await;
    publish(
        &app.pool,
        &[me],
        "link.status",
        json!({"link_id": Uuid::now_v7(), "status": "failed"}),
    )
    .await;
    publish(
        &app.pool,
        &[me],
        "conversation.updated",
        json!({"conversation": {"id": conv}}),
    )
    .await;
    publish(&app.pool, &[me], "read", json!({"conversation_id": conv})).await;

    let body = list(None).await;
    assert_eq!(body["unread"], 2);
    let items = body["items"].as_array().unwrap();
    let seqs: Vec<i64> = items.iter().map(|i| i["seq"].as_i64().unwrap()).collect();
    assert_eq!(seqs, vec![4, 1], "newest first: {body}");
    assert_eq!(items[0]["type"], "link.status");
    assert_eq!(items[0]["data"]["status"], "failed");
    assert_eq!(items[1]["type"], "message.created");
    assert_eq!(items[1]["data"]["message"]["author_user_id"], buyer.id);
    assert!(items[1]["at"].is_string());
    let body = list(Some(1)).await;
    assert_eq!(
        (
            body["items"].as_array().unwrap().len(),
            body["unread"].as_i64()
        ),
        (1, Some(2))
    );
    for bad in [0, 201] {
        expect_problem(
            app.get(
                &format!("/api/v1/notifications?limit={bad}"),
                Some(&agent.access),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    // The buyer's own list is separate (they got nothing).
    let b = expect_status(
        app.get("/api/v1/notifications", Some(&buyer.access)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(b["unread"], 0);

    // Clear up to 1: only the link status is left.
    let clear = |body: Option<Value>| {
        let app = &app;
        let token = agent.access.clone();
        async move {
            let mut req = app
                .client
                .post(app.url("/api/v1/notifications/clear"))
                .bearer_auth(token);
            if let Some(b) = body {
                req = req.json(&b);
            }
            req.send().await.unwrap()
        }
    };
    let r = expect_status(clear(Some(json!({"up_to_seq": 1}))).await, StatusCode::OK).await;
    assert_eq!(r["up_to_seq"], 1);
    let body = list(None).await;
    assert_eq!(body["unread"], 1);
    assert_eq!(body["items"][0]["seq"], 4);
    // Never backwards; never past the newest event.
    let r = expect_status(clear(Some(json!({"up_to_seq": 0}))).await, StatusCode::OK).await;
    assert_eq!(r["up_to_seq"], 1);
    let r = expect_status(clear(Some(json!({"up_to_seq": 99}))).await, StatusCode::OK).await;
    assert_eq!(r["up_to_seq"], 6);
    publish(
        &app.pool,
        &[me],
        "message.created",
        msg("in", Some(buyer.id.as_str())),
    )
    .await;
    let body = list(None).await;
    assert_eq!(body["unread"], 1, "a later message still counts: {body}");
    assert_eq!(body["items"][0]["seq"], 7);
    // No body: everything so far.
    let r = expect_status(clear(None).await, StatusCode::OK).await;
    assert_eq!(r["up_to_seq"], 7);
    assert_eq!(list(None).await["unread"], 0);
    expect_problem(
        clear(Some(json!({"up_to_seq": -1}))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_problem(
        clear(Some(json!({"up_to": 3}))).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}
