//! Sessions: the state machine (STOPPED → STARTING → SCAN_QR_CODE → WORKING, FAILED), the QR
//! rotation, persistence of the login, the message store and every event the emulator emits.
//!
//! Invariants:
//! - All state sits behind one std mutex ([`Manager::inner`]); it is never held across an await.
//!   Mutations collect the events they cause and post them after the lock is released.
//! - Each start bumps the session's `generation`; background tasks (STARTING delay, QR rotation)
//!   carry the generation they were started for and stop as soon as it changes.
//! - Every change bumps [`Manager::changed`], so waiters (the up-to-15 s "wait for WORKING")
//!   re-check without polling.
//! - A message is written to `messages.jsonl` before its webhook is posted.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use base64::Engine as _;
use serde_json::{json, Value};
use tokio::sync::watch;
use tokio::time::Instant;

use crate::config::{Config, Engine, Flavor, WebhookTarget};
use crate::error::{ApiError, ApiResult};
use crate::faults::FaultState;
use crate::ids;
use crate::media;
use crate::model::{Kind, Location, Me, MediaRef, Reaction, RenderCtx, Status, StoredMessage};
use crate::store::{self, SessionDir, SessionRecord};
use crate::validate;
use crate::webhook::{Dispatcher, Envelope, Environment, Worker};

/// One session.
pub struct Session {
    pub name: String,
    pub status: Status,
    pub config: Option<Value>,
    webhooks: Vec<WebhookTarget>,
    /// The login, mirrored in `auth.json`. Exposed as `me` only while WORKING.
    pub auth: Option<Me>,
    statuses: VecDeque<(Status, i64)>,
    pub qr: Option<String>,
    pub qr_index: u32,
    generation: u64,
    started: bool,
    pub activity: Option<i64>,
    pub messages: Vec<StoredMessage>,
    index: HashMap<String, usize>,
    pub sent: Vec<Value>,
    /// Chat the agent is typing in, and since when (ms).
    pub typing: Option<(String, i64)>,
    dir: SessionDir,
    /// Events held back while the "silent" fault is on.
    backlog: Vec<Envelope>,
}

impl Session {
    fn new(
        name: &str,
        dir: SessionDir,
        config: Option<Value>,
        webhooks: Vec<WebhookTarget>,
    ) -> Self {
        let messages = dir.load_messages();
        let index = messages
            .iter()
            .enumerate()
            .map(|(i, m)| (m.id.clone(), i))
            .collect();
        Self {
            name: name.to_owned(),
            status: Status::Stopped,
            config,
            webhooks,
            auth: dir.load_auth(),
            statuses: VecDeque::new(),
            qr: None,
            qr_index: 0,
            generation: 0,
            started: false,
            activity: None,
            sent: dir.load_sent(),
            messages,
            index,
            typing: None,
            dir,
            backlog: Vec::new(),
        }
    }

    pub fn me(&self) -> Option<&Me> {
        if self.status == Status::Working {
            self.auth.as_ref()
        } else {
            None
        }
    }

    pub fn message(&self, id: &str) -> Option<&StoredMessage> {
        self.index.get(id).and_then(|&i| self.messages.get(i))
    }

    /// Finds a message by serialized id or by raw id.
    fn find(&self, id: &str) -> Option<usize> {
        if let Some(&i) = self.index.get(id) {
            return Some(i);
        }
        self.messages.iter().position(|m| m.raw_id == id)
    }

    fn is_running(&self) -> bool {
        self.status != Status::Stopped
    }

    pub fn dir(&self) -> &SessionDir {
        &self.dir
    }

    fn metadata(&self) -> Option<Value> {
        self.config
            .as_ref()
            .and_then(|c| c.get("metadata"))
            .filter(|m| m.is_object())
            .cloned()
    }

    fn webjs_tags_events_on(&self) -> bool {
        self.config
            .as_ref()
            .and_then(|c| c.pointer("/webjs/tagsEventsOn"))
            .and_then(Value::as_bool)
            .unwrap_or(false)
    }
}

struct Inner {
    sessions: BTreeMap<String, Session>,
}

/// An envelope and where it goes, posted once the lock is released.
type Pending = (Envelope, Vec<WebhookTarget>);

/// Media attached to an outgoing API message.
pub struct OutgoingMedia {
    pub bytes: Option<Vec<u8>>,
    pub url: Option<String>,
    pub mimetype: String,
    pub filename: Option<String>,
}

/// A message sent through the API.
pub struct Outgoing {
    pub endpoint: &'static str,
    pub chat_id: String,
    pub kind: Kind,
    pub body: String,
    pub media: Option<OutgoingMedia>,
    pub location: Option<Location>,
    pub reply_to: Option<String>,
    pub request: Value,
}

/// A message "typed on the buyer's phone" (control API).
pub struct Inbound {
    pub from: String,
    pub body: String,
    pub kind: Kind,
    pub reply_to: Option<String>,
    pub group: Option<String>,
    pub push_name: Option<String>,
    pub location: Option<Location>,
}

/// Owns every session.
pub struct Manager {
    pub config: Arc<Config>,
    /// All session state; a std mutex, never held across an await.
    inner: Mutex<Inner>,
    /// Bumped on every change so waiters can re-check.
    changed: watch::Sender<u64>,
    dispatcher: Dispatcher,
    pub faults: Arc<FaultState>,
    pub environment: Environment,
}

impl Manager {
    pub fn new(config: Arc<Config>) -> Arc<Self> {
        let faults = Arc::new(FaultState::default());
        let environment = Environment {
            version: config.version.clone(),
            engine: config.engine.name().to_owned(),
            tier: match config.flavor {
                Flavor::CoreLegacy => "CORE".to_owned(),
                Flavor::Current => "PLUS".to_owned(),
            },
            browser: (config.engine == Engine::Webjs)
                .then(|| "/usr/bin/google-chrome-stable".to_owned()),
            platform: "linux/x64".to_owned(),
            worker: Worker {
                id: config.worker_id.clone(),
            },
        };
        let (changed, _) = watch::channel(0);
        Arc::new(Self {
            dispatcher: Dispatcher::new(&config.version, config.hook_timeout, faults.clone()),
            config,
            inner: Mutex::new(Inner {
                sessions: BTreeMap::new(),
            }),
            changed,
            faults,
            environment,
        })
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        match self.inner.lock() {
            Ok(g) => g,
            Err(p) => p.into_inner(),
        }
    }

