//! Moderation: blocks (and the send path's `ensure_can_write`), reports with their visibility
//! rules and rate limit, the operators' queue and its audit, and the word filter.

use puente::moderation::{check_words, ensure_can_write, WordFilter, REPORTS_PER_HOUR};
use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{expect_problem, expect_status, Session, TestApp};

/// An agency (admin + agent), two buyers, an in-app conversation between the agent and the
/// first buyer with one message from each side and an internal note.
struct World {
    app: TestApp,
    admin: Session,
    agent: Session,
    buyer: Session,
    other_buyer: Session,
    conversation: Uuid,
    /// Written by the buyer.
    buyer_message: Uuid,
    /// Written by the agent.
    agent_message: Uuid,
    /// An internal note by the agent (staff only).
    note: Uuid,
}

fn uuid(s: &Session) -> Uuid {
    s.id.parse().unwrap()
}

async fn insert_conversation(pool: &PgPool, agency: Uuid, agent: Uuid, buyer: Uuid) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into conversations (id, agency_id, agent_id, channel, buyer_id) values ($1, $2, $3, 'in_app', $4)",
    )
    .bind(id)
    .bind(agency)
    .bind(agent)
    .bind(buyer)
    .execute(pool)
    .await
    .unwrap();
    id
}

async fn insert_message(
    pool: &PgPool,
    conversation: Uuid,
    author: Uuid,
    body: &str,
    internal: bool,
) -> Uuid {
    let id = Uuid::now_v7();
    sqlx::query(
        "insert into messages (id, conversation_id, direction, author_user_id, kind, body, status, internal)
         values ($1, $2, 'in', $3, 'text', $4, 'sent', $5)",
    )
    .bind(id)
    .bind(conversation)
    .bind(author)
    .bind(body)
    .bind(internal)
    .execute(pool)
    .await
    .unwrap();
    id
}

