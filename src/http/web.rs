//! The built web app (`--web-dir`, Vite's `dist/`) served at `/`, and the security headers of
//! every response.
//!
//! Invariants:
//! - **Only files under the directory.** A path is percent-decoded and refused (404) when any
//!   segment is `.`/`..`, empty, or holds a backslash or NUL; `ServeDir` checks again and
//!   never leaves its root. Directories are never listed.
//! - **API paths never become the app.** Unknown paths under `/api`, `/webhooks`, `/docs`,
//!   `/metrics`, `/healthz` and `/readyz` keep the JSON problem 404; so does a missing file
//!   under `/assets/` (a stale hashed bundle must fail loudly, not load HTML as script).
//!   Any other GET/HEAD that is not a file gets `index.html`: client-side routes such as
//!   `/inbox/123`.
//! - **Caching follows Vite's naming.** `assets/*` are content-hashed, so cached for a year
//!   as `immutable`; `index.html` and other root files are `no-cache` (revalidated with
//!   `Last-Modified`), so a deploy is picked up on the next load.
//! - **Headers on everything.** [`security_headers`] puts `nosniff`, `no-referrer`,
//!   `X-Frame-Options: DENY` and `Cross-Origin-Resource-Policy: same-origin` on every
//!   response (HSTS as well when the public URL is https); app responses get the strict
//!   [`APP_CSP`] with COOP and a deny-all `Permissions-Policy`; `/docs` (Swagger UI, which
//!   needs inline styles and `data:` images) gets its own [`DOCS_CSP`].
//!
//! Precompressed `*.br` / `*.gz` siblings are served when present and accepted.

use std::path::Path;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::header::{self, HeaderMap, HeaderName, HeaderValue};
use axum::http::{Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use percent_encoding::percent_decode_str;
use tower_http::services::{ServeDir, ServeFile};

use crate::error::AppError;

/// The web app's Content-Security-Policy: only our own origin; the QR arrives as a `data:`
/// PNG and media are shown from `blob:` URLs.
pub const APP_CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; \
    img-src 'self' data: blob:; media-src 'self' blob:; connect-src 'self'; font-src 'self'; \
    object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Swagger UI at `/docs`: its React renders inline `style` attributes and its CSS embeds
/// `data:` SVG icons; scripts stay same-origin only.
pub const DOCS_CSP: &str = "default-src 'self'; script-src 'self'; \
    style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; \
    font-src 'self' data:; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
    form-action 'self'";

/// Powerful features the app does not use, denied to it and to anything it might embed.
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), camera=(), display-capture=(), \
    geolocation=(), gyroscope=(), magnetometer=(), microphone=(), midi=(), payment=(), \
    publickey-credentials-get=(), serial=(), usb=(), xr-spatial-tracking=(), fullscreen=(self)";

/// `Cache-Control` of Vite's content-hashed files.
pub const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// Paths that belong to the server, never to the app.
const SERVER_PREFIXES: &[&str] = &[
    "/api",
    "/webhooks",
    "/docs",
    "/metrics",
    "/healthz",
    "/readyz",
];

/// Marks a response as part of the web app, so [`security_headers`] gives it the app's CSP.
#[derive(Debug, Clone, Copy)]
struct AppPage;

/// The app's directory, ready to serve. Cheap to clone.
#[derive(Debug, Clone)]
pub struct WebApp {
    files: ServeDir,
    index: ServeFile,
}

impl WebApp {
    pub fn new(dir: &Path) -> Self {
        let index = dir.join("index.html");
        if index.is_file() {
            tracing::info!(dir = %dir.display(), "serving the web app");
        } else {
            tracing::warn!(index = %index.display(), "--web-dir has no index.html; only its files are served");
        }
        Self {
            files: ServeDir::new(dir)
                .append_index_html_on_directories(false)
                .precompressed_br()
                .precompressed_gzip(),
            index: ServeFile::new(index)
                .precompressed_br()
                .precompressed_gzip(),
        }
    }

    /// Answer a request no route matched: a file, `index.html`, or the usual 404 problem.
    pub async fn serve(&self, req: Request) -> Response {
        if req.method() != Method::GET && req.method() != Method::HEAD {
            return AppError::NotFound.into_response();
        }
        let Some(path) = decoded_path(req.uri().path()) else {
            return AppError::NotFound.into_response();
        };
        if is_server_path(&path) {
            return AppError::NotFound.into_response();
        }
        let bare = bare_request(&req);
        match self.files.clone().try_call(bare).await {
            Ok(resp) if resp.status() != StatusCode::NOT_FOUND => {
                let cache = if path.starts_with("/assets/") {
                    IMMUTABLE
                } else {
                    "no-cache"
                };
                return finish(resp.map(Body::new), cache);
            }
            Ok(_) => {}
            Err(e) => return internal(e),
        }
        if path.starts_with("/assets/") || path == "/assets" {
            return AppError::NotFound.into_response();
        }
        match self.index.clone().try_call(bare_request(&req)).await {
            Ok(resp) if resp.status() == StatusCode::NOT_FOUND => {
                tracing::warn!("the web directory has no index.html");
                AppError::NotFound.into_response()
            }
            Ok(resp) => finish(resp.map(Body::new), "no-cache"),
            Err(e) => internal(e),
        }
    }
}

