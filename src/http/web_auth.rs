//! `/api/v1/auth/web/*`: browser sign-in. The same flows as [`super::auth`] (they call the
//! same `auth::service` functions, so rotation, reuse detection and the login rate limiter
//! apply unchanged), but the refresh token travels only in a cookie JavaScript cannot read.
//!
//! Cookies (both `SameSite=Strict`, `Secure` when the public URL is https, `Max-Age` = the
//! refresh-token lifetime):
//! - [`REFRESH_COOKIE`] `puente_rt`: the refresh token; `HttpOnly`, `Path=/api/v1/auth/web`,
//!   so the browser sends it to these four routes and nowhere else.
//! - [`CSRF_COOKIE`] `puente_csrf`: a random token, readable by the app (`Path=/`), which
//!   echoes it in [`CSRF_HEADER`] `X-CSRF-Token`.
//!
//! Invariants:
//! - **No cross-site use.** Every route refuses (403 `csrf_failed`) a request whose
//!   `Sec-Fetch-Site` is present and not `same-origin`/`none`, or whose `Origin` is present
//!   and is neither the public URL's origin nor the request's own `Host`.
//! - **The session cookie is spent only with the CSRF token.** Refresh and logout with a
//!   refresh cookie require `X-CSRF-Token` equal to the `puente_csrf` cookie (compared in
//!   constant time). Without a refresh cookie there is nothing to protect: refresh is 401
//!   `session_missing`, logout just clears the cookies (204).
//! - **Rotation on every refresh**, of the refresh cookie (the service's family rotation) and
//!   of the CSRF token. A refused refresh (401) clears both cookies: they can never work again.
//! - The refresh token is never in a response body.

use axum::extract::State;
use axum::http::header::{self, HeaderMap, HeaderValue};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use serde::Serialize;
use subtle::ConstantTimeEq;

use super::extract::{AppJson, ClientIp, UserAgent};
use crate::auth::service::{
    self, LoginRequest, RefreshRequest, RegisterRequest, TokenResponse, UserDto,
};
use crate::auth::tokens::random_token;
use crate::config::ServeConfig;
use crate::error::{AppError, Result};
use crate::http::problem::Problem;
use crate::http::state::AppState;

/// The refresh token's cookie (HttpOnly).
pub const REFRESH_COOKIE: &str = "puente_rt";
/// The double-submit CSRF token's cookie (readable by the app).
pub const CSRF_COOKIE: &str = "puente_csrf";
/// The header that must echo [`CSRF_COOKIE`].
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Where the browser sends the refresh cookie.
pub const REFRESH_PATH: &str = "/api/v1/auth/web";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/auth/web/register", post(web_register))
        .route("/auth/web/login", post(web_login))
        .route("/auth/web/refresh", post(web_refresh))
        .route("/auth/web/logout", post(web_logout))
}

/// A browser session: like the token response, without the refresh token (it is in the
/// `puente_rt` cookie), with the CSRF token to echo in `X-CSRF-Token`.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct WebTokenResponse {
    pub access_token: String,
    /// Always `Bearer`.
    pub token_type: &'static str,
    /// Seconds until the access token expires.
    pub expires_in: u64,
    pub user: UserDto,
    /// Also in the `puente_csrf` cookie; send it as `X-CSRF-Token` to refresh and log out.
    pub csrf_token: String,
}

/// Register, as `POST /api/v1/auth/register`, for a browser: the refresh token is set as an
/// HttpOnly cookie instead of being returned.
#[utoipa::path(post, path = "/api/v1/auth/web/register", tag = "auth", operation_id = "web_register",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Signed up and in; sets the `puente_rt` and `puente_csrf` cookies.",
            body = WebTokenResponse, headers(("set-cookie" = String, description = "`puente_rt` (HttpOnly) and `puente_csrf`"))),
        (status = 403, description = "`csrf_failed`: a cross-site request.", body = Problem),
        (status = 409, description = "`email_taken`.", body = Problem),
        (status = 422, description = "`validation_failed`, with the fields.", body = Problem)))]
pub async fn web_register(
    State(state): State<AppState>,
    headers: HeaderMap,
    UserAgent(ua): UserAgent,
    AppJson(req): AppJson<RegisterRequest>,
) -> Result<Response> {
    same_origin(&headers, &state.config)?;
    let tokens = service::register(&state, req, ua.as_deref()).await?;
    Ok(signed_in(&state.config, StatusCode::CREATED, tokens))
}

/// Log in, as `POST /api/v1/auth/login` (same rate limits), for a browser.
#[utoipa::path(post, path = "/api/v1/auth/web/login", tag = "auth", operation_id = "web_login",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Signed in; sets the `puente_rt` and `puente_csrf` cookies.",
            body = WebTokenResponse, headers(("set-cookie" = String, description = "`puente_rt` (HttpOnly) and `puente_csrf`"))),
        (status = 401, description = "`invalid_credentials`.", body = Problem),
        (status = 403, description = "`account_inactive`, or `csrf_failed` for a cross-site request.", body = Problem),
        (status = 429, description = "`rate_limited`, with `Retry-After`.", body = Problem)))]
