//! [`WahaClient`]: a typed HTTP client for one WAHA container and one session in it.
//!
//! Invariants:
//! - **Every request carries `X-Api-Key`**, marked sensitive so it never shows in debug output;
//!   the key is never put in an error, a log line or a URL.
//! - **Every call has a timeout.** WAHA blocks up to 15 s waiting for WORKING / SCAN_QR_CODE
//!   before answering 422, so the default per-call timeout is 20 s; cheap reads (ping, version,
//!   session, me) use 5 s and media downloads 60 s ([`Timeouts`]). The connect timeout belongs to
//!   the `reqwest::Client`: build it with [`WahaClient::http_client`] (3 s, no redirects).
//! - **Errors say what WAHA meant** ([`Error`], in [`super::error`], with the one
//!   classification of what a failure means for trying again).
//! - **Path segments are percent-encoded** (`@` → `%40`), so chat and message ids go in paths
//!   unchanged.
//! - **Media downloads stay inside this container.** See [`WahaClient::download_media`].

use std::fmt;
use std::time::Duration;

use base64::Engine as _;
use reqwest::header::{HeaderValue, CONTENT_LENGTH, CONTENT_TYPE};
use reqwest::{Method, RequestBuilder, Url};
use serde::de::DeserializeOwned;
use serde_json::{json, Value};

pub use super::error::Error as WahaError;
use super::error::{error_from, is_already, transport, Error};
use super::types::{
    from_object, ChatSummary, Contact, LidMapping, Me, MessagePayload, SentMessage, ServerVersion,
    SessionInfo, SessionStatus,
};

/// Largest JSON answer read from WAHA (chat lists, message pages, session info): bodies are
/// read in chunks and refused with [`Error::TooLarge`] past this, never buffered whole.
pub const MAX_JSON_BYTES: usize = 4 * 1024 * 1024;
/// How much of an error answer's body is read (the rest is dropped unread).
const MAX_ERROR_BODY: usize = 64 * 1024;

/// Per-call timeouts (whole request: connect, send, and reading the body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    /// Calls WAHA answers at once: `/ping`, version, session info, `me`.
    pub quick: Duration,
    /// Everything else. WAHA may block up to 15 s waiting for a status first.
    pub call: Duration,
    /// Media downloads.
    pub media: Duration,
}

impl Default for Timeouts {
    fn default() -> Self {
        Self {
            quick: Duration::from_secs(5),
            call: Duration::from_secs(20),
            media: Duration::from_secs(60),
        }
    }
}

/// A file to send: its type, an optional name, and either base64 content or a URL WAHA fetches.
#[derive(Clone, PartialEq, Eq)]
pub struct OutgoingFile {
    pub mimetype: String,
    pub filename: Option<String>,
    pub source: FileSource,
}

/// Where the bytes of an [`OutgoingFile`] come from.
#[derive(Clone, PartialEq, Eq)]
pub enum FileSource {
    /// Standard base64 (no `data:` prefix).
    Base64(String),
    /// A URL the WAHA container can reach.
    Url(String),
}

impl OutgoingFile {
    /// A file from bytes (encoded as base64).
    pub fn from_bytes(mimetype: &str, filename: Option<&str>, bytes: &[u8]) -> Self {
        Self {
            mimetype: mimetype.to_owned(),
            filename: filename.map(str::to_owned),
            source: FileSource::Base64(base64::engine::general_purpose::STANDARD.encode(bytes)),
        }
    }

    /// A file WAHA downloads from `url`.
    pub fn from_url(mimetype: &str, filename: Option<&str>, url: &str) -> Self {
        Self {
            mimetype: mimetype.to_owned(),
            filename: filename.map(str::to_owned),
            source: FileSource::Url(url.to_owned()),
        }
    }

    fn to_json(&self) -> Value {
        let mut v = json!({"mimetype": self.mimetype});
        if let Some(name) = &self.filename {
            v["filename"] = json!(name);
        }
        match &self.source {
            FileSource::Base64(data) => v["data"] = json!(data),
            FileSource::Url(url) => v["url"] = json!(url),
        }
        v
    }
}

impl fmt::Debug for OutgoingFile {
    /// Leaves the content out (it can be megabytes of base64).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            FileSource::Base64(d) => format!("<{} base64 chars>", d.len()),
            FileSource::Url(_) => "<url>".to_owned(),
        };
        f.debug_struct("OutgoingFile")
            .field("mimetype", &self.mimetype)
            .field("filename", &self.filename)
            .field("source", &source)
            .finish()
    }
}

