//! Listings: staff create, edit and retire them; everyone signed in browses and searches the
//! active ones; photos are uploaded files whose downloads follow the listing's visibility.

use std::collections::HashSet;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::PgPool;

use crate::helpers::{expect_problem, expect_status, Session, TestApp};

/// A valid listing body; `extra` overrides or adds fields.
fn listing(title: &str, extra: Value) -> Value {
    let mut body = json!({
        "title": title,
        "description": "",
        "price_cents": 25_000_000,
        "city": "Valencia",
        "property_type": "apartment",
    });
    for (k, v) in extra.as_object().cloned().unwrap_or_default() {
        body[k] = v;
    }
    body
}

async fn create(app: &TestApp, who: &Session, body: Value) -> Value {
    expect_status(
        app.post("/api/v1/properties", &body, Some(&who.access))
            .await,
        StatusCode::CREATED,
    )
    .await
}

async fn patch(app: &TestApp, who: &Session, id: &str, body: Value) -> reqwest::Response {
    app.patch(
        &format!("/api/v1/properties/{id}"),
        &body,
        Some(&who.access),
    )
    .await
}

async fn browse(app: &TestApp, who: &Session, query: &str) -> Value {
    expect_status(
        app.get(&format!("/api/v1/properties?{query}"), Some(&who.access))
            .await,
        StatusCode::OK,
    )
    .await
}

/// Titles of a page, in order.
fn titles(page: &Value) -> Vec<String> {
    page["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["title"].as_str().unwrap().to_string())
        .collect()
}

/// Titles of a browse, sorted, for set comparisons.
async fn found(app: &TestApp, who: &Session, query: &str) -> Vec<String> {
    let mut t = titles(&browse(app, who, query).await);
    t.sort();
    t
}

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap().to_string()
}

/// A real (tiny) image of the given type, its colour derived from `tag`: uploads of images
/// are decoded (for the thumbnail), so the bytes must be a real picture.
fn real_image(mimetype: &str, tag: &[u8]) -> Vec<u8> {
    let sum = tag.iter().fold(0u8, |a, b| a.wrapping_add(*b));
    let img = image::RgbImage::from_pixel(16, 12, image::Rgb([sum, 255 - sum, 128]));
    let format = match mimetype {
        "image/jpeg" => image::ImageFormat::Jpeg,
        "image/webp" => image::ImageFormat::WebP,
        _ => image::ImageFormat::Png,
    };
    let mut out = std::io::Cursor::new(Vec::new());
    img.write_to(&mut out, format).unwrap();
    out.into_inner()
}

async fn upload(app: &TestApp, who: &Session, mimetype: &str, bytes: &[u8]) -> String {
    let bytes = if mimetype.starts_with("image/") {
        real_image(mimetype, bytes)
    } else {
        bytes.to_vec()
    };
    let resp = app
        .client
        .post(app.url("/api/v1/files?name=photo"))
        .bearer_auth(&who.access)
        .header("content-type", mimetype)
        .body(bytes.to_vec())
        .send()
        .await
        .unwrap();
    id(&expect_status(resp, StatusCode::CREATED).await)
}

/// Field names of a 422 problem.
async fn invalid_fields(resp: reqwest::Response) -> Vec<String> {
    let body = expect_problem(resp, StatusCode::UNPROCESSABLE_ENTITY, "validation_failed").await;
    let mut fields: Vec<String> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap().to_string())
        .collect();
    fields.sort();
    fields
}

struct Cast {
    admin: Session,
    agent: Session,
    colleague: Session,
    rival_admin: Session,
    rival: Session,
    buyer: Session,
    operator: Session,
}

/// Two agencies with an admin and agents each, a buyer and an operator.
async fn cast(app: &TestApp) -> Cast {
    let admin = app
        .register_admin("admin@costa.example", "Costa Homes")
        .await;
    let agent = app.register_agent(&admin, "diego@costa.example").await;
    let colleague = app.register_agent(&admin, "eva@costa.example").await;
    let rival_admin = app
        .register_admin("admin@sierra.example", "Sierra Realty")
        .await;
    let rival = app
        .register_agent(&rival_admin, "rafa@sierra.example")
        .await;
    let buyer = app.register_buyer("bea@buyer.example").await;
    let operator = app.operator("op@puente.example").await;
    Cast {
        admin,
        agent,
        colleague,
        rival_admin,
        rival,
        buyer,
        operator,
    }
}

