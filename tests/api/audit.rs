//! The audit log's filters on the server: who acted (a user id, part of an email, or Puente
//! itself), the action (exact or by prefix), the target, the result and a time range — each
//! alone, combined, and across pages with the cursor — and a 422 naming each bad value.

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{expect_problem, expect_status, Session, TestApp};

/// An entry written straight into the log, at a chosen time; its id.
async fn entry(
    app: &TestApp,
    actor: Option<&Session>,
    action: &str,
    target: (&str, &str),
    ok: bool,
    at: &str,
) -> i64 {
    sqlx::query_scalar(
        "insert into audit_log (actor_user_id, actor_role, action, target_type, target_id, result, created_at)
         values ($1, $2, $3, $4, $5, $6, $7::timestamptz) returning id",
    )
    .bind(actor.map(|a| a.id.parse::<Uuid>().unwrap()))
    .bind(actor.map(|_| "operator"))
    .bind(action)
    .bind(target.0)
    .bind(target.1)
    .bind(if ok { "ok" } else { "error" })
    .bind(at)
    .fetch_one(&app.pool)
    .await
    .unwrap()
}

async fn page(app: &TestApp, op: &Session, query: &str) -> Vec<Value> {
    let body = expect_status(
        app.get(&format!("/api/v1/admin/audit?{query}"), Some(&op.access))
            .await,
        StatusCode::OK,
    )
    .await;
    body.as_array().unwrap().clone()
}

async fn ids(app: &TestApp, op: &Session, query: &str) -> Vec<i64> {
    page(app, op, query)
        .await
        .iter()
        .map(|e| e["id"].as_i64().unwrap())
        .collect()
}

/// Two operators whose emails differ only where a `LIKE` wildcard would match, and five
/// entries an hour apart on 1 January 2020 (long before the entries the sign-ups write).
struct Log {
    ana: Session,
    bob: Session,
    /// ana restarts link L1 (ok, 10:00).
    restart_l1: i64,
    /// ana reads L1's logs (error, 11:00).
    logs_l1: i64,
    /// Puente itself restarts L2 (ok, 12:00).
    system_l2: i64,
    /// bob resolves report R1 (ok, 13:00).
    resolve_r1: i64,
    /// bob's `linkage.check` on agency A1 (error, 14:00): not under the `link.` prefix.
    linkage: i64,
}

async fn log(app: &TestApp) -> Log {
    let ana = app.operator("ana_ops@puente.example").await;
    let bob = app.operator("anaxops@puente.example").await;
    let restart_l1 = entry(
        app,
        Some(&ana),
        "link.restart",
        ("whatsapp_link", "L1"),
        true,
        "2020-01-01T10:00:00Z",
    )
    .await;
    let logs_l1 = entry(
        app,
        Some(&ana),
        "link.logs",
        ("whatsapp_link", "L1"),
        false,
        "2020-01-01T11:00:00Z",
    )
    .await;
    let system_l2 = entry(
        app,
        None,
        "link.restart",
        ("whatsapp_link", "L2"),
        true,
        "2020-01-01T12:00:00Z",
    )
    .await;
    let resolve_r1 = entry(
        app,
        Some(&bob),
        "report.resolve",
        ("report", "R1"),
        true,
        "2020-01-01T13:00:00Z",
    )
    .await;
    let linkage = entry(
        app,
        Some(&bob),
        "linkage.check",
        ("agency", "A1"),
        false,
        "2020-01-01T14:00:00Z",
    )
    .await;
    Log {
        ana,
        bob,
        restart_l1,
        logs_l1,
        system_l2,
        resolve_r1,
        linkage,
    }
}

#[sqlx::test]
async fn each_filter_narrows_the_log_on_the_server(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let l = log(&app).await;
    // A real entry as well: signing up writes `user.register` now, by the new user.
    let admin = app
        .register_admin("alba@costa.example", "Costa Homes")
        .await;
    let op = &l.ana;

    // Actor: a user id, part of an email (any case; `_` is a character, not a wildcard),
    // or `system`.
    assert_eq!(
        ids(&app, op, &format!("actor={}", l.ana.id)).await,
        [l.logs_l1, l.restart_l1]
    );
    assert_eq!(
        ids(&app, op, "actor=ANA_OPS").await,
        [l.logs_l1, l.restart_l1]
    );
    assert_eq!(
        ids(&app, op, "actor=anaxops%40puente").await,
        [l.linkage, l.resolve_r1]
    );
    assert_eq!(
        ids(&app, op, "actor=ana").await,
        [l.linkage, l.resolve_r1, l.logs_l1, l.restart_l1]
    );
    assert_eq!(ids(&app, op, "actor=system").await, [l.system_l2]);
    let by_admin = page(&app, op, "actor=alba%40costa").await;
    assert_eq!(by_admin.len(), 1);
    assert_eq!(by_admin[0]["action"], "user.register");
    assert_eq!(by_admin[0]["actor_user_id"], admin.id.as_str());
    assert!(ids(&app, op, &format!("actor={}", Uuid::now_v7()))
        .await
        .is_empty());

    // Action: exact, or every action under a prefix ending in a dot.
    assert_eq!(
        ids(&app, op, "action=link.restart").await,
        [l.system_l2, l.restart_l1]
    );
    assert_eq!(
        ids(&app, op, "action=link.").await,
        [l.system_l2, l.logs_l1, l.restart_l1],
        "linkage.check is not under link."
    );
    assert_eq!(ids(&app, op, "action=user.register").await.len(), 1);

    // Target id, exactly.
    assert_eq!(
        ids(&app, op, "target_id=L1").await,
        [l.logs_l1, l.restart_l1]
    );
    assert!(ids(&app, op, "target_id=L").await.is_empty());

    // Result.
    assert_eq!(ids(&app, op, "result=error").await, [l.linkage, l.logs_l1]);
    let ok = page(&app, op, "result=ok").await;
    assert!(ok.iter().all(|e| e["result"] == "ok"));
    assert!(ok.len() >= 4);

    // A time range: `from` inclusive, `to` exclusive, in any offset.
    assert_eq!(
        ids(
            &app,
            op,
            "from=2020-01-01T11:00:00Z&to=2020-01-01T13:00:00Z"
        )
        .await,
        [l.system_l2, l.logs_l1]
    );
    assert_eq!(
        ids(
            &app,
            op,
            "from=2020-01-01T13:00:00%2B01:00&to=2021-01-01T00:00:00Z"
        )
        .await,
        [l.linkage, l.resolve_r1, l.system_l2],
        "13:00+01:00 is 12:00 UTC"
    );
    assert_eq!(
        ids(&app, op, "to=2020-01-01T10:00:01Z").await,
        [l.restart_l1]
    );
    let recent = page(&app, op, "from=2021-01-01T00:00:00Z").await;
    assert!(!recent.is_empty());
    assert!(recent.iter().all(|e| e["action"] == "user.register"));

    // Filters combine: all must hold.
    assert_eq!(
        ids(
            &app,
            op,
            &format!("actor={}&action=link.&result=ok", l.ana.id)
        )
        .await,
        [l.restart_l1]
    );
    assert_eq!(
        ids(&app, op, "action=link.restart&to=2020-01-01T11:00:00Z").await,
        [l.restart_l1]
    );
    // Empty values are no filter (an empty form field).
    assert_eq!(
        ids(
            &app,
            op,
            "actor=&action=&target_id=&result=&from=&to=2020-01-02T00:00:00Z"
        )
        .await,
        [
            l.linkage,
            l.resolve_r1,
            l.system_l2,
            l.logs_l1,
            l.restart_l1
        ]
    );
}