/// Filters for [`WahaClient::chat_messages`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessagesQuery {
    pub limit: u32,
    pub offset: u32,
    /// Seconds, inclusive.
    pub timestamp_gte: Option<i64>,
    /// Seconds, inclusive.
    pub timestamp_lte: Option<i64>,
    pub from_me: Option<bool>,
    /// Ask WAHA to download media (and fill `media.url`).
    pub download_media: bool,
    /// Oldest first instead of WAHA's newest first.
    pub ascending: bool,
}

impl Default for MessagesQuery {
    fn default() -> Self {
        Self {
            limit: 100,
            offset: 0,
            timestamp_gte: None,
            timestamp_lte: None,
            from_me: None,
            download_media: false,
            ascending: false,
        }
    }
}

/// A client for one WAHA container and one session (`default` unless
/// [`with_session`](Self::with_session)). Cheap to clone.
#[derive(Clone)]
pub struct WahaClient {
    http: reqwest::Client,
    /// Base URL without a trailing `/` (`http://waha-link-42:3000`).
    base: String,
    /// `scheme://host:port` of `base`, used to re-home media URLs.
    origin: String,
    /// `X-Api-Key`, marked sensitive.
    api_key: HeaderValue,
    session: String,
    timeouts: Timeouts,
}

impl fmt::Debug for WahaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WahaClient")
            .field("base", &self.base)
            .field("session", &self.session)
            .field("api_key", &"<redacted>")
            .field("timeouts", &self.timeouts)
            .finish()
    }
}

