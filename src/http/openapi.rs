//! The OpenAPI document, generated from the handlers' annotations, served at
//! `/api/openapi.json` and browsable at `/docs` (Swagger UI, bundled in the binary).
//!
//! Invariants, so generated clients (`openapi-typescript`) type every call: each operation
//! has a unique `operationId` (the handler's name unless it sets one), bodies reference named
//! schemas, and every error response that carries a [`crate::http::problem::Problem`] is declared as
//! `application/problem+json`, the content type the server sends ([`ProblemContentType`]
//! rewrites the annotations' default `application/json`).

use axum::Router;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::RefOr;
use utoipa::{Modify, OpenApi};
use utoipa_swagger_ui::SwaggerUi;

use crate::http::state::AppState;

#[derive(OpenApi)]
#[openapi(
    info(title = "Puente API", description = "WhatsApp-bridge orchestration for real-estate teams."),
    paths(
        super::health::healthz, super::health::readyz, super::health::metrics,
        super::auth::register, super::auth::login, super::auth::refresh, super::auth::logout,
        super::web_auth::web_register, super::web_auth::web_login, super::web_auth::web_refresh, super::web_auth::web_logout,
        super::me::get_me, super::me::update_me,
        super::agency::create_invite, super::agency::list_invites, super::agency::list_agents,
        super::agency::deactivate_agent, super::agency::reactivate_agent,
        super::links::create_link, super::links::list_links, super::links::get_link, super::links::get_qr,
        super::links::pairing_code, super::links::restart_link, super::links::logout_link, super::links::delete_link, super::links::phone_link,
        super::conversations::list_conversations, super::conversations::get_conversation,
        super::messages::list_messages, super::messages::send_message, super::conversations::mark_read, super::conversations::mark_unread,
        super::messages::react, super::files::upload_file, super::files::download_file, super::files::delete_file,
        super::conversations::start_conversation, super::conversations::start_whatsapp_chat, super::messages::edit_message, super::messages::delete_message,
        super::conversations::archive, super::conversations::unarchive, super::conversations::close, super::conversations::assign,
        super::messages::add_note, super::conversations::unread_count, super::messages::search,
        super::admin::list_audit, super::admin::list_links, super::admin::link_logs, super::admin::restart_link,
        super::admin::stop_link, super::admin::delete_link, super::admin::replay_events,
        super::admin::set_agency_quota,
        super::nodes::list_nodes, super::nodes::drain_node, super::nodes::activate_node,
        super::notifications::list_notifications, super::notifications::clear_notifications, crate::realtime::ws::create_ticket,
        super::moderation::block_user, super::moderation::unblock_user, super::moderation::list_blocks, super::moderation::report_user, super::moderation::list_reports, super::moderation::resolve_report,
        super::properties::create_property, super::properties::list_properties, super::properties::get_property,
        super::properties::update_property, super::properties::add_photo, super::properties::remove_photo,
    ),
    components(schemas(crate::http::problem::Problem, crate::error::FieldError, crate::model::Role)),
    modifiers(&BearerAuth, &ProblemContentType),
    tags(
        (name = "auth", description = "Sign up, sign in, tokens"),
        (name = "account", description = "The caller's own account"),
        (name = "agency", description = "Agency administration"),
        (name = "conversations", description = "Conversations, messages, files"),
        (name = "properties", description = "Listings: create, edit, retire, browse and search, photos"),
        (name = "links", description = "WhatsApp links (one WAHA session container each)"),
        (name = "moderation", description = "Blocking and reporting users; the operators' report queue"),
        (name = "admin", description = "Operator views"),
        (name = "realtime", description = "WebSocket tickets and notifications"),
        (name = "ops", description = "Health and metrics"),
    )
)]
pub struct ApiDoc;

struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .build(),
            ),
        );
    }
}

/// Declares problem bodies with the content type [`crate::http::problem::problem_response`] sends.
struct ProblemContentType;

const PROBLEM_REF: &str = "#/components/schemas/Problem";

impl Modify for ProblemContentType {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for item in openapi.paths.paths.values_mut() {
            let operations = [
                &mut item.get,
                &mut item.put,
                &mut item.post,
                &mut item.delete,
                &mut item.patch,
                &mut item.head,
                &mut item.options,
                &mut item.trace,
            ];
            for op in operations.into_iter().flatten() {
                for resp in op.responses.responses.values_mut() {
                    let RefOr::T(resp) = resp else { continue };
                    let is_problem = resp.content.get("application/json").is_some_and(|c| {
                        matches!(&c.schema, Some(RefOr::Ref(r)) if r.ref_location == PROBLEM_REF)
                    });
                    if is_problem {
                        if let Some(content) = resp.content.shift_remove("application/json") {
                            resp.content
                                .insert("application/problem+json".to_string(), content);
                        }
                    }
                }
            }
        }
    }
}

/// The document as pretty JSON, exactly as `/api/openapi.json` serves it (`puente openapi`
/// prints it so the web app's types can be generated without a running server).
pub fn document_json() -> serde_json::Result<String> {
    ApiDoc::openapi().to_pretty_json()
}

pub fn router() -> Router<AppState> {
    Router::new().merge(SwaggerUi::new("/docs").url("/api/openapi.json", ApiDoc::openapi()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What `openapi-typescript` needs: unique operation ids, named schemas for JSON bodies,
    /// problems declared with the type the server sends.
    #[test]
    fn the_document_types_cleanly() {
        let doc: serde_json::Value =
            serde_json::from_str(&document_json().expect("serializes")).expect("JSON");
        let mut ids = std::collections::HashSet::new();
        let mut problems = 0;
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("path item") {
                let id = op["operationId"].as_str().unwrap_or_default();
                assert!(!id.is_empty(), "{method} {path} has no operationId");
                assert!(ids.insert(id.to_string()), "operationId {id} is not unique");
                for (status, resp) in op["responses"].as_object().expect("responses") {
                    let Some(content) = resp["content"].as_object() else {
                        continue;
                    };
                    for (ctype, body) in content {
                        let schema = &body["schema"];
                        if schema["$ref"] == PROBLEM_REF {
                            problems += 1;
                            assert_eq!(
                                ctype, "application/problem+json",
                                "{method} {path} {status}"
                            );
                        } else if ctype == "application/json" {
                            let named =
                                schema["$ref"].is_string() || schema["items"]["$ref"].is_string();
                            assert!(named, "{method} {path} {status}: inline schema {schema}");
                        }
                    }
                }
            }
        }
        assert!(problems > 50, "problems are declared ({problems})");
        for id in [
            "web_login",
            "web_register",
            "web_refresh",
            "web_logout",
            "mark_unread",
        ] {
            assert!(ids.contains(id), "{id} is documented");
        }
    }
}