    fn bump(&self) {
        self.changed.send_modify(|v| *v = v.wrapping_add(1));
    }

    fn dir_for(&self, name: &str) -> SessionDir {
        SessionDir::new(&self.config.store_dir, self.config.engine.dir(), name)
    }

    fn legacy(&self) -> bool {
        self.config.flavor == Flavor::CoreLegacy
    }

    fn deliver(&self, pending: Vec<Pending>) {
        for (envelope, targets) in pending {
            self.dispatcher.dispatch(&envelope, &targets);
        }
        self.bump();
    }

    /// Restores sessions at boot (current flavor: persisted configs and autostart; legacy: the
    /// `default` slot) and starts `WHATSAPP_START_SESSION`.
    pub fn boot(self: &Arc<Self>) {
        let mut to_start = Vec::new();
        {
            let mut inner = self.lock();
            if self.legacy() {
                let dir = self.dir_for("default");
                inner.sessions.insert(
                    "default".into(),
                    Session::new("default", dir, None, Vec::new()),
                );
            } else {
                for name in
                    store::list_session_dirs(&self.config.store_dir, self.config.engine.dir())
                {
                    let dir = self.dir_for(&name);
                    let Some(record) = dir.load_record() else {
                        continue;
                    };
                    let webhooks =
                        validate::session_config(record.config.as_ref()).unwrap_or_default();
                    let mut s = Session::new(&name, dir, record.config.clone(), webhooks);
                    s.started = record.started;
                    if record.started && self.config.restart_sessions {
                        to_start.push(name.clone());
                    }
                    inner.sessions.insert(name, s);
                }
            }
            for name in &self.config.start_sessions {
                if self.legacy() && name != "default" {
                    tracing::error!(session = %name, "{}", only_default_message(name));
                    continue;
                }
                if validate::session_name(name).is_err() {
                    tracing::error!(session = %name, "invalid session name in WHATSAPP_START_SESSION");
                    continue;
                }
                if !inner.sessions.contains_key(name) {
                    let s = Session::new(name, self.dir_for(name), None, Vec::new());
                    inner.sessions.insert(name.clone(), s);
                }
                if !to_start.contains(name) {
                    to_start.push(name.clone());
                }
            }
        }
        for name in to_start {
            if self.config.predefined_start_fails && self.config.start_sessions.contains(&name) {
                // EMULATOR_PREDEFINED_START=fail: the session exists but stays STOPPED.
                tracing::error!(session = %name, "could not start the predefined session (EMULATOR_PREDEFINED_START=fail)");
                continue;
            }
            tracing::info!(session = %name, "starting session at boot");
            if let Err(e) = self.start_inner(&name, true) {
                tracing::error!(session = %name, error = %e, "could not start session");
            }
        }
    }

    // ----- naming and lookup -------------------------------------------------------------

    /// Legacy Core answers 422 for any session but `default`.
    pub fn check_name(&self, name: &str) -> ApiResult<()> {
        if self.legacy() && name != "default" {
            return Err(ApiError::unprocessable(only_default_message(name)));
        }
        Ok(())
    }

    fn persist_record(&self, s: &Session) {
        if self.legacy() {
            return;
        }
        let record = SessionRecord {
            name: s.name.clone(),
            config: s.config.clone(),
            started: s.started,
        };
        if let Err(e) = s.dir.save_record(&record) {
            tracing::error!(session = %s.name, error = %e, "could not persist session config");
        }
    }

    // ----- events -------------------------------------------------------------------------

    fn envelope(&self, s: &Session, event: &str, payload: Value) -> Envelope {
        Envelope {
            id: ids::event_id(),
            timestamp: ids::now_ms(),
            event: event.to_owned(),
            session: s.name.clone(),
            metadata: s.metadata(),
            me: s.me().cloned(),
            payload,
            engine: self.config.engine.name().to_owned(),
            environment: self.environment.clone(),
        }
    }

    fn targets(&self, s: &Session) -> Vec<WebhookTarget> {
        let mut t = s.webhooks.clone();
        if let Some(g) = &self.config.global_webhook {
            t.push(g.clone());
        }
        t
    }

    /// Queues an event (or holds it back while the session is "silent").
    fn emit(&self, s: &mut Session, event: &str, payload: Value, out: &mut Vec<Pending>) {
        let env = self.envelope(s, event, payload);
        s.activity = Some(env.timestamp);
        if self.faults.snapshot().silent && s.status == Status::Working {
            s.backlog.push(env);
            return;
        }
        out.push((env, self.targets(s)));
    }

    /// Changes the status and emits `session.status` (every QR rotation re-emits SCAN_QR_CODE;
    /// consecutive WORKING events are dropped).
    fn set_status(&self, s: &mut Session, status: Status, out: &mut Vec<Pending>) {
        if status == s.status && status == Status::Working {
            return;
        }
        let now = ids::now_ms();
        s.status = status;
        s.statuses.push_back((status, now));
        while s.statuses.len() > 3 {
            s.statuses.pop_front();
        }
        let statuses: Vec<Value> = s
            .statuses
            .iter()
            .map(|(st, ts)| json!({"status": st.as_str(), "timestamp": ts}))
            .collect();
        let mut payload = json!({"name": s.name, "status": status.as_str(), "statuses": statuses});
        if !self.legacy() {
            payload["data"] = Value::Null;
        }
        tracing::info!(session = %s.name, status = status.as_str(), "session status");
        self.emit(s, "session.status", payload, out);
        if status == Status::Working && !s.backlog.is_empty() {
            let targets = self.targets(s);
            for env in std::mem::take(&mut s.backlog) {
                out.push((env, targets.clone()));
            }
        }
    }

    fn ctx<'a>(&'a self, s: &'a Session) -> RenderCtx<'a> {
        RenderCtx {
            engine: self.config.engine,
            session: &s.name,
            base_url: &self.config.base_url,
            me_id: s.auth.as_ref().map(|m| m.id.as_str()).unwrap_or(""),
        }
    }

    fn wa(&self, s: &Session, m: &StoredMessage, with_media: bool) -> Value {
        let quoted = m.reply_to.as_deref().and_then(|r| s.message(r));
        m.to_wa(&self.ctx(s), quoted, with_media)
    }

    // ----- session info -------------------------------------------------------------------