pub async fn web_login(
    State(state): State<AppState>,
    headers: HeaderMap,
    ClientIp(ip): ClientIp,
    UserAgent(ua): UserAgent,
    AppJson(req): AppJson<LoginRequest>,
) -> Result<Response> {
    same_origin(&headers, &state.config)?;
    let tokens = service::login(&state, &state.login_limiter, req, &ip, ua.as_deref()).await?;
    Ok(signed_in(&state.config, StatusCode::OK, tokens))
}

/// Spend the `puente_rt` cookie for a new access token; rotates both cookies. Needs
/// `X-CSRF-Token` equal to the `puente_csrf` cookie. No request body.
#[utoipa::path(post, path = "/api/v1/auth/web/refresh", tag = "auth", operation_id = "web_refresh",
    params(("X-CSRF-Token" = String, Header, description = "The `puente_csrf` cookie's value")),
    responses(
        (status = 200, description = "A new access token; `puente_rt` and `puente_csrf` are replaced.",
            body = WebTokenResponse, headers(("set-cookie" = String, description = "the rotated `puente_rt` and `puente_csrf`"))),
        (status = 401, description = "The session cannot be resumed; both cookies are cleared. `code`: \
            `session_missing` (no cookie), `invalid_refresh_token` (unknown), `refresh_token_expired`, \
            `refresh_token_revoked` (logged out, or ended by a password change or reuse), \
            `refresh_token_reused` (an old cookie came back: the session was ended for safety), \
            `account_inactive` (deactivated).", body = Problem),
        (status = 403, description = "`csrf_failed`: missing or wrong `X-CSRF-Token`, or a cross-site request.", body = Problem)))]
pub async fn web_refresh(
    State(state): State<AppState>,
    headers: HeaderMap,
    UserAgent(ua): UserAgent,
) -> Result<Response> {
    same_origin(&headers, &state.config)?;
    let Some(refresh_token) = cookie(&headers, REFRESH_COOKIE) else {
        return Ok(signed_out(
            &state.config,
            AppError::unauthorized("session_missing", "There is no session to resume; log in."),
        ));
    };
    csrf_token_matches(&headers)?;
    let req = RefreshRequest {
        refresh_token: refresh_token.to_string(),
    };
    match service::refresh(&state, req, ua.as_deref()).await {
        Ok(tokens) => Ok(signed_in(&state.config, StatusCode::OK, tokens)),
        Err(e @ AppError::Unauthorized { .. }) => Ok(signed_out(&state.config, e)),
        Err(e) => Err(e),
    }
}

/// End the browser's session: revokes it (when there is a `puente_rt` cookie, which then
/// needs `X-CSRF-Token`) and clears both cookies. No request body.
#[utoipa::path(post, path = "/api/v1/auth/web/logout", tag = "auth", operation_id = "web_logout",
    params(("X-CSRF-Token" = Option<String>, Header, description = "The `puente_csrf` cookie's value (required with a session cookie)")),
    responses(
        (status = 204, description = "Signed out (also when there was no session); both cookies are cleared.",
            headers(("set-cookie" = String, description = "`puente_rt` and `puente_csrf` with `Max-Age=0`"))),
        (status = 403, description = "`csrf_failed`: missing or wrong `X-CSRF-Token`, or a cross-site request.", body = Problem)))]
pub async fn web_logout(State(state): State<AppState>, headers: HeaderMap) -> Result<Response> {
    same_origin(&headers, &state.config)?;
    if let Some(refresh_token) = cookie(&headers, REFRESH_COOKIE) {
        csrf_token_matches(&headers)?;
        let req = RefreshRequest {
            refresh_token: refresh_token.to_string(),
        };
        service::logout(&state, req).await?;
    }
    Ok(signed_out(&state.config, StatusCode::NO_CONTENT))
}

fn csrf_failed(detail: &str) -> AppError {
    AppError::forbidden("csrf_failed", detail)
}

/// Refuse requests a browser marks as coming from another site (see the module docs).
fn same_origin(headers: &HeaderMap, config: &ServeConfig) -> Result<()> {
    let cross_site = headers
        .get_all("sec-fetch-site")
        .iter()
        .any(|site| !matches!(site.as_bytes(), b"same-origin" | b"none"));
    if cross_site {
        return Err(csrf_failed("This request comes from another site."));
    }
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .unwrap_or_default();
    let foreign = headers.get_all(header::ORIGIN).iter().any(|origin| {
        !origin_allowed(
            origin.to_str().unwrap_or_default(),
            host,
            &config.public_url,
        )
    });
    if foreign {
        return Err(csrf_failed("This request comes from another origin."));
    }
    Ok(())
}

