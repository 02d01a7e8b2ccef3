//! One inbox: in-app conversations about listings, live on both sides, with read receipts,
//! edit/delete while unread, notes, archive/close, reassignment, search and the
//! cross-channel view — and who may see what.

use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{expect_problem, expect_status, Session, TestApp, Ws};

struct World {
    admin: Session,
    agent: Session,
    agent2: Session,
    buyer: Session,
    buyer2: Session,
    property: Uuid,
}

async fn world(app: &TestApp) -> World {
    let admin = app
        .register_admin("admin@costa.example", "Costa Homes")
        .await;
    let agent = app.register_agent(&admin, "diego@costa.example").await;
    let agent2 = app.register_agent(&admin, "eva@costa.example").await;
    let buyer = app.register_buyer("bea@example.com").await;
    let buyer2 = app.register_buyer("bob@example.com").await;
    let property = Uuid::now_v7();
    sqlx::query(
        "insert into properties (id, agency_id, agent_id, title, description, price_cents, city, property_type)
         select $1, agency_id, id, 'Ático en la calle Mayor', 'Luminoso, con terraza', 35000000, 'Madrid', 'apartment' from users where id = $2",
    )
    .bind(property)
    .bind(agent.id.parse::<Uuid>().unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
    World {
        admin,
        agent,
        agent2,
        buyer,
        buyer2,
        property,
    }
}

async fn start(app: &TestApp, buyer: &Session, property: Uuid) -> (StatusCode, Value) {
    let resp = app
        .post(
            "/api/v1/conversations",
            &json!({"property_id": property}),
            Some(&buyer.access),
        )
        .await;
    let status = resp.status();
    (status, resp.json().await.unwrap())
}

async fn send(app: &TestApp, who: &Session, conv: &str, client_id: &str, body: &str) -> Value {
    expect_status(
        app.post(
            &format!("/api/v1/conversations/{conv}/messages"),
            &json!({"client_id": client_id, "body": body}),
            Some(&who.access),
        )
        .await,
        StatusCode::CREATED,
    )
    .await
}

#[sqlx::test]
async fn a_buyer_and_an_agent_talk_live_in_the_app(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let w = world(&app).await;
    let (status, conv) = start(&app, &w.buyer, w.property).await;
    assert_eq!(status, StatusCode::CREATED, "{conv}");
    assert_eq!(conv["channel"], "in_app");
    assert_eq!(conv["counterpart"]["kind"], "agent");
    assert_eq!(conv["property_title"], "Ático en la calle Mayor");
    let id = conv["id"].as_str().unwrap().to_string();
    let (status, again) = start(&app, &w.buyer, w.property).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        again["id"],
        id.as_str(),
        "one conversation per buyer, listing and agent"
    );

    let mut agent_ws = Ws::connect(&app, &w.agent.access, None).await;
    let mut buyer_ws = Ws::connect(&app, &w.buyer.access, None).await;
    agent_ws.next(5).await;
    buyer_ws.next(5).await;

    let m = send(
        &app,
        &w.buyer,
        &id,
        "b-1",
        "Hola, ¿se puede visitar el sábado?",
    )
    .await;
    assert_eq!(m["status"], "sent");
    let got = agent_ws
        .wait(10, "message.created", |v| v["type"] == "message.created")
        .await;
    assert_eq!(
        got["data"]["message"]["body"],
        "Hola, ¿se puede visitar el sábado?"
    );
    let list = expect_status(
        app.get("/api/v1/conversations", Some(&w.agent.access))
            .await,
        StatusCode::OK,
    )
    .await;
    let item = &list["items"][0];
    assert_eq!(item["unread_count"], 1);
    assert_eq!(
        item["last_message"]["preview"],
        "Hola, ¿se puede visitar el sábado?"
    );
    assert_eq!(item["counterpart"]["kind"], "buyer");
    assert_eq!(item["counterpart"]["name"], "Bea Buyer");
    let unread = expect_status(
        app.get("/api/v1/unread-count", Some(&w.agent.access)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unread, json!({"conversations": 1, "messages": 1}));

    let reply = send(&app, &w.agent, &id, "a-1", "¡Claro! A las 11.").await;
    let heard = buyer_ws
        .wait(10, "reply", |v| {
            v["type"] == "message.created" && v["data"]["message"]["body"] == "¡Claro! A las 11."
        })
        .await;
    assert_eq!(heard["data"]["message"]["id"], reply["id"]);
    // The agent reads: the buyer sees the receipt.
    assert_eq!(
        app.post(
            &format!("/api/v1/conversations/{id}/read"),
            &json!({}),
            Some(&w.agent.access)
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    let read = buyer_ws
        .wait(10, "read receipt", |v| v["type"] == "read")
        .await;
    assert_eq!(read["data"]["user_id"], w.agent.id.as_str());
    let unread = expect_status(
        app.get("/api/v1/unread-count", Some(&w.agent.access)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unread["messages"], 0);

    // 5,000 characters at most; text is stored verbatim (never rendered as HTML).
    let e = expect_problem(
        app.post(
            &format!("/api/v1/conversations/{id}/messages"),
            &json!({"client_id": "b-2", "body": "x".repeat(5001)}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(e["errors"][0]["field"], "body");
    let html = send(&app, &w.buyer, &id, "b-3", "<script>alert(1)</script>").await;
    assert_eq!(html["body"], "<script>alert(1)</script>");

    // Nobody else reads it.
    for who in [&w.buyer2, &w.agent2] {
        expect_problem(
            app.get(&format!("/api/v1/conversations/{id}"), Some(&who.access))
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        expect_problem(
            app.get(
                &format!("/api/v1/conversations/{id}/messages"),
                Some(&who.access),
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        expect_problem(
            app.post(
                &format!("/api/v1/conversations/{id}/messages"),
                &json!({"client_id": "x", "body": "x"}),
                Some(&who.access),
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    // The agency admin sees it but cannot write as the agent.
    expect_status(
        app.get(
            &format!("/api/v1/conversations/{id}/messages"),
            Some(&w.admin.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    expect_problem(
        app.post(
            &format!("/api/v1/conversations/{id}/messages"),
            &json!({"client_id": "x", "body": "x"}),
            Some(&w.admin.access),
        )
        .await,
        StatusCode::FORBIDDEN,
        "not_your_conversation",
    )
    .await;
    let op = app.operator("ops@puente.example").await;
    expect_problem(
        app.get("/api/v1/conversations", Some(&op.access)).await,
        StatusCode::FORBIDDEN,
        "forbidden_role",
    )
    .await;
    expect_problem(
        app.get(
            &format!("/api/v1/conversations/{id}/messages"),
            Some(&op.access),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.get("/api/v1/conversations", None).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    // Only buyers start conversations, only about active listings.
    expect_problem(
        app.post(
            "/api/v1/conversations",
            &json!({"property_id": w.property}),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden_role",
    )
    .await;
    expect_problem(
        app.post(
            "/api/v1/conversations",
            &json!({"property_id": Uuid::now_v7()}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[sqlx::test]
async fn own_messages_can_change_only_while_unread(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let w = world(&app).await;
    let id = start(&app, &w.buyer, w.property).await.1["id"]
        .as_str()
        .unwrap()
        .to_string();
    let first = send(&app, &w.buyer, &id, "1", "Hola").await;
    let fid = first["id"].as_str().unwrap();
    let edited = expect_status(
        app.patch(
            &format!("/api/v1/conversations/{id}/messages/{fid}"),
            &json!({"body": "Hola, buenas"}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(edited["body"], "Hola, buenas");
    assert!(edited["edited_at"].is_string());
    // Not someone else's.
    expect_problem(
        app.patch(
            &format!("/api/v1/conversations/{id}/messages/{fid}"),
            &json!({"body": "hack"}),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::FORBIDDEN,
        "not_your_message",
    )
    .await;
    // Once read, frozen.
    assert_eq!(
        app.post(
            &format!("/api/v1/conversations/{id}/read"),
            &json!({}),
            Some(&w.agent.access)
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    expect_problem(
        app.patch(
            &format!("/api/v1/conversations/{id}/messages/{fid}"),
            &json!({"body": "changed"}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::CONFLICT,
        "already_read",
    )
    .await;
    expect_problem(
        app.delete(
            &format!("/api/v1/conversations/{id}/messages/{fid}"),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::CONFLICT,
        "already_read",
    )
    .await;
    // A newer, unread one can go.
    let second = send(&app, &w.buyer, &id, "2", "¿Tiene garaje?").await;
    let sid = second["id"].as_str().unwrap();
    assert_eq!(
        app.delete(
            &format!("/api/v1/conversations/{id}/messages/{sid}"),
            Some(&w.buyer.access)
        )
        .await
        .status(),
        StatusCode::NO_CONTENT
    );
    let msgs = expect_status(
        app.get(
            &format!("/api/v1/conversations/{id}/messages"),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let gone = msgs
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == sid)
        .unwrap();
    assert!(gone["body"].is_null() && gone["deleted_at"].is_string());
}

#[sqlx::test]
async fn blocks_notes_archive_reassign_and_filters(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let w = world(&app).await;
    let id = start(&app, &w.buyer, w.property).await.1["id"]
        .as_str()
        .unwrap()
        .to_string();
    send(&app, &w.buyer, &id, "1", "Hola").await;

    // Internal notes: staff only.
    let mut buyer_ws = Ws::connect(&app, &w.buyer.access, None).await;
    buyer_ws.next(5).await;
    let note = expect_status(
        app.post(
            &format!("/api/v1/conversations/{id}/notes"),
            &json!({"body": "Cliente con hipoteca preaprobada"}),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(note["kind"], "note");
    expect_problem(
        app.post(
            &format!("/api/v1/conversations/{id}/notes"),
            &json!({"body": "x"}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden_role",
    )
    .await;
    let buyer_view = expect_status(
        app.get(
            &format!("/api/v1/conversations/{id}/messages"),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(buyer_view
        .as_array()
        .unwrap()
        .iter()
        .all(|m| m["kind"] != "note"));
    let agent_view = expect_status(
        app.get(
            &format!("/api/v1/conversations/{id}/messages"),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert!(agent_view
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["kind"] == "note"));
    assert!(
        buyer_ws.next(2).await.is_none(),
        "no note reaches the buyer: {:?}",
        buyer_ws.seen
    );
    let search = expect_status(
        app.get("/api/v1/search?q=hipoteca", Some(&w.buyer.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        search.as_array().unwrap().len(),
        0,
        "notes are not searchable by buyers"
    );

    // Blocked: the buyer can no longer write to the agent.
    sqlx::query("insert into blocks (blocker_id, blocked_id) values ($1, $2)")
        .bind(w.agent.id.parse::<Uuid>().unwrap())
        .bind(w.buyer.id.parse::<Uuid>().unwrap())
        .execute(&app.pool)
        .await
        .unwrap();
    expect_problem(
        app.post(
            &format!("/api/v1/conversations/{id}/messages"),
            &json!({"client_id": "2", "body": "¿hola?"}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::FORBIDDEN,
        "blocked",
    )
    .await;

    // Archive, filters, close.
    let archived = expect_status(
        app.post(
            &format!("/api/v1/conversations/{id}/archive"),
            &json!({}),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(archived["status"], "archived");
    expect_problem(
        app.post(
            &format!("/api/v1/conversations/{id}/archive"),
            &json!({}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden_role",
    )
    .await;
    let by_property = format!("property_id={}", w.property);
    for (q, n) in [
        ("status=archived", 1),
        ("status=open", 0),
        ("channel=whatsapp", 0),
        ("channel=in_app", 1),
        ("unread=true", 1),
        (by_property.as_str(), 1),
    ] {
        let page = expect_status(
            app.get(&format!("/api/v1/conversations?{q}"), Some(&w.agent.access))
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(page["items"].as_array().unwrap().len(), n, "{q}");
    }
    expect_problem(
        app.get("/api/v1/conversations?channel=fax", Some(&w.agent.access))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_status(
        app.post(
            &format!("/api/v1/conversations/{id}/unarchive"),
            &json!({}),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    // The agency admin reassigns it to another agent.
    expect_problem(
        app.post(
            &format!("/api/v1/conversations/{id}/assign"),
            &json!({"agent_id": w.agent2.id}),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden_role",
    )
    .await;
    let moved = expect_status(
        app.post(
            &format!("/api/v1/conversations/{id}/assign"),
            &json!({"agent_id": w.agent2.id}),
            Some(&w.admin.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(moved["agent_id"], w.agent2.id.as_str());
    expect_problem(
        app.get(
            &format!("/api/v1/conversations/{id}"),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_status(
        app.get(
            &format!("/api/v1/conversations/{id}"),
            Some(&w.agent2.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let other_admin = app.register_admin("admin@other.example", "Other").await;
    expect_problem(
        app.post(
            &format!("/api/v1/conversations/{id}/assign"),
            &json!({"agent_id": w.agent2.id}),
            Some(&other_admin.access),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let closed = expect_status(
        app.post(
            &format!("/api/v1/conversations/{id}/close"),
            &json!({}),
            Some(&w.agent2.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(closed["status"], "closed");
    assert_eq!(
        expect_status(
            app.get("/api/v1/conversations", Some(&w.agent2.access))
                .await,
            StatusCode::OK
        )
        .await["items"]
            .as_array()
            .unwrap()
            .len(),
        0,
        "closed ones leave the inbox"
    );
    expect_problem(
        app.post(
            &format!("/api/v1/conversations/{id}/messages"),
            &json!({"client_id": "3", "body": "x"}),
            Some(&w.agent2.access),
        )
        .await,
        StatusCode::CONFLICT,
        "conversation_closed",
    )
    .await;
}

#[sqlx::test]
async fn search_finds_spanish_and_english_words_in_your_messages_only(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let w = world(&app).await;
    let id = start(&app, &w.buyer, w.property).await.1["id"]
        .as_str()
        .unwrap()
        .to_string();
    send(
        &app,
        &w.buyer,
        &id,
        "1",
        "Buscamos apartamentos luminosos con terrazas",
    )
    .await;
    send(
        &app,
        &w.agent,
        &id,
        "2",
        "We also have houses with big balconies",
    )
    .await;
    for (q, expect) in [
        ("apartamento", 1),
        ("terraza", 1),
        ("balcony", 1),
        ("house", 1),
        ("piscina", 0),
    ] {
        let hits = expect_status(
            app.get(&format!("/api/v1/search?q={q}"), Some(&w.agent.access))
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(hits.as_array().unwrap().len(), expect, "{q}: {hits}");
    }
    let hits = expect_status(
        app.get("/api/v1/search?q=balcony", Some(&w.buyer2.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(
        hits.as_array().unwrap().len(),
        0,
        "another buyer finds nothing"
    );
    expect_problem(
        app.get("/api/v1/search?q=", Some(&w.agent.access)).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[sqlx::test]
async fn one_person_on_both_channels_is_one_timeline_for_the_agent(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let w = world(&app).await;
    // The buyer has a phone; the agent's WhatsApp already talks to that number.
    assert_eq!(
        app.patch(
            "/api/v1/me",
            &json!({"phone": "+34 611 000 111"}),
            Some(&w.buyer.access)
        )
        .await
        .status(),
        StatusCode::OK
    );
    let agent_id: Uuid = w.agent.id.parse().unwrap();
    let agency: Uuid = w.admin.body["user"]["agency_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let link = Uuid::now_v7();
    puente::db::links::insert(&app.pool, link, agent_id, agency, "GOWS", "img", "x")
        .await
        .unwrap();
    let contact = puente::db::chat::insert_contact(
        &app.pool,
        link,
        Some("34611000111@c.us"),
        None,
        Some("34611000111"),
        Some("Bea"),
    )
    .await
    .unwrap();
    let wa = puente::db::chat::insert_wa_conversation(
        &app.pool,
        agency,
        agent_id,
        link,
        Some(contact.id),
        "34611000111@c.us",
        false,
    )
    .await
    .unwrap();
    sqlx::query("insert into messages (id, conversation_id, direction, kind, body, status, link_id, sent_at) values ($1, $2, 'in', 'text', 'por WhatsApp', 'delivered', $3, now() - interval '1 hour')")
        .bind(Uuid::now_v7()).bind(wa.id).bind(link).execute(&app.pool).await.unwrap();

    let id = start(&app, &w.buyer, w.property).await.1["id"]
        .as_str()
        .unwrap()
        .to_string();
    send(&app, &w.buyer, &id, "1", "por la app").await;
    let view = expect_status(
        app.get(
            &format!("/api/v1/conversations/{id}"),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(view["related_conversation_ids"], json!([wa.id]));
    let wa_view = expect_status(
        app.get(
            &format!("/api/v1/conversations/{}", wa.id),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(wa_view["related_conversation_ids"], json!([id]));
    let merged = expect_status(
        app.get(
            &format!("/api/v1/conversations/{id}/messages?merged=true"),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let bodies: Vec<&str> = merged
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["body"].as_str().unwrap())
        .collect();
    assert_eq!(
        bodies,
        ["por la app", "por WhatsApp"],
        "one timeline, newest first"
    );
    // The buyer sees only their own thread.
    let buyer_view = expect_status(
        app.get(
            &format!("/api/v1/conversations/{id}/messages?merged=true"),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(buyer_view.as_array().unwrap().len(), 1);
    let mine = expect_status(
        app.get(
            &format!("/api/v1/conversations/{id}"),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(mine["related_conversation_ids"], json!([]));
    // Paging with after/before over the merged timeline.
    let oldest = merged[1]["id"].as_str().unwrap();
    let newer = expect_status(
        app.get(
            &format!("/api/v1/conversations/{id}/messages?merged=true&after={oldest}"),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(newer.as_array().unwrap().len(), 1);
    assert_eq!(newer[0]["body"], "por la app");
}

#[sqlx::test]
async fn photos_in_the_app_get_thumbnails_and_stay_private(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let w = world(&app).await;
    let id = start(&app, &w.buyer, w.property).await.1["id"]
        .as_str()
        .unwrap()
        .to_string();
    let jpeg = {
        let img = image::RgbImage::from_pixel(1000, 800, image::Rgb([90, 160, 60]));
        let mut out = std::io::Cursor::new(Vec::new());
        img.write_to(&mut out, image::ImageFormat::Jpeg).unwrap();
        out.into_inner()
    };
    let up = app
        .client
        .post(app.url("/api/v1/files?name=jardin.jpg"))
        .bearer_auth(&w.buyer.access)
        .header("content-type", "image/jpeg")
        .body(jpeg.clone())
        .send()
        .await
        .unwrap();
    let file = expect_status(up, StatusCode::CREATED).await;
    assert_eq!(
        (file["width"].as_i64(), file["height"].as_i64()),
        (Some(1000), Some(800))
    );
    let thumb_url = file["thumbnail_url"].as_str().unwrap().to_string();
    // A "JPEG" that is not one is refused.
    let bad = app
        .client
        .post(app.url("/api/v1/files"))
        .bearer_auth(&w.buyer.access)
        .header("content-type", "image/jpeg")
        .body(b"not really".to_vec())
        .send()
        .await
        .unwrap();
    expect_problem(bad, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;

    let m = expect_status(
        app.post(
            &format!("/api/v1/conversations/{id}/messages"),
            &json!({"client_id": "p1", "body": "Así está el jardín", "file_id": file["id"]}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(m["kind"], "image");
    assert_eq!(m["media"]["thumbnail_url"], thumb_url.as_str());
    // The agent downloads the photo and its thumbnail; other people cannot.
    let full = app
        .get(m["media"]["url"].as_str().unwrap(), Some(&w.agent.access))
        .await;
    assert_eq!(full.status(), StatusCode::OK);
    assert_eq!(full.bytes().await.unwrap().len(), jpeg.len());
    let t = app.get(&thumb_url, Some(&w.agent.access)).await;
    assert_eq!(t.headers()["content-type"], "image/png");
    let t = image::load_from_memory(&t.bytes().await.unwrap()).unwrap();
    assert_eq!((t.width(), t.height()), (320, 256));
    for who in [&w.buyer2, &w.agent2] {
        expect_problem(
            app.get(&thumb_url, Some(&who.access)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    // Someone else's upload cannot be sent.
    expect_problem(
        app.post(
            &format!("/api/v1/conversations/{id}/messages"),
            &json!({"client_id": "p2", "file_id": file["id"]}),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
}

#[sqlx::test]
async fn the_word_filter_applies_to_in_app_messages(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| {
        c.waha.supervise = false;
        c.blocked_words = vec!["estafa".into()];
    })
    .await;
    let w = world(&app).await;
    let id = start(&app, &w.buyer, w.property).await.1["id"]
        .as_str()
        .unwrap()
        .to_string();
    let e = expect_problem(
        app.post(
            &format!("/api/v1/conversations/{id}/messages"),
            &json!({"client_id": "1", "body": "Esto es una ESTAFÁ"}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(e["errors"][0]["field"], "body");
    let ok = send(&app, &w.buyer, &id, "2", "¿Es una estafeta?").await;
    let mid = ok["id"].as_str().unwrap();
    expect_problem(
        app.patch(
            &format!("/api/v1/conversations/{id}/messages/{mid}"),
            &json!({"body": "estafa"}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let stored: i64 = sqlx::query_scalar("select count(*) from messages")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(stored, 1, "the refused message was not stored");
}

#[sqlx::test]
async fn marking_unread_brings_back_the_newest_message_for_the_caller_only(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let w = world(&app).await;
    let (_, conv) = start(&app, &w.buyer, w.property).await;
    let id = conv["id"].as_str().unwrap().to_string();
    let b1 = send(&app, &w.buyer, &id, "b-1", "Hola").await;
    let b2 = send(&app, &w.buyer, &id, "b-2", "¿Sigue disponible?").await;
    let a1 = send(&app, &w.agent, &id, "a-1", "Sí, claro.").await;
    let unread_url = format!("/api/v1/conversations/{id}/unread");
    let unread_total = |s: &Session| {
        let token = s.access.clone();
        let app = &app;
        async move {
            expect_status(
                app.get("/api/v1/unread-count", Some(&token)).await,
                StatusCode::OK,
            )
            .await
        }
    };
    expect_status(
        app.post(
            &format!("/api/v1/conversations/{id}/read"),
            &json!({}),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(unread_total(&w.agent).await["messages"], 0);

    let mut agent_ws = Ws::connect(&app, &w.agent.access, None).await;
    agent_ws.next(5).await;
    let state = expect_status(
        app.post(&unread_url, &json!({}), Some(&w.agent.access))
            .await,
        StatusCode::OK,
    )
    .await;
    // The marker is just before the buyer's newest message; the agent's own reply after it
    // does not count.
    assert_eq!(
        state,
        json!({"conversation_id": id, "up_to": b1["id"], "unread_count": 1})
    );
    assert_eq!(
        unread_total(&w.agent).await,
        json!({"conversations": 1, "messages": 1})
    );
    let list = expect_status(
        app.get("/api/v1/conversations", Some(&w.agent.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list["items"][0]["unread_count"], 1);
    // The agent's other sockets hear of it…
    let ev = agent_ws
        .wait(10, "read (unread)", |v| {
            v["type"] == "read" && v["data"]["unread"] == true
        })
        .await;
    assert_eq!(ev["data"]["conversation_id"], id.as_str());
    assert_eq!(ev["data"]["up_to"], b1["id"]);
    assert_eq!(ev["data"]["user_id"], w.agent.id.as_str());
    // …the buyer is not told (no receipt goes backwards).
    let told_buyer: i64 = sqlx::query_scalar(
        "select count(*) from user_events where user_id = $1::uuid and kind = 'read' and payload ? 'unread'",
    )
    .bind(&w.buyer.id)
    .fetch_one(&app.pool)
    .await
    .unwrap();
    assert_eq!(told_buyer, 0);
    // Idempotent, and reading again clears it.
    let again = expect_status(
        app.post(&unread_url, &json!({}), Some(&w.agent.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["unread_count"], 1);
    expect_status(
        app.post(
            &format!("/api/v1/conversations/{id}/read"),
            &json!({}),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(unread_total(&w.agent).await["messages"], 0);

    // The buyer's side: the other side's newest is the agent's reply.
    let state = expect_status(
        app.post(&unread_url, &json!({}), Some(&w.buyer.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(state["up_to"], b2["id"]);
    assert_eq!(state["unread_count"], 1);
    assert_ne!(state["up_to"], a1["id"]);

    // The agency admin sees the conversation, so may mark it unread for themselves: the
    // agent's reply and the buyer's messages are all the other side to them.
    let admin_state = expect_status(
        app.post(&unread_url, &json!({}), Some(&w.admin.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(admin_state["up_to"], b2["id"]);
    assert_eq!(unread_total(&w.agent).await["messages"], 0, "per user");
}

#[sqlx::test]
async fn marking_unread_follows_the_read_visibility_rules(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let w = world(&app).await;
    let (_, conv) = start(&app, &w.buyer, w.property).await;
    let id = conv["id"].as_str().unwrap().to_string();
    let unread_url = format!("/api/v1/conversations/{id}/unread");

    // Nothing from the other side yet.
    expect_problem(
        app.post(&unread_url, &json!({}), Some(&w.agent.access))
            .await,
        StatusCode::CONFLICT,
        "nothing_to_mark_unread",
    )
    .await;
    send(&app, &w.buyer, &id, "b-1", "Hola").await;
    expect_problem(
        app.post(&unread_url, &json!({}), Some(&w.buyer.access))
            .await,
        StatusCode::CONFLICT,
        "nothing_to_mark_unread",
    )
    .await;
    // The first message: nothing before it, so the marker is cleared.
    let state = expect_status(
        app.post(&unread_url, &json!({}), Some(&w.agent.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(state["up_to"], Value::Null);
    assert_eq!(state["unread_count"], 1);

    // Whoever cannot read it cannot mark it.
    let op = app.operator("op@puente.example").await;
    for who in [&w.agent2, &w.buyer2, &op] {
        expect_problem(
            app.post(&unread_url, &json!({}), Some(&who.access)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    expect_problem(
        app.post(
            &format!("/api/v1/conversations/{}/unread", Uuid::now_v7()),
            &json!({}),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.post(&unread_url, &json!({}), None).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
}

/// A busy inbox, written straight to the database with fixed ids and times: one agency
/// (admin + agent), three buyers (the first with a phone), ten in-app conversations about ten
/// listings and ten WhatsApp chats on one link (the first with the first buyer's phone, so
/// the two are related), plus a closed conversation and a group the inbox hides. Each
/// conversation has a few messages: from either side, a photo without text, a deleted one,
/// internal notes (newest in some), reactions, and read markers here and there.
struct BusyInbox {
    admin: String,
    agent: String,
    buyers: Vec<String>,
}

async fn busy_inbox(app: &TestApp) -> BusyInbox {
    let id = |n: u128| Uuid::from_u128(n);
    let agency = id(0xa01);
    let (admin, agent) = (id(0xb01), id(0xb02));
    let buyers = [id(0xc01), id(0xc02), id(0xc03)];
    let link = id(0xe01);
    let at = |minutes: i64| {
        chrono::DateTime::parse_from_rfc3339("2026-01-01T10:00:00Z")
            .unwrap()
            .with_timezone(&chrono::Utc)
            + chrono::Duration::minutes(minutes)
    };
    let exec = |sql: &'static str| sqlx::query(sql);
    exec("insert into agencies (id, name) values ($1, 'Costa Homes')")
        .bind(agency)
        .execute(&app.pool)
        .await
        .unwrap();
    for (user, role, email, name, phone, agency) in [
        (
            admin,
            "agency_admin",
            "alba@costa.example",
            "Alba Admin",
            None,
            Some(agency),
        ),
        (
            agent,
            "agent",
            "diego@costa.example",
            "Diego Agent",
            None,
            Some(agency),
        ),
        (
            buyers[0],
            "buyer",
            "bea@example.com",
            "Bea Buyer",
            Some("34611000111"),
            None,
        ),
        (
            buyers[1],
            "buyer",
            "bob@example.com",
            "Bob Buyer",
            None,
            None,
        ),
        (
            buyers[2],
            "buyer",
            "cai@example.com",
            "Cai Buyer",
            None,
            None,
        ),
    ] {
        exec("insert into users (id, email, password_hash, display_name, phone, role, agency_id) values ($1, $2, 'x', $3, $4, $5, $6)")
            .bind(user).bind(email).bind(name).bind(phone).bind(role).bind(agency)
            .execute(&app.pool).await.unwrap();
    }
    puente::db::links::insert(&app.pool, link, agent, agency, "GOWS", "img", "x")
        .await
        .unwrap();
    let mut minute = 0;
    for n in 0..22u128 {
        let conv = id(0x1000 + n);
        let whatsapp = n >= 10;
        let (buyer, contact, property) = if whatsapp {
            let contact = id(0xf00 + n);
            let phone = if n == 10 {
                "34611000111".to_string()
            } else {
                format!("346220001{n:02}")
            };
            let name = (n % 3 != 0).then(|| format!("Contact {n}"));
            exec("insert into contacts (id, link_id, wa_id, phone, push_name) values ($1, $2, $3, $4, $5)")
                .bind(contact).bind(link).bind(format!("{phone}@c.us")).bind(phone.clone()).bind(name)
                .execute(&app.pool).await.unwrap();
            (None, Some(contact), None)
        } else {
            let property = id(0xd00 + n);
            exec("insert into properties (id, agency_id, agent_id, title, price_cents, city, property_type) values ($1, $2, $3, $4, 100, 'Madrid', 'house')")
                .bind(property).bind(agency).bind(agent).bind(format!("Casa {n}"))
                .execute(&app.pool).await.unwrap();
            (Some(buyers[n as usize % 3]), None, Some(property))
        };
        let status = match n {
            20 => "closed",
            3 | 14 => "archived",
            _ => "open",
        };
        let chat_id = contact.map(|_| {
            if n == 21 {
                "12036300000@g.us".to_string()
            } else {
                format!("chat{n}@c.us")
            }
        });
        exec("insert into conversations (id, agency_id, agent_id, channel, link_id, contact_id, chat_id, is_group, buyer_id, property_id, status, created_at) values ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)")
            .bind(conv).bind(agency).bind(agent)
            .bind(if whatsapp { "whatsapp" } else { "in_app" })
            .bind(whatsapp.then_some(link)).bind(contact).bind(chat_id).bind(n == 21)
            .bind(buyer).bind(property).bind(status).bind(at(n as i64))
            .execute(&app.pool).await.unwrap();
        // A conversation without any message yet keeps its creation time as activity.
        let messages = if n == 7 { 0 } else { 2 + (n % 3) as usize };
        let mut last = None;
        for k in 0..messages {
            minute += 1;
            let msg = id(0x10000 + n * 16 + k as u128);
            let from_other = k % 2 == 0;
            let (direction, author_user, author_contact) = match (from_other, buyer) {
                (true, Some(b)) => ("out", Some(b), None),
                (true, None) => ("in", None, contact),
                (false, _) => ("out", Some(agent), None),
            };
            let note = k == messages - 1 && n % 4 == 1;
            let (kind, body) = match (note, k, n % 5) {
                (true, _, _) => ("note", Some(format!("nota interna {n}"))),
                (_, 1, 2) => ("image", None),
                (_, _, 4) if k == messages - 1 => ("text", Some("x".repeat(200))),
                _ => ("text", Some(format!("mensaje {n}.{k}"))),
            };
            let deleted = n % 6 == 5 && k == messages - 1 && !note;
            exec("insert into messages (id, conversation_id, direction, author_user_id, author_contact_id, kind, body, status, internal, link_id, sent_at, created_at, deleted_at) values ($1, $2, $3, $4, $5, $6, $7, 'delivered', $8, $9, $10, $10, $11)")
                .bind(msg).bind(conv).bind(direction).bind(author_user).bind(author_contact)
                .bind(kind).bind(if deleted { None } else { body }).bind(note)
                .bind(whatsapp.then_some(link)).bind(at(100 + minute)).bind(deleted.then(|| at(100 + minute)))
                .execute(&app.pool).await.unwrap();
            if k == 0 && n % 3 == 0 {
                exec("insert into message_reactions (message_id, author_key, emoji, created_at) values ($1, $2, '👍', $3)")
                    .bind(msg).bind(format!("user:{agent}")).bind(at(500))
                    .execute(&app.pool).await.unwrap();
            }
            if k == 0 && n % 2 == 0 {
                exec("insert into conversation_reads (conversation_id, user_id, last_read_message_id) values ($1, $2, $3)")
                    .bind(conv).bind(agent).bind(msg)
                    .execute(&app.pool).await.unwrap();
            }
            last = Some(at(100 + minute));
        }
        exec("update conversations set last_message_at = $2 where id = $1")
            .bind(conv)
            .bind(last)
            .execute(&app.pool)
            .await
            .unwrap();
    }
    use puente::model::Role;
    let token = |user: Uuid, role: Role, agency: Option<Uuid>| {
        app.state.jwt.issue(user, role, agency).unwrap()
    };
    BusyInbox {
        admin: token(admin, Role::AgencyAdmin, Some(agency)),
        agent: token(agent, Role::Agent, Some(agency)),
        buyers: buyers
            .iter()
            .map(|b| token(*b, Role::Buyer, None))
            .collect(),
    }
}

#[sqlx::test]
async fn a_page_of_conversations_costs_a_fixed_number_of_statements(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let inbox = busy_inbox(&app).await;
    let (counter, _guard) = crate::helpers::StatementCounter::install("/api/v1/conversations");
    for (who, token, items) in [
        ("agent", &inbox.agent, 20),
        ("admin", &inbox.admin, 20),
        ("buyer", &inbox.buyers[0], 4),
    ] {
        let page = expect_status(
            app.get("/api/v1/conversations?limit=20", Some(token)).await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(page["items"].as_array().unwrap().len(), items, "{who}");
        let statements = counter.take();
        // Authentication, then the page: not one query per conversation.
        assert!(
            statements <= 3,
            "{who}: a page of {items} conversations ran {statements} SQL statements"
        );
    }
}

async fn upload(app: &TestApp, who: &Session, bytes: Vec<u8>) -> Response {
    app.client
        .post(app.url("/api/v1/files?name=plano.pdf"))
        .bearer_auth(&who.access)
        .header("content-type", "application/pdf")
        .body(bytes)
        .send()
        .await
        .unwrap()
}

fn retry_after(resp: &Response) -> u64 {
    resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap()
}

#[sqlx::test]
async fn sends_are_rate_limited_per_author_and_retries_are_not_counted(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| {
        c.waha.supervise = false;
        c.sends_per_minute = 3;
    })
    .await;
    let w = world(&app).await;
    let id = start(&app, &w.buyer, w.property).await.1["id"]
        .as_str()
        .unwrap()
        .to_string();
    for n in 1..=3 {
        send(&app, &w.buyer, &id, &format!("c{n}"), &format!("hola {n}")).await;
    }
    let over = app
        .post(
            &format!("/api/v1/conversations/{id}/messages"),
            &json!({"client_id": "c4", "body": "una más"}),
            Some(&w.buyer.access),
        )
        .await;
    assert_eq!(over.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&over);
    assert!((1..=60).contains(&wait), "Retry-After {wait}");
    expect_problem(over, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // A retry of a message already sent is answered, not counted.
    let again = expect_status(
        app.post(
            &format!("/api/v1/conversations/{id}/messages"),
            &json!({"client_id": "c2", "body": "hola 2"}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["body"], "hola 2");
    // The limit is the author's: the agent still answers.
    send(&app, &w.agent, &id, "a1", "¡Hola!").await;
    let stored: i64 =
        sqlx::query_scalar("select count(*) from messages where conversation_id = $1")
            .bind(id.parse::<Uuid>().unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(stored, 4, "three from the buyer, one from the agent");

    // Concurrent sends by one author cannot slip past the count: with the window moved back
    // (as if a minute had passed), ten at once store exactly three.
    sqlx::query("update messages set created_at = created_at - interval '2 minutes'")
        .execute(&app.pool)
        .await
        .unwrap();
    let path = format!("/api/v1/conversations/{id}/messages");
    let bodies: Vec<Value> = (0..10)
        .map(|n| json!({"client_id": format!("burst{n}"), "body": format!("ráfaga {n}")}))
        .collect();
    let results = futures_util::future::join_all(
        bodies
            .iter()
            .map(|b| app.post(&path, b, Some(&w.buyer.access))),
    )
    .await;
    let mut codes: Vec<u16> = results.iter().map(|r| r.status().as_u16()).collect();
    codes.sort_unstable();
    assert_eq!(codes, [201, 201, 201, 429, 429, 429, 429, 429, 429, 429]);
}

#[sqlx::test]
async fn uploads_have_an_hourly_limit_and_a_storage_quota_and_unsent_ones_can_be_deleted(
    pool: PgPool,
) {
    let dir = std::env::temp_dir().join(format!("puente-files-{}", Uuid::now_v7().simple()));
    let files_dir = dir.clone();
    let app = TestApp::spawn_with(pool, move |c| {
        c.waha.supervise = false;
        c.uploads_per_hour = 3;
        c.upload_quota_mb = 1;
        c.data_dir = files_dir;
    })
    .await;
    let w = world(&app).await;
    let stored_files = || std::fs::read_dir(&dir).map_or(0, |d| d.count());
    let big = vec![7u8; 600 * 1024];

    // 600 KiB fits the 1 MiB quota; a second one would not.
    let first = expect_status(
        upload(&app, &w.buyer, big.clone()).await,
        StatusCode::CREATED,
    )
    .await;
    let over = upload(&app, &w.buyer, big.clone()).await;
    let body = expect_problem(over, StatusCode::CONFLICT, "storage_quota_reached").await;
    assert!(body["detail"].as_str().unwrap().contains("1 MiB"), "{body}");
    assert_eq!(stored_files(), 1, "a refused upload leaves no bytes behind");
    // The quota is the uploader's: another buyer uploads the same file.
    expect_status(
        upload(&app, &w.buyer2, big.clone()).await,
        StatusCode::CREATED,
    )
    .await;

    // Nobody else can delete it, and it is not found for them.
    let path = format!("/api/v1/files/{}", first["id"].as_str().unwrap());
    expect_problem(
        app.delete(&path, Some(&w.buyer2.access)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Deleting frees the quota: bytes and row are gone.
    assert_eq!(
        app.delete(&path, Some(&w.buyer.access)).await.status(),
        StatusCode::NO_CONTENT
    );
    expect_problem(
        app.get(&path, Some(&w.buyer.access)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    assert_eq!(stored_files(), 1, "only buyer2's file is left");
    let sent = expect_status(upload(&app, &w.buyer, big).await, StatusCode::CREATED).await;

    // A file sent in a message stays.
    let id = start(&app, &w.buyer, w.property).await.1["id"]
        .as_str()
        .unwrap()
        .to_string();
    expect_status(
        app.post(
            &format!("/api/v1/conversations/{id}/messages"),
            &json!({"client_id": "f1", "file_id": sent["id"]}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    expect_problem(
        app.delete(
            &format!("/api/v1/files/{}", sent["id"].as_str().unwrap()),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::CONFLICT,
        "file_in_use",
    )
    .await;

    // Three uploads this hour, the deleted one included: the fourth waits.
    expect_status(
        upload(&app, &w.buyer, vec![1u8; 10]).await,
        StatusCode::CREATED,
    )
    .await;
    let over = upload(&app, &w.buyer, vec![1u8; 10]).await;
    assert_eq!(over.status(), StatusCode::TOO_MANY_REQUESTS);
    let wait = retry_after(&over);
    assert!((3000..=3600).contains(&wait), "Retry-After {wait}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[sqlx::test]
async fn an_agency_admin_sees_whose_conversation_is_whose_and_filters_by_agent(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let w = world(&app).await;
    expect_status(
        app.patch(
            "/api/v1/me",
            &json!({"display_name": "Eva Agente"}),
            Some(&w.agent2.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let property2 = Uuid::now_v7();
    sqlx::query(
        "insert into properties (id, agency_id, agent_id, title, description, price_cents, city, property_type)
         select $1, agency_id, id, 'Chalet en la sierra', 'Con jardín', 50000000, 'Madrid', 'house' from users where id = $2",
    )
    .bind(property2)
    .bind(w.agent2.id.parse::<Uuid>().unwrap())
    .execute(&app.pool)
    .await
    .unwrap();
    let diegos = start(&app, &w.buyer, w.property).await.1["id"]
        .as_str()
        .unwrap()
        .to_string();
    let evas = start(&app, &w.buyer2, property2).await.1["id"]
        .as_str()
        .unwrap()
        .to_string();
    send(&app, &w.buyer, &diegos, "1", "Hola Diego").await;
    send(&app, &w.buyer2, &evas, "1", "Hola Eva").await;

    let list = |token: String, query: String| {
        let app = &app;
        async move {
            let page = expect_status(
                app.get(&format!("/api/v1/conversations{query}"), Some(&token))
                    .await,
                StatusCode::OK,
            )
            .await;
            page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|c| {
                    (
                        c["id"].as_str().unwrap().to_string(),
                        c["agent_id"].as_str().unwrap().to_string(),
                        c["agent_name"].as_str().unwrap().to_string(),
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    let diego = (
        diegos.clone(),
        w.agent.id.clone(),
        "Diego Agent".to_string(),
    );
    let eva = (evas.clone(), w.agent2.id.clone(), "Eva Agente".to_string());

    // The admin's inbox is the agency's: every row says whose it is.
    let all = list(w.admin.access.clone(), String::new()).await;
    assert_eq!(all, vec![eva.clone(), diego.clone()]);
    // … and narrows to one agent.
    let only_eva = list(w.admin.access.clone(), format!("?agent_id={}", w.agent2.id)).await;
    assert_eq!(only_eva, vec![eva.clone()]);
    let only_diego_archived = list(
        w.admin.access.clone(),
        format!("?agent_id={}&status=archived", w.agent.id),
    )
    .await;
    assert!(only_diego_archived.is_empty(), "filters combine");
    // One conversation, and the thread's header, say it too.
    let one = expect_status(
        app.get(
            &format!("/api/v1/conversations/{evas}"),
            Some(&w.admin.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(one["agent_id"], w.agent2.id.as_str());
    assert_eq!(one["agent_name"], "Eva Agente");

    // An agent sees their own only; the filter cannot widen that: another agent's id is
    // an empty list (as any id outside their inbox), their own id the same as no filter.
    assert_eq!(
        list(w.agent.access.clone(), String::new()).await,
        vec![diego.clone()]
    );
    assert_eq!(
        list(w.agent.access.clone(), format!("?agent_id={}", w.agent.id)).await,
        vec![diego.clone()]
    );
    assert!(
        list(w.agent.access.clone(), format!("?agent_id={}", w.agent2.id))
            .await
            .is_empty()
    );
    // An admin of another agency sees nothing of this one's agents.
    let other = app
        .register_admin("otra@norte.example", "Norte Homes")
        .await;
    assert!(
        list(other.access.clone(), format!("?agent_id={}", w.agent2.id))
            .await
            .is_empty()
    );
    // A buyer sees the agent's name too (as the counterpart as before).
    assert_eq!(
        list(w.buyer2.access.clone(), String::new()).await,
        vec![eva.clone()]
    );
    expect_problem(
        app.get("/api/v1/conversations?agent_id=eva", Some(&w.admin.access))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;

    // Live updates carry the name as well.
    let mut eva_ws = Ws::connect(&app, &w.agent2.access, None).await;
    eva_ws.next(5).await;
    let archived = expect_status(
        app.post(
            &format!("/api/v1/conversations/{evas}/archive"),
            &json!({}),
            Some(&w.agent2.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(archived["agent_name"], "Eva Agente");
    let updated = eva_ws
        .wait(10, "conversation.updated", |v| {
            v["type"] == "conversation.updated"
        })
        .await;
    assert_eq!(updated["data"]["conversation"]["id"], evas.as_str());
    assert_eq!(updated["data"]["conversation"]["agent_name"], "Eva Agente");
}

#[sqlx::test]
async fn agency_admins_hear_every_conversation_of_the_agency_live(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let w = world(&app).await;
    let mut admin_ws = Ws::connect(&app, &w.admin.access, None).await;
    let mut other_agent_ws = Ws::connect(&app, &w.agent2.access, None).await;
    let id = start(&app, &w.buyer, w.property).await.1["id"]
        .as_str()
        .unwrap()
        .to_string();
    send(&app, &w.buyer, &id, "a1", "¿Se puede visitar el jueves?").await;
    admin_ws
        .wait(10, "the buyer's message, live", |v| {
            v["type"] == "message.created"
                && v["data"]["message"]["body"] == "¿Se puede visitar el jueves?"
        })
        .await;
    admin_ws
        .wait(10, "the conversation's new state", |v| {
            v["type"] == "conversation.updated" && v["data"]["conversation"]["id"] == id.as_str()
        })
        .await;
    // A note reaches the admin (staff) and never the buyer; another agent hears nothing.
    expect_status(
        app.post(
            &format!("/api/v1/conversations/{id}/notes"),
            &json!({"body": "Cliente con financiación aprobada"}),
            Some(&w.agent.access),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    admin_ws
        .wait(10, "the note", |v| {
            v["data"]["message"]["body"] == "Cliente con financiación aprobada"
        })
        .await;
    while other_agent_ws.next(1).await.is_some() {}
    let heard = serde_json::to_string(&other_agent_ws.seen).unwrap();
    assert!(
        !heard.contains("jueves") && !heard.contains("financiación"),
        "{heard}"
    );
}