    pub fn info_of(&self, s: &Session, with_engine: bool) -> Value {
        let mut v = json!({
            "name": s.name,
            "status": s.status.as_str(),
            "config": s.config,
            "me": s.me(),
            "presence": if s.status == Status::Working { json!("online") } else { Value::Null },
            "timestamps": {"activity": s.activity},
        });
        if !self.legacy() {
            v["assignedWorker"] = json!(self.config.worker_id);
        }
        if with_engine {
            let state = match s.status {
                Status::Working => "CONNECTED",
                Status::ScanQrCode => "UNPAIRED",
                _ => "OPENING",
            };
            v["engine"] = json!({"engine": self.config.engine.name(), "state": state});
        }
        v
    }

    pub fn list(&self, all: bool) -> Vec<Value> {
        let inner = self.lock();
        inner
            .sessions
            .values()
            .filter(|s| all || s.is_running())
            .map(|s| self.info_of(s, false))
            .collect()
    }

    pub fn info(&self, name: &str) -> ApiResult<Value> {
        self.check_name(name)?;
        let inner = self.lock();
        let s = inner.sessions.get(name).ok_or_else(session_not_found)?;
        Ok(self.info_of(s, true))
    }

    pub fn with_session<T>(&self, name: &str, f: impl FnOnce(&Session) -> T) -> Option<T> {
        let inner = self.lock();
        inner.sessions.get(name).map(f)
    }

    /// Emulator view for the control API and the phone page.
    pub fn control_view(&self, name: &str) -> Option<Value> {
        self.with_session(name, |s| {
            let mut v = self.info_of(s, true);
            v["qr"] = json!(s.qr);
            v["qrIndex"] = json!(s.qr_index);
            v["qrCount"] = json!(self.config.timings.qr_count);
            v["paired"] = json!(s.auth.is_some());
            v["typing"] = json!(s
                .typing
                .as_ref()
                .map(|(chat, since)| json!({"chatId": chat, "since": since})));
            v
        })
    }

    pub fn qr(&self, name: &str) -> Option<String> {
        self.with_session(name, |s| {
            if s.status == Status::ScanQrCode {
                s.qr.clone()
            } else {
                None
            }
        })
        .flatten()
    }

    pub fn status(&self, name: &str) -> Option<Status> {
        self.with_session(name, |s| s.status)
    }

    // ----- waits --------------------------------------------------------------------------

    /// WAHA's `getWorkingSession`/`waitUntilStatus`: wait for the session to be running, then
    /// for one of `expected`; 422 with the object body when that does not happen in time.
    pub async fn wait_for(&self, name: &str, expected: &[Status]) -> ApiResult<()> {
        self.check_name(name)?;
        let mut rx = self.changed.subscribe();
        let t = &self.config.timings;
        let running_deadline = Instant::now() + t.wait_running;
        loop {
            let state = self.status(name);
            match state {
                Some(st) if expected.contains(&st) => return Ok(()),
                Some(st) if st != Status::Stopped => break,
                _ => {}
            }
            if Instant::now() >= running_deadline {
                break;
            }
            let _ = tokio::time::timeout_at(running_deadline, rx.changed()).await;
        }
        let status_deadline = Instant::now() + t.wait_status;
        loop {
            let state = self.status(name);
            match state {
                None => {
                    return Err(ApiError::not_found(format!(
                        "Session \"{name}\" does not exist"
                    )))
                }
                Some(st) if expected.contains(&st) => return Ok(()),
                Some(st) => {
                    if Instant::now() >= status_deadline || st == Status::Stopped {
                        return Err(ApiError::UnexpectedStatus {
                            session: name.to_owned(),
                            status: st.as_str().to_owned(),
                            expected: expected.iter().map(|e| e.as_str().to_owned()).collect(),
                        });
                    }
                }
            }
            let _ = tokio::time::timeout_at(status_deadline, rx.changed()).await;
        }
    }

    pub async fn wait_working(&self, name: &str) -> ApiResult<()> {
        self.wait_for(name, &[Status::Working]).await
    }

    // ----- lifecycle ----------------------------------------------------------------------

    pub fn create(
        self: &Arc<Self>,
        name: &str,
        config: Option<Value>,
        start: bool,
    ) -> ApiResult<Value> {
        validate::session_name(name)?;
        self.check_name(name)?;
        let webhooks = validate::session_config(config.as_ref())?;
        {
            let mut inner = self.lock();
            if inner.sessions.contains_key(name) {
                return Err(ApiError::unprocessable(format!(
                    "Session '{name}' already exists. Use PUT to update it."
                )));
            }
            let dir = self.dir_for(name);
            let s = Session::new(name, dir, config.filter(|c| !c.is_null()), webhooks);
            self.persist_record(&s);
            inner.sessions.insert(name.to_owned(), s);
        }
        self.bump();
        if start {
            self.start_inner(name, false)?;
        }
        self.info(name)
    }

    /// Replaces the config; a running session is restarted with it.
    pub fn update(self: &Arc<Self>, name: &str, config: Option<Value>) -> ApiResult<Value> {
        self.check_name(name)?;
        let webhooks = validate::session_config(config.as_ref())?;
        let running = {
            let mut inner = self.lock();
            let s = inner.sessions.get_mut(name).ok_or_else(session_not_found)?;
            s.config = config.filter(|c| !c.is_null());
            s.webhooks = webhooks;
            self.persist_record(s);
            s.is_running()
        };
        if running {
            self.stop(name)?;
            self.start_inner(name, true)?;
        }
        self.info(name)
    }

    /// `POST /api/sessions/{name}/start`.
    pub fn start(self: &Arc<Self>, name: &str) -> ApiResult<Value> {
        self.check_name(name)?;
        self.start_inner(name, false)?;
        self.info(name)
    }

    /// Starts a session. Legacy Core: 422 when already started (FAILED counts as started).
    /// Current: idempotent; FAILED is restarted.
    fn start_inner(self: &Arc<Self>, name: &str, force: bool) -> ApiResult<()> {
        let mut out = Vec::new();
        let generation = {
            let mut inner = self.lock();
            let s = inner.sessions.get_mut(name).ok_or_else(session_not_found)?;
            if s.is_running() && !force {
                if self.legacy() {
                    return Err(ApiError::unprocessable(format!(
                        "Session '{name}' is already started."
                    )));
                }
                if s.status != Status::Failed {
                    return Ok(());
                }
            }
            // A restart cures "WORKING but silent" (and flushes its backlog once WORKING).
            self.faults.clear_silent();
            s.generation += 1;
            s.started = true;
            s.qr = None;
            s.qr_index = 0;
            s.auth = s.dir.load_auth();
            self.persist_record(s);
            self.set_status(s, Status::Starting, &mut out);
            s.generation
        };
        self.deliver(out);
        let mgr = self.clone();
        let name = name.to_owned();
        tokio::spawn(async move { mgr.lifecycle(name, generation).await });
        Ok(())
    }