fn internal(e: std::io::Error) -> Response {
    AppError::Internal(anyhow::Error::new(e).context("serving the web app")).into_response()
}

/// Tag a file response as the app's and set its caching; errors keep their own headers.
/// The body depends on `Accept-Encoding` (precompressed siblings), so caches must key on it.
fn finish(mut resp: Response, cache: &'static str) -> Response {
    if resp.status().is_success() || resp.status() == StatusCode::NOT_MODIFIED {
        let h = resp.headers_mut();
        h.insert(header::CACHE_CONTROL, HeaderValue::from_static(cache));
        h.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
    }
    resp.extensions_mut().insert(AppPage);
    resp
}

/// The request line and headers without the body (both file services ignore bodies).
fn bare_request(req: &Request) -> axum::http::Request<()> {
    let mut bare = axum::http::Request::new(());
    *bare.method_mut() = req.method().clone();
    *bare.uri_mut() = req.uri().clone();
    *bare.version_mut() = req.version();
    *bare.headers_mut() = req.headers().clone();
    bare
}

/// The percent-decoded path, or `None` when it could step outside the directory or is not
/// plain: `.`/`..` or empty segments, backslashes, NUL, invalid UTF-8.
fn decoded_path(raw: &str) -> Option<String> {
    let path = percent_decode_str(raw).decode_utf8().ok()?;
    if !path.starts_with('/') || path.contains(['\\', '\0']) {
        return None;
    }
    let rest = &path[1..];
    if !rest.is_empty() {
        let segments: Vec<&str> = rest.split('/').collect();
        let last = segments.len() - 1;
        for (i, seg) in segments.iter().enumerate() {
            // A trailing slash is allowed (`/inbox/`); other empty segments are not.
            if matches!(*seg, "." | "..") || (seg.is_empty() && i != last) {
                return None;
            }
        }
    }
    Some(path.into_owned())
}

fn is_server_path(path: &str) -> bool {
    SERVER_PREFIXES.iter().any(|p| {
        path.strip_prefix(p)
            .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
    })
}

/// What [`security_headers`] needs to know about the deployment.
#[derive(Debug, Clone, Copy)]
pub struct HeaderPolicy {
    /// Clients come over HTTPS: send `Strict-Transport-Security`.
    pub hsts: bool,
}

impl HeaderPolicy {
    pub fn new(config: &crate::config::ServeConfig) -> Self {
        Self {
            hsts: config.public_https(),
        }
    }
}

/// Middleware: the security headers of every response (see the module docs). A header a
/// handler set itself is kept.
pub async fn security_headers(
    State(policy): State<HeaderPolicy>,
    req: Request,
    next: Next,
) -> Response {
    let docs = is_docs(req.uri().path());
    let mut resp = next.run(req).await;
    let app = resp.extensions().get::<AppPage>().is_some();
    let h = resp.headers_mut();
    set(h, header::X_CONTENT_TYPE_OPTIONS, "nosniff");
    set(h, header::REFERRER_POLICY, "no-referrer");
    set(h, header::X_FRAME_OPTIONS, "DENY");
    set(
        h,
        HeaderName::from_static("cross-origin-resource-policy"),
        "same-origin",
    );
    if policy.hsts {
        set(h, header::STRICT_TRANSPORT_SECURITY, "max-age=31536000");
    }
    if docs || app {
        set(
            h,
            header::CONTENT_SECURITY_POLICY,
            if docs { DOCS_CSP } else { APP_CSP },
        );
        set(
            h,
            HeaderName::from_static("cross-origin-opener-policy"),
            "same-origin",
        );
        set(
            h,
            HeaderName::from_static("permissions-policy"),
            PERMISSIONS_POLICY,
        );
    }
    resp
}

fn is_docs(path: &str) -> bool {
    path.strip_prefix("/docs")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

fn set(headers: &mut HeaderMap, name: HeaderName, value: &'static str) {
    headers
        .entry(name)
        .or_insert_with(|| HeaderValue::from_static(value));
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_that_could_leave_the_directory_are_refused() {
        for bad in [
            "/../etc/passwd",
            "/assets/../../x",
            "/%2e%2e/secret",
            "/%2E%2E%2Fsecret",
            "/a/./b",
            "//etc/passwd",
            "/a\\..\\b",
            "/%5c..%5cb",
            "/x%00.js",
            "/%ff",
        ] {
            assert!(decoded_path(bad).is_none(), "{bad}");
        }
        assert_eq!(decoded_path("/").as_deref(), Some("/"));
        assert_eq!(decoded_path("/inbox/123/").as_deref(), Some("/inbox/123/"));
        assert_eq!(decoded_path("/a%20b.js").as_deref(), Some("/a b.js"));
    }

    #[test]
    fn server_paths_are_recognised_by_segment() {
        for p in [
            "/api",
            "/api/v1/nope",
            "/docs/",
            "/metrics",
            "/webhooks/waha/x",
        ] {
            assert!(is_server_path(p), "{p}");
        }
        for p in ["/", "/apis", "/inbox/1", "/documents", "/metricsx"] {
            assert!(!is_server_path(p), "{p}");
        }
    }
}
