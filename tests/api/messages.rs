//! WhatsApp messages both ways, end to end: real containers running the emulator, the
//! "phone" driven through its control API, the agent's REST calls and WebSocket.

use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{docker, expect_problem, expect_status, Session, TestApp, Ws};

/// An agent with a working link; returns the agent and the link id.
async fn working_link(app: &TestApp) -> (Session, String) {
    let admin = app
        .register_admin("admin@costa.example", "Costa Homes")
        .await;
    let agent = app.register_agent(&admin, "diego@costa.example").await;
    let body = expect_status(
        app.post("/api/v1/whatsapp/links", &json!({}), Some(&agent.access))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let id = body["id"].as_str().unwrap().to_string();
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
    app.phone(
        &id,
        "scan",
        &json!({"phone": "34600000001", "pushName": "Diego"}),
    )
    .await;
    app.wait_link(&agent.access, &id, "working", |l| l["status"] == "working")
        .await;
    (agent, id)
}

async fn conversations(app: &TestApp, token: &str) -> Vec<Value> {
    let page = expect_status(
        app.get("/api/v1/conversations", Some(token)).await,
        StatusCode::OK,
    )
    .await;
    page["items"].as_array().unwrap().clone()
}

async fn messages(app: &TestApp, token: &str, conv: &str) -> Vec<Value> {
    let v = expect_status(
        app.get(
            &format!("/api/v1/conversations/{conv}/messages?limit=200"),
            Some(token),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    v.as_array().unwrap().clone()
}

/// Poll until `pred` holds over the conversation's messages.
async fn wait_messages(
    app: &TestApp,
    token: &str,
    conv: &str,
    what: &str,
    pred: impl Fn(&[Value]) -> bool,
) -> Vec<Value> {
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut last = Vec::new();
    while std::time::Instant::now() < deadline {
        last = messages(app, token, conv).await;
        if pred(&last) {
            return last;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    panic!("never {what}: {last:#?}");
}

/// Poll until message `id` of the conversation is `failed`; the message.
async fn wait_failed(app: &TestApp, token: &str, conv: &str, id: &str) -> Value {
    let msgs = wait_messages(app, token, conv, "failed", |ms| {
        ms.iter().any(|x| x["id"] == id && x["status"] == "failed")
    })
    .await;
    msgs.into_iter().find(|x| x["id"] == id).unwrap()
}

async fn wait_conversation(app: &TestApp, token: &str) -> String {
    for _ in 0..200 {
        if let Some(c) = conversations(app, token).await.first() {
            return c["id"].as_str().unwrap().to_string();
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("no conversation appeared");
}

async fn sent_by_api(app: &TestApp, link: &str) -> Vec<Value> {
    let (base, key) = app.emulator(link).await;
    let v: Value = app
        .client
        .get(format!("{base}/__emulator/sessions/default/sent"))
        .header("x-api-key", key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    v.as_array()
        .cloned()
        .unwrap_or_else(|| v["sent"].as_array().cloned().unwrap_or_default())
}

#[sqlx::test]
async fn inbound_messages_reach_the_inbox_live_with_every_kind_of_change(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let (agent, link) = working_link(&app).await;
    let mut ws = Ws::connect(&app, &agent.access, None).await;

    let hola = app.phone(&link, "inbound", &json!({"from": "34600000002@c.us", "pushName": "Bea", "body": "Hola, ¿sigue disponible el piso?"})).await;
    let hola_wa = hola["id"].as_str().unwrap().to_string();
    let created = ws
        .wait(30, "message.created", |v| v["type"] == "message.created")
        .await;
    let msg = &created["data"]["message"];
    assert_eq!(msg["body"], "Hola, ¿sigue disponible el piso?");
    assert_eq!(msg["direction"], "in");
    assert_eq!(msg["kind"], "text");
    let conv = created["data"]["conversation_id"]
        .as_str()
        .unwrap()
        .to_string();
    let hola_id = msg["id"].as_str().unwrap().to_string();
    ws.wait(10, "conversation.updated", |v| {
        v["type"] == "conversation.updated"
    })
    .await;
    let convs = conversations(&app, &agent.access).await;
    assert_eq!(convs.len(), 1);
    assert_eq!(convs[0]["channel"], "whatsapp");
    assert_eq!(convs[0]["contact"]["name"], "Bea");
    assert_eq!(convs[0]["contact"]["phone"], "34600000002");

    // An image: stored by Puente, downloadable by the agent only.
    app.phone(
        &link,
        "inbound",
        &json!({"from": "34600000002@c.us", "kind": "image", "body": "la fachada"}),
    )
    .await;
    let img = ws
        .wait(30, "image", |v| {
            v["type"] == "message.created" && v["data"]["message"]["kind"] == "image"
        })
        .await;
    let media = &img["data"]["message"]["media"];
    assert!(
        media["mimetype"].as_str().unwrap().starts_with("image/"),
        "{img}"
    );
    let url = media["url"].as_str().unwrap().to_string();
    let resp = app.get(&url, Some(&agent.access)).await;
    assert_eq!(resp.status(), StatusCode::OK);
    assert!(resp.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("image/"));
    assert!(!resp.bytes().await.unwrap().is_empty());
    let admin2 = app
        .register_admin("other@agency.example", "Other Agency")
        .await;
    let buyer = app.register_buyer("bea@example.com").await;
    for who in [&admin2, &buyer] {
        expect_problem(
            app.get(&url, Some(&who.access)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        expect_problem(
            app.get(
                &format!("/api/v1/conversations/{conv}/messages"),
                Some(&who.access),
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }

    // A reply, an edit, a reaction, a revoke, typing.
    app.phone(
        &link,
        "inbound",
        &json!({"from": "34600000002@c.us", "body": "¿Y el precio?", "replyTo": hola_wa}),
    )
    .await;
    let reply = ws
        .wait(30, "reply", |v| {
            v["type"] == "message.created" && v["data"]["message"]["body"] == "¿Y el precio?"
        })
        .await;
    assert_eq!(reply["data"]["message"]["reply_to_id"], hola_id.as_str());
    app.phone(
        &link,
        "edit",
        &json!({"messageId": hola_wa, "body": "Hola, ¿sigue disponible?"}),
    )
    .await;
    let edited = ws
        .wait(30, "edit", |v| {
            v["type"] == "message.updated" && v["data"]["message"]["edited_at"].is_string()
        })
        .await;
    assert_eq!(
        edited["data"]["message"]["body"],
        "Hola, ¿sigue disponible?"
    );
    app.phone(
        &link,
        "react",
        &json!({"messageId": hola_wa, "reaction": "👍"}),
    )
    .await;
    let reacted = ws
        .wait(30, "reaction", |v| {
            v["type"] == "message.updated"
                && !v["data"]["message"]["reactions"]
                    .as_array()
                    .unwrap()
                    .is_empty()
        })
        .await;
    assert_eq!(reacted["data"]["message"]["reactions"][0]["emoji"], "👍");
    app.phone(
        &link,
        "presence",
        &json!({"from": "34600000002@c.us", "presence": "typing"}),
    )
    .await;
    let typing = ws.wait(30, "typing", |v| v["type"] == "typing").await;
    assert_eq!(typing["data"]["conversation_id"], conv.as_str());
    assert_eq!(typing["data"]["typing"], true);
    app.phone(&link, "revoke", &json!({"messageId": hola_wa}))
        .await;
    let revoked = ws
        .wait(30, "revoke", |v| {
            v["type"] == "message.updated" && v["data"]["message"]["deleted_at"].is_string()
        })
        .await;
    assert!(
        revoked["data"]["message"]["body"].is_null(),
        "deleted text is gone"
    );

    // A sender known only by @lid gets a conversation too.
    app.phone(
        &link,
        "inbound",
        &json!({"from": "98765432109876@lid", "pushName": "Lidia", "body": "hola desde lid"}),
    )
    .await;
    ws.wait(30, "lid message", |v| {
        v["type"] == "message.created" && v["data"]["message"]["body"] == "hola desde lid"
    })
    .await;
    let names: Vec<Value> = conversations(&app, &agent.access)
        .await
        .iter()
        .map(|c| c["contact"]["name"].clone())
        .collect();
    assert!(names.contains(&json!("Lidia")), "{names:?}");

    // Group chats are stored but kept out of the inbox; status broadcasts are ignored.
    app.phone(
        &link,
        "inbound",
        &json!({"from": "34600000003@c.us", "group": "120363000000000001@g.us", "body": "grupo"}),
    )
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let stored: i64 = sqlx::query_scalar("select count(*) from messages where body = 'grupo'")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 1);
    assert_eq!(
        conversations(&app, &agent.access).await.len(),
        2,
        "the group is not in the inbox"
    );
    let all = messages(&app, &agent.access, &conv).await;
    assert_eq!(all.len(), 3, "{all:#?}");
}

#[sqlx::test]
async fn agent_replies_leave_once_and_ticks_move_to_read(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let (agent, link) = working_link(&app).await;
    app.phone(
        &link,
        "inbound",
        &json!({"from": "34600000002@c.us", "pushName": "Bea", "body": "Hola"}),
    )
    .await;
    let conv = wait_conversation(&app, &agent.access).await;
    let mut ws = Ws::connect(&app, &agent.access, None).await;

    let send = json!({"client_id": "c-1", "body": "¡Hola Bea! Sí, sigue disponible."});
    let first = expect_status(
        app.post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &send,
            Some(&agent.access),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(first["status"], "pending");
    let again = expect_status(
        app.post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &send,
            Some(&agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["id"], first["id"], "same client id, same message");
    let id = first["id"].as_str().unwrap().to_string();
    for status in ["sent", "delivered", "read"] {
        ws.wait(30, status, |v| {
            v["type"] == "message.updated"
                && v["data"]["message"]["id"] == id.as_str()
                && v["data"]["message"]["status"] == status
        })
        .await;
    }
    let sent = sent_by_api(&app, &link).await;
    let texts: Vec<&Value> = sent
        .iter()
        .filter(|s| s.to_string().contains("¡Hola Bea! Sí, sigue disponible."))
        .collect();
    assert_eq!(texts.len(), 1, "sent exactly once: {sent:#?}");
    // The echo of our own message did not become a second message.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let all = messages(&app, &agent.access, &conv).await;
    assert_eq!(
        all.iter().filter(|m| m["direction"] == "out").count(),
        1,
        "{all:#?}"
    );

    // Reading sends blue ticks; reacting reaches the phone.
    let resp = app
        .post(
            &format!("/api/v1/conversations/{conv}/read"),
            &json!({}),
            Some(&agent.access),
        )
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    let inbound = all.iter().find(|m| m["direction"] == "in").unwrap();
    expect_status(
        app.post(
            &format!(
                "/api/v1/conversations/{conv}/messages/{}/reactions",
                inbound["id"].as_str().unwrap()
            ),
            &json!({"emoji": "❤️"}),
            Some(&agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    // The phone's view: the buyer's message is read (blue ticks) and carries the reaction.
    let (base, key) = app.emulator(&link).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let phone: Value = app
            .client
            .get(format!("{base}/__emulator/sessions/default/messages"))
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let list = phone
            .as_array()
            .cloned()
            .unwrap_or_else(|| phone["messages"].as_array().cloned().unwrap_or_default());
        let hola = list
            .iter()
            .find(|m| m["body"] == "Hola" && m["fromMe"] == false)
            .cloned()
            .unwrap_or_default();
        if hola["ack"].as_i64() == Some(3) && hola["reactions"].to_string().contains("❤️") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "read receipt and reaction not on the phone: {hola}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }

    // Validation.
    for (body, field) in [
        (json!({"client_id": "c-2"}), "body"),
        (json!({"client_id": "", "body": "x"}), "client_id"),
        (
            json!({"client_id": "c-3", "body": "x".repeat(5001)}),
            "body",
        ),
    ] {
        let e = expect_problem(
            app.post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &body,
                Some(&agent.access),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(e["errors"][0]["field"], field);
    }
}

#[sqlx::test]
async fn duplicates_and_reordering_change_nothing(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let (agent, link) = working_link(&app).await;
    let (base, key) = app.emulator(&link).await;
    let faults = app
        .client
        .post(format!("{base}/__emulator/faults"))
        .header("x-api-key", &key)
        .json(&json!({"duplicateRate": 1.0, "reorderMaxMs": 400}))
        .send()
        .await
        .unwrap();
    assert!(faults.status().is_success());
    let mut ids = Vec::new();
    for i in 0..8 {
        let r = app
            .phone(
                &link,
                "inbound",
                &json!({"from": "34600000002@c.us", "body": format!("mensaje {i}")}),
            )
            .await;
        ids.push(r["id"].as_str().unwrap().to_string());
    }
    // Edits and reactions right behind their messages may overtake them.
    app.phone(
        &link,
        "edit",
        &json!({"messageId": ids[7], "body": "mensaje 7 (editado)"}),
    )
    .await;
    app.phone(
        &link,
        "react",
        &json!({"messageId": ids[6], "reaction": "🔥"}),
    )
    .await;
    let conv = wait_conversation(&app, &agent.access).await;
    let msgs = wait_messages(&app, &agent.access, &conv, "all applied", |m| {
        m.len() == 8
            && m.iter().any(|x| x["body"] == "mensaje 7 (editado)")
            && m.iter()
                .any(|x| !x["reactions"].as_array().unwrap().is_empty())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let again = messages(&app, &agent.access, &conv).await;
    assert_eq!(again.len(), 8, "exactly once each: {msgs:#?}");
    // One subscription per message (`message.any`): eight messages, eight events.
    let dup: i64 = sqlx::query_scalar(
        "select count(*) from waha_events where event in ('message', 'message.any')",
    )
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(
        dup, 8,
        "duplicate deliveries share an event id and are stored once"
    );
}

#[sqlx::test]
async fn puente_down_briefly_then_retries_land_everything_once(pool: PgPool) {
    let (app, fleet) = TestApp::spawn_fleet(pool.clone(), |_| {}).await;
    let (agent, link) = working_link(&app).await;
    app.phone(
        &link,
        "inbound",
        &json!({"from": "34600000002@c.us", "body": "antes"}),
    )
    .await;
    let conv = wait_conversation(&app, &agent.access).await;
    let port: u16 = app.base.rsplit(':').next().unwrap().parse().unwrap();
    let emulator = app.emulator(&link).await;
    app.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    // The phone keeps writing while Puente is down; WAHA retries every second.
    for i in 0..3 {
        let r = app
            .client
            .post(format!(
                "{}/__emulator/sessions/default/inbound",
                emulator.0
            ))
            .header("x-api-key", &emulator.1)
            .json(&json!({"from": "34600000002@c.us", "body": format!("durante {i}")}))
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success());
    }
    tokio::time::sleep(Duration::from_secs(3)).await;
    let instance = fleet.instance.clone();
    let back = TestApp::spawn_with(pool, |c| {
        crate::helpers::fleet_config(c, &instance);
        c.bind = format!("0.0.0.0:{port}").parse().unwrap();
    })
    .await;
    let msgs = wait_messages(&back, &agent.access, &conv, "4 messages", |m| m.len() == 4).await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(
        messages(&back, &agent.access, &conv).await.len(),
        4,
        "once each: {msgs:#?}"
    );
}

#[sqlx::test]
async fn puente_down_past_the_retry_window_then_catch_up_recovers(pool: PgPool) {
    let (app, fleet) = TestApp::spawn_fleet(pool.clone(), |c| {
        // WAHA gives up after one quick retry: only the catch-up can bring these back.
        c.waha
            .waha_extra_env
            .push("WHATSAPP_HOOK_RETRIES_ATTEMPTS=1".into());
    })
    .await;
    let (agent, link) = working_link(&app).await;
    app.phone(
        &link,
        "inbound",
        &json!({"from": "34600000002@c.us", "body": "antes"}),
    )
    .await;
    let conv = wait_conversation(&app, &agent.access).await;
    let port: u16 = app.base.rsplit(':').next().unwrap().parse().unwrap();
    let emulator = app.emulator(&link).await;
    app.stop();
    tokio::time::sleep(Duration::from_millis(500)).await;
    for i in 0..3 {
        let r = app.client.post(format!("{}/__emulator/sessions/default/inbound", emulator.0)).header("x-api-key", &emulator.1)
            .json(&json!({"from": "34600000005@c.us", "pushName": "Nuevo", "body": format!("perdido {i}")})).send().await.unwrap();
        assert!(r.status().is_success());
    }
    // Long enough for every retry to be spent.
    tokio::time::sleep(Duration::from_secs(5)).await;
    let instance = fleet.instance.clone();
    let back = TestApp::spawn_with(pool, |c| {
        crate::helpers::fleet_config(c, &instance);
        c.bind = format!("0.0.0.0:{port}").parse().unwrap();
    })
    .await;
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let recovered = loop {
        let convs = conversations(&back, &agent.access).await;
        if let Some(c) = convs
            .iter()
            .find(|c| c["contact"]["phone"] == "34600000005")
        {
            let id = c["id"].as_str().unwrap().to_string();
            let m = messages(&back, &agent.access, &id).await;
            if m.len() == 3 {
                break m;
            }
        }
        assert!(
            std::time::Instant::now() < deadline,
            "catch-up never recovered the messages"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let mut bodies: Vec<&str> = recovered
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    bodies.sort_unstable();
    assert_eq!(bodies, ["perdido 0", "perdido 1", "perdido 2"]);
    // A second catch-up (another restart) doubles nothing.
    let link_id: uuid::Uuid = link.parse().unwrap();
    let again = puente::ingest::catchup::run(&back.state, link_id)
        .await
        .unwrap();
    assert_eq!(again, 0);
    assert_eq!(messages(&back, &agent.access, &conv).await.len(), 1);
}

#[sqlx::test]
async fn messages_sent_while_waha_is_down_go_out_once_when_it_is_back(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let (agent, link) = working_link(&app).await;
    app.phone(
        &link,
        "inbound",
        &json!({"from": "34600000002@c.us", "body": "Hola"}),
    )
    .await;
    let conv = wait_conversation(&app, &agent.access).await;
    let name = format!("puente-waha-{}", link.replace('-', ""));
    // The container goes away for a while (Docker's policy and the supervisor bring it back).
    let (ok, _) = docker(&["stop", "-t", "0", &name]);
    assert!(ok);
    let mut ids = Vec::new();
    for i in 0..3 {
        let r = expect_status(
            app.post(
                &format!("/api/v1/conversations/{conv}/messages"),
                &json!({"client_id": format!("down-{i}"), "body": format!("respuesta {i}")}),
                Some(&agent.access),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
        ids.push(r["id"].as_str().unwrap().to_string());
    }
    let msgs = wait_messages(&app, &agent.access, &conv, "all sent", |m| {
        m.iter()
            .filter(|x| x["direction"] == "out" && x["status"] != "pending")
            .count()
            == 3
    })
    .await;
    assert!(
        msgs.iter()
            .filter(|x| x["direction"] == "out")
            .all(|x| x["status"] != "failed"),
        "{msgs:#?}"
    );
    let sent = sent_by_api(&app, &link).await;
    for i in 0..3 {
        let n = sent
            .iter()
            .filter(|s| s.to_string().contains(&format!("respuesta {i}")))
            .count();
        assert_eq!(n, 1, "respuesta {i} sent once: {sent:#?}");
    }
}

#[sqlx::test]
async fn a_send_fails_clearly_after_the_deadline(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |c| c.send_deadline_secs = 3).await;
    let (agent, link) = working_link(&app).await;
    app.phone(
        &link,
        "inbound",
        &json!({"from": "34600000002@c.us", "body": "Hola"}),
    )
    .await;
    let conv = wait_conversation(&app, &agent.access).await;
    // The operator stops the link: nothing can be sent.
    let op = app.operator("ops@puente.example").await;
    assert_eq!(
        app.post(
            &format!("/api/v1/admin/links/{link}/stop"),
            &json!({}),
            Some(&op.access)
        )
        .await
        .status(),
        StatusCode::ACCEPTED
    );
    app.wait_link(&agent.access, &link, "stopped", |l| {
        l["status"] == "stopped"
    })
    .await;
    let m = expect_status(
        app.post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &json!({"client_id": "late", "body": "¿hola?"}),
            Some(&agent.access),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let id = m["id"].as_str().unwrap().to_string();
    let failed = wait_failed(&app, &agent.access, &conv, &id).await;
    assert_eq!(failed["failure_reason"], "link_unavailable");
}

#[test]
fn the_webhook_parser_never_panics_on_arbitrary_input() {
    use puente::waha::types::*;
    let mut rng_state: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = || {
        rng_state ^= rng_state << 13;
        rng_state ^= rng_state >> 7;
        rng_state ^= rng_state << 17;
        rng_state
    };
    let seeds = [
        r#"{"id":"evt_1","timestamp":1,"event":"message","session":"default","payload":{"id":"false_1@c.us_A","body":"x","hasMedia":true,"media":{"url":5},"replyTo":"zz","location":{"latitude":"1"}}}"#,
        r#"{"event":"message.ack","payload":{"id":7,"ack":"READ","ackName":3}}"#,
        r#"{"event":"message.reaction","payload":{"reaction":null}}"#,
        r#"{"event":"message.revoked","payload":{"after":[],"before":{"id":{}}}}"#,
        r#"{"event":"presence.update","payload":{"presences":"typing"}}"#,
        r#"{"event":"session.status","payload":{"status":17,"statuses":[1,2]}}"#,
    ];
    let pieces: [&[u8]; 10] = [
        b"{", b"}", b"[", b"]", b"\"", b":", b",", b"null", b"1e999", b"\\u0000",
    ];
    for seed in seeds {
        for _ in 0..400 {
            let mut body = seed.as_bytes().to_vec();
            for _ in 0..(next() % 4) {
                let at = (next() as usize) % (body.len() + 1);
                match next() % 3 {
                    0 => body.insert(at, (next() % 256) as u8),
                    1 => {
                        if at < body.len() {
                            body.remove(at);
                        }
                    }
                    _ => {
                        let p = pieces[(next() as usize) % pieces.len()];
                        body.splice(at..at, p.iter().copied());
                    }
                }
            }
            if let Ok(env) = WebhookEnvelope::from_slice(&body) {
                let _ = env.payload_as::<MessagePayload>();
                let _ = env.payload_as::<AckPayload>();
                let _ = env.payload_as::<ReactionPayload>();
                let _ = env.payload_as::<RevokedPayload>();
                let _ = env.payload_as::<EditedPayload>();
                let _ = env.payload_as::<PresencePayload>();
                let _ = env.payload_as::<SessionStatusPayload>();
                if let Ok(m) = env.payload_as::<MessagePayload>() {
                    let _ = chat_id_of(&m);
                    let _ = push_name_of(&m);
                    let _ = parse_message_id(&m.id);
                }
            }
        }
    }
}

#[sqlx::test]
async fn one_person_by_phone_and_by_lid_is_one_contact(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let (agent, link) = working_link(&app).await;
    app.phone(
        &link,
        "inbound",
        &json!({"from": "34600000008@c.us", "pushName": "Marta", "body": "por teléfono"}),
    )
    .await;
    let conv = wait_conversation(&app, &agent.access).await;
    // WAHA knows the @lid of this phone now; the next message arrives under it.
    let (base, key) = app.emulator(&link).await;
    let map: Value = app
        .client
        .get(format!("{base}/api/default/lids/pn/34600000008"))
        .header("x-api-key", &key)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let lid = map["lid"]
        .as_str()
        .expect("the emulator maps seen phones to a lid")
        .to_string();
    app.phone(
        &link,
        "inbound",
        &json!({"from": lid, "pushName": "Marta", "body": "por lid"}),
    )
    .await;
    wait_messages(
        &app,
        &agent.access,
        &conv,
        "both in one conversation",
        |m| m.len() == 2,
    )
    .await;
    assert_eq!(conversations(&app, &agent.access).await.len(), 1);
    let (n, wa, l): (i64, Option<String>, Option<String>) =
        sqlx::query_as("select count(*) over (), wa_id, lid from contacts")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(n, 1, "one contact");
    assert_eq!(wa.as_deref(), Some("34600000008@c.us"));
    assert_eq!(l.as_deref(), Some(lid.as_str()));
}

#[sqlx::test]
async fn stored_events_can_be_replayed_without_doubling(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool.clone(), |_| {}).await;
    let (agent, link) = working_link(&app).await;
    for i in 0..3 {
        app.phone(
            &link,
            "inbound",
            &json!({"from": "34600000002@c.us", "body": format!("m{i}")}),
        )
        .await;
    }
    let conv = wait_conversation(&app, &agent.access).await;
    wait_messages(&app, &agent.access, &conv, "3", |m| m.len() == 3).await;
    // Lose the applied state (as after restoring an old backup of the messages).
    sqlx::query("delete from messages")
        .execute(&app.pool)
        .await
        .unwrap();
    let op = app.operator("ops@puente.example").await;
    expect_problem(
        app.post(
            &format!("/api/v1/admin/links/{link}/events/replay"),
            &json!({}),
            Some(&agent.access),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden_role",
    )
    .await;
    let r = expect_status(
        app.post(
            &format!("/api/v1/admin/links/{link}/events/replay"),
            &json!({}),
            Some(&op.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(r["replayed"].as_u64().unwrap() >= 3, "{r}");
    wait_messages(&app, &agent.access, &conv, "back", |m| m.len() == 3).await;
    // Again, from the command line: nothing doubles.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_puente"))
        .args(["events", "replay", "--link", &link])
        .env("DATABASE_URL", crate::cli::database_url(&pool))
        .env(
            "PUENTE_JWT_SECRET",
            "test-secret-test-secret-test-secret-0123456789",
        )
        .env(
            "PUENTE_MASTER_SECRET",
            "test-master-secret-test-master-secret-0123456789",
        )
        .env("PUENTE_SUPERVISE", "false")
        .env("RUST_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("replayed"));
    assert_eq!(messages(&app, &agent.access, &conv).await.len(), 3);
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'events.replay'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 2);
}

#[sqlx::test]
async fn noweb_links_get_their_message_store_enabled(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |c| c.waha.waha_engine = "NOWEB".into()).await;
    let admin = app
        .register_admin("admin@costa.example", "Costa Homes")
        .await;
    let agent = app.register_agent(&admin, "diego@costa.example").await;
    let body = expect_status(
        app.post("/api/v1/whatsapp/links", &json!({}), Some(&agent.access))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let id = body["id"].as_str().unwrap().to_string();
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
    let (base, key) = app.emulator(&id).await;
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let s: Value = app
            .client
            .get(format!("{base}/api/sessions/default"))
            .header("x-api-key", &key)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if s["config"]["noweb"]["store"]["enabled"] == true {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "store never enabled: {s}"
        );
        tokio::time::sleep(Duration::from_millis(300)).await;
    }
}

#[sqlx::test]
async fn agents_send_uploaded_files_as_whatsapp_media(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let (agent, link) = working_link(&app).await;
    app.phone(
        &link,
        "inbound",
        &json!({"from": "34600000002@c.us", "body": "¿Tienes fotos?"}),
    )
    .await;
    let conv = wait_conversation(&app, &agent.access).await;
    // A tiny real PNG.
    let png = {
        let img = image::RgbImage::from_pixel(8, 8, image::Rgb([200, 30, 30]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Png).unwrap();
        out.into_inner()
    };
    let resp = app
        .client
        .post(app.url("/api/v1/files?name=salon.png"))
        .bearer_auth(&agent.access)
        .header("content-type", "image/png")
        .body(png.clone())
        .send()
        .await
        .unwrap();
    let file = expect_status(resp, StatusCode::CREATED).await;
    // Types outside the allowed list are refused.
    let bad = app
        .client
        .post(app.url("/api/v1/files"))
        .bearer_auth(&agent.access)
        .header("content-type", "application/x-msdownload")
        .body(vec![1u8; 10])
        .send()
        .await
        .unwrap();
    expect_problem(
        bad,
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    let sent = expect_status(
        app.post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &json!({"client_id": "photo-1", "body": "El salón", "file_id": file["id"]}),
            Some(&agent.access),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(sent["kind"], "image");
    let id = sent["id"].as_str().unwrap().to_string();
    wait_messages(&app, &agent.access, &conv, "image sent", |m| {
        m.iter()
            .any(|x| x["id"] == id.as_str() && x["status"] != "pending")
    })
    .await;
    let on_phone = sent_by_api(&app, &link).await;
    let images: Vec<&Value> = on_phone
        .iter()
        .filter(|s| s["endpoint"] == "sendImage")
        .collect();
    assert_eq!(images.len(), 1, "{on_phone:#?}");
    assert!(images[0].to_string().contains("El salón"));
    // Another agent cannot send someone else's upload.
    let admin = app.register_admin("x@other.example", "Other").await;
    expect_problem(
        app.get(
            &format!("/api/v1/files/{}", file["id"].as_str().unwrap()),
            Some(&admin.access),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[sqlx::test]
async fn a_link_that_never_answers_does_not_hold_other_links_sends(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let (diego, stuck) = working_link(&app).await;
    // A second agent of the agency with a healthy link.
    let admin = app
        .login("admin@costa.example", crate::helpers::PASSWORD)
        .await;
    let eva = app.register_agent(&admin, "eva@costa.example").await;
    let healthy = expect_status(
        app.post("/api/v1/whatsapp/links", &json!({}), Some(&eva.access))
            .await,
        StatusCode::CREATED,
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.wait_link(&eva.access, &healthy, "scan_qr", |l| {
        l["status"] == "scan_qr"
    })
    .await;
    app.phone(
        &healthy,
        "scan",
        &json!({"phone": "34600000009", "pushName": "Eva"}),
    )
    .await;
    app.wait_link(&eva.access, &healthy, "working", |l| {
        l["status"] == "working"
    })
    .await;
    for (link, token) in [(&stuck, &diego.access), (&healthy, &eva.access)] {
        app.phone(
            link,
            "inbound",
            &json!({"from": "34600000002@c.us", "body": "Hola"}),
        )
        .await;
        wait_conversation(&app, token).await;
    }
    let conv_stuck = wait_conversation(&app, &diego.access).await;
    let conv_healthy = wait_conversation(&app, &eva.access).await;

    // The first link's WAHA is frozen (SIGSTOP): the container runs, its port takes
    // connections, nothing answers.
    let frozen = format!("puente-waha-{}", stuck.replace('-', ""));
    assert!(docker(&["kill", "--signal", "STOP", &frozen]).0);
    let send = |conv: &str, token: &str, client_id: &str| {
        let (conv, token, client_id) = (conv.to_string(), token.to_string(), client_id.to_string());
        let app = &app;
        async move {
            expect_status(
                app.post(
                    &format!("/api/v1/conversations/{conv}/messages"),
                    &json!({"client_id": client_id, "body": format!("mensaje {client_id}")}),
                    Some(&token),
                )
                .await,
                StatusCode::CREATED,
            )
            .await["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    let first = send(&conv_stuck, &diego.access, "s1").await;
    // Wait until its job is in flight, then the other link's message.
    for _ in 0..200 {
        let leased: bool = sqlx::query_scalar(
            "select coalesce(bool_or(locked_until > now()), false) from outbox where message_id = $1::uuid",
        )
        .bind(&first)
        .fetch_one(&app.pool)
        .await
        .unwrap();
        if leased {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let second = send(&conv_stuck, &diego.access, "s2").await;
    let other = send(&conv_healthy, &eva.access, "h1").await;
    wait_messages(
        &app,
        &eva.access,
        &conv_healthy,
        "the healthy link's message sent",
        |m| {
            m.iter()
                .any(|x| x["id"] == other.as_str() && x["status"] != "pending")
        },
    )
    .await;
    // It left while the frozen link's first attempt was still waiting for an answer, and
    // the frozen link's second message did not start a second wait beside it.
    let (first_leased, first_attempts): (bool, i32) = sqlx::query_as(
        "select locked_until > now(), attempts from outbox where message_id = $1::uuid",
    )
    .bind(&first)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert!(
        first_leased && first_attempts == 1,
        "the frozen send is still its first try"
    );
    let second_attempts: i32 =
        sqlx::query_scalar("select attempts from outbox where message_id = $1::uuid")
            .bind(&second)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(second_attempts, 0, "one job per link at a time");
    let sent = sent_by_api(&app, &healthy).await;
    assert!(
        sent.iter().any(|s| s.to_string().contains("mensaje h1")),
        "{sent:#?}"
    );

    // Thawed, the frozen link's messages leave once each, in order.
    assert!(docker(&["kill", "--signal", "CONT", &frozen]).0);
    let msgs = wait_messages(&app, &diego.access, &conv_stuck, "both sent", |m| {
        [&first, &second].iter().all(|id| {
            m.iter()
                .any(|x| x["id"] == id.as_str() && x["status"] != "pending")
        })
    })
    .await;
    assert!(
        msgs.iter()
            .filter(|x| x["direction"] == "out")
            .all(|x| x["status"] != "failed"),
        "{msgs:#?}"
    );
    let sent = sent_by_api(&app, &stuck).await;
    let order: Vec<usize> = ["mensaje s1", "mensaje s2"]
        .iter()
        .map(|t| {
            let hits: Vec<usize> = sent
                .iter()
                .enumerate()
                .filter(|(_, s)| s.to_string().contains(t))
                .map(|(i, _)| i)
                .collect();
            assert_eq!(hits.len(), 1, "{t} sent once: {sent:#?}");
            hits[0]
        })
        .collect();
    assert!(order[0] < order[1], "in order: {sent:#?}");
}

#[sqlx::test]
async fn an_agent_writes_first_to_a_new_whatsapp_number(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let (agent, link) = working_link(&app).await;
    let start = |phone: &str, client_id: &str, body: &str| {
        let req = json!({"phone": phone, "client_id": client_id, "body": body});
        let (app, token) = (&app, agent.access.clone());
        async move {
            app.post("/api/v1/conversations/whatsapp", &req, Some(&token))
                .await
        }
    };
    // Not on WhatsApp (the emulator's rule: a number starting with 0): refused, nothing kept.
    let refused = expect_problem(
        start("0612 345 678", "n0", "Hola").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(refused.to_string().contains("not on WhatsApp"), "{refused}");
    expect_problem(
        start("12", "n0", "Hola").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(conversations(&app, &agent.access).await.is_empty());

    let opened = expect_status(
        start("+34 611 222 333", "n1", "Hola, soy Diego de Costa Homes").await,
        StatusCode::CREATED,
    )
    .await;
    let conv = opened["conversation"]["id"].as_str().unwrap().to_string();
    assert_eq!(opened["conversation"]["channel"], "whatsapp");
    assert_eq!(opened["message"]["body"], "Hola, soy Diego de Costa Homes");
    let first = opened["message"]["id"].as_str().unwrap().to_string();
    wait_messages(&app, &agent.access, &conv, "the first message sent", |m| {
        m.iter()
            .any(|x| x["id"] == first.as_str() && x["status"] != "pending")
    })
    .await;
    let sent = sent_by_api(&app, &link).await;
    let out: Vec<&Value> = sent
        .iter()
        .filter(|s| s.to_string().contains("soy Diego"))
        .collect();
    assert_eq!(out.len(), 1, "{sent:#?}");
    assert!(out[0].to_string().contains("34611222333@c.us"), "{sent:#?}");

    // The same number again: the same conversation (200), the message added to it.
    let again = expect_status(
        start("34611222333", "n2", "¿Le llamo mañana?").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["conversation"]["id"], conv.as_str());
    // The same client id: the same message, not a second one.
    let retry = expect_status(
        start("34611222333", "n2", "¿Le llamo mañana?").await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(retry["message"]["id"], again["message"]["id"]);
    // The buyer answers on WhatsApp: into the same conversation.
    app.phone(
        &link,
        "inbound",
        &json!({"from": "34611222333@c.us", "body": "Sí, por la tarde"}),
    )
    .await;
    wait_messages(&app, &agent.access, &conv, "the answer", |m| {
        m.iter().any(|x| x["body"] == "Sí, por la tarde")
    })
    .await;
    let all = conversations(&app, &agent.access).await;
    assert_eq!(all.len(), 1, "one conversation for the number: {all:#?}");
    assert_eq!(all[0]["counterpart"]["name"], "34611222333", "{all:#?}");

    // Who may: not a buyer; not an agent without a link.
    let buyer = app.register_buyer("bea@example.com").await;
    expect_problem(
        app.post(
            "/api/v1/conversations/whatsapp",
            &json!({"phone": "34611222333", "client_id": "b", "body": "x"}),
            Some(&buyer.access),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden_role",
    )
    .await;
    let admin = app
        .login("admin@costa.example", crate::helpers::PASSWORD)
        .await;
    let eva = app.register_agent(&admin, "eva@costa.example").await;
    expect_problem(
        app.post(
            "/api/v1/conversations/whatsapp",
            &json!({"phone": "34611222333", "client_id": "e", "body": "x"}),
            Some(&eva.access),
        )
        .await,
        StatusCode::CONFLICT,
        "no_whatsapp_link",
    )
    .await;
}

#[sqlx::test]
async fn each_inbound_message_arrives_once_and_media_outlives_a_late_apply(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let (agent, link) = working_link(&app).await;
    app.phone(
        &link,
        "inbound",
        &json!({"from": "34600000002@c.us", "body": "Una sola vez"}),
    )
    .await;
    let conv = wait_conversation(&app, &agent.access).await;
    wait_messages(&app, &agent.access, &conv, "the message", |m| {
        m.iter().any(|x| x["body"] == "Una sola vez")
    })
    .await;
    let deliveries: i64 = sqlx::query_scalar(
        "select count(*) from waha_events where link_id = $1::uuid
         and event in ('message', 'message.any') and payload -> 'payload' ->> 'body' = 'Una sola vez'",
    )
    .bind(&link)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(deliveries, 1, "one webhook per inbound message");
    // The container keeps downloaded media long enough, in a /tmp sized for its engine.
    let name = format!("puente-waha-{}", link.replace('-', ""));
    let (_, env) = docker(&["inspect", "--format", "{{json .Config.Env}}", &name]);
    assert!(env.contains("WHATSAPP_FILES_LIFETIME=900"), "{env}");
    let (_, tmpfs) = docker(&["inspect", "--format", "{{json .HostConfig.Tmpfs}}", &name]);
    assert!(tmpfs.contains("size=256m"), "{tmpfs}");
}

#[sqlx::test]
async fn a_link_says_what_it_can_send_and_refusals_fail_for_good(pool: PgPool) {
    // Legacy Core (2026.2.1, CORE): media is Plus-only.
    let (app, _fleet) = TestApp::spawn_fleet(pool, |c| {
        c.waha
            .waha_extra_env
            .push("EMULATOR_FLAVOR=core-legacy".into());
    })
    .await;
    let (agent, link) = working_link(&app).await;
    let dto = app
        .wait_link(&agent.access, &link, "its version read", |l| {
            l["waha_tier"] == "CORE"
        })
        .await;
    assert_eq!(dto["can_send"], json!(["text"]), "{dto}");
    app.phone(
        &link,
        "inbound",
        &json!({"from": "34600000002@c.us", "body": "¿Me manda el plano?"}),
    )
    .await;
    let conv = wait_conversation(&app, &agent.access).await;
    let upload = |name: &'static str| {
        let app = &app;
        let token = agent.access.clone();
        async move {
            let resp = app
                .client
                .post(app.url(&format!("/api/v1/files?name={name}")))
                .bearer_auth(token)
                .header("content-type", "application/pdf")
                .body(b"%PDF-1.4 plano".to_vec())
                .send()
                .await
                .unwrap();
            expect_status(resp, StatusCode::CREATED).await["id"]
                .as_str()
                .unwrap()
                .to_string()
        }
    };
    // Refused before anything is stored.
    let file = upload("plano.pdf").await;
    let refused = expect_problem(
        app.post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &json!({"client_id": "pdf1", "file_id": file}),
            Some(&agent.access),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert!(
        refused.to_string().contains("cannot send file messages"),
        "{refused}"
    );
    assert!(messages(&app, &agent.access, &conv)
        .await
        .iter()
        .all(|m| m["direction"] == "in"));

    // Before Puente knows the version, the send is tried: WAHA's "only in Plus" fails it at
    // once, for good, with a reason — not retried until its deadline.
    sqlx::query(
        "update whatsapp_links set waha_tier = null, waha_version = null where id = $1::uuid",
    )
    .bind(&link)
    .execute(&app.pool)
    .await
    .unwrap();
    let file = upload("plano2.pdf").await;
    let m = expect_status(
        app.post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &json!({"client_id": "pdf2", "file_id": file}),
            Some(&agent.access),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let id = m["id"].as_str().unwrap().to_string();
    let failed = wait_failed(&app, &agent.access, &conv, &id).await;
    assert_eq!(failed["failure_reason"], "not_supported_by_link");
    let attempts: i32 =
        sqlx::query_scalar("select attempts from outbox where message_id = $1::uuid")
            .bind(&id)
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(attempts, 1, "not retried");
}

#[sqlx::test]
async fn the_agency_admin_hears_an_agents_whatsapp_messages_live(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let (agent, link) = working_link(&app).await;
    let admin = app
        .login("admin@costa.example", crate::helpers::PASSWORD)
        .await;
    let mut admin_ws = Ws::connect(&app, &admin.access, None).await;
    app.phone(
        &link,
        "inbound",
        &json!({"from": "34600000002@c.us", "body": "Busco piso en el centro"}),
    )
    .await;
    let heard = admin_ws
        .wait(30, "the inbound WhatsApp message", |v| {
            v["type"] == "message.created"
                && v["data"]["message"]["body"] == "Busco piso en el centro"
        })
        .await;
    let conv = wait_conversation(&app, &agent.access).await;
    assert_eq!(heard["data"]["conversation_id"], conv.as_str());
}