    /// STARTING → (WORKING if paired | SCAN_QR_CODE × N → FAILED).
    async fn lifecycle(self: Arc<Self>, name: String, generation: u64) {
        let t = self.config.timings.clone();
        if self.config.whatsapp_unreachable {
            // The engine never gets through to WhatsApp: STARTING, then FAILED, no QR code.
            tokio::time::sleep(t.connect_fail).await;
            let mut out = Vec::new();
            {
                let mut inner = self.lock();
                let Some(s) = inner.sessions.get_mut(&name) else {
                    return;
                };
                if s.generation != generation || s.status != Status::Starting {
                    return;
                }
                tracing::warn!(session = %name, "could not connect to WhatsApp (EMULATOR_WHATSAPP=unreachable)");
                self.set_status(s, Status::Failed, &mut out);
            }
            self.deliver(out);
            return;
        }
        tokio::time::sleep(t.starting).await;
        let paired = {
            let mut out = Vec::new();
            let paired = {
                let mut inner = self.lock();
                let Some(s) = inner.sessions.get_mut(&name) else {
                    return;
                };
                if s.generation != generation || s.status != Status::Starting {
                    return;
                }
                if s.auth.is_some() {
                    self.set_status(s, Status::Working, &mut out);
                    true
                } else {
                    false
                }
            };
            self.deliver(out);
            paired
        };
        if paired {
            return;
        }
        for i in 1..=t.qr_count {
            let mut out = Vec::new();
            {
                let mut inner = self.lock();
                let Some(s) = inner.sessions.get_mut(&name) else {
                    return;
                };
                if s.generation != generation
                    || !matches!(s.status, Status::Starting | Status::ScanQrCode)
                {
                    return;
                }
                let qr = ids::qr_value();
                s.qr = Some(qr);
                s.qr_index = i;
                tracing::info!(session = %name, qr = i, "new QR code");
                self.set_status(s, Status::ScanQrCode, &mut out);
            }
            self.deliver(out);
            let lifetime = if i == 1 { t.qr_first } else { t.qr_next };
            tokio::time::sleep(lifetime).await;
        }
        let mut out = Vec::new();
        {
            let mut inner = self.lock();
            let Some(s) = inner.sessions.get_mut(&name) else {
                return;
            };
            if s.generation != generation || s.status != Status::ScanQrCode {
                return;
            }
            s.qr = None;
            tracing::warn!(session = %name, "QR codes expired without a scan");
            self.set_status(s, Status::Failed, &mut out);
        }
        self.deliver(out);
    }

    pub fn stop(&self, name: &str) -> ApiResult<Value> {
        self.check_name(name)?;
        let mut out = Vec::new();
        {
            let mut inner = self.lock();
            let s = inner.sessions.get_mut(name).ok_or_else(session_not_found)?;
            s.generation += 1;
            s.started = false;
            s.qr = None;
            s.typing = None;
            self.persist_record(s);
            if s.status != Status::Stopped {
                self.set_status(s, Status::Stopped, &mut out);
            }
        }
        self.deliver(out);
        self.info(name)
    }

    pub fn restart(self: &Arc<Self>, name: &str) -> ApiResult<Value> {
        self.check_name(name)?;
        if self.status(name).is_none() {
            return Err(session_not_found());
        }
        self.stop(name)?;
        self.start_inner(name, true)?;
        self.info(name)
    }

    /// `POST /api/sessions/{name}/logout`: unpair, keep config, restart if it was running.
    pub fn logout(self: &Arc<Self>, name: &str) -> ApiResult<Value> {
        self.check_name(name)?;
        let running = {
            let mut inner = self.lock();
            let s = inner.sessions.get_mut(name).ok_or_else(session_not_found)?;
            s.auth = None;
            if let Err(e) = s.dir.wipe_auth() {
                tracing::error!(session = %name, error = %e, "could not wipe auth");
            }
            s.is_running()
        };
        if running {
            self.stop(name)?;
            self.start_inner(name, true)?;
        }
        self.info(name)
    }

    /// `DELETE /api/sessions/{name}`: stop, log out, forget config and data.
    pub fn delete(&self, name: &str) -> ApiResult<()> {
        self.check_name(name)?;
        if self.status(name).is_none() {
            if self.legacy() {
                return Err(session_not_found());
            }
            return Ok(());
        }
        self.stop(name)?;
        {
            let mut inner = self.lock();
            if let Some(s) = inner.sessions.remove(name) {
                if let Err(e) = s.dir.remove_all() {
                    tracing::error!(session = %name, error = %e, "could not remove session data");
                }
            }
        }
        self.bump();
        Ok(())
    }

    /// Deprecated `POST /api/sessions/start`: upsert then start; 422 if already running.
    pub fn start_deprecated(
        self: &Arc<Self>,
        name: &str,
        config: Option<Value>,
    ) -> ApiResult<Value> {
        validate::session_name(name)?;
        self.check_name(name)?;
        let webhooks = validate::session_config(config.as_ref())?;
        {
            let mut inner = self.lock();
            match inner.sessions.get_mut(name) {
                Some(s) if s.is_running() => {
                    return Err(ApiError::unprocessable(format!(
                        "Session '{name}' is already started."
                    )))
                }
                Some(s) => {
                    s.config = config.filter(|c| !c.is_null());
                    s.webhooks = webhooks;
                }
                None => {
                    let s = Session::new(
                        name,
                        self.dir_for(name),
                        config.filter(|c| !c.is_null()),
                        webhooks,
                    );
                    inner.sessions.insert(name.to_owned(), s);
                }
            }
        }
        self.start_inner(name, false)?;
        self.with_session(
            name,
            |s| json!({"name": s.name, "status": s.status.as_str(), "config": s.config}),
        )
        .ok_or_else(session_not_found)
    }

    // ----- phone side (control API) -------------------------------------------------------

