//! The authorization matrix: every role against the conversation, link and operator endpoints.
//! Requests are chosen so that an *allowed* caller gets a harmless answer (a read, or a 422 for
//! an empty body), which tells "allowed" from "refused" without changing anything.

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;
use uuid::Uuid;

use crate::helpers::{Session, TestApp};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Who {
    Anonymous,
    Buyer,
    OtherBuyer,
    Agent,
    Colleague,
    ForeignAgent,
    Admin,
    ForeignAdmin,
    Operator,
}

use Who::*;
const EVERYONE: [Who; 9] = [
    Anonymous,
    Buyer,
    OtherBuyer,
    Agent,
    Colleague,
    ForeignAgent,
    Admin,
    ForeignAdmin,
    Operator,
];

#[sqlx::test]
async fn every_role_against_every_endpoint(pool: PgPool) {
    let app = TestApp::spawn_with(pool, |c| c.waha.supervise = false).await;
    let admin = app
        .register_admin("admin@costa.example", "Costa Homes")
        .await;
    let agent = app.register_agent(&admin, "agent@costa.example").await;
    let colleague = app.register_agent(&admin, "colleague@costa.example").await;
    let foreign_admin = app
        .register_admin("admin@other.example", "Other Homes")
        .await;
    let foreign_agent = app
        .register_agent(&foreign_admin, "agent@other.example")
        .await;
    let buyer = app.register_buyer("buyer@example.com").await;
    let other_buyer = app.register_buyer("other@example.com").await;
    let operator = app.operator("ops@puente.example").await;
    let session = |w: Who| -> Option<&Session> {
        match w {
            Anonymous => None,
            Buyer => Some(&buyer),
            OtherBuyer => Some(&other_buyer),
            Agent => Some(&agent),
            Colleague => Some(&colleague),
            ForeignAgent => Some(&foreign_agent),
            Admin => Some(&admin),
            ForeignAdmin => Some(&foreign_admin),
            Operator => Some(&operator),
        }
    };

    // The world: a listing, the buyer's in-app conversation about it, a WhatsApp link of the
    // agent with a conversation and a message.
    let agent_id: Uuid = agent.id.parse().unwrap();
    let agency: Uuid = admin.body["user"]["agency_id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    let property = Uuid::now_v7();
    sqlx::query("insert into properties (id, agency_id, agent_id, title, price_cents, city, property_type) values ($1, $2, $3, 'Piso', 1, 'Madrid', 'apartment')")
        .bind(property).bind(agency).bind(agent_id).execute(&app.pool).await.unwrap();
    let conv = app
        .post(
            "/api/v1/conversations",
            &json!({"property_id": property}),
            Some(&buyer.access),
        )
        .await
        .json::<Value>()
        .await
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    app.post(
        &format!("/api/v1/conversations/{conv}/messages"),
        &json!({"client_id": "m", "body": "hola"}),
        Some(&buyer.access),
    )
    .await;
    let link = Uuid::now_v7();
    puente::db::links::insert(&app.pool, link, agent_id, agency, "GOWS", "img", "x")
        .await
        .unwrap();
    let wa = puente::db::chat::insert_wa_conversation(
        &app.pool,
        agency,
        agent_id,
        link,
        None,
        "34600000002@c.us",
        false,
    )
    .await
    .unwrap()
    .id;

    let ok = StatusCode::OK;
    let s401 = StatusCode::UNAUTHORIZED;
    let s403 = StatusCode::FORBIDDEN;
    let s404 = StatusCode::NOT_FOUND;
    let s409 = StatusCode::CONFLICT;
    let s422 = StatusCode::UNPROCESSABLE_ENTITY;
    let s204 = StatusCode::NO_CONTENT;

    struct Case {
        method: &'static str,
        path: String,
        body: Value,
        expect: Vec<(Who, StatusCode)>,
    }
    let refuse_all_but =
        |allowed: Vec<(Who, StatusCode)>, others: StatusCode| -> Vec<(Who, StatusCode)> {
            EVERYONE
                .iter()
                .map(|w| {
                    if *w == Anonymous {
                        return (*w, s401);
                    }
                    allowed
                        .iter()
                        .find(|(a, _)| a == w)
                        .copied()
                        .unwrap_or((*w, others))
                })
                .collect()
        };
    let with = |mut v: Vec<(Who, StatusCode)>, w: Who, s: StatusCode| {
        for e in v.iter_mut() {
            if e.0 == w {
                e.1 = s;
            }
        }
        v
    };
    let cases = vec![
        // The in-app conversation: its buyer, its agent and the agency admin read it.
        Case {
            method: "GET",
            path: format!("/api/v1/conversations/{conv}"),
            body: json!(null),
            expect: refuse_all_but(vec![(Buyer, ok), (Agent, ok), (Admin, ok)], s404),
        },
        Case {
            method: "GET",
            path: format!("/api/v1/conversations/{conv}/messages"),
            body: json!(null),
            expect: refuse_all_but(vec![(Buyer, ok), (Agent, ok), (Admin, ok)], s404),
        },
        // Writing: the two participants only (an empty body → 422 proves they got through).
        Case {
            method: "POST",
            path: format!("/api/v1/conversations/{conv}/messages"),
            body: json!({"client_id": "x"}),
            expect: refuse_all_but(vec![(Buyer, s422), (Agent, s422), (Admin, s403)], s404),
        },
        Case {
            method: "POST",
            path: format!("/api/v1/conversations/{conv}/read"),
            body: json!({}),
            expect: refuse_all_but(vec![(Buyer, s204), (Agent, s204), (Admin, s204)], s404),
        },
        Case {
            method: "POST",
            path: format!("/api/v1/conversations/{conv}/notes"),
            body: json!({"body": ""}),
            expect: refuse_all_but(vec![(Buyer, s403), (Agent, s422), (Admin, s422)], s404),
        },
        Case {
            method: "POST",
            path: format!("/api/v1/conversations/{conv}/assign"),
            body: json!({"agent_id": Uuid::now_v7()}),
            expect: with(
                refuse_all_but(vec![(Admin, s422), (ForeignAdmin, s404)], s403),
                Anonymous,
                s401,
            ),
        },
        // The WhatsApp conversation: never a buyer's, never an operator's.
        Case {
            method: "GET",
            path: format!("/api/v1/conversations/{wa}"),
            body: json!(null),
            expect: refuse_all_but(vec![(Agent, ok), (Admin, ok)], s404),
        },
        Case {
            method: "POST",
            path: format!("/api/v1/conversations/{wa}/messages"),
            body: json!({"client_id": "x"}),
            expect: refuse_all_but(vec![(Agent, s422), (Admin, s403)], s404),
        },
        // Lists: operators read no conversations; search likewise.
        Case {
            method: "GET",
            path: "/api/v1/conversations".into(),
            body: json!(null),
            expect: refuse_all_but(vec![(Operator, s403)], ok),
        },
        Case {
            method: "GET",
            path: "/api/v1/search?q=hola".into(),
            body: json!(null),
            expect: refuse_all_but(vec![(Operator, s403)], ok),
        },
        // The link: its agent only; buyers are refused by role.
        Case {
            method: "GET",
            path: format!("/api/v1/whatsapp/links/{link}"),
            body: json!(null),
            expect: refuse_all_but(
                vec![
                    (Agent, ok),
                    (Buyer, s403),
                    (OtherBuyer, s403),
                    (Operator, s403),
                ],
                s404,
            ),
        },
        Case {
            method: "POST",
            path: format!("/api/v1/whatsapp/links/{link}/pairing-code"),
            body: json!({"phone_number": "1"}),
            expect: refuse_all_but(
                vec![
                    (Agent, s422),
                    (Buyer, s403),
                    (OtherBuyer, s403),
                    (Operator, s403),
                ],
                s404,
            ),
        },
        Case {
            method: "GET",
            path: format!("/api/v1/whatsapp/links/{link}/qr"),
            body: json!(null),
            expect: refuse_all_but(
                vec![
                    (Agent, s409),
                    (Buyer, s403),
                    (OtherBuyer, s403),
                    (Operator, s403),
                ],
                s404,
            ),
        },
        // Operator endpoints.
        Case {
            method: "GET",
            path: "/api/v1/admin/links?stats=false".into(),
            body: json!(null),
            expect: refuse_all_but(vec![(Operator, ok)], s403),
        },
        Case {
            method: "GET",
            path: "/api/v1/admin/audit".into(),
            body: json!(null),
            expect: refuse_all_but(vec![(Operator, ok)], s403),
        },
        Case {
            method: "GET",
            path: "/api/v1/admin/reports".into(),
            body: json!(null),
            expect: refuse_all_but(vec![(Operator, ok)], s403),
        },
        Case {
            method: "POST",
            path: format!("/api/v1/admin/links/{link}/events/replay"),
            body: json!({}),
            expect: refuse_all_but(vec![(Operator, ok)], s403),
        },
        // Agency administration (last: the admin really deactivates the colleague).
        Case {
            method: "GET",
            path: "/api/v1/agency/agents".into(),
            body: json!(null),
            expect: refuse_all_but(vec![(Admin, ok), (ForeignAdmin, ok)], s403),
        },
        Case {
            method: "POST",
            path: format!("/api/v1/agency/agents/{}/deactivate", colleague.id),
            body: json!({}),
            expect: refuse_all_but(vec![(ForeignAdmin, s404), (Admin, ok)], s403),
        },
    ];

    let mut failures = Vec::new();
    for case in &cases {
        for (who, want) in &case.expect {
            let mut req = match case.method {
                "GET" => app.client.get(app.url(&case.path)),
                _ => app.client.post(app.url(&case.path)).json(&case.body),
            };
            if let Some(s) = session(*who) {
                req = req.bearer_auth(&s.access);
            }
            let got = req.send().await.unwrap().status();
            if got != *want {
                failures.push(format!(
                    "{} {} as {:?}: got {}, want {}",
                    case.method, case.path, who, got, want
                ));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "authorization matrix:\n{}",
        failures.join("\n")
    );
    // No message content leaked into anything an operator can read.
    let audit = app
        .get("/api/v1/admin/audit", Some(&operator.access))
        .await
        .text()
        .await
        .unwrap();
    assert!(!audit.contains("hola"));
}