async fn world(pool: PgPool) -> World {
    let app = TestApp::spawn(pool).await;
    let admin = app.register_admin("admin@costa.test", "Costa Homes").await;
    let agent = app.register_agent(&admin, "agent@costa.test").await;
    let buyer = app.register_buyer("bea@buyer.test").await;
    let other_buyer = app.register_buyer("otto@buyer.test").await;
    let agency: Uuid = admin.body["user"]["agency_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let conversation = insert_conversation(&app.pool, agency, uuid(&agent), uuid(&buyer)).await;
    let long_text = format!("Pay the deposit to my own account. {}", "x".repeat(600));
    let agent_message =
        insert_message(&app.pool, conversation, uuid(&agent), &long_text, false).await;
    let buyer_message = insert_message(
        &app.pool,
        conversation,
        uuid(&buyer),
        "You are a crook",
        false,
    )
    .await;
    let note = insert_message(
        &app.pool,
        conversation,
        uuid(&agent),
        "difficult client",
        true,
    )
    .await;
    World {
        app,
        admin,
        agent,
        buyer,
        other_buyer,
        conversation,
        buyer_message,
        agent_message,
        note,
    }
}

async fn can_write(pool: &PgPool, from: &Session, to: &Session) -> puente::error::Result<()> {
    let mut conn = pool.acquire().await.unwrap();
    ensure_can_write(&mut conn, uuid(from), uuid(to)).await
}

async fn report(app: &TestApp, by: &Session, who: &Session, body: Value) -> reqwest::Response {
    app.post(
        &format!("/api/v1/users/{}/report", who.id),
        &body,
        Some(&by.access),
    )
    .await
}

// ---------------------------------------------------------------------------------------------
// Blocks

#[sqlx::test]
async fn blocking_is_idempotent_listed_and_reversible(pool: PgPool) {
    let w = world(pool).await;
    let (app, buyer, agent) = (&w.app, &w.buyer, &w.agent);
    let path = format!("/api/v1/users/{}/block", agent.id);

    assert!(can_write(&app.pool, agent, buyer).await.is_ok());
    let first = expect_status(
        app.post(&path, &json!({}), Some(&buyer.access)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(first["user_id"], agent.id.as_str());
    assert_eq!(first["display_name"], "Diego Agent");
    let again = expect_status(
        app.post(&path, &json!({}), Some(&buyer.access)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again, first, "blocking twice returns the same block");

    let list = expect_status(
        app.get("/api/v1/blocks", Some(&buyer.access)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["user_id"], agent.id.as_str());
    // The agent's own list is unaffected.
    let theirs = expect_status(
        app.get("/api/v1/blocks", Some(&agent.access)).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(theirs, json!([]));

    // The blocked agent can no longer write to the buyer; the buyer can still write to them.
    let err = can_write(&app.pool, agent, buyer).await.unwrap_err();
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    assert_eq!(err.code(), "blocked");
    assert!(can_write(&app.pool, buyer, agent).await.is_ok());
    // Others are unaffected.
    assert!(can_write(&app.pool, &w.admin, buyer).await.is_ok());

    expect_status(
        app.delete(&path, Some(&buyer.access)).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    expect_status(
        app.delete(&path, Some(&buyer.access)).await,
        StatusCode::NO_CONTENT,
    )
    .await;
    assert_eq!(
        expect_status(
            app.get("/api/v1/blocks", Some(&buyer.access)).await,
            StatusCode::OK
        )
        .await,
        json!([])
    );
    assert!(can_write(&app.pool, agent, buyer).await.is_ok());
}

#[sqlx::test]
async fn blocks_are_listed_newest_first(pool: PgPool) {
    let w = world(pool).await;
    for who in [&w.admin, &w.agent, &w.other_buyer] {
        expect_status(
            w.app
                .post(
                    &format!("/api/v1/users/{}/block", who.id),
                    &json!({}),
                    Some(&w.buyer.access),
                )
                .await,
            StatusCode::OK,
        )
        .await;
    }
    let list = expect_status(
        w.app.get("/api/v1/blocks", Some(&w.buyer.access)).await,
        StatusCode::OK,
    )
    .await;
    let ids: Vec<&str> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids,
        [
            w.other_buyer.id.as_str(),
            w.agent.id.as_str(),
            w.admin.id.as_str()
        ]
    );
}

#[sqlx::test]
async fn block_refusals(pool: PgPool) {
    let w = world(pool).await;
    let app = &w.app;
    let op = app.operator("op@puente.test").await;

    // Yourself.
    let me = format!("/api/v1/users/{}/block", w.buyer.id);
    expect_problem(
        app.post(&me, &json!({}), Some(&w.buyer.access)).await,
        StatusCode::CONFLICT,
        "cannot_block_self",
    )
    .await;
    // Unknown users, and operators (who take no part in conversations).
    for id in [Uuid::now_v7().to_string(), op.id.clone()] {
        expect_problem(
            app.post(
                &format!("/api/v1/users/{id}/block"),
                &json!({}),
                Some(&w.buyer.access),
            )
            .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
        expect_problem(
            app.delete(&format!("/api/v1/users/{id}/block"), Some(&w.buyer.access))
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    // Not an id.
    expect_problem(
        app.post(
            "/api/v1/users/nope/block",
            &json!({}),
            Some(&w.buyer.access),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_path",
    )
    .await;
    // Operators do not block; nobody anonymous does.
    let agent_block = format!("/api/v1/users/{}/block", w.agent.id);
    expect_problem(
        app.post(&agent_block, &json!({}), Some(&op.access)).await,
        StatusCode::FORBIDDEN,
        "forbidden_role",
    )
    .await;
    expect_problem(
        app.get("/api/v1/blocks", Some(&op.access)).await,
        StatusCode::FORBIDDEN,
        "forbidden_role",
    )
    .await;
    expect_problem(
        app.post(&agent_block, &json!({}), None).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    expect_problem(
        app.delete(&agent_block, None).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    expect_problem(
        app.get("/api/v1/blocks", None).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    let count: i64 = sqlx::query_scalar("select count(*) from blocks")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 0);
}

#[sqlx::test]
async fn ensure_can_write_reads_the_blocks_table(pool: PgPool) {
    let w = world(pool).await;
    let mut conn = w.app.pool.acquire().await.unwrap();
    let (a, b) = (uuid(&w.agent), uuid(&w.buyer));
    assert!(ensure_can_write(&mut conn, a, b).await.is_ok());
    assert!(ensure_can_write(&mut conn, a, a).await.is_ok());
    sqlx::query("insert into blocks (blocker_id, blocked_id) values ($1, $2)")
        .bind(b)
        .bind(a)
        .execute(&mut *conn)
        .await
        .unwrap();
    let err = ensure_can_write(&mut conn, a, b).await.unwrap_err();
    assert_eq!(err.code(), "blocked");
    assert_eq!(err.status(), StatusCode::FORBIDDEN);
    assert!(ensure_can_write(&mut conn, b, a).await.is_ok());
    // Inside a transaction too (the send path's case).
    let mut tx = w.app.pool.begin().await.unwrap();
    assert!(ensure_can_write(&mut tx, a, b).await.is_err());
    tx.rollback().await.unwrap();
}

// ---------------------------------------------------------------------------------------------
// Reports

#[sqlx::test]
async fn report_validation(pool: PgPool) {
    let w = world(pool).await;
    let (app, buyer, agent) = (&w.app, &w.buyer, &w.agent);

    for reason in [json!(""), json!("   "), json!("x".repeat(2001))] {
        let body = expect_problem(
            report(app, buyer, agent, json!({ "reason": reason })).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], "reason");
    }
    // Missing reason, unknown fields.
    expect_problem(
        report(app, buyer, agent, json!({})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    expect_problem(
        report(app, buyer, agent, json!({"reason": "spam", "severity": 3})).await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    // Yourself; unknown users.
    expect_problem(
        report(app, buyer, buyer, json!({"reason": "me"})).await,
        StatusCode::CONFLICT,
        "cannot_report_self",
    )
    .await;
    expect_problem(
        app.post(
            &format!("/api/v1/users/{}/report", Uuid::now_v7()),
            &json!({"reason": "who"}),
            Some(&buyer.access),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    // Operators do not report; nobody anonymous does.
    let op = app.operator("op@puente.test").await;
    expect_problem(
        report(app, &op, agent, json!({"reason": "x"})).await,
        StatusCode::FORBIDDEN,
        "forbidden_role",
    )
    .await;
    expect_problem(
        app.post(
            &format!("/api/v1/users/{}/report", agent.id),
            &json!({"reason": "x"}),
            None,
        )
        .await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;

    // 2000 characters is fine, trimmed.
    let max = "é".repeat(2000);
    let created = expect_status(
        report(app, buyer, agent, json!({ "reason": format!("  {max}  ") })).await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(created["reason"], max.as_str());
    assert_eq!(created["status"], "open");
    assert_eq!(created["reported_user_id"], agent.id.as_str());
    assert_eq!(created["conversation_id"], Value::Null);
    assert_eq!(created["message_id"], Value::Null);
    assert!(
        created.get("message_excerpt").is_none(),
        "reporters get no excerpt back"
    );
    let count: i64 = sqlx::query_scalar("select count(*) from reports")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(count, 1);
}

#[sqlx::test]
async fn reports_may_only_point_at_what_the_reporter_can_see(pool: PgPool) {
    let w = world(pool).await;
    let (app, buyer, agent, other) = (&w.app, &w.buyer, &w.agent, &w.other_buyer);

    // Someone else's conversation / message.
    let body = expect_problem(
        report(
            app,
            other,
            agent,
            json!({"reason": "x", "conversation_id": w.conversation}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "conversation_id");
    let body = expect_problem(
        report(
            app,
            other,
            agent,
            json!({"reason": "x", "message_id": w.agent_message}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "message_id");
    // Ids that do not exist answer the same.
    for field in ["conversation_id", "message_id"] {
        let body = expect_problem(
            report(
                app,
                buyer,
                agent,
                json!({"reason": "x", field: Uuid::now_v7()}),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(body["errors"][0]["field"], field);
    }
    // A buyer cannot point at the agency's internal note.
    let body = expect_problem(
        report(
            app,
            buyer,
            agent,
            json!({"reason": "x", "message_id": w.note}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "message_id");
    // The message must be the reported user's.
    let body = expect_problem(
        report(
            app,
            buyer,
            agent,
            json!({"reason": "x", "message_id": w.buyer_message}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(
        body["errors"][0]["message"],
        "was not written by the reported user"
    );
    // A conversation given alone must be one with the reported user.
    let body = expect_problem(
        report(
            app,
            buyer,
            other,
            json!({"reason": "x", "conversation_id": w.conversation}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(body["errors"][0]["field"], "conversation_id");
    // A message and a conversation that do not belong together.
    let agency: Uuid = w.admin.body["user"]["agency_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let second = insert_conversation(&app.pool, agency, uuid(agent), uuid(other)).await;
    let body = expect_problem(
        report(
            app,
            agent,
            buyer,
            json!({"reason": "x", "conversation_id": second, "message_id": w.buyer_message}),
        )
        .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(
        body["errors"][0]["message"],
        "is not in the given conversation"
    );
    let none: i64 = sqlx::query_scalar("select count(*) from reports")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(none, 0, "no refused report was stored");

    // What is allowed: the buyer reports the agent's message (the conversation is filled in),
    // the agent reports the buyer by conversation, the agency admin reports the buyer's
    // message in an agency conversation.
    let r = expect_status(
        report(
            app,
            buyer,
            agent,
            json!({"reason": "asks for money", "message_id": w.agent_message}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(r["conversation_id"], w.conversation.to_string());
    assert_eq!(r["message_id"], w.agent_message.to_string());
    expect_status(
        report(
            app,
            agent,
            buyer,
            json!({"reason": "rude", "conversation_id": w.conversation}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    expect_status(
        report(
            app,
            &w.admin,
            buyer,
            json!({"reason": "insults", "conversation_id": w.conversation, "message_id": w.buyer_message}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
}

#[sqlx::test]
async fn reports_are_rate_limited_per_reporter(pool: PgPool) {
    let w = world(pool).await;
    let (app, buyer, agent) = (&w.app, &w.buyer, &w.agent);
    for i in 0..REPORTS_PER_HOUR {
        expect_status(
            report(
                app,
                buyer,
                agent,
                json!({ "reason": format!("report {i}") }),
            )
            .await,
            StatusCode::CREATED,
        )
        .await;
    }
    let resp = report(app, buyer, agent, json!({"reason": "one more"})).await;
    let retry_after: u64 = resp.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    expect_problem(resp, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
    // Another reporter is not affected.
    expect_status(
        report(app, &w.other_buyer, agent, json!({"reason": "mine"})).await,
        StatusCode::CREATED,
    )
    .await;
    // Reports older than an hour no longer count.
    sqlx::query(
        "update reports set created_at = created_at - interval '61 minutes' where reporter_id = $1",
    )
    .bind(uuid(buyer))
    .execute(&app.pool)
    .await
    .unwrap();
    expect_status(
        report(app, buyer, agent, json!({"reason": "later"})).await,
        StatusCode::CREATED,
    )
    .await;
}

// ---------------------------------------------------------------------------------------------
// The operators' queue

#[sqlx::test]
async fn operators_list_filter_and_page_the_queue(pool: PgPool) {
    let w = world(pool).await;
    let app = &w.app;
    let op = app.operator("op@puente.test").await;

    let by_message = expect_status(
        report(
            app,
            &w.buyer,
            &w.agent,
            json!({"reason": "asks for money", "message_id": w.agent_message}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let plain = expect_status(
        report(
            app,
            &w.agent,
            &w.buyer,
            json!({"reason": "rude", "conversation_id": w.conversation}),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    let third = expect_status(
        report(app, &w.other_buyer, &w.agent, json!({"reason": "spam"})).await,
        StatusCode::CREATED,
    )
    .await;

    // The evidence is kept as it was: editing the message afterwards changes nothing.
    sqlx::query("update messages set body = 'edited', edited_at = now() where id = $1")
        .bind(w.agent_message)
        .execute(&app.pool)
        .await
        .unwrap();

    let all = expect_status(
        app.get("/api/v1/admin/reports", Some(&op.access)).await,
        StatusCode::OK,
    )
    .await;
    let all = all.as_array().unwrap();
    let ids: Vec<&Value> = all.iter().map(|r| &r["id"]).collect();
    assert_eq!(ids, [&third["id"], &plain["id"], &by_message["id"]]);

    let m = &all[2];
    assert_eq!(m["status"], "open");
    assert_eq!(m["reason"], "asks for money");
    assert_eq!(m["reporter_id"], w.buyer.id.as_str());
    assert_eq!(m["reporter_name"], "Bea Buyer");
    assert_eq!(m["reported_user_id"], w.agent.id.as_str());
    assert_eq!(m["reported_name"], "Diego Agent");
    assert_eq!(m["reported_role"], "agent");
    assert_eq!(m["message_id"], w.agent_message.to_string());
    assert_eq!(m["conversation_id"], w.conversation.to_string());
    let excerpt = m["message_excerpt"].as_str().unwrap();
    assert!(excerpt.starts_with("Pay the deposit to my own account."));
    assert_eq!(excerpt.chars().count(), 500);
    // No message reported, no message content.
    assert_eq!(all[1]["message_excerpt"], Value::Null);
    assert_eq!(all[0]["message_excerpt"], Value::Null);
    assert_eq!(all[1]["conversation_id"], w.conversation.to_string());

    // Pages: newest first, `before` the last id seen.
    let page1 = expect_status(
        app.get("/api/v1/admin/reports?limit=2", Some(&op.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page1.as_array().unwrap().len(), 2);
    assert_eq!(page1[1]["id"], plain["id"]);
    let page2 = expect_status(
        app.get(
            &format!(
                "/api/v1/admin/reports?limit=2&before={}",
                page1[1]["id"].as_str().unwrap()
            ),
            Some(&op.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(page2.as_array().unwrap().len(), 1);
    assert_eq!(page2[0]["id"], by_message["id"]);

    // Resolve one, dismiss another, filter by status.
    let path = |r: &Value| {
        format!(
            "/api/v1/admin/reports/{}/resolve",
            r["id"].as_str().unwrap()
        )
    };
    let resolved = expect_status(
        app.post(
            &path(&by_message),
            &json!({"status": "resolved", "note": " warned the agent "}),
            Some(&op.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(resolved["status"], "resolved");
    assert_eq!(resolved["resolved_by"], op.id.as_str());
    assert_eq!(resolved["resolution_note"], "warned the agent");
    assert!(resolved["resolved_at"].is_string());
    expect_status(
        app.post(
            &path(&third),
            &json!({"status": "dismissed"}),
            Some(&op.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    for (status, expected) in [
        ("open", &plain),
        ("resolved", &by_message),
        ("dismissed", &third),
    ] {
        let list = expect_status(
            app.get(
                &format!("/api/v1/admin/reports?status={status}"),
                Some(&op.access),
            )
            .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(list.as_array().unwrap().len(), 1, "{status}: {list}");
        assert_eq!(list[0]["id"], expected["id"]);
        assert_eq!(list[0]["status"], status);
    }

    // Bad queries.
    expect_problem(
        app.get("/api/v1/admin/reports?status=closed", Some(&op.access))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    for limit in [0, 201] {
        expect_problem(
            app.get(
                &format!("/api/v1/admin/reports?limit={limit}"),
                Some(&op.access),
            )
            .await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
}

#[sqlx::test]
async fn resolving_is_audited_and_final(pool: PgPool) {
    let w = world(pool).await;
    let app = &w.app;
    let op = app.operator("op@puente.test").await;
    let r = expect_status(
        report(app, &w.buyer, &w.agent, json!({"reason": "spam"})).await,
        StatusCode::CREATED,
    )
    .await;
    let id = r["id"].as_str().unwrap();
    let path = format!("/api/v1/admin/reports/{id}/resolve");

    // Bad bodies.
    for body in [
        json!({"status": "open"}),
        json!({}),
        json!({"status": "resolved", "note": "x".repeat(2001)}),
    ] {
        expect_problem(
            app.post(&path, &body, Some(&op.access)).await,
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
    }
    expect_problem(
        app.post(
            &format!("/api/v1/admin/reports/{}/resolve", Uuid::now_v7()),
            &json!({"status": "resolved"}),
            Some(&op.access),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    let done = expect_status(
        app.post(
            &path,
            &json!({"status": "resolved", "note": "account warned"}),
            Some(&op.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(done["status"], "resolved");

    let audit = expect_status(
        app.get("/api/v1/admin/audit", Some(&op.access)).await,
        StatusCode::OK,
    )
    .await;
    let entries: Vec<&Value> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["action"] == "report.resolve")
        .collect();
    assert_eq!(entries.len(), 1);
    let e = entries[0];
    assert_eq!(e["actor_user_id"], op.id.as_str());
    assert_eq!(e["actor_role"], "operator");
    assert_eq!(e["target_type"], "report");
    assert_eq!(e["target_id"], id);
    assert_eq!(e["result"], "ok");
    assert_eq!(e["detail"]["status"], "resolved");
    assert_eq!(e["detail"]["reported_user_id"], w.agent.id.as_str());
    assert!(
        !e["detail"].to_string().contains("account warned"),
        "notes stay out of the audit log"
    );

    // The same closing again is harmless (and not audited twice); a different one is refused.
    let again = expect_status(
        app.post(&path, &json!({"status": "resolved"}), Some(&op.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(again["resolution_note"], "account warned");
    expect_problem(
        app.post(&path, &json!({"status": "dismissed"}), Some(&op.access))
            .await,
        StatusCode::CONFLICT,
        "report_closed",
    )
    .await;
    let audited: i64 =
        sqlx::query_scalar("select count(*) from audit_log where action = 'report.resolve'")
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(audited, 1);
}

#[sqlx::test]
async fn only_operators_see_the_queue(pool: PgPool) {
    let w = world(pool).await;
    let app = &w.app;
    let r = expect_status(
        report(app, &w.buyer, &w.agent, json!({"reason": "spam"})).await,
        StatusCode::CREATED,
    )
    .await;
    let resolve = format!(
        "/api/v1/admin/reports/{}/resolve",
        r["id"].as_str().unwrap()
    );
    for who in [&w.buyer, &w.agent, &w.admin] {
        expect_problem(
            app.get("/api/v1/admin/reports", Some(&who.access)).await,
            StatusCode::FORBIDDEN,
            "forbidden_role",
        )
        .await;
        expect_problem(
            app.post(&resolve, &json!({"status": "dismissed"}), Some(&who.access))
                .await,
            StatusCode::FORBIDDEN,
            "forbidden_role",
        )
        .await;
    }
    expect_problem(
        app.get("/api/v1/admin/reports", None).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    expect_problem(
        app.post(&resolve, &json!({"status": "dismissed"}), None)
            .await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    let status: String = sqlx::query_scalar("select status from reports")
        .fetch_one(&app.pool)
        .await
        .unwrap();
    assert_eq!(status, "open");
}

#[sqlx::test]
async fn moderation_is_in_the_openapi_document(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let doc = expect_status(app.get("/api/openapi.json", None).await, StatusCode::OK).await;
    for path in [
        "/api/v1/users/{id}/block",
        "/api/v1/users/{id}/report",
        "/api/v1/blocks",
        "/api/v1/admin/reports",
        "/api/v1/admin/reports/{id}/resolve",
    ] {
        assert!(doc["paths"][path].is_object(), "{path} missing");
    }
    assert_eq!(
        doc["paths"]["/api/v1/admin/reports"]["get"]["tags"][0],
        "moderation"
    );
}

// ---------------------------------------------------------------------------------------------
// The word filter

fn filter(entries: &[&str]) -> WordFilter {
    WordFilter::new(entries.iter().copied())
}

#[test]
fn an_empty_filter_passes_everything() {
    let f = filter(&[]);
    assert!(f.is_empty());
    assert!(check_words(&f, "anything at all, even ass").is_ok());
    let blank = filter(&["", "  ", ",;"]);
    assert!(blank.is_empty());
    assert!(check_words(&blank, "").is_ok());
}

#[test]
fn the_filter_ignores_case() {
    let f = filter(&["Estafa"]);
    assert!(f.matches("esto es una ESTAFA"));
    assert!(f.matches("estafa"));
    assert!(!f.matches("esta fa"));
}

#[test]
fn the_filter_ignores_accents_both_ways() {
    let f = filter(&["cabrón", "idiota"]);
    assert!(f.matches("qué cabron"));
    assert!(f.matches("CABRÓN!"));
    assert!(f.matches("cabro\u{301}n"), "decomposed accent");
    assert!(f.matches("Ídiota"));
    assert!(filter(&["strasse"]).matches("Straße"));
    assert!(filter(&["senor"]).matches("SEÑOR"));
}

#[test]
fn the_filter_matches_whole_words_only() {
    let f = filter(&["ass"]);
    assert!(!f.matches("a class act"));
    assert!(!f.matches("assessment"));
    assert!(!f.matches("bass"));
    assert!(f.matches("you ass."));
    assert!(f.matches("(ASS)"));
}

#[test]
fn phrases_match_consecutive_words() {
    let f = filter(&["mala palabra"]);
    assert!(f.matches("¡MALA   palabra!"));
    assert!(f.matches("una mala, palabra"));
    assert!(!f.matches("mala otra palabra"));
    assert!(!f.matches("palabra mala"));
    assert!(!f.matches("mala"));
}

#[test]
fn a_hit_is_a_validation_error_on_body() {
    let f = filter(&["spam"]);
    let err = check_words(&f, "buy SPAM now").unwrap_err();
    assert_eq!(err.status(), StatusCode::UNPROCESSABLE_ENTITY);
    assert_eq!(err.code(), "validation_failed");
    match err {
        puente::error::AppError::Validation(errors) => {
            assert_eq!(errors.len(), 1);
            assert_eq!(errors[0].field, "body");
            assert_eq!(errors[0].message, "contains a word that is not allowed");
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(check_words(&f, "spammer").is_ok());
}

#[test]
fn blocked_words_come_from_the_command_line() {
    use clap::Parser;
    let cli = puente::config::Cli::parse_from([
        "puente",
        "serve",
        "--database-url",
        "postgres://unused",
        "--jwt-secret",
        "x",
        "--master-secret",
        "y",
        "--blocked-word",
        "estafa,cabrón",
        "--blocked-word",
        "mala palabra",
    ]);
    let puente::config::Command::Serve(config) = cli.command else {
        panic!("serve");
    };
    assert_eq!(config.blocked_words, ["estafa", "cabrón", "mala palabra"]);
    let defaults = puente::config::ServeConfig::for_tests("postgres://unused");
    assert!(defaults.blocked_words.is_empty());
}

#[sqlx::test]
async fn the_app_builds_its_filter_from_the_config(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| {
        c.blocked_words = vec!["estafa".into(), " Mala Palabra ".into()];
    })
    .await;
    let f = &app.state.word_filter;
    assert!(check_words(f, "Es una ESTAFA").is_err());
    assert!(check_words(f, "mala   palabra").is_err());
    assert!(check_words(f, "Una casa preciosa").is_ok());
}