    /// The phone scans the QR: the session becomes WORKING with this `me`, persisted.
    pub async fn scan(&self, name: &str, phone: &str, push_name: &str) -> ApiResult<Value> {
        self.wait_for(name, &[Status::ScanQrCode]).await?;
        let mut out = Vec::new();
        {
            let mut inner = self.lock();
            let s = inner.sessions.get_mut(name).ok_or_else(session_not_found)?;
            if s.status != Status::ScanQrCode {
                return Err(ApiError::UnexpectedStatus {
                    session: name.to_owned(),
                    status: s.status.as_str().to_owned(),
                    expected: vec!["SCAN_QR_CODE".into()],
                });
            }
            let with_lid = self.config.engine != Engine::Webjs || !self.legacy();
            let me = Me {
                id: format!("{phone}@c.us"),
                lid: with_lid.then(|| ids::lid_for_phone(phone)),
                jid: (self.config.engine != Engine::Webjs)
                    .then(|| format!("{phone}:{}@s.whatsapp.net", 10 + phone.len() % 80)),
                push_name: push_name.to_owned(),
            };
            s.dir
                .save_auth(&me)
                .map_err(|e| ApiError::Internal(format!("save auth: {e}")))?;
            s.auth = Some(me);
            s.qr = None;
            self.set_status(s, Status::Working, &mut out);
        }
        self.deliver(out);
        self.info(name)
    }

    /// The phone unlinks the device: the session goes FAILED and the login is gone.
    pub fn phone_logout(&self, name: &str) -> ApiResult<Value> {
        self.faults.clear_silent();
        let mut out = Vec::new();
        {
            let mut inner = self.lock();
            let s = inner.sessions.get_mut(name).ok_or_else(session_not_found)?;
            if s.auth.is_none() {
                return Err(ApiError::control(
                    axum::http::StatusCode::CONFLICT,
                    "the session is not paired",
                ));
            }
            s.generation += 1;
            s.auth = None;
            s.qr = None;
            if let Err(e) = s.dir.wipe_auth() {
                tracing::error!(session = %name, error = %e, "could not wipe auth");
            }
            if s.status != Status::Stopped {
                self.set_status(s, Status::Failed, &mut out);
            }
        }
        self.deliver(out);
        self.info(name)
    }