/// `scheme://host[:port]` in lower case, the default port dropped; `None` when not of that
/// shape (which includes the opaque origin `null`).
fn normalize_origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let scheme = scheme.to_ascii_lowercase();
    let authority = rest.split(['/', '?', '#']).next()?.to_ascii_lowercase();
    if authority.is_empty() || authority.contains('@') {
        return None;
    }
    let authority = match (scheme.as_str(), authority.rsplit_once(':')) {
        ("https", Some((host, "443"))) | ("http", Some((host, "80"))) => host.to_string(),
        _ => authority,
    };
    Some(format!("{scheme}://{authority}"))
}

fn origin_allowed(origin: &str, host: &str, public_url: &str) -> bool {
    let Some(origin) = normalize_origin(origin) else {
        return false;
    };
    if normalize_origin(public_url).is_some_and(|p| p == origin) {
        return true;
    }
    // The origin the request was addressed to, with either scheme (TLS may end at a proxy).
    !host.is_empty()
        && ["http", "https"].iter().any(|scheme| {
            normalize_origin(&format!("{scheme}://{host}")).is_some_and(|h| h == origin)
        })
}

/// The double-submit check: `X-CSRF-Token` equals the `puente_csrf` cookie.
fn csrf_token_matches(headers: &HeaderMap) -> Result<()> {
    let sent = headers
        .get(CSRF_HEADER)
        .map(HeaderValue::as_bytes)
        .unwrap_or_default();
    let expected = cookie(headers, CSRF_COOKIE).unwrap_or_default().as_bytes();
    if sent.is_empty() || expected.is_empty() || !bool::from(sent.ct_eq(expected)) {
        return Err(csrf_failed(
            "Send the `puente_csrf` cookie's value in the `X-CSRF-Token` header.",
        ));
    }
    Ok(())
}

/// The first non-empty value of cookie `name` in the request's `Cookie` headers.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, v)| *k == name && !v.is_empty())
        .map(|(_, v)| v)
}

fn set_cookie(
    config: &ServeConfig,
    name: &str,
    value: &str,
    path: &str,
    http_only: bool,
    max_age: u64,
) -> Option<HeaderValue> {
    let mut c = format!("{name}={value}; Path={path}; Max-Age={max_age}; SameSite=Strict");
    if http_only {
        c.push_str("; HttpOnly");
    }
    if config.public_https() {
        c.push_str("; Secure");
    }
    HeaderValue::from_str(&c).ok()
}

fn refresh_ttl_secs(config: &ServeConfig) -> u64 {
    config.refresh_token_ttl_days.saturating_mul(86_400)
}

/// The session response: both cookies set, the refresh token out of the body.
fn signed_in(config: &ServeConfig, status: StatusCode, tokens: TokenResponse) -> Response {
    let csrf = random_token(32);
    let ttl = refresh_ttl_secs(config);
    let cookies = [
        set_cookie(
            config,
            REFRESH_COOKIE,
            &tokens.refresh_token,
            REFRESH_PATH,
            true,
            ttl,
        ),
        set_cookie(config, CSRF_COOKIE, &csrf, "/", false, ttl),
    ];
    let body = WebTokenResponse {
        access_token: tokens.access_token,
        token_type: tokens.token_type,
        expires_in: tokens.expires_in,
        user: tokens.user,
        csrf_token: csrf,
    };
    with_cookies((status, AppJson(body)).into_response(), cookies)
}

/// `what` (a status or a problem) with both cookies cleared.
fn signed_out(config: &ServeConfig, what: impl IntoResponse) -> Response {
    let cookies = [
        set_cookie(config, REFRESH_COOKIE, "", REFRESH_PATH, true, 0),
        set_cookie(config, CSRF_COOKIE, "", "/", false, 0),
    ];
    with_cookies(what.into_response(), cookies)
}

fn with_cookies(mut resp: Response, cookies: [Option<HeaderValue>; 2]) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    for c in cookies.into_iter().flatten() {
        resp.headers_mut().append(header::SET_COOKIE, c);
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn origins_must_be_ours() {
        let public = "https://puente.example";
        assert!(origin_allowed(
            "https://puente.example",
            "10.0.0.5:8080",
            public
        ));
        assert!(origin_allowed(
            "https://PUENTE.example:443",
            "x",
            "https://puente.example/"
        ));
        assert!(origin_allowed(
            "http://localhost:5173",
            "localhost:5173",
            public
        ));
        for bad in [
            "https://evil.example",
            "null",
            "https://puente.example.evil.example",
            "http://puente.example",
            "",
        ] {
            assert!(!origin_allowed(bad, "puente.example:8080", public), "{bad}");
        }
    }

    #[test]
    fn cookies_are_found_by_exact_name() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; xpuente_rt=no; puente_rt=yes; puente_csrf="),
        );
        assert_eq!(cookie(&h, REFRESH_COOKIE), Some("yes"));
        assert_eq!(cookie(&h, CSRF_COOKIE), None);
    }
}