impl WahaClient {
    /// A `reqwest::Client` suited to WAHA: 3 s connect timeout, no redirects (a redirect would
    /// carry `X-Api-Key` elsewhere), idle connections dropped after 30 s.
    pub fn http_client() -> reqwest::Result<reqwest::Client> {
        reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(3))
            .redirect(reqwest::redirect::Policy::none())
            .pool_idle_timeout(Duration::from_secs(30))
            .user_agent(concat!("puente/", env!("CARGO_PKG_VERSION")))
            .build()
    }

    /// A client for the session `default` of the WAHA at `base_url` (`http(s)://host:port`,
    /// optionally with a path prefix). `http` should not follow redirects
    /// ([`http_client`](Self::http_client)).
    pub fn new(http: reqwest::Client, base_url: &str, api_key: &str) -> Result<Self, Error> {
        let base = base_url.trim().trim_end_matches('/').to_owned();
        let url =
            Url::parse(&base).map_err(|e| Error::InvalidUrl(format!("base URL {base:?}: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
            return Err(Error::InvalidUrl(format!(
                "base URL {base:?}: http(s)://host expected"
            )));
        }
        let origin = url.origin().ascii_serialization();
        let mut api_key = HeaderValue::from_str(api_key)
            .map_err(|_| Error::InvalidUrl("the API key is not a valid header value".into()))?;
        api_key.set_sensitive(true);
        Ok(Self {
            http,
            base,
            origin,
            api_key,
            session: "default".into(),
            timeouts: Timeouts::default(),
        })
    }

    /// The same client for another session name.
    pub fn with_session(mut self, session: &str) -> Self {
        session.clone_into(&mut self.session);
        self
    }

    /// The same client with other timeouts.
    pub fn with_timeouts(mut self, timeouts: Timeouts) -> Self {
        self.timeouts = timeouts;
        self
    }

    pub fn session_name(&self) -> &str {
        &self.session
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    // ----- plumbing -----------------------------------------------------------------------

    fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// `/api/{session}` + `rest`.
    fn session_path(&self, rest: &str) -> String {
        format!("/api/{}{}", seg(&self.session), rest)
    }

    fn request(&self, method: Method, path: &str) -> RequestBuilder {
        self.http.request(method, self.url(path))
    }

    /// Sends with the key and `timeout`; returns the body of a 2xx, or the mapped error.
    async fn execute(
        &self,
        op: &'static str,
        req: RequestBuilder,
        timeout: Duration,
    ) -> Result<Vec<u8>, Error> {
        let resp = req
            .header("X-Api-Key", self.api_key.clone())
            .timeout(timeout)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        if status.is_success() {
            let body = read_capped(resp, MAX_JSON_BYTES).await?;
            tracing::debug!(op, status = status.as_u16(), "WAHA call");
            Ok(body)
        } else {
            let body = read_prefix(resp, MAX_ERROR_BODY).await?;
            let err = error_from(status, &body);
            tracing::debug!(op, status = status.as_u16(), error = %err, "WAHA call failed");
            Err(err)
        }
    }

    async fn get_json<T: DeserializeOwned>(
        &self,
        op: &'static str,
        req: RequestBuilder,
        timeout: Duration,
    ) -> Result<T, Error> {
        decode(&self.execute(op, req, timeout).await?)
    }

    /// POST/PUT a JSON body, decode the JSON answer.
    async fn send_json<T: DeserializeOwned>(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: &Value,
    ) -> Result<T, Error> {
        let req = self.request(method, path).json(body);
        decode(&self.execute(op, req, self.timeouts.call).await?)
    }

    /// POST/PUT/DELETE whose answer is not needed.
    async fn send_unit(
        &self,
        op: &'static str,
        method: Method,
        path: &str,
        body: Option<&Value>,
    ) -> Result<(), Error> {
        let mut req = self.request(method, path);
        if let Some(body) = body {
            req = req.json(body);
        }
        self.execute(op, req, self.timeouts.call).await.map(drop)
    }

    // ----- server -------------------------------------------------------------------------

    /// `GET /ping` → `{"message":"pong"}`.
    pub async fn ping(&self) -> Result<(), Error> {
        let req = self.request(Method::GET, "/ping");
        self.execute("ping", req, self.timeouts.quick)
            .await
            .map(drop)
    }

    /// `GET /api/server/version`: version, engine and tier of the image.
    pub async fn server_version(&self) -> Result<ServerVersion, Error> {
        let req = self.request(Method::GET, "/api/server/version");
        self.get_json("server_version", req, self.timeouts.quick)
            .await
    }

    // ----- session lifecycle --------------------------------------------------------------

    fn lifecycle_path(&self, action: &str) -> String {
        format!("/api/sessions/{}{action}", seg(&self.session))
    }

    /// `GET /api/sessions/{session}`. [`Error::NotFound`] when it does not exist.
    pub async fn session(&self) -> Result<SessionInfo, Error> {
        let req = self.request(Method::GET, &self.lifecycle_path(""));
        self.get_json("session", req, self.timeouts.quick).await
    }

    /// A lifecycle POST answering session info (re-read when the answer is empty).
    async fn lifecycle(&self, op: &'static str, action: &str) -> Result<SessionInfo, Error> {
        let req = self.request(Method::POST, &self.lifecycle_path(action));
        let body = self.execute(op, req, self.timeouts.call).await?;
        match decode_opt::<SessionInfo>(&body)? {
            Some(info) => Ok(info),
            None => self.session().await,
        }
    }

    /// `POST /api/sessions/{session}/start`. Current WAHA: idempotent. Legacy Core: a running
    /// session gives [`Error::Unprocessable`] "already started" — use
    /// [`ensure_started`](Self::ensure_started) to not care.
    pub async fn start(&self) -> Result<SessionInfo, Error> {
        self.lifecycle("start", "/start").await
    }

    /// `POST /api/sessions/{session}/stop`.
    pub async fn stop(&self) -> Result<SessionInfo, Error> {
        self.lifecycle("stop", "/stop").await
    }

    /// `POST /api/sessions/{session}/restart`.
    pub async fn restart(&self) -> Result<SessionInfo, Error> {
        self.lifecycle("restart", "/restart").await
    }

    /// `POST /api/sessions/{session}/logout`: unpairs and wipes the login, keeps the config, and
    /// restarts the session (into SCAN_QR_CODE) if it was running.
    pub async fn logout(&self) -> Result<SessionInfo, Error> {
        self.lifecycle("logout", "/logout").await
    }

    /// `GET /api/sessions/{session}/me`: the logged-in account, `None` when not authenticated
    /// (WAHA answers an empty body or `null`).
    pub async fn me(&self) -> Result<Option<Me>, Error> {
        let req = self.request(Method::GET, &self.lifecycle_path("/me"));
        let body = self.execute("me", req, self.timeouts.quick).await?;
        decode_opt(&body)
    }

    /// Makes the session exist, carry `config` (when given) and run, on both WAHA generations:
    ///
    /// 1. `GET` the session. Absent (404, only on WAHA ≥ 2026.6) → `POST /api/sessions` with
    ///    `{"name", "start": true, "config"}` — `start` is sent explicitly because the controller
    ///    reads `request.start || false`. A 422 "already exists" (a race, or legacy Core, where
    ///    `default` always exists) falls through to step 2.
    /// 2. When `config` is given and the session's config does not already contain it (legacy
    ///    Core forgets config on every container restart) → `PUT` it. WAHA restarts a running
    ///    session to apply it.
    /// 3. STOPPED → `POST …/start`; FAILED → `POST …/restart` (legacy Core's start answers
    ///    "already started" for FAILED, current WAHA restarts it: restart is the same on both).
    ///    A 422 "already started" is success. STARTING, SCAN_QR_CODE, WORKING and passkey
    ///    statuses are left alone.
    ///
    /// Returns the session as it is afterwards (usually STARTING).
    pub async fn ensure_started(&self, config: Option<Value>) -> Result<SessionInfo, Error> {
        let config = config.filter(|c| !c.is_null());
        let mut info = match self.session().await {
            Ok(info) => info,
            Err(Error::NotFound) => {
                let mut body = json!({"name": self.session, "start": true});
                if let Some(c) = &config {
                    body["config"] = c.clone();
                }
                match self
                    .send_json::<Value>("create_session", Method::POST, "/api/sessions", &body)
                    .await
                {
                    Ok(_) => return self.session().await,
                    Err(Error::Unprocessable(m)) if is_already(&m) => self.session().await?,
                    Err(e) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };

        if let Some(wanted) = &config {
            let applied = info.config.as_ref().is_some_and(|c| contains(c, wanted));
            if !applied {
                let body = json!({"config": wanted});
                self.send_unit(
                    "update_session",
                    Method::PUT,
                    &self.lifecycle_path(""),
                    Some(&body),
                )
                .await?;
                info = self.session().await?;
            }
        }

        let outcome = match info.status {
            SessionStatus::Stopped => self.start().await.map(drop),
            SessionStatus::Failed => self.restart().await.map(drop),
            _ => return Ok(info),
        };
        match outcome {
            Ok(()) => {}
            Err(Error::Unprocessable(m)) if is_already(&m) => {}
            Err(e) => return Err(e),
        }
        self.session().await
    }

    // ----- pairing ------------------------------------------------------------------------

    /// `GET /api/{session}/auth/qr?format=raw` → the raw QR text (`2@…`). WAHA waits up to 15 s
    /// for SCAN_QR_CODE; otherwise [`Error::WrongStatus`].
    pub async fn qr_raw(&self) -> Result<String, Error> {
        let req = self
            .request(Method::GET, &self.session_path("/auth/qr"))
            .query(&[("format", "raw")]);
        let v: Value = self.get_json("qr_raw", req, self.timeouts.call).await?;
        v.get("value")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::Decode("QR answer without `value`".into()))
    }

    /// `POST /api/{session}/auth/request-code` → the pairing code (`ABCD-EFGH`). Non-digits in
    /// `phone` (`+`, spaces) are dropped.
    pub async fn request_code(&self, phone: &str) -> Result<String, Error> {
        let digits: String = phone.chars().filter(char::is_ascii_digit).collect();
        let body = json!({"phoneNumber": digits});
        let v: Value = self
            .send_json(
                "request_code",
                Method::POST,
                &self.session_path("/auth/request-code"),
                &body,
            )
            .await?;
        v.get("code")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .ok_or_else(|| Error::Decode("pairing answer without `code`".into()))
    }

    // ----- sending ------------------------------------------------------------------------

    async fn send_message(
        &self,
        op: &'static str,
        path: &str,
        mut body: Value,
        reply_to: Option<&str>,
    ) -> Result<SentMessage, Error> {
        body["session"] = json!(self.session);
        if let Some(r) = reply_to {
            body["reply_to"] = json!(r);
        }
        let req = self.request(Method::POST, path).json(&body);
        let bytes = self.execute(op, req, self.timeouts.call).await?;
        Ok(SentMessage::from_value(
            decode_opt::<Value>(&bytes)?.unwrap_or(Value::Null),
        ))
    }

    /// `POST /api/sendText`.
    pub async fn send_text(
        &self,
        chat_id: &str,
        text: &str,
        reply_to: Option<&str>,
    ) -> Result<SentMessage, Error> {
        let body = json!({"chatId": chat_id, "text": text});
        self.send_message("sendText", "/api/sendText", body, reply_to)
            .await
    }

    fn media_body(chat_id: &str, file: &OutgoingFile, caption: Option<&str>) -> Value {
        let mut body = json!({"chatId": chat_id, "file": file.to_json()});
        if let Some(c) = caption {
            body["caption"] = json!(c);
        }
        body
    }

    /// `POST /api/sendImage`.
    pub async fn send_image(
        &self,
        chat_id: &str,
        file: &OutgoingFile,
        caption: Option<&str>,
        reply_to: Option<&str>,
    ) -> Result<SentMessage, Error> {
        let body = Self::media_body(chat_id, file, caption);
        self.send_message("sendImage", "/api/sendImage", body, reply_to)
            .await
    }

    /// `POST /api/sendFile` (documents).
    pub async fn send_file(
        &self,
        chat_id: &str,
        file: &OutgoingFile,
        caption: Option<&str>,
        reply_to: Option<&str>,
    ) -> Result<SentMessage, Error> {
        let body = Self::media_body(chat_id, file, caption);
        self.send_message("sendFile", "/api/sendFile", body, reply_to)
            .await
    }

    /// `POST /api/sendVoice`. Asks WAHA to convert unless the file already is `audio/ogg`
    /// (WhatsApp voice notes are Opus in Ogg).
    pub async fn send_voice(
        &self,
        chat_id: &str,
        file: &OutgoingFile,
        reply_to: Option<&str>,
    ) -> Result<SentMessage, Error> {
        let mut body = Self::media_body(chat_id, file, None);
        body["convert"] = json!(!file.mimetype.starts_with("audio/ogg"));
        self.send_message("sendVoice", "/api/sendVoice", body, reply_to)
            .await
    }

    /// `POST /api/sendVideo`. Asks WAHA to convert unless the file already is `video/mp4`.
    pub async fn send_video(
        &self,
        chat_id: &str,
        file: &OutgoingFile,
        caption: Option<&str>,
        reply_to: Option<&str>,
    ) -> Result<SentMessage, Error> {
        let mut body = Self::media_body(chat_id, file, caption);
        body["convert"] = json!(!file.mimetype.starts_with("video/mp4"));
        self.send_message("sendVideo", "/api/sendVideo", body, reply_to)
            .await
    }

    /// `POST /api/sendLocation` (`title` is required by WAHA).
    pub async fn send_location(
        &self,
        chat_id: &str,
        latitude: f64,
        longitude: f64,
        title: &str,
        reply_to: Option<&str>,
    ) -> Result<SentMessage, Error> {
        let body = json!({
            "chatId": chat_id,
            "latitude": latitude,
            "longitude": longitude,
            "title": title,
        });
        self.send_message("sendLocation", "/api/sendLocation", body, reply_to)
            .await
    }

    /// `POST /api/sendSeen`. An empty list marks the chat's unread messages (last 7 days) read.
    pub async fn send_seen(&self, chat_id: &str, message_ids: &[String]) -> Result<(), Error> {
        let mut body = json!({"session": self.session, "chatId": chat_id});
        if !message_ids.is_empty() {
            body["messageIds"] = json!(message_ids);
        }
        self.send_unit("sendSeen", Method::POST, "/api/sendSeen", Some(&body))
            .await
    }

    /// `POST /api/startTyping`.
    pub async fn start_typing(&self, chat_id: &str) -> Result<(), Error> {
        let body = json!({"session": self.session, "chatId": chat_id});
        self.send_unit("startTyping", Method::POST, "/api/startTyping", Some(&body))
            .await
    }

    /// `POST /api/stopTyping`.
    pub async fn stop_typing(&self, chat_id: &str) -> Result<(), Error> {
        let body = json!({"session": self.session, "chatId": chat_id});
        self.send_unit("stopTyping", Method::POST, "/api/stopTyping", Some(&body))
            .await
    }

    /// `PUT /api/reaction`; an empty `emoji` removes the reaction.
    pub async fn reaction(&self, message_id: &str, emoji: &str) -> Result<(), Error> {
        let body = json!({"session": self.session, "messageId": message_id, "reaction": emoji});
        self.send_unit("reaction", Method::PUT, "/api/reaction", Some(&body))
            .await
    }

    fn message_path(&self, chat_id: &str, message_id: &str) -> String {
        self.session_path(&format!(
            "/chats/{}/messages/{}",
            seg(chat_id),
            seg(message_id)
        ))
    }

    /// `PUT /api/{session}/chats/{chatId}/messages/{messageId}` with the new text.
    pub async fn edit_message(
        &self,
        chat_id: &str,
        message_id: &str,
        text: &str,
    ) -> Result<(), Error> {
        let body = json!({"text": text});
        let path = self.message_path(chat_id, message_id);
        self.send_unit("edit_message", Method::PUT, &path, Some(&body))
            .await
    }

    /// `DELETE /api/{session}/chats/{chatId}/messages/{messageId}`: delete for everyone.
    pub async fn delete_message(&self, chat_id: &str, message_id: &str) -> Result<(), Error> {
        let path = self.message_path(chat_id, message_id);
        self.send_unit("delete_message", Method::DELETE, &path, None)
            .await
    }

    // ----- reading ------------------------------------------------------------------------

    /// `GET /api/{session}/chats`, most recent first. Entries without a usable id are skipped.
    pub async fn chats(&self, limit: u32, offset: u32) -> Result<Vec<ChatSummary>, Error> {
        let req = self
            .request(Method::GET, &self.session_path("/chats"))
            .query(&[
                ("limit", limit.to_string()),
                ("offset", offset.to_string()),
                ("sortBy", "conversationTimestamp".to_owned()),
                ("sortOrder", "desc".to_owned()),
            ]);
        let list: Vec<Value> = self.get_json("chats", req, self.timeouts.call).await?;
        Ok(list
            .into_iter()
            .filter_map(ChatSummary::from_value)
            .collect())
    }

    /// `GET /api/{session}/chats/{chatId}/messages` with filters. Entries that are not message
    /// objects are skipped (and logged).
    pub async fn chat_messages(
        &self,
        chat_id: &str,
        q: &MessagesQuery,
    ) -> Result<Vec<MessagePayload>, Error> {
        let mut params: Vec<(&str, String)> = vec![
            ("limit", q.limit.to_string()),
            ("offset", q.offset.to_string()),
            ("downloadMedia", q.download_media.to_string()),
            ("sortBy", "timestamp".to_owned()),
            (
                "sortOrder",
                if q.ascending { "asc" } else { "desc" }.to_owned(),
            ),
        ];
        if let Some(t) = q.timestamp_gte {
            params.push(("filter.timestamp.gte", t.to_string()));
        }
        if let Some(t) = q.timestamp_lte {
            params.push(("filter.timestamp.lte", t.to_string()));
        }
        if let Some(f) = q.from_me {
            params.push(("filter.fromMe", f.to_string()));
        }
        let path = self.session_path(&format!("/chats/{}/messages", seg(chat_id)));
        let req = self.request(Method::GET, &path).query(&params);
        let list: Vec<Value> = self
            .get_json("chat_messages", req, self.timeouts.call)
            .await?;
        Ok(list
            .into_iter()
            .enumerate()
            .filter_map(|(i, v)| match from_object::<MessagePayload>(&v) {
                Ok(m) => Some(m),
                Err(e) => {
                    tracing::warn!(index = i, error = %e, "skipping a message WAHA returned");
                    None
                }
            })
            .collect())
    }

    /// `GET /api/contacts/check-exists?phone=…&session=…`: the chat id of a phone number on
    /// WhatsApp (`…@c.us`), or `None` when the number has no WhatsApp account.
    pub async fn check_number(&self, phone: &str) -> Result<Option<String>, Error> {
        #[derive(serde::Deserialize)]
        struct Exists {
            #[serde(rename = "numberExists", default)]
            number_exists: bool,
            #[serde(rename = "chatId", default)]
            chat_id: Option<String>,
        }
        let req = self
            .request(Method::GET, "/api/contacts/check-exists")
            .query(&[("phone", phone), ("session", &self.session)]);
        let e: Exists = self
            .get_json("check_number", req, self.timeouts.call)
            .await?;
        Ok(e.chat_id.filter(|c| e.number_exists && !c.is_empty()))
    }

    /// `GET /api/contacts?contactId=…&session=…` (answers even for unregistered numbers).
    pub async fn contact(&self, contact_id: &str) -> Result<Contact, Error> {
        let req = self
            .request(Method::GET, "/api/contacts")
            .query(&[("contactId", contact_id), ("session", &self.session)]);
        self.get_json("contact", req, self.timeouts.call).await
    }

    /// `GET /api/{session}/lids/{lid}` → the phone id (`pn`, e.g. `346…@c.us`, as WAHA gives
    /// it; see [`phone_from_cus`](super::phone_from_cus)), or `None` when WAHA does not know it.
    pub async fn lid_to_phone(&self, lid: &str) -> Result<Option<String>, Error> {
        let req = self.request(
            Method::GET,
            &self.session_path(&format!("/lids/{}", seg(lid))),
        );
        let m: LidMapping = self
            .get_json("lid_to_phone", req, self.timeouts.call)
            .await?;
        Ok(m.pn.filter(|p| !p.is_empty()))
    }

    /// Downloads a message's `media.url` with the API key, up to `max_bytes`; returns the bytes
    /// and the `Content-Type`.
    ///
    /// WAHA builds media URLs from `WAHA_BASE_URL`, which often says `localhost` or a host
    /// Puente cannot reach, so the URL is **re-homed**: its scheme, host and port are replaced
    /// by this client's base, its path and query kept. Only paths under `/api/files/` are
    /// fetched, so the key is only ever sent to this container's file endpoint (an S3 media
    /// URL is therefore rejected). A relative `/api/files/…` URL is accepted as is.
    pub async fn download_media(
        &self,
        url: &str,
        max_bytes: usize,
    ) -> Result<(Vec<u8>, Option<String>), Error> {
        let target = self.rehome_media_url(url)?;
        let resp = self
            .http
            .get(target)
            .header("X-Api-Key", self.api_key.clone())
            .timeout(self.timeouts.media)
            .send()
            .await
            .map_err(transport)?;
        let status = resp.status();
        if !status.is_success() {
            let body = read_prefix(resp, MAX_ERROR_BODY).await?;
            return Err(error_from(status, &body));
        }
        let content_type = resp
            .headers()
            .get(CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let declared = resp
            .headers()
            .get(CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        if declared.is_some_and(|n| n > max_bytes as u64) {
            return Err(Error::TooLarge { max_bytes });
        }
        let out = read_capped(resp, max_bytes).await?;
        tracing::debug!(op = "download_media", bytes = out.len(), "WAHA call");
        Ok((out, content_type))
    }

    /// See [`download_media`](Self::download_media).
    fn rehome_media_url(&self, url: &str) -> Result<String, Error> {
        let path_and_query = if url.starts_with('/') && !url.starts_with("//") {
            let parsed = Url::parse(&format!("{}{url}", self.origin))
                .map_err(|_| Error::InvalidUrl("media URL".into()))?;
            path_and_query(&parsed)
        } else {
            let parsed = Url::parse(url).map_err(|_| Error::InvalidUrl("media URL".into()))?;
            if !matches!(parsed.scheme(), "http" | "https") {
                return Err(Error::InvalidUrl("media URL: http(s) expected".into()));
            }
            path_and_query(&parsed)
        };
        // Url::parse has resolved `.`/`..` segments, so the prefix check cannot be escaped.
        if !path_and_query.starts_with("/api/files/") {
            return Err(Error::InvalidUrl("media URL outside /api/files/".into()));
        }
        Ok(format!("{}{path_and_query}", self.origin))
    }
}

fn path_and_query(u: &Url) -> String {
    match u.query() {
        Some(q) => format!("{}?{q}", u.path()),
        None => u.path().to_owned(),
    }
}

/// Whether `have` contains everything in `want`: objects key by key (recursively), arrays
/// element by element (same length), other values equal; a `null` in `want` also matches a
/// missing key. WAHA may echo a config with defaults added, which must not count as a change.
fn contains(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w.iter().all(|(k, wv)| match h.get(k) {
            Some(hv) => contains(hv, wv),
            None => wv.is_null(),
        }),
        (Value::Array(h), Value::Array(w)) => {
            h.len() == w.len() && h.iter().zip(w).all(|(hv, wv)| contains(hv, wv))
        }
        _ => have == want,
    }
}

/// Percent-encodes one path segment (everything but RFC 3986 unreserved characters).
fn seg(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Read a body in chunks, refusing it (without reading on) once it passes `max_bytes`.
async fn read_capped(mut resp: reqwest::Response, max_bytes: usize) -> Result<Vec<u8>, Error> {
    let declared = resp.content_length();
    if declared.is_some_and(|n| n > max_bytes as u64) {
        return Err(Error::TooLarge { max_bytes });
    }
    let mut out = Vec::with_capacity(declared.map_or(0, |n| n as usize).min(max_bytes));
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        if out.len() + chunk.len() > max_bytes {
            return Err(Error::TooLarge { max_bytes });
        }
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// Read at most `max_bytes` of a body (an error answer: its start is all we keep).
async fn read_prefix(mut resp: reqwest::Response, max_bytes: usize) -> Result<Vec<u8>, Error> {
    let mut out = Vec::new();
    while let Some(chunk) = resp.chunk().await.map_err(transport)? {
        let room = max_bytes - out.len();
        out.extend_from_slice(&chunk[..chunk.len().min(room)]);
        if out.len() >= max_bytes {
            break;
        }
    }
    Ok(out)
}

fn decode<T: DeserializeOwned>(body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| Error::Decode(e.to_string()))
}

/// An empty (or whitespace) body and `null` are `None`.
fn decode_opt<T: DeserializeOwned>(body: &[u8]) -> Result<Option<T>, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let v: Value = decode(body)?;
    if v.is_null() {
        return Ok(None);
    }
    serde_json::from_value(v)
        .map(Some)
        .map_err(|e| Error::Decode(e.to_string()))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn client(base: &str) -> WahaClient {
        WahaClient::new(reqwest::Client::new(), base, "k3y-secret").unwrap()
    }

    #[test]
    fn new_validates_and_redacts() {
        let c = client("http://waha:3000/");
        assert_eq!(c.base_url(), "http://waha:3000");
        assert_eq!(c.session_name(), "default");
        let dbg = format!("{c:?}");
        assert!(!dbg.contains("k3y-secret"), "{dbg}");
        assert!(WahaClient::new(reqwest::Client::new(), "waha:3000", "k").is_err());
        assert!(WahaClient::new(reqwest::Client::new(), "ftp://waha", "k").is_err());
        assert!(WahaClient::new(reqwest::Client::new(), "not a url", "k").is_err());
        assert!(WahaClient::new(reqwest::Client::new(), "http://waha", "bad\nkey").is_err());
        let c = client("http://waha:3000").with_session("agent-1");
        assert_eq!(c.session_path("/chats"), "/api/agent-1/chats");
    }

    #[test]
    fn path_segments_are_encoded() {
        assert_eq!(seg("346@c.us"), "346%40c.us");
        assert_eq!(seg("true_346@c.us_3EB0"), "true_346%40c.us_3EB0");
        assert_eq!(seg("a/b?c#d"), "a%2Fb%3Fc%23d");
        let c = client("http://waha:3000");
        assert_eq!(
            c.message_path("346@c.us", "true_346@c.us_X"),
            "/api/default/chats/346%40c.us/messages/true_346%40c.us_X"
        );
    }

    #[test]
    fn media_urls_are_rehomed_to_the_base() {
        let c = client("http://waha-link-7:3000");
        assert_eq!(
            c.rehome_media_url("http://localhost:3000/api/files/default/x.jpg")
                .unwrap(),
            "http://waha-link-7:3000/api/files/default/x.jpg"
        );
        assert_eq!(
            c.rehome_media_url("https://public.example/api/files/default/x.jpg?v=1")
                .unwrap(),
            "http://waha-link-7:3000/api/files/default/x.jpg?v=1"
        );
        assert_eq!(
            c.rehome_media_url("/api/files/default/false_1%40c.us_A.ogg")
                .unwrap(),
            "http://waha-link-7:3000/api/files/default/false_1%40c.us_A.ogg"
        );
        for bad in [
            "http://localhost:3000/api/sessions/default",
            "http://localhost:3000/api/files/../server/environment",
            "http://localhost:3000/api/files/%2e%2e/server/environment",
            "file:///etc/passwd",
            "//evil.example/api/files/x",
            "https://bucket.s3.amazonaws.com/default/x.jpg",
            "not a url",
            "",
        ] {
            match c.rehome_media_url(bad) {
                Err(WahaError::InvalidUrl(_)) => {}
                other => {
                    // `%2e%2e` is normalized by the URL parser; it must not leave /api/files/.
                    let u = other.unwrap();
                    assert!(
                        u.starts_with("http://waha-link-7:3000/api/files/"),
                        "{bad} → {u}"
                    );
                    assert!(!u.contains("/server/"), "{bad} → {u}");
                }
            }
        }
    }

    #[test]
    fn config_containment() {
        let have = json!({"webhooks": [{"url": "http://h/wh", "events": ["message"], "hmac": {"key": "s"}, "retries": null}], "metadata": {"a": "1"}, "debug": false});
        assert!(contains(
            &have,
            &json!({"webhooks": [{"url": "http://h/wh", "events": ["message"], "hmac": {"key": "s"}}]})
        ));
        assert!(contains(&have, &json!({"proxy": null})));
        assert!(!contains(
            &have,
            &json!({"webhooks": [{"url": "http://h/other"}]})
        ));
        assert!(!contains(
            &have,
            &json!({"webhooks": [{"url": "http://h/wh", "events": ["message", "message.ack"]}]})
        ));
        assert!(!contains(&have, &json!({"metadata": {"a": "2"}})));
        assert!(!contains(&Value::Null, &json!({"a": 1})));
    }

    #[test]
    fn decode_opt_empty_and_null() {
        assert_eq!(decode_opt::<Me>(b"").unwrap(), None);
        assert_eq!(decode_opt::<Me>(b"  \n").unwrap(), None);
        assert_eq!(decode_opt::<Me>(b"null").unwrap(), None);
        let me = decode_opt::<Me>(br#"{"id":"1@c.us","pushName":"A"}"#)
            .unwrap()
            .unwrap();
        assert_eq!(me.id, "1@c.us");
        assert!(matches!(
            decode_opt::<Me>(b"{oops"),
            Err(WahaError::Decode(_))
        ));
    }

    #[test]
    fn outgoing_file_json_and_debug() {
        let f = OutgoingFile::from_bytes("image/png", Some("a.png"), b"\x89PNG");
        assert_eq!(
            f.to_json(),
            json!({"mimetype": "image/png", "filename": "a.png", "data": "iVBORw=="})
        );
        assert!(!format!("{f:?}").contains("iVBORw"));
        let f = OutgoingFile::from_url("application/pdf", None, "https://x/y.pdf");
        assert_eq!(
            f.to_json(),
            json!({"mimetype": "application/pdf", "url": "https://x/y.pdf"})
        );
    }
}