    fn require_working<'a>(&self, inner: &'a mut Inner, name: &str) -> ApiResult<&'a mut Session> {
        let s = inner.sessions.get_mut(name).ok_or_else(session_not_found)?;
        if s.status != Status::Working {
            return Err(ApiError::UnexpectedStatus {
                session: name.to_owned(),
                status: s.status.as_str().to_owned(),
                expected: vec!["WORKING".into()],
            });
        }
        Ok(s)
    }

    fn store_message(&self, s: &mut Session, m: StoredMessage) {
        if let Err(e) = s.dir.append_message(&m) {
            tracing::error!(session = %s.name, error = %e, "could not persist message");
        }
        match s.index.get(&m.id) {
            Some(&i) => s.messages[i] = m,
            None => {
                s.index.insert(m.id.clone(), s.messages.len());
                s.messages.push(m);
            }
        }
    }

    fn update_message(
        &self,
        s: &mut Session,
        i: usize,
        f: impl FnOnce(&mut StoredMessage),
    ) -> StoredMessage {
        f(&mut s.messages[i]);
        let m = s.messages[i].clone();
        if let Err(e) = s.dir.append_message(&m) {
            tracing::error!(session = %s.name, error = %e, "could not persist message");
        }
        m
    }

    /// A buyer writes. Returns the serialized id.
    pub fn inbound(&self, name: &str, msg: Inbound) -> ApiResult<String> {
        let mut out = Vec::new();
        let id = {
            let mut inner = self.lock();
            let s = self.require_working(&mut inner, name)?;
            let from = ids::ensure_suffix(&msg.from);
            let group = msg.group.map(|g| {
                if g.contains('@') {
                    g
                } else {
                    format!("{g}@g.us")
                }
            });
            let chat_id = group.clone().unwrap_or_else(|| from.clone());
            let participant = group.as_ref().map(|_| from.clone());
            let raw_id = ids::phone_message_id();
            let id = ids::serialize_id(false, &chat_id, &raw_id, participant.as_deref());
            let media = match msg.kind {
                Kind::Text | Kind::Location => None,
                kind => {
                    let (bytes, mimetype, ext, filename) = media::sample(kind, &msg.body);
                    let file = format!("{id}.{ext}");
                    s.dir
                        .write_file(&file, &bytes)
                        .map_err(|e| ApiError::Internal(format!("write media: {e}")))?;
                    Some(MediaRef {
                        file: Some(file),
                        url: None,
                        mimetype: mimetype.to_owned(),
                        filename,
                    })
                }
            };
            let location = match msg.kind {
                Kind::Location => Some(msg.location.unwrap_or(Location {
                    latitude: 40.4168,
                    longitude: -3.7038,
                    title: Some("Madrid".into()),
                })),
                _ => None,
            };
            let reply_to = msg
                .reply_to
                .map(|r| s.find(&r).map(|i| s.messages[i].id.clone()).unwrap_or(r));
            let m = StoredMessage {
                id: id.clone(),
                raw_id,
                chat_id,
                from_me: false,
                sender: from,
                participant,
                timestamp: ids::now_s(),
                kind: msg.kind,
                body: msg.body,
                media,
                location,
                reply_to,
                ack: 1,
                source: "app".into(),
                push_name: msg.push_name,
                edited: false,
                revoked: false,
                reactions: Vec::new(),
            };
            self.store_message(s, m.clone());
            let wa = self.wa(s, &m, true);
            self.emit(s, "message", wa.clone(), &mut out);
            self.emit(s, "message.any", wa, &mut out);
            id
        };
        self.deliver(out);
        Ok(id)
    }

    /// Sends through the API (after the caller waited for WORKING). Returns the engine's raw
    /// send response and schedules the automatic acks.
    pub fn send(self: &Arc<Self>, name: &str, msg: Outgoing) -> ApiResult<Value> {
        let mut out = Vec::new();
        let (response, id) = {
            let mut inner = self.lock();
            let s = self.require_working(&mut inner, name)?;
            let me_id = s.auth.as_ref().map(|m| m.id.clone()).unwrap_or_default();
            let chat_id = ids::ensure_suffix(&msg.chat_id);
            let group = chat_id.ends_with("@g.us");
            let raw_id = ids::api_message_id();
            let id = ids::serialize_id(true, &chat_id, &raw_id, group.then_some(me_id.as_str()));
            let media = match msg.media {
                None => None,
                Some(m) => {
                    let file = match &m.bytes {
                        Some(bytes) => {
                            let file = format!("{id}.{}", media::extension_for(&m.mimetype));
                            s.dir
                                .write_file(&file, bytes)
                                .map_err(|e| ApiError::Internal(format!("write media: {e}")))?;
                            Some(file)
                        }
                        None => None,
                    };
                    Some(MediaRef {
                        file,
                        url: m.url,
                        mimetype: m.mimetype,
                        filename: m.filename,
                    })
                }
            };
            let reply_to = msg
                .reply_to
                .map(|r| s.find(&r).map(|i| s.messages[i].id.clone()).unwrap_or(r));
            let m = StoredMessage {
                id: id.clone(),
                raw_id,
                chat_id: chat_id.clone(),
                from_me: true,
                sender: me_id,
                participant: None,
                timestamp: ids::now_s(),
                kind: msg.kind,
                body: msg.body,
                media,
                location: msg.location,
                reply_to,
                ack: 0,
                source: "api".into(),
                push_name: s.auth.as_ref().map(|m| m.push_name.clone()),
                edited: false,
                revoked: false,
                reactions: Vec::new(),
            };
            self.store_message(s, m.clone());
            let entry = json!({
                "id": id,
                "endpoint": msg.endpoint,
                "chatId": chat_id,
                "kind": m.kind,
                "body": m.body,
                "timestamp": m.timestamp,
                "request": msg.request,
            });
            if let Err(e) = s.dir.append_sent(&entry) {
                tracing::error!(session = %name, error = %e, "could not persist sent entry");
            }
            s.sent.push(entry);
            s.typing = None;
            let wa = self.wa(s, &m, true);
            self.emit(s, "message.any", wa, &mut out);
            (m.send_response(&self.ctx(s)), id)
        };
        self.deliver(out);
        self.schedule_acks(name, &id);
        Ok(response)
    }

    fn schedule_acks(self: &Arc<Self>, name: &str, id: &str) {
        let t = &self.config.timings;
        let steps: Vec<(Duration, i32)> = [(t.ack_server, 1), (t.ack_device, 2), (t.ack_read, 3)]
            .into_iter()
            .filter_map(|(d, ack)| d.map(|d| (d, ack)))
            .collect();
        if steps.is_empty() {
            return;
        }
        let mgr = self.clone();
        let name = name.to_owned();
        let id = id.to_owned();
        tokio::spawn(async move {
            let start = Instant::now();
            for (delay, ack) in steps {
                tokio::time::sleep_until(start + delay).await;
                if mgr.status(&name) != Some(Status::Working) {
                    return;
                }
                let _ = mgr.ack(&name, &id, ack);
            }
        });
    }

    /// Moves an own message's ack forward (never backwards, no repeats) and emits `message.ack`.
    pub fn ack(&self, name: &str, message_id: &str, ack: i32) -> ApiResult<Value> {
        let mut out = Vec::new();
        let result = {
            let mut inner = self.lock();
            let s = self.require_working(&mut inner, name)?;
            let i = s.find(message_id).ok_or_else(message_not_found)?;
            if !s.messages[i].from_me {
                return Err(ApiError::control(
                    axum::http::StatusCode::CONFLICT,
                    "acks are only reported for own (fromMe) messages",
                ));
            }
            if ack > s.messages[i].ack {
                let m = self.update_message(s, i, |m| m.ack = ack);
                let payload = m.ack_payload(&self.ctx(s));
                let event = if m.chat_id.ends_with("@g.us") {
                    "message.ack.group"
                } else {
                    "message.ack"
                };
                self.emit(s, event, payload, &mut out);
            }
            let m = &s.messages[i];
            json!({"id": m.id, "ack": m.ack, "ackName": crate::model::ack_name(m.ack)})
        };
        self.deliver(out);
        Ok(result)
    }

    /// A reaction, by the buyer (`from_me=false`, `reactor` = who) or by the agent via the API.
    pub fn react(
        &self,
        name: &str,
        message_id: &str,
        text: &str,
        from_me: bool,
        reactor: Option<String>,
    ) -> ApiResult<()> {
        let mut out = Vec::new();
        {
            let mut inner = self.lock();
            let s = self.require_working(&mut inner, name)?;
            let i = s.find(message_id).ok_or_else(message_not_found)?;
            let me_id = s.auth.as_ref().map(|m| m.id.clone()).unwrap_or_default();
            let target = s.messages[i].clone();
            let who = if from_me {
                me_id.clone()
            } else {
                reactor.map(|r| ids::ensure_suffix(&r)).unwrap_or_else(|| {
                    target
                        .participant
                        .clone()
                        .unwrap_or_else(|| target.chat_id.clone())
                })
            };
            self.update_message(s, i, |m| {
                m.reactions.retain(|r| r.from != who);
                if !text.is_empty() {
                    m.reactions.push(Reaction {
                        from: who.clone(),
                        text: text.to_owned(),
                    });
                }
            });
            let raw = if from_me {
                ids::api_message_id()
            } else {
                ids::phone_message_id()
            };
            let (from, to) = if from_me {
                (me_id.clone(), target.chat_id.clone())
            } else {
                (who.clone(), me_id.clone())
            };
            let payload = json!({
                "id": ids::serialize_id(from_me, &target.chat_id, &raw, None),
                "timestamp": ids::now_s(),
                "from": from,
                "fromMe": from_me,
                "source": if from_me { "api" } else { "app" },
                "to": to,
                "participant": who,
                "reaction": {"text": text, "messageId": target.id},
            });
            self.emit(s, "message.reaction", payload, &mut out);
        }
        self.deliver(out);
        Ok(())
    }

    /// An edit, by the buyer (control API) or the agent (API). Emits `message.edited`.
    pub fn edit(
        &self,
        name: &str,
        message_id: &str,
        body: &str,
        from_me: bool,
    ) -> ApiResult<Value> {
        let mut out = Vec::new();
        let result = {
            let mut inner = self.lock();
            let s = self.require_working(&mut inner, name)?;
            let i = s.find(message_id).ok_or_else(message_not_found)?;
            if s.messages[i].from_me != from_me {
                return Err(ApiError::control(
                    axum::http::StatusCode::CONFLICT,
                    if from_me {
                        "only own messages can be edited through the API"
                    } else {
                        "the buyer can only edit the buyer's messages"
                    },
                ));
            }
            let m = self.update_message(s, i, |m| {
                m.body = body.to_owned();
                m.edited = true;
            });
            let mut payload = self.wa(s, &m, true);
            let raw = if from_me {
                ids::api_message_id()
            } else {
                ids::phone_message_id()
            };
            payload["id"] = json!(ids::serialize_id(
                from_me,
                &m.chat_id,
                &raw,
                m.participant.as_deref()
            ));
            payload["editedMessageId"] = json!(m.raw_id);
            self.emit(s, "message.edited", payload, &mut out);
            m.send_response(&self.ctx(s))
        };
        self.deliver(out);
        Ok(result)
    }

    /// Delete for everyone, by the buyer or the agent. Emits `message.revoked`.
    pub fn revoke(&self, name: &str, message_id: &str, from_me: bool) -> ApiResult<()> {
        let mut out = Vec::new();
        {
            let mut inner = self.lock();
            let s = self.require_working(&mut inner, name)?;
            let i = s.find(message_id).ok_or_else(message_not_found)?;
            if s.messages[i].from_me != from_me {
                return Err(ApiError::control(
                    axum::http::StatusCode::CONFLICT,
                    if from_me {
                        "only own messages can be deleted through the API"
                    } else {
                        "the buyer can only delete the buyer's messages"
                    },
                ));
            }
            let before = self.wa(s, &s.messages[i].clone(), true);
            let m = self.update_message(s, i, |m| m.revoked = true);
            let raw = if from_me {
                ids::api_message_id()
            } else {
                ids::phone_message_id()
            };
            let mut after = self.wa(s, &m, true);
            after["id"] = json!(ids::serialize_id(
                from_me,
                &m.chat_id,
                &raw,
                m.participant.as_deref()
            ));
            after["timestamp"] = json!(ids::now_s());
            let payload = json!({
                "after": after,
                "before": if self.config.engine == Engine::Webjs { before } else { Value::Null },
                "revokedMessageId": m.raw_id,
                "_data": {},
            });
            self.emit(s, "message.revoked", payload, &mut out);
        }
        self.deliver(out);
        Ok(())
    }

    /// The buyer types / goes online. Returns whether an event was emitted (WEBJS needs
    /// `config.webjs.tagsEventsOn=true` for `presence.update`).
    pub fn presence(
        &self,
        name: &str,
        from: &str,
        presence: &str,
        chat: Option<String>,
    ) -> ApiResult<bool> {
        let mut out = Vec::new();
        let emitted = {
            let mut inner = self.lock();
            let s = self.require_working(&mut inner, name)?;
            if self.config.engine == Engine::Webjs && !s.webjs_tags_events_on() {
                false
            } else {
                let from = ids::ensure_suffix(from);
                let payload = json!({
                    "id": chat.unwrap_or_else(|| from.clone()),
                    "presences": [{"participant": from, "lastKnownPresence": presence, "lastSeen": null}],
                });
                self.emit(s, "presence.update", payload, &mut out);
                true
            }
        };
        self.deliver(out);
        Ok(emitted)
    }

    /// `sendSeen`: the agent read the chat; the buyer's messages become READ.
    pub fn seen(
        &self,
        name: &str,
        chat_id: &str,
        message_ids: &[String],
    ) -> ApiResult<Vec<String>> {
        let mut inner = self.lock();
        let s = self.require_working(&mut inner, name)?;
        let chat_id = ids::ensure_suffix(chat_id);
        let targets: Vec<usize> = s
            .messages
            .iter()
            .enumerate()
            .filter(|(_, m)| !m.from_me && m.chat_id == chat_id && m.ack < 3)
            .filter(|(_, m)| {
                message_ids.is_empty() || message_ids.iter().any(|x| x == &m.id || x == &m.raw_id)
            })
            .map(|(i, _)| i)
            .collect();
        let mut ids_read = Vec::new();
        for i in targets {
            let m = self.update_message(s, i, |m| m.ack = 3);
            ids_read.push(m.id);
        }
        drop(inner);
        self.bump();
        Ok(ids_read)
    }

    pub fn typing(&self, name: &str, chat_id: &str, on: bool) -> ApiResult<()> {
        {
            let mut inner = self.lock();
            let s = self.require_working(&mut inner, name)?;
            s.typing = on.then(|| (ids::ensure_suffix(chat_id), ids::now_ms()));
        }
        self.bump();
        Ok(())
    }

    // ----- queries ------------------------------------------------------------------------

    pub fn sent(&self, name: &str) -> Option<Vec<Value>> {
        self.with_session(name, |s| s.sent.clone())
    }

    /// Every message of every chat, oldest first, rendered (phone page and control API).
    pub fn all_messages(&self, name: &str) -> Option<Vec<Value>> {
        self.with_session(name, |s| {
            s.messages
                .iter()
                .map(|m| {
                    let mut v = self.wa(s, m, true);
                    v["chatId"] = json!(m.chat_id);
                    v["kind"] = json!(m.kind);
                    v["edited"] = json!(m.edited);
                    v["revoked"] = json!(m.revoked);
                    v["reactions"] = json!(m.reactions);
                    v
                })
                .collect()
        })
    }

    /// Chats of a WORKING session, as the engine's raw chat objects.
    pub fn chats(&self, name: &str) -> ApiResult<Vec<(Value, i64, String, String)>> {
        let inner = self.lock();
        let s = inner.sessions.get(name).ok_or_else(session_not_found)?;
        let mut chats: BTreeMap<&str, (i64, Option<&str>, usize, &StoredMessage)> = BTreeMap::new();
        for m in &s.messages {
            let e = chats.entry(m.chat_id.as_str()).or_insert((0, None, 0, m));
            if m.timestamp >= e.0 {
                e.0 = m.timestamp;
                e.3 = m;
            }
            if !m.from_me {
                if let Some(p) = m.push_name.as_deref() {
                    if !m.chat_id.ends_with("@g.us") {
                        e.1 = Some(p);
                    }
                }
                if m.ack < 3 {
                    e.2 += 1;
                }
            }
        }
        let ctx = self.ctx(s);
        Ok(chats
            .into_iter()
            .map(|(id, (ts, name, unread, last))| {
                let chat_name = name.map(str::to_owned).unwrap_or_else(|| ids::user_part(id).to_owned());
                let v = match self.config.engine {
                    Engine::Webjs => json!({
                        "id": {"server": id.split('@').nth(1).unwrap_or(""), "user": ids::user_part(id), "_serialized": id},
                        "name": chat_name,
                        "isGroup": id.ends_with("@g.us"),
                        "isReadOnly": false,
                        "unreadCount": unread,
                        "timestamp": ts,
                        "archived": false,
                        "pinned": false,
                        "isMuted": false,
                        "muteExpiration": 0,
                        "lastMessage": last.to_wa(&ctx, None, false),
                    }),
                    Engine::Noweb | Engine::Gows => json!({
                        "id": id,
                        "name": chat_name,
                        "conversationTimestamp": ts,
                        "unreadCount": unread,
                    }),
                };
                (v, ts, id.to_owned(), chat_name)
            })
            .collect())
    }

    /// Messages of one chat, filtered; newest first unless `asc`.
    pub fn chat_messages(
        &self,
        name: &str,
        chat_id: &str,
        filter: &MessageFilter,
    ) -> ApiResult<Vec<Value>> {
        let inner = self.lock();
        let s = inner.sessions.get(name).ok_or_else(session_not_found)?;
        let chat_id = ids::ensure_suffix(chat_id);
        let mut list: Vec<&StoredMessage> = s
            .messages
            .iter()
            .filter(|m| m.chat_id == chat_id)
            .filter(|m| filter.gte.is_none_or(|t| m.timestamp >= t))
            .filter(|m| filter.lte.is_none_or(|t| m.timestamp <= t))
            .filter(|m| filter.from_me.is_none_or(|f| m.from_me == f))
            .filter(|m| filter.ack.is_none_or(|a| m.ack == a))
            .collect();
        // Stable sort keeps insertion order between equal timestamps.
        list.sort_by_key(|m| m.timestamp);
        if !filter.asc {
            list.reverse();
        }
        Ok(list
            .into_iter()
            .skip(filter.offset)
            .take(filter.limit)
            .map(|m| self.wa(s, m, filter.download_media))
            .collect())
    }

    pub fn get_message(
        &self,
        name: &str,
        message_id: &str,
        download_media: bool,
    ) -> ApiResult<Value> {
        let inner = self.lock();
        let s = inner.sessions.get(name).ok_or_else(session_not_found)?;
        let i = s.find(message_id).ok_or_else(message_not_found)?;
        Ok(self.wa(s, &s.messages[i], download_media))
    }

    /// Known contacts: everyone who wrote or was written to (DMs), with push names.
    pub fn contacts(&self, name: &str) -> ApiResult<Vec<Value>> {
        let inner = self.lock();
        let s = inner.sessions.get(name).ok_or_else(session_not_found)?;
        let me = s.auth.as_ref().map(|m| m.id.clone()).unwrap_or_default();
        let mut seen: BTreeMap<String, Option<String>> = BTreeMap::new();
        for m in &s.messages {
            let who = if m.from_me {
                m.chat_id.clone()
            } else {
                m.sender.clone()
            };
            if who.ends_with("@g.us") {
                continue;
            }
            let e = seen.entry(who).or_insert(None);
            if !m.from_me && m.push_name.is_some() {
                e.clone_from(&m.push_name);
            }
        }
        Ok(seen
            .into_iter()
            .map(|(id, push)| contact_json(&id, push.as_deref(), id == me))
            .collect())
    }

    pub fn contact(&self, name: &str, contact_id: &str) -> ApiResult<Value> {
        let id = ids::ensure_suffix(contact_id);
        let list = self.contacts(name)?;
        Ok(list
            .into_iter()
            .find(|c| c["id"] == json!(id))
            .unwrap_or_else(|| contact_json(&id, None, false)))
    }

    /// `@lid` ↔ phone pairs known to this session (`pn` null when unknown).
    pub fn lids(&self, name: &str) -> ApiResult<Vec<Value>> {
        let inner = self.lock();
        let s = inner.sessions.get(name).ok_or_else(session_not_found)?;
        let mut map: BTreeMap<String, Option<String>> = BTreeMap::new();
        let mut phones = Vec::new();
        for m in &s.messages {
            for jid in [Some(&m.chat_id), Some(&m.sender), m.participant.as_ref()]
                .into_iter()
                .flatten()
            {
                if jid.ends_with("@c.us") && !phones.contains(jid) {
                    phones.push(jid.clone());
                }
            }
        }
        for p in &phones {
            map.insert(ids::lid_for_phone(ids::user_part(p)), Some(p.clone()));
        }
        for m in &s.messages {
            for jid in [Some(&m.chat_id), Some(&m.sender), m.participant.as_ref()]
                .into_iter()
                .flatten()
            {
                if jid.ends_with("@lid") {
                    map.entry(jid.clone()).or_insert(None);
                }
            }
        }
        Ok(map
            .into_iter()
            .map(|(lid, pn)| json!({"lid": lid, "pn": pn}))
            .collect())
    }

    /// Reads a media file of a session.
    pub fn read_file(&self, name: &str, file: &str) -> Option<Vec<u8>> {
        let dir = self.with_session(name, |s| s.dir.clone())?;
        dir.read_file(file).ok()
    }

    /// Looks for a media file in every session (`/api/files/<file>` without a session segment).
    pub fn find_file(&self, file: &str) -> Option<Vec<u8>> {
        let dirs: Vec<SessionDir> = {
            let inner = self.lock();
            inner.sessions.values().map(|s| s.dir.clone()).collect()
        };
        dirs.into_iter().find_map(|d| d.read_file(file).ok())
    }
}

