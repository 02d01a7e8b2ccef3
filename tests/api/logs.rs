//! Following a link container's logs as the operator console does: a first page with
//! `tail`, then polls with `after=<cursor>` that return each new line exactly once.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{expect_problem, expect_status, TestApp};

#[sqlx::test]
async fn operators_follow_logs_with_a_cursor(pool: PgPool) {
    let (app, _fleet) = TestApp::spawn_fleet(pool, |_| {}).await;
    let admin = app
        .register_admin("admin@costa.example", "Costa Homes")
        .await;
    let agent = app.register_agent(&admin, "diego@costa.example").await;
    let op = app.operator("ops@puente.example").await;
    let link = expect_status(
        app.post("/api/v1/whatsapp/links", &json!({}), Some(&agent.access))
            .await,
        StatusCode::CREATED,
    )
    .await;
    let id = link["id"].as_str().unwrap().to_string();
    app.wait_link(&agent.access, &id, "scan_qr", |l| l["status"] == "scan_qr")
        .await;
    let logs = |query: String| {
        let (app, token, id) = (&app, op.access.clone(), id.clone());
        async move {
            expect_status(
                app.get(
                    &format!("/api/v1/admin/links/{id}/logs?{query}"),
                    Some(&token),
                )
                .await,
                StatusCode::OK,
            )
            .await
        }
    };
    let strings = |v: &Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_str().unwrap_or("null").to_string())
            .collect()
    };

    let first = logs("tail=100".into()).await;
    let lines = strings(&first["lines"]);
    let times = strings(&first["times"]);
    assert!(!lines.is_empty(), "{first}");
    assert_eq!(lines.len(), times.len(), "a time per line");
    assert!(times.windows(2).all(|w| w[0] <= w[1]), "oldest first");
    let cursor = first["cursor"].as_str().unwrap().to_string();
    assert_eq!(&cursor, times.last().unwrap(), "the newest line's time");
    assert!(
        cursor.contains('.'),
        "sub-second precision, so no line comes twice: {cursor}"
    );

    // Polling from the cursor: only lines logged since, never a repeat.
    let next = logs(format!("tail=5000&after={}", urlencode(&cursor))).await;
    let next_times = strings(&next["times"]);
    assert!(
        next_times.iter().all(|t| t.as_str() > cursor.as_str()),
        "{next}"
    );
    let next_cursor = next["cursor"].as_str().unwrap();
    assert!(next_cursor >= cursor.as_str(), "the cursor never goes back");
    if next_times.is_empty() {
        assert_eq!(next_cursor, cursor, "nothing new: the same cursor");
    }

    // From the line before the newest: the newest comes first.
    if times.len() >= 2 && times[times.len() - 2] < times[times.len() - 1] {
        let again = logs(format!(
            "tail=5000&after={}",
            urlencode(&times[times.len() - 2])
        ))
        .await;
        assert_eq!(strings(&again["lines"]).first(), lines.last(), "{again}");
    }

    // `since` (whole seconds) still works; a future one finds nothing.
    let future = chrono::Utc::now().timestamp() + 3600;
    let none = logs(format!("since={future}")).await;
    assert_eq!(none["lines"], json!([]));
    assert_eq!(none["cursor"], Value::Null);

    expect_problem(
        app.get(
            &format!("/api/v1/admin/links/{id}/logs?after=yesterday"),
            Some(&op.access),
        )
        .await,
        StatusCode::BAD_REQUEST,
        "invalid_query",
    )
    .await;
    // Only operators.
    expect_problem(
        app.get(
            &format!("/api/v1/admin/links/{id}/logs"),
            Some(&agent.access),
        )
        .await,
        StatusCode::FORBIDDEN,
        "forbidden_role",
    )
    .await;
}

/// Percent-encode a timestamp for a query string (`+` and `:` survive otherwise oddly).
fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}