#[sqlx::test]
async fn pages_keep_their_filters_and_the_cursor_never_repeats_or_skips(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let l = log(&app).await;
    let op = &l.ana;
    let mut more = Vec::new();
    for i in 0..5 {
        more.push(
            entry(
                &app,
                Some(&l.bob),
                "link.stop",
                ("whatsapp_link", "L1"),
                true,
                &format!("2020-01-01T15:0{i}:00Z"),
            )
            .await,
        );
    }
    // Every entry under `link.` about L1, newest first: the five stops, the log read, the
    // restart — and none of the entries between them by id that match only some filters.
    let mut want: Vec<i64> = more.iter().rev().copied().collect();
    want.extend([l.logs_l1, l.restart_l1]);
    let mut got: Vec<i64> = Vec::new();
    let mut query = "action=link.&target_id=L1&limit=3".to_string();
    let mut pages = 0;
    loop {
        let p = ids(&app, op, &query).await;
        pages += 1;
        assert!(p.len() <= 3);
        got.extend(&p);
        if p.len() < 3 {
            break;
        }
        query = format!(
            "action=link.&target_id=L1&limit=3&before={}",
            p.last().unwrap()
        );
    }
    assert_eq!(got, want);
    assert_eq!(pages, 3);

    // A cursor in the middle of the other entries still finds the older matches.
    assert_eq!(
        ids(&app, op, &format!("target_id=L1&before={}", l.linkage)).await,
        [l.logs_l1, l.restart_l1]
    );
    assert_eq!(
        ids(&app, op, &format!("actor=system&before={}", l.system_l2)).await,
        Vec::<i64>::new()
    );
}

#[sqlx::test]
async fn bad_filter_values_are_a_422_naming_each_field(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let op = app.operator("ops@puente.example").await;
    let fields = |body: &Value| -> Vec<String> {
        let mut f: Vec<String> = body["errors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["field"].as_str().unwrap().to_string())
            .collect();
        f.sort();
        f
    };
    let bad = |q: &'static str| {
        let app = &app;
        let op = &op;
        async move {
            expect_problem(
                app.get(&format!("/api/v1/admin/audit?{q}"), Some(&op.access))
                    .await,
                StatusCode::UNPROCESSABLE_ENTITY,
                "validation_failed",
            )
            .await
        }
    };
    let body = bad("result=maybe&from=yesterday&action=Link%20Restart&limit=0&to=2020-13-01").await;
    assert_eq!(fields(&body), ["action", "from", "limit", "result", "to"]);
    assert_eq!(
        fields(&bad("from=2020-01-02T00:00:00Z&to=2020-01-01T00:00:00Z").await),
        ["to"]
    );
    assert_eq!(
        fields(&bad("from=2020-01-01T00:00:00Z&to=2020-01-01T00:00:00Z").await),
        ["to"]
    );
    assert_eq!(fields(&bad("action=link.*").await), ["action"]);
    assert_eq!(fields(&bad("from=2020-01-01").await), ["from"]);
    let long = format!("actor={}", "a".repeat(255));
    let body = expect_problem(
        app.get(&format!("/api/v1/admin/audit?{long}"), Some(&op.access))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&body), ["actor"]);
    let long = format!("target_id={}", "x".repeat(201));
    let body = expect_problem(
        app.get(&format!("/api/v1/admin/audit?{long}"), Some(&op.access))
            .await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(fields(&body), ["target_id"]);
    // A well-formed query is fine, and filters are for operators only.
    expect_status(
        app.get(
            "/api/v1/admin/audit?action=link.&result=ok&from=2020-01-01T00:00:00Z",
            Some(&op.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let admin = app
        .register_admin("alba@costa.example", "Costa Homes")
        .await;
    expect_problem(
        app.get("/api/v1/admin/audit?actor=system", Some(&admin.access))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden_role",
    )
    .await;
}