/// Filters of `GET /api/{session}/chats/{chatId}/messages`.
pub struct MessageFilter {
    pub limit: usize,
    pub offset: usize,
    pub gte: Option<i64>,
    pub lte: Option<i64>,
    pub from_me: Option<bool>,
    pub ack: Option<i32>,
    pub download_media: bool,
    pub asc: bool,
}

fn contact_json(id: &str, push: Option<&str>, is_me: bool) -> Value {
    json!({
        "id": id,
        "number": ids::user_part(id),
        "name": push,
        "pushname": push,
        "shortName": push.map(|p| p.split_whitespace().next().unwrap_or(p).to_owned()),
        "isMe": is_me,
        "isGroup": id.ends_with("@g.us"),
        "isWAContact": true,
        "isMyContact": false,
        "isBlocked": false,
    })
}

/// Legacy Core's 422 text for a non-`default` session.
pub fn only_default_message(name: &str) -> String {
    let b64 = base64::engine::general_purpose::STANDARD.encode(name.as_bytes());
    format!(
        "WAHA Core support only 'default' session. You tried to access '{name}' session (base64: {b64}). If you want to run more then one WhatsApp account - please get WAHA PLUS version. Check this out: https://waha.devlike.pro/"
    )
}

fn session_not_found() -> ApiError {
    ApiError::not_found("Session not found")
}

fn message_not_found() -> ApiError {
    ApiError::not_found("Message not found")
}