#[sqlx::test]
async fn agents_create_edit_and_retire_listings(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let c = cast(&app).await;

    let created = create(
        &app,
        &c.agent,
        json!({"title": "  Ático con terraza  ", "description": "Luminoso.\nVistas al mar.",
               "price_cents": 31_500_000, "address": "Calle Colón 12", "city": "Valencia",
               "property_type": "apartment"}),
    )
    .await;
    let pid = id(&created);
    assert_eq!(created["title"], "Ático con terraza", "trimmed");
    assert_eq!(created["description"], "Luminoso.\nVistas al mar.");
    assert_eq!(created["price_cents"], 31_500_000);
    assert_eq!(created["currency"], "EUR", "default currency");
    assert_eq!(created["status"], "active", "default status");
    assert_eq!(created["agent_id"], c.agent.id.as_str());
    assert_eq!(created["agent_name"], "Diego Agent");
    assert_eq!(created["agency_id"], c.admin.body["user"]["agency_id"]);
    assert_eq!(created["agency_name"], "Costa Homes");
    assert_eq!(created["photos"], json!([]));

    // Everyone signed in sees an active listing.
    for who in [&c.buyer, &c.rival, &c.operator, &c.colleague] {
        let got = expect_status(
            app.get(&format!("/api/v1/properties/{pid}"), Some(&who.access))
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(got["title"], "Ático con terraza");
    }

    // A partial edit keeps the other fields.
    let edited = expect_status(
        patch(
            &app,
            &c.agent,
            &pid,
            json!({"price_cents": 29_900_000, "currency": "USD", "address": ""}),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(edited["price_cents"], 29_900_000);
    assert_eq!(edited["currency"], "USD");
    assert_eq!(edited["address"], "");
    assert_eq!(edited["title"], "Ático con terraza");
    assert_eq!(edited["description"], "Luminoso.\nVistas al mar.");
    assert_eq!(edited["created_at"], created["created_at"]);
    assert_ne!(edited["updated_at"], created["updated_at"]);
    // An empty edit changes nothing.
    let same = expect_status(patch(&app, &c.agent, &pid, json!({})).await, StatusCode::OK).await;
    assert_eq!(same, edited);

    // Retire: sold. Buyers no longer find it; the agency's staff still do.
    let sold = expect_status(
        patch(&app, &c.agent, &pid, json!({"status": "sold"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(sold["status"], "sold");
    for who in [&c.buyer, &c.rival, &c.rival_admin, &c.operator] {
        expect_problem(
            app.get(&format!("/api/v1/properties/{pid}"), Some(&who.access))
                .await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    for who in [&c.agent, &c.colleague, &c.admin] {
        let got = expect_status(
            app.get(&format!("/api/v1/properties/{pid}"), Some(&who.access))
                .await,
            StatusCode::OK,
        )
        .await;
        assert_eq!(got["status"], "sold");
    }
    assert!(titles(&browse(&app, &c.buyer, "").await).is_empty());
    assert!(
        titles(&browse(&app, &c.agent, "").await).is_empty(),
        "the public browse is active listings only, for staff too"
    );

    // The agency admin may put it back on the market, and retire it as inactive.
    let back = expect_status(
        patch(&app, &c.admin, &pid, json!({"status": "active"})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(back["status"], "active");
    assert_eq!(
        titles(&browse(&app, &c.buyer, "").await),
        ["Ático con terraza"]
    );
    expect_status(
        patch(&app, &c.admin, &pid, json!({"status": "inactive"})).await,
        StatusCode::OK,
    )
    .await;
    assert!(titles(&browse(&app, &c.buyer, "").await).is_empty());

    // There is no DELETE: listings are retired.
    let resp = app
        .delete(&format!("/api/v1/properties/{pid}"), Some(&c.agent.access))
        .await;
    assert_eq!(resp.status(), StatusCode::METHOD_NOT_ALLOWED);
}

#[sqlx::test]
async fn admins_choose_the_agent_and_agents_cannot(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let c = cast(&app).await;

    // An admin's own listing by default, or any active member of the agency.
    let own = create(&app, &c.admin, listing("Admin's", json!({}))).await;
    assert_eq!(own["agent_id"], c.admin.id.as_str());
    assert_eq!(own["agent_name"], "Alba Admin");
    let assigned = create(
        &app,
        &c.admin,
        listing("For Diego", json!({"agent_id": c.agent.id})),
    )
    .await;
    assert_eq!(assigned["agent_id"], c.agent.id.as_str());
    // Diego now owns it and may edit it.
    expect_status(
        patch(&app, &c.agent, &id(&assigned), json!({"title": "Diego's"})).await,
        StatusCode::OK,
    )
    .await;

    // Not an agent of another agency, a buyer or a deactivated agent.
    for other in [&c.rival.id, &c.buyer.id, &c.operator.id] {
        let fields = invalid_fields(
            app.post(
                "/api/v1/properties",
                &listing("x", json!({"agent_id": other})),
                Some(&c.admin.access),
            )
            .await,
        )
        .await;
        assert_eq!(fields, ["agent_id"]);
    }
    expect_status(
        app.post(
            &format!("/api/v1/agency/agents/{}/deactivate", c.colleague.id),
            &json!({}),
            Some(&c.admin.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let fields = invalid_fields(
        app.post(
            "/api/v1/properties",
            &listing("x", json!({"agent_id": c.colleague.id})),
            Some(&c.admin.access),
        )
        .await,
    )
    .await;
    assert_eq!(fields, ["agent_id"]);

    // An agent creates for themselves only.
    let mine = create(
        &app,
        &c.agent,
        listing("Mine", json!({"agent_id": c.agent.id})),
    )
    .await;
    assert_eq!(mine["agent_id"], c.agent.id.as_str());
    expect_problem(
        app.post(
            "/api/v1/properties",
            &listing("x", json!({"agent_id": c.admin.id})),
            Some(&c.agent.access),
        )
        .await,
        StatusCode::FORBIDDEN,
        "cannot_assign_agent",
    )
    .await;

    // An admin hands a listing over; an agent cannot.
    let moved = expect_status(
        patch(&app, &c.admin, &id(&own), json!({"agent_id": c.agent.id})).await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(moved["agent_id"], c.agent.id.as_str());
    assert_eq!(moved["agent_name"], "Diego Agent");
    expect_problem(
        patch(&app, &c.agent, &id(&mine), json!({"agent_id": c.admin.id})).await,
        StatusCode::FORBIDDEN,
        "cannot_assign_agent",
    )
    .await;
    let fields =
        invalid_fields(patch(&app, &c.admin, &id(&mine), json!({"agent_id": c.rival.id})).await)
            .await;
    assert_eq!(fields, ["agent_id"]);
    let unchanged = expect_status(
        app.get(
            &format!("/api/v1/properties/{}", id(&mine)),
            Some(&c.agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(unchanged["agent_id"], c.agent.id.as_str());
}

#[sqlx::test]
async fn validation_errors_name_the_fields(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let c = cast(&app).await;

    // Required fields.
    let fields = invalid_fields(
        app.post("/api/v1/properties", &json!({}), Some(&c.agent.access))
            .await,
    )
    .await;
    assert_eq!(fields, ["city", "price_cents", "property_type", "title"]);

    // Every bad field at once.
    let bad = json!({
        "title": "t".repeat(201),
        "description": "d".repeat(10_001),
        "price_cents": -1,
        "currency": "eur",
        "address": "a".repeat(301),
        "city": "   ",
        "property_type": "castle",
        "status": "deleted",
    });
    let fields = invalid_fields(
        app.post("/api/v1/properties", &bad, Some(&c.agent.access))
            .await,
    )
    .await;
    assert_eq!(
        fields,
        [
            "address",
            "city",
            "currency",
            "description",
            "price_cents",
            "property_type",
            "status",
            "title"
        ]
    );

    // Limits are inclusive; beyond them, one field each.
    let edge = create(
        &app,
        &c.agent,
        json!({"title": "t".repeat(200), "description": "d".repeat(10_000), "price_cents": 0,
               "currency": "MXN", "address": "a".repeat(300), "city": "c".repeat(100),
               "property_type": "land", "status": "pending"}),
    )
    .await;
    assert_eq!(edge["status"], "pending");
    assert_eq!(edge["price_cents"], 0);
    for (field, value) in [
        ("price_cents", json!(1_000_000_000_000_001_i64)),
        ("currency", json!("EURO")),
        ("currency", json!("E1R")),
        ("title", json!("")),
        ("title", json!("Tab\there")),
        ("city", json!("c".repeat(101))),
        ("description", json!("nul \u{0} byte")),
    ] {
        let fields = invalid_fields(
            app.post(
                "/api/v1/properties",
                &listing("ok", json!({ field: value })),
                Some(&c.agent.access),
            )
            .await,
        )
        .await;
        assert_eq!(fields, [field], "{field} = {value}");
    }
    // Wrong JSON types and unknown fields are named too.
    for body in [
        listing("ok", json!({"price_cents": "lots"})),
        listing("ok", json!({"bedrooms": 3})),
    ] {
        let fields = invalid_fields(
            app.post("/api/v1/properties", &body, Some(&c.agent.access))
                .await,
        )
        .await;
        assert_eq!(fields, ["body"]);
    }

    // Edits are validated the same way, and a failed edit changes nothing.
    let pid = id(&create(&app, &c.agent, listing("Casa", json!({}))).await);
    let fields = invalid_fields(
        patch(
            &app,
            &c.agent,
            &pid,
            json!({"title": "", "price_cents": -5, "status": "gone", "property_type": "villa",
                   "currency": "usd", "city": ""}),
        )
        .await,
    )
    .await;
    assert_eq!(
        fields,
        [
            "city",
            "currency",
            "price_cents",
            "property_type",
            "status",
            "title"
        ]
    );
    let fields = invalid_fields(
        patch(
            &app,
            &c.agent,
            &pid,
            json!({"title": "New", "price_cents": -5}),
        )
        .await,
    )
    .await;
    assert_eq!(fields, ["price_cents"]);
    let still = expect_status(
        app.get(&format!("/api/v1/properties/{pid}"), Some(&c.agent.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(still["title"], "Casa");

    // Browse parameters.
    for (query, field) in [
        ("limit=0", "limit"),
        ("limit=101", "limit"),
        ("type=castle", "type"),
        ("min_price=-1", "min_price"),
        ("min_price=500&max_price=100", "max_price"),
        ("status=sold", "status"),
        ("mine=true&agency=true", "mine"),
    ] {
        let fields = invalid_fields(
            app.get(
                &format!("/api/v1/properties?{query}"),
                Some(&c.admin.access),
            )
            .await,
        )
        .await;
        assert_eq!(fields, [field], "{query}");
    }
    let long_q = "palabra ".repeat(30);
    let fields = invalid_fields(
        app.get(
            &format!("/api/v1/properties?q={long_q}"),
            Some(&c.buyer.access),
        )
        .await,
    )
    .await;
    assert_eq!(fields, ["q"]);
    for (query, code) in [
        ("cursor=garbage", "invalid_cursor"),
        ("cursor=123_notauuid", "invalid_cursor"),
        ("min_price=cheap", "invalid_query"),
        ("agent_id=nope", "invalid_query"),
    ] {
        expect_problem(
            app.get(
                &format!("/api/v1/properties?{query}"),
                Some(&c.buyer.access),
            )
            .await,
            StatusCode::BAD_REQUEST,
            code,
        )
        .await;
    }
    expect_problem(
        app.get("/api/v1/properties/not-a-uuid", Some(&c.buyer.access))
            .await,
        StatusCode::BAD_REQUEST,
        "invalid_path",
    )
    .await;
}

#[sqlx::test]
async fn browse_filters_by_city_type_price_and_agent(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let c = cast(&app).await;
    let t = |ty: &str, city: &str, price: i64| json!({"property_type": ty, "city": city, "price_cents": price});
    create(
        &app,
        &c.agent,
        listing("A", t("house", "Valencia", 30_000_000)),
    )
    .await;
    create(
        &app,
        &c.agent,
        listing("B", t("apartment", "valencia", 15_000_000)),
    )
    .await;
    create(
        &app,
        &c.colleague,
        listing("C", t("condo", "Madrid", 45_000_000)),
    )
    .await;
    create(
        &app,
        &c.rival,
        listing("D", t("land", "Valencia", 5_000_000)),
    )
    .await;
    create(
        &app,
        &c.rival,
        listing("E", t("house", "Valencia de Don Juan", 20_000_000)),
    )
    .await;
    create(
        &app,
        &c.agent,
        listing("Hidden", json!({"status": "pending", "city": "Valencia"})),
    )
    .await;

    let b = &c.buyer;
    assert_eq!(found(&app, b, "").await, ["A", "B", "C", "D", "E"]);
    // City: case-insensitive, exact (not a prefix), surrounding spaces ignored.
    assert_eq!(found(&app, b, "city=VALENCIA").await, ["A", "B", "D"]);
    assert_eq!(found(&app, b, "city=%20valencia%20").await, ["A", "B", "D"]);
    assert_eq!(found(&app, b, "city=Valen").await, Vec::<String>::new());
    assert_eq!(
        found(&app, b, "city=valencia%20de%20don%20juan").await,
        ["E"]
    );
    // Type.
    assert_eq!(found(&app, b, "type=house").await, ["A", "E"]);
    assert_eq!(found(&app, b, "type=land").await, ["D"]);
    assert_eq!(found(&app, b, "type=condo").await, ["C"]);
    // Price range, inclusive at both ends.
    assert_eq!(found(&app, b, "min_price=20000000").await, ["A", "C", "E"]);
    assert_eq!(found(&app, b, "max_price=15000000").await, ["B", "D"]);
    assert_eq!(
        found(&app, b, "min_price=15000000&max_price=30000000").await,
        ["A", "B", "E"]
    );
    assert_eq!(
        found(&app, b, "min_price=30000000&max_price=30000000").await,
        ["A"]
    );
    // Agent.
    assert_eq!(
        found(&app, b, &format!("agent_id={}", c.agent.id)).await,
        ["A", "B"]
    );
    assert_eq!(
        found(&app, b, &format!("agent_id={}", c.rival.id)).await,
        ["D", "E"]
    );
    // Combined.
    assert_eq!(
        found(&app, b, "city=valencia&type=house&max_price=40000000").await,
        ["A"]
    );
    assert_eq!(
        found(&app, b, "city=valencia&status=active&min_price=10000000").await,
        ["A", "B"]
    );
    // The pending listing stays out of every public browse, even filtered to its agent.
    assert!(!found(&app, &c.agent, &format!("agent_id={}", c.agent.id))
        .await
        .contains(&"Hidden".to_string()));
}

#[sqlx::test]
async fn text_search_understands_spanish_and_english(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let c = cast(&app).await;
    create(
        &app,
        &c.agent,
        listing(
            "Casa con jardín y piscina",
            json!({"description": "Amplia casa familiar cerca de la playa, con garaje.",
                   "address": "Calle de los Naranjos 4", "city": "Alicante", "property_type": "house"}),
        ),
    )
    .await;
    create(
        &app,
        &c.colleague,
        listing(
            "Bright apartment with sea views",
            json!({"description": "Two bedrooms, renovated kitchen, walking distance to the beach.",
                   "address": "Harbour Road 7", "city": "Málaga"}),
        ),
    )
    .await;
    create(
        &app,
        &c.rival,
        listing(
            "Piso reformado en el centro",
            json!({"description": "Tres dormitorios y terraza. Renovated in 2024.",
                   "city": "Valencia"}),
        ),
    )
    .await;
    create(
        &app,
        &c.agent,
        listing(
            "Casa retirada con piscina",
            json!({"status": "inactive", "city": "Alicante"}),
        ),
    )
    .await;

    let b = &c.buyer;
    let casa = "Casa con jardín y piscina";
    let apartment = "Bright apartment with sea views";
    let piso = "Piso reformado en el centro";
    let none: Vec<String> = Vec::new();
    // Spanish: stems and accents.
    assert_eq!(found(&app, b, "q=casas").await, [casa]);
    assert_eq!(found(&app, b, "q=piscinas").await, [casa]);
    assert_eq!(found(&app, b, "q=jardin").await, [casa]);
    assert_eq!(found(&app, b, "q=playa%20garaje").await, [casa]);
    assert_eq!(found(&app, b, "q=dormitorio").await, [piso]);
    assert_eq!(found(&app, b, "q=terraza%20reformado").await, [piso]);
    // English: stems.
    assert_eq!(found(&app, b, "q=apartments").await, [apartment]);
    assert_eq!(found(&app, b, "q=bedroom").await, [apartment]);
    assert_eq!(found(&app, b, "q=SEA%20VIEW").await, [apartment]);
    assert_eq!(found(&app, b, "q=renovated").await, [apartment, piso]);
    // Address and city are searched too.
    assert_eq!(found(&app, b, "q=naranjos").await, [casa]);
    assert_eq!(found(&app, b, "q=harbour").await, [apartment]);
    assert_eq!(found(&app, b, "q=M%C3%A1laga").await, [apartment]);
    // Every word must match; `-word` excludes; phrases keep their order.
    assert_eq!(found(&app, b, "q=casa%20kitchen").await, none);
    assert_eq!(found(&app, b, "q=renovated%20-terraza").await, [apartment]);
    assert_eq!(
        found(&app, b, "q=%22renovated%20kitchen%22").await,
        [apartment]
    );
    assert_eq!(found(&app, b, "q=%22kitchen%20renovated%22").await, none);
    assert_eq!(found(&app, b, "q=castillo").await, none);
    // Punctuation alone matches nothing; an empty q is no text filter.
    assert_eq!(found(&app, b, "q=%21%21%21").await, none);
    assert_eq!(found(&app, b, "q=").await, [apartment, casa, piso]);
    // With other filters; never the retired listing.
    assert_eq!(found(&app, b, "q=piscina&city=alicante").await, [casa]);
    assert_eq!(found(&app, b, "q=piscina&type=apartment").await, none);
    assert_eq!(found(&app, b, "q=retirada").await, none);
    assert_eq!(
        found(&app, &c.agent, "q=retirada&mine=true").await,
        ["Casa retirada con piscina"]
    );
}

#[sqlx::test]
async fn pagination_walks_every_listing_once_newest_first(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let c = cast(&app).await;
    for i in 0..7 {
        let who = if i % 2 == 0 { &c.agent } else { &c.rival };
        create(&app, who, listing(&format!("L{i}"), json!({}))).await;
    }
    create(&app, &c.agent, listing("Gone", json!({"status": "sold"}))).await;
    // Two listings created in the same instant still page apart (ties broken by id).
    sqlx::query("update properties set created_at = (select created_at from properties where title = 'L3') where title = 'L4'")
        .execute(&app.pool)
        .await
        .unwrap();

    async fn walk(app: &TestApp, who: &Session, query: &str, limit: usize) -> Vec<Vec<String>> {
        let mut pages = Vec::new();
        let mut cursor: Option<String> = None;
        loop {
            let mut q = format!("limit={limit}&{query}");
            if let Some(c) = &cursor {
                q.push_str(&format!("&cursor={c}"));
            }
            let page = browse(app, who, &q).await;
            let items: Vec<String> = page["items"]
                .as_array()
                .unwrap()
                .iter()
                .map(|p| p["title"].as_str().unwrap().to_string())
                .collect();
            assert!(items.len() <= limit);
            pages.push(items);
            match page["next_cursor"].as_str() {
                Some(c) => cursor = Some(c.to_string()),
                None => break,
            }
            assert!(pages.len() < 20, "pagination does not end");
        }
        pages
    }

    let pages = walk(&app, &c.buyer, "", 3).await;
    assert_eq!(
        pages.iter().map(Vec::len).collect::<Vec<_>>(),
        [3, 3, 1],
        "{pages:?}"
    );
    let flat: Vec<String> = pages.concat();
    let unique: HashSet<&String> = flat.iter().collect();
    assert_eq!(unique.len(), 7, "no duplicates: {flat:?}");
    // Newest first; L3 and L4 share a created_at (and straddle the first page boundary), so
    // only their relative order is left to the ids.
    assert_eq!(&flat[..2], ["L6", "L5"], "{flat:?}");
    let tied: HashSet<&str> = flat[2..4].iter().map(String::as_str).collect();
    assert_eq!(tied, HashSet::from(["L4", "L3"]), "{flat:?}");
    assert_eq!(&flat[4..], ["L2", "L1", "L0"], "{flat:?}");

    // A page size that divides the total ends without an empty page.
    let pages = walk(&app, &c.buyer, "", 7).await;
    assert_eq!(pages.len(), 1);
    assert_eq!(pages[0].len(), 7);
    // One at a time.
    let pages = walk(&app, &c.buyer, "", 1).await;
    assert_eq!(pages.concat(), flat);
    // Paging a filtered view.
    let pages = walk(&app, &c.buyer, &format!("agent_id={}", c.agent.id), 2).await;
    assert_eq!(pages.len(), 2);
    assert_eq!(pages.concat(), ["L6", "L4", "L2", "L0"]);
    // Staff views page over every status.
    let pages = walk(&app, &c.agent, "mine=true", 2).await;
    assert_eq!(pages.concat(), ["Gone", "L6", "L4", "L2", "L0"]);
    // Default page size.
    let page = browse(&app, &c.buyer, "").await;
    assert_eq!(titles(&page).len(), 7);
    assert!(page["next_cursor"].is_null());
}

#[sqlx::test]
async fn staff_see_their_own_and_their_agencys_listings_in_any_status(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let c = cast(&app).await;
    create(&app, &c.agent, listing("Diego active", json!({}))).await;
    create(
        &app,
        &c.agent,
        listing("Diego sold", json!({"status": "sold"})),
    )
    .await;
    create(
        &app,
        &c.colleague,
        listing("Eva pending", json!({"status": "pending"})),
    )
    .await;
    create(
        &app,
        &c.admin,
        listing("Alba inactive", json!({"status": "inactive"})),
    )
    .await;
    create(
        &app,
        &c.rival,
        listing("Rafa inactive", json!({"status": "inactive"})),
    )
    .await;
    create(&app, &c.rival, listing("Rafa active", json!({}))).await;

    assert_eq!(
        found(&app, &c.agent, "mine=true").await,
        ["Diego active", "Diego sold"]
    );
    assert_eq!(
        found(&app, &c.agent, "mine=true&status=sold").await,
        ["Diego sold"]
    );
    assert_eq!(found(&app, &c.admin, "mine=true").await, ["Alba inactive"]);
    assert_eq!(
        found(&app, &c.admin, "agency=true").await,
        ["Alba inactive", "Diego active", "Diego sold", "Eva pending"]
    );
    assert_eq!(
        found(&app, &c.admin, "agency=true&status=pending").await,
        ["Eva pending"]
    );
    assert_eq!(
        found(
            &app,
            &c.admin,
            &format!("agency=true&agent_id={}", c.agent.id)
        )
        .await,
        ["Diego active", "Diego sold"]
    );
    assert_eq!(
        found(&app, &c.rival_admin, "agency=true").await,
        ["Rafa active", "Rafa inactive"]
    );
    // The public view is active listings only, whoever asks.
    for who in [&c.buyer, &c.operator, &c.agent, &c.admin] {
        assert_eq!(found(&app, who, "").await, ["Diego active", "Rafa active"]);
    }

    // Only agency admins list the agency's; only staff list their own.
    expect_problem(
        app.get("/api/v1/properties?agency=true", Some(&c.agent.access))
            .await,
        StatusCode::FORBIDDEN,
        "forbidden_role",
    )
    .await;
    for who in [&c.buyer, &c.operator] {
        for q in ["mine=true", "agency=true"] {
            expect_problem(
                app.get(&format!("/api/v1/properties?{q}"), Some(&who.access))
                    .await,
                StatusCode::FORBIDDEN,
                "forbidden_role",
            )
            .await;
        }
    }
}

#[sqlx::test]
async fn authorization_matrix(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let c = cast(&app).await;
    let active = id(&create(&app, &c.agent, listing("Active", json!({}))).await);
    let hidden = id(&create(
        &app,
        &c.agent,
        listing("Hidden", json!({"status": "pending"})),
    )
    .await);
    let path = |pid: &str| format!("/api/v1/properties/{pid}");

    // Unauthenticated: 401 everywhere.
    for resp in [
        app.get("/api/v1/properties", None).await,
        app.get(&path(&active), None).await,
        app.post("/api/v1/properties", &listing("x", json!({})), None)
            .await,
        app.patch(&path(&active), &json!({"title": "x"}), None)
            .await,
        app.post(
            &format!("{}/photos", path(&active)),
            &json!({"file_id": uuid::Uuid::now_v7()}),
            None,
        )
        .await,
        app.delete(
            &format!("{}/photos/{}", path(&active), uuid::Uuid::now_v7()),
            None,
        )
        .await,
    ] {
        expect_problem(resp, StatusCode::UNAUTHORIZED, "missing_token").await;
    }

    // Creating: staff only.
    for who in [&c.buyer, &c.operator] {
        expect_problem(
            app.post(
                "/api/v1/properties",
                &listing("x", json!({})),
                Some(&who.access),
            )
            .await,
            StatusCode::FORBIDDEN,
            "forbidden_role",
        )
        .await;
    }

    // Editing: the owner or their agency's admin. Other roles are refused by role; a colleague
    // by ownership; another agency never finds the listing to change.
    for pid in [&active, &hidden] {
        for who in [&c.buyer, &c.operator] {
            expect_problem(
                patch(&app, who, pid, json!({"title": "x"})).await,
                StatusCode::FORBIDDEN,
                "forbidden_role",
            )
            .await;
        }
        expect_problem(
            patch(&app, &c.colleague, pid, json!({"title": "x"})).await,
            StatusCode::FORBIDDEN,
            "not_your_listing",
        )
        .await;
        for who in [&c.rival, &c.rival_admin] {
            expect_problem(
                patch(&app, who, pid, json!({"status": "inactive"})).await,
                StatusCode::NOT_FOUND,
                "not_found",
            )
            .await;
        }
        expect_status(
            patch(&app, &c.agent, pid, json!({"description": "by the agent"})).await,
            StatusCode::OK,
        )
        .await;
        expect_status(
            patch(&app, &c.admin, pid, json!({"description": "by the admin"})).await,
            StatusCode::OK,
        )
        .await;
    }
    // Nothing the refused callers sent was applied.
    let row: (String, String) =
        sqlx::query_as("select title, status from properties where id = $1::uuid")
            .bind(active.parse::<uuid::Uuid>().unwrap())
            .fetch_one(&app.pool)
            .await
            .unwrap();
    assert_eq!(row, ("Active".to_string(), "active".to_string()));
    // An unknown listing is 404 for staff.
    expect_problem(
        patch(
            &app,
            &c.admin,
            &uuid::Uuid::now_v7().to_string(),
            json!({"title": "x"}),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Reading: active for all; non-active for the agency's staff only.
    for who in [
        &c.buyer,
        &c.operator,
        &c.rival,
        &c.rival_admin,
        &c.colleague,
        &c.admin,
    ] {
        expect_status(
            app.get(&path(&active), Some(&who.access)).await,
            StatusCode::OK,
        )
        .await;
    }
    for who in [&c.buyer, &c.operator, &c.rival, &c.rival_admin] {
        expect_problem(
            app.get(&path(&hidden), Some(&who.access)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    for who in [&c.agent, &c.colleague, &c.admin] {
        expect_status(
            app.get(&path(&hidden), Some(&who.access)).await,
            StatusCode::OK,
        )
        .await;
    }

    // Browsing: operators and buyers may.
    for who in [&c.buyer, &c.operator] {
        assert_eq!(found(&app, who, "").await, ["Active"]);
    }

    // Photos follow the same rules as edits.
    let file = upload(&app, &c.colleague, "image/png", b"\x89PNG colleague").await;
    let rival_file = upload(&app, &c.rival, "image/png", b"\x89PNG rival").await;
    let buyer_file = upload(&app, &c.buyer, "image/png", b"\x89PNG buyer").await;
    let photos = format!("{}/photos", path(&active));
    expect_problem(
        app.post(
            &photos,
            &json!({"file_id": file}),
            Some(&c.colleague.access),
        )
        .await,
        StatusCode::FORBIDDEN,
        "not_your_listing",
    )
    .await;
    expect_problem(
        app.post(
            &photos,
            &json!({"file_id": rival_file}),
            Some(&c.rival.access),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    for who in [&c.buyer, &c.operator] {
        expect_problem(
            app.post(&photos, &json!({"file_id": buyer_file}), Some(&who.access))
                .await,
            StatusCode::FORBIDDEN,
            "forbidden_role",
        )
        .await;
    }
}

#[sqlx::test]
async fn photos_attach_detach_and_follow_the_listings_visibility(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let c = cast(&app).await;
    let listing_v = create(&app, &c.agent, listing("Con fotos", json!({}))).await;
    let pid = id(&listing_v);
    let photos = format!("/api/v1/properties/{pid}/photos");
    let front = upload(&app, &c.agent, "image/jpeg", b"\xff\xd8\xff front").await;
    let back = upload(&app, &c.agent, "image/webp", b"RIFF back").await;
    let plan = upload(&app, &c.agent, "image/png", b"\x89PNG plan").await;

    // Attach: appended in order; again is harmless (200); a position moves it.
    let v = expect_status(
        app.post(&photos, &json!({"file_id": front}), Some(&c.agent.access))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(
        v["photos"],
        json!([{"file_id": front, "url": format!("/api/v1/files/{front}"), "position": 0}])
    );
    let v = expect_status(
        app.post(&photos, &json!({"file_id": back}), Some(&c.agent.access))
            .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(v["photos"][1]["file_id"], back.as_str());
    assert_eq!(v["photos"][1]["position"], 1);
    let v = expect_status(
        app.post(&photos, &json!({"file_id": front}), Some(&c.agent.access))
            .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(v["photos"].as_array().unwrap().len(), 2);
    assert_eq!(v["photos"][0]["file_id"], front.as_str());
    let v = expect_status(
        app.post(
            &photos,
            &json!({"file_id": front, "position": 5}),
            Some(&c.agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    let order: Vec<&str> = v["photos"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["file_id"].as_str().unwrap())
        .collect();
    assert_eq!(order, [back.as_str(), front.as_str()]);
    // The agency admin may attach their own uploads.
    let admin_photo = upload(&app, &c.admin, "image/png", b"\x89PNG admin").await;
    let v = expect_status(
        app.post(
            &photos,
            &json!({"file_id": admin_photo, "position": 0}),
            Some(&c.admin.access),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    assert_eq!(v["photos"].as_array().unwrap().len(), 3);
    // Photos show in browse results as well.
    let page = browse(&app, &c.buyer, "").await;
    assert_eq!(page["items"][0]["photos"].as_array().unwrap().len(), 3);

    // Only your own uploads, only images.
    let colleague_photo = upload(&app, &c.colleague, "image/png", b"\x89PNG eva").await;
    let text = upload(&app, &c.agent, "text/plain", b"not a photo").await;
    let gif = upload(&app, &c.agent, "image/gif", b"GIF89a").await;
    for file in [
        colleague_photo.clone(),
        text,
        gif,
        uuid::Uuid::now_v7().to_string(),
    ] {
        let fields = invalid_fields(
            app.post(&photos, &json!({"file_id": file}), Some(&c.agent.access))
                .await,
        )
        .await;
        assert_eq!(fields, ["file_id"]);
    }
    for position in [-1, 10_001] {
        let fields = invalid_fields(
            app.post(
                &photos,
                &json!({"file_id": plan, "position": position}),
                Some(&c.agent.access),
            )
            .await,
        )
        .await;
        assert_eq!(fields, ["position"]);
    }
    expect_problem(
        app.post(
            "/api/v1/properties/00000000-0000-0000-0000-000000000000/photos",
            &json!({"file_id": plan}),
            Some(&c.agent.access),
        )
        .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Downloads: anyone signed in while the listing is active.
    let file_url = format!("/api/v1/files/{front}");
    for who in [&c.buyer, &c.operator, &c.rival, &c.colleague] {
        let resp = app.get(&file_url, Some(&who.access)).await;
        assert_eq!(resp.status(), StatusCode::OK);
        assert_eq!(resp.headers()["content-type"], "image/jpeg");
        assert_eq!(
            resp.bytes().await.unwrap().as_ref(),
            real_image("image/jpeg", b"\xff\xd8\xff front").as_slice()
        );
    }
    expect_problem(
        app.get(&file_url, None).await,
        StatusCode::UNAUTHORIZED,
        "missing_token",
    )
    .await;
    // A file that is nobody's photo stays private.
    expect_problem(
        app.get(&format!("/api/v1/files/{plan}"), Some(&c.buyer.access))
            .await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;

    // Retired: only the agency's staff (and the uploader) can fetch it.
    expect_status(
        patch(&app, &c.agent, &pid, json!({"status": "inactive"})).await,
        StatusCode::OK,
    )
    .await;
    for who in [&c.buyer, &c.operator, &c.rival, &c.rival_admin] {
        expect_problem(
            app.get(&file_url, Some(&who.access)).await,
            StatusCode::NOT_FOUND,
            "not_found",
        )
        .await;
    }
    for who in [&c.agent, &c.colleague, &c.admin] {
        expect_status(app.get(&file_url, Some(&who.access)).await, StatusCode::OK).await;
    }
    // The admin's upload is now visible to the agent through the listing.
    expect_status(
        app.get(
            &format!("/api/v1/files/{admin_photo}"),
            Some(&c.agent.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;

    // The same file on a second, active listing is public again.
    let other = id(&create(&app, &c.agent, listing("Otra", json!({}))).await);
    expect_status(
        app.post(
            &format!("/api/v1/properties/{other}/photos"),
            &json!({"file_id": front}),
            Some(&c.agent.access),
        )
        .await,
        StatusCode::CREATED,
    )
    .await;
    expect_status(
        app.get(&file_url, Some(&c.buyer.access)).await,
        StatusCode::OK,
    )
    .await;

    // Detach: by the owner or admin; a colleague or another agency cannot.
    let detach_other = format!("/api/v1/properties/{other}/photos/{front}");
    expect_problem(
        app.delete(&detach_other, Some(&c.colleague.access)).await,
        StatusCode::FORBIDDEN,
        "not_your_listing",
    )
    .await;
    expect_problem(
        app.delete(&detach_other, Some(&c.rival_admin.access)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    expect_problem(
        app.delete(&detach_other, Some(&c.buyer.access)).await,
        StatusCode::FORBIDDEN,
        "forbidden_role",
    )
    .await;
    let resp = app.delete(&detach_other, Some(&c.agent.access)).await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    expect_problem(
        app.delete(&detach_other, Some(&c.agent.access)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let v = expect_status(
        app.get(
            &format!("/api/v1/properties/{other}"),
            Some(&c.buyer.access),
        )
        .await,
        StatusCode::OK,
    )
    .await;
    assert_eq!(v["photos"], json!([]));
    // Off the active listing, the photo is private to the retired listing's agency again.
    expect_problem(
        app.get(&file_url, Some(&c.buyer.access)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
    let resp = app
        .delete(&format!("{photos}/{front}"), Some(&c.admin.access))
        .await;
    assert_eq!(resp.status(), StatusCode::NO_CONTENT);
    // Still the uploader's own file.
    expect_status(
        app.get(&file_url, Some(&c.agent.access)).await,
        StatusCode::OK,
    )
    .await;
    expect_problem(
        app.get(&file_url, Some(&c.colleague.access)).await,
        StatusCode::NOT_FOUND,
        "not_found",
    )
    .await;
}

#[sqlx::test]
async fn listings_are_in_the_openapi_document(pool: PgPool) {
    let app = TestApp::spawn(pool).await;
    let doc = expect_status(app.get("/api/openapi.json", None).await, StatusCode::OK).await;
    let paths = &doc["paths"];
    assert!(paths["/api/v1/properties"]["get"].is_object());
    assert!(paths["/api/v1/properties"]["post"].is_object());
    assert!(paths["/api/v1/properties/{id}"]["patch"].is_object());
    assert!(paths["/api/v1/properties/{id}/photos"]["post"].is_object());
    assert!(paths["/api/v1/properties/{id}/photos/{file_id}"]["delete"].is_object());
    let params: Vec<&str> = paths["/api/v1/properties"]["get"]["parameters"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    for name in [
        "city",
        "type",
        "min_price",
        "max_price",
        "q",
        "cursor",
        "limit",
        "mine",
    ] {
        assert!(params.contains(&name), "{name} in {params:?}");
    }
}
