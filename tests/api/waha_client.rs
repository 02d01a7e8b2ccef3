//! `puente::waha::WahaClient` against the WAHA emulator (`waha-emulator`) run in-process on port
//! 0: both WAHA generations (`EMULATOR_FLAVOR=core-legacy|current`), the three engines' send
//! shapes, pairing, reading, media download and errors. No database needed.

use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use puente::waha::{
    MessagesQuery, OutgoingFile, SessionInfo, SessionStatus, WahaClient, WahaError,
};
use serde_json::{json, Value};
use tokio::sync::oneshot;

const KEY: &str = "waha-client-test-key-0123";
const LONG: Duration = Duration::from_secs(15);
const BUYER: &str = "34600000002@c.us";

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The emulator in this process, on its own store folder.
struct Emu {
    base: String,
    store: PathBuf,
    vars: Vec<(String, String)>,
    http: reqwest::Client,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<tokio::task::JoinHandle<()>>,
}

impl Emu {
    async fn start(vars: &[(&str, &str)]) -> Emu {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let store = std::env::temp_dir().join(format!(
            "puente-waha-client-{}-{n}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ));
        let vars = vars
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        Self::start_in(store, vars).await
    }

    async fn start_in(store: PathBuf, vars: Vec<(String, String)>) -> Emu {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let mut all: Vec<(String, String)> = [
            ("WAHA_API_KEY", KEY),
            ("EMULATOR_STARTING_MS", "50"),
            ("EMULATOR_WAIT_RUNNING_MS", "300"),
            ("EMULATOR_WAIT_STATUS_MS", "700"),
            ("EMULATOR_ACK_SERVER_MS", "off"),
            ("EMULATOR_ACK_DEVICE_MS", "off"),
            ("EMULATOR_ACK_READ_MS", "off"),
        ]
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
        all.push((
            "WAHA_LOCAL_STORE_BASE_DIR".into(),
            store.display().to_string(),
        ));
        if !vars.iter().any(|(k, _)| k == "WAHA_BASE_URL") {
            all.push(("WAHA_BASE_URL".into(), format!("http://{addr}")));
        }
        all.extend(vars.iter().cloned());
        let config = waha_emulator::Config::from_vars(all).unwrap();
        let (tx, rx) = oneshot::channel::<()>();
        let emu = waha_emulator::Emulator::new(config);
        let task = tokio::spawn(async move {
            emu.serve(listener, async {
                let _ = rx.await;
            })
            .await
            .unwrap();
        });
        Emu {
            base: format!("http://{addr}"),
            store,
            vars,
            http: reqwest::Client::new(),
            shutdown: Some(tx),
            task: Some(task),
        }
    }

    /// Stops this emulator and starts a new one on the same store folder: a container restart
    /// that keeps its volume.
    async fn restart(mut self) -> Emu {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
            let _ = task.await;
        }
        let store = std::mem::take(&mut self.store);
        let vars = std::mem::take(&mut self.vars);
        Self::start_in(store, vars).await
    }

    fn client(&self) -> WahaClient {
        WahaClient::new(WahaClient::http_client().unwrap(), &self.base, KEY).unwrap()
    }

    async fn control(&self, path: &str, body: Value) -> Value {
        let r = self
            .http
            .post(format!("{}/__emulator/sessions/default/{path}", self.base))
            .header("X-Api-Key", KEY)
            .json(&body)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "control {path}: {}", r.status());
        r.json().await.unwrap()
    }

    async fn get(&self, path: &str) -> Value {
        let r = self
            .http
            .get(format!("{}{path}", self.base))
            .header("X-Api-Key", KEY)
            .send()
            .await
            .unwrap();
        assert!(r.status().is_success(), "GET {path}: {}", r.status());
        r.json().await.unwrap()
    }

    /// The phone scans the QR.
    async fn scan(&self, phone: &str) {
        let v = self
            .control("scan", json!({"phone": phone, "pushName": "Agente"}))
            .await;
        assert_eq!(v["status"], "WORKING");
    }

    /// A buyer writes; returns the serialized message id.
    async fn inbound(&self, body: Value) -> String {
        let v = self.control("inbound", body).await;
        v["id"].as_str().unwrap().to_owned()
    }
}

impl Drop for Emu {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            task.abort();
        }
        if !self.store.as_os_str().is_empty() {
            let _ = std::fs::remove_dir_all(&self.store);
        }
    }
}

/// Polls `session()` until `status`.
async fn wait_status(c: &WahaClient, status: SessionStatus) -> SessionInfo {
    let deadline = Instant::now() + LONG;
    loop {
        let info = c.session().await.unwrap();
        if info.status == status {
            return info;
        }
        assert!(
            Instant::now() < deadline,
            "still {} waiting for {status}",
            info.status
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// Start + scan: a WORKING `default` session logged in as `phone`.
async fn working(emu: &Emu, phone: &str) -> WahaClient {
    let c = emu.client();
    c.ensure_started(None).await.unwrap();
    wait_status(&c, SessionStatus::ScanQrCode).await;
    emu.scan(phone).await;
    c
}

fn hook_config(tag: &str) -> Value {
    json!({
        "metadata": {"puente.link": tag},
        "webhooks": [{"url": "http://127.0.0.1:9/hook", "events": ["message", "session.status"], "hmac": {"key": "s3cret"}}],
    })
}

#[tokio::test]
async fn ensure_started_current_creates_then_is_idempotent() {
    let emu = Emu::start(&[("EMULATOR_FLAVOR", "current")]).await;
    let c = emu.client();
    assert!(matches!(c.session().await, Err(WahaError::NotFound)));

    let config = hook_config("link-1");
    let info = c.ensure_started(Some(config.clone())).await.unwrap();
    assert_eq!(info.name, "default");
    assert!(
        matches!(
            info.status,
            SessionStatus::Starting | SessionStatus::ScanQrCode
        ),
        "{}",
        info.status
    );
    assert_eq!(
        info.config.as_ref().unwrap()["metadata"],
        config["metadata"]
    );
    assert_eq!(info.engine_name(), Some("WEBJS"));

    wait_status(&c, SessionStatus::ScanQrCode).await;
    let qr = c.qr_raw().await.unwrap();
    // Twice more, with the same config and with none: nothing restarts, the QR stays.
    let again = c.ensure_started(Some(config.clone())).await.unwrap();
    assert_eq!(again.status, SessionStatus::ScanQrCode);
    c.ensure_started(None).await.unwrap();
    assert_eq!(c.qr_raw().await.unwrap(), qr, "not restarted");

    // A changed config is applied.
    let changed = hook_config("link-1b");
    let info = c.ensure_started(Some(changed.clone())).await.unwrap();
    assert_eq!(info.config.unwrap()["metadata"], changed["metadata"]);

    // Stopped → started again.
    let stopped = c.stop().await.unwrap();
    assert_eq!(stopped.status, SessionStatus::Stopped);
    let info = c.ensure_started(Some(changed)).await.unwrap();
    assert_ne!(info.status, SessionStatus::Stopped);
    wait_status(&c, SessionStatus::ScanQrCode).await;
}

#[tokio::test]
async fn ensure_started_legacy_core_reapplies_config_after_restart() {
    let emu = Emu::start(&[("EMULATOR_FLAVOR", "core-legacy")]).await;
    let c = emu.client();
    let before = c.session().await.unwrap();
    assert_eq!(
        before.status,
        SessionStatus::Stopped,
        "default always exists"
    );
    assert_eq!(before.config, None);

    // Legacy start is not idempotent; the plain call shows it.
    let config = hook_config("link-2");
    let info = c.ensure_started(Some(config.clone())).await.unwrap();
    assert_ne!(info.status, SessionStatus::Stopped);
    assert_eq!(
        info.config.as_ref().unwrap()["metadata"],
        config["metadata"]
    );
    match c.start().await {
        Err(WahaError::Unprocessable(m)) => assert!(m.contains("already started"), "{m}"),
        other => panic!("legacy start on a running session: {other:?}"),
    }
    // …but ensure_started does not care.
    c.ensure_started(Some(config.clone())).await.unwrap();
    c.ensure_started(None).await.unwrap();

    wait_status(&c, SessionStatus::ScanQrCode).await;
    emu.scan("34600000001").await;
    let info = c.ensure_started(Some(config.clone())).await.unwrap();
    assert_eq!(info.status, SessionStatus::Working);

    // Container restart: legacy Core forgets the config and does not autostart.
    let emu = emu.restart().await;
    let c = emu.client();
    let after = c.session().await.unwrap();
    assert_eq!(after.status, SessionStatus::Stopped);
    assert_eq!(after.config, None);
    let info = c.ensure_started(Some(config.clone())).await.unwrap();
    assert_eq!(info.config.unwrap()["metadata"], config["metadata"]);
    let info = wait_status(&c, SessionStatus::Working).await;
    assert_eq!(
        info.me.unwrap().id,
        "34600000001@c.us",
        "the login survived"
    );
}

#[tokio::test]
async fn ensure_started_restarts_a_failed_session() {
    for flavor in ["core-legacy", "current"] {
        let emu = Emu::start(&[
            ("EMULATOR_FLAVOR", flavor),
            ("EMULATOR_QR_FIRST_MS", "150"),
            ("EMULATOR_QR_NEXT_MS", "50"),
            ("EMULATOR_QR_COUNT", "2"),
        ])
        .await;
        let c = emu.client();
        c.ensure_started(None).await.unwrap();
        wait_status(&c, SessionStatus::Failed).await;
        let info = c.ensure_started(None).await.unwrap();
        assert_ne!(info.status, SessionStatus::Failed, "{flavor}");
        wait_status(&c, SessionStatus::ScanQrCode).await;
    }
}

#[tokio::test]
async fn qr_scan_session_and_me() {
    let emu = Emu::start(&[]).await;
    let c = emu.client();
    c.ensure_started(None).await.unwrap();
    // qr_raw waits for SCAN_QR_CODE by itself (WAHA's pipe does).
    let qr = c.qr_raw().await.unwrap();
    assert!(qr.starts_with("2@"), "{qr}");
    assert_eq!(c.me().await.unwrap(), None, "empty body before auth");
    let info = c.session().await.unwrap();
    assert_eq!(info.status, SessionStatus::ScanQrCode);
    assert_eq!(info.me, None);

    emu.scan("34600000001").await;
    match c.qr_raw().await {
        Err(WahaError::WrongStatus { status, expected }) => {
            assert_eq!(status, "WORKING");
            assert_eq!(expected, vec!["SCAN_QR_CODE".to_owned()]);
        }
        other => panic!("qr after scan: {other:?}"),
    }
    let info = c.session().await.unwrap();
    assert_eq!(info.status, SessionStatus::Working);
    let me = info.me.unwrap();
    assert_eq!(me.id, "34600000001@c.us");
    assert_eq!(me.push_name.as_deref(), Some("Agente"));
    assert_eq!(me.phone().as_deref(), Some("34600000001"));
    assert_eq!(c.me().await.unwrap().unwrap().id, "34600000001@c.us");

    // Logout keeps the session and goes back to pairing.
    c.logout().await.unwrap();
    wait_status(&c, SessionStatus::ScanQrCode).await;
    assert_eq!(c.me().await.unwrap(), None);
}

#[tokio::test]
async fn send_text_returns_the_id_on_every_engine() {
    for engine in ["WEBJS", "NOWEB", "GOWS"] {
        let emu = Emu::start(&[("WHATSAPP_DEFAULT_ENGINE", engine)]).await;
        let c = working(&emu, "34600000001").await;
        let sent = c.send_text("34600000002", "Hola", None).await.unwrap();
        let id = sent
            .id
            .clone()
            .unwrap_or_else(|| panic!("{engine}: no id in {}", sent.raw));
        assert!(id.starts_with("true_34600000002@c.us_"), "{engine}: {id}");
        let raw_id = sent.raw_id.clone().unwrap();
        assert!(id.ends_with(&raw_id), "{engine}");
        assert!(sent.timestamp.unwrap() > 1_600_000_000, "{engine}: seconds");

        let log = emu.get("/__emulator/sessions/default/sent").await;
        let entry = &log.as_array().unwrap()[0];
        assert_eq!(entry["id"], id.as_str(), "{engine}");
        assert_eq!(entry["endpoint"], "sendText");
        assert_eq!(entry["body"], "Hola");

        // A reply carries reply_to.
        let reply = c
            .send_text(BUYER, "¿Sigue disponible?", Some(&id))
            .await
            .unwrap();
        let log = emu.get("/__emulator/sessions/default/sent").await;
        assert_eq!(log[1]["id"], reply.id.unwrap().as_str());
        assert_eq!(log[1]["request"]["reply_to"], id.as_str(), "{engine}");
    }
}

#[tokio::test]
async fn chats_and_messages_with_filters() {
    let emu = Emu::start(&[]).await;
    let c = working(&emu, "34600000001").await;
    for i in 0..3 {
        emu.inbound(json!({"from": "34600000002", "body": format!("hola {i}"), "pushName": "Ana"}))
            .await;
    }
    emu.inbound(json!({"from": "34600000003", "body": "buenas"}))
        .await;
    c.send_text(BUYER, "respuesta", None).await.unwrap();

    let chats = c.chats(10, 0).await.unwrap();
    let ids: Vec<&str> = chats.iter().map(|c| c.id.as_str()).collect();
    assert_eq!(ids.len(), 2);
    assert!(
        ids.contains(&BUYER) && ids.contains(&"34600000003@c.us"),
        "{ids:?}"
    );
    let ana = chats.iter().find(|c| c.id == BUYER).unwrap();
    assert_eq!(ana.name.as_deref(), Some("Ana"));
    assert!(ana.timestamp.unwrap() > 1_600_000_000);
    assert_eq!(c.chats(1, 1).await.unwrap().len(), 1);

    let all = c
        .chat_messages(BUYER, &MessagesQuery::default())
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    assert_eq!(all[0].body.as_deref(), Some("respuesta"), "newest first");
    assert!(all
        .iter()
        .all(|m| puente::waha::chat_id_of(m).as_deref() == Some(BUYER)));
    let oldest_first = c
        .chat_messages(
            BUYER,
            &MessagesQuery {
                ascending: true,
                limit: 2,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(oldest_first.len(), 2);
    assert_eq!(oldest_first[0].body.as_deref(), Some("hola 0"));

    let now = chrono::Utc::now().timestamp();
    let future = c
        .chat_messages(
            BUYER,
            &MessagesQuery {
                timestamp_gte: Some(now + 3600),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(future.is_empty());
    let recent = c
        .chat_messages(
            BUYER,
            &MessagesQuery {
                timestamp_gte: Some(now - 60),
                timestamp_lte: Some(now + 60),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(recent.len(), 4);
    let past = c
        .chat_messages(
            BUYER,
            &MessagesQuery {
                timestamp_lte: Some(now - 3600),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert!(past.is_empty());
    let mine = c
        .chat_messages(
            BUYER,
            &MessagesQuery {
                from_me: Some(true),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(mine.len(), 1);
    assert!(mine[0].from_me);
    let theirs = c
        .chat_messages(
            BUYER,
            &MessagesQuery {
                from_me: Some(false),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(theirs.len(), 3);
    assert!(theirs.iter().all(|m| !m.from_me));
}

#[tokio::test]
async fn download_media_rehomes_the_url_and_enforces_the_limit() {
    // WAHA_BASE_URL says localhost on a port nobody listens to, as in a real container.
    let emu = Emu::start(&[("WAHA_BASE_URL", "http://localhost:1")]).await;
    let c = working(&emu, "34600000001").await;
    let id = emu
        .inbound(json!({"from": "34600000003", "kind": "image", "body": "foto del piso"}))
        .await;

    let msgs = c
        .chat_messages(
            "34600000003@c.us",
            &MessagesQuery {
                download_media: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let m = msgs.iter().find(|m| m.id == id).unwrap();
    assert!(m.has_media);
    assert_eq!(m.body.as_deref(), Some("foto del piso"));
    let media = m.media.clone().unwrap();
    let url = media.url.unwrap();
    assert!(
        url.starts_with("http://localhost:1/api/files/default/"),
        "{url}"
    );

    let (bytes, content_type) = c.download_media(&url, 5 * 1024 * 1024).await.unwrap();
    assert_eq!(&bytes[..2], b"\xff\xd8", "a JPEG");
    assert_eq!(content_type.as_deref(), Some("image/jpeg"));
    assert_eq!(media.mimetype.as_deref(), Some("image/jpeg"));

    match c.download_media(&url, 16).await {
        Err(WahaError::TooLarge { max_bytes: 16 }) => {}
        other => panic!("limit: {other:?}"),
    }
    assert!(matches!(
        c.download_media("http://localhost:1/api/server/environment", 1024)
            .await,
        Err(WahaError::InvalidUrl(_))
    ));
    assert!(matches!(
        c.download_media("http://localhost:1/api/files/default/missing.jpg", 1024)
            .await,
        Err(WahaError::NotFound)
    ));

    // Without downloadMedia WAHA leaves media out.
    let msgs = c
        .chat_messages("34600000003@c.us", &MessagesQuery::default())
        .await
        .unwrap();
    assert!(msgs[0].has_media);
    assert_eq!(msgs[0].media, None);
}

#[tokio::test]
async fn media_sends_and_message_actions() {
    let emu = Emu::start(&[]).await;
    let c = working(&emu, "34600000001").await;
    let inbound = emu
        .inbound(json!({"from": "34600000002", "body": "Hola", "pushName": "Ana"}))
        .await;

    let png = OutgoingFile::from_bytes("image/png", Some("plano.png"), b"\x89PNG\r\n\x1a\nfake");
    let image = c
        .send_image(BUYER, &png, Some("El plano"), Some(&inbound))
        .await
        .unwrap();
    assert!(image.id.is_some());
    let pdf = OutgoingFile::from_bytes("application/pdf", Some("ficha.pdf"), b"%PDF-1.4");
    assert!(c
        .send_file(BUYER, &pdf, None, None)
        .await
        .unwrap()
        .id
        .is_some());
    let voice = OutgoingFile::from_bytes("audio/ogg; codecs=opus", None, b"OggS");
    assert!(c
        .send_voice(BUYER, &voice, None)
        .await
        .unwrap()
        .id
        .is_some());
    let video = OutgoingFile::from_bytes("video/mp4", None, b"\0\0\0\x18ftyp");
    assert!(c
        .send_video(BUYER, &video, Some("Visita"), None)
        .await
        .unwrap()
        .id
        .is_some());
    let loc = c
        .send_location(BUYER, 40.4168, -3.7038, "Piso en Sol", None)
        .await
        .unwrap();
    assert!(loc.id.is_some());

    let log = emu.get("/__emulator/sessions/default/sent").await;
    let endpoints: Vec<&str> = log
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["endpoint"].as_str().unwrap())
        .collect();
    assert_eq!(
        endpoints,
        [
            "sendImage",
            "sendFile",
            "sendVoice",
            "sendVideo",
            "sendLocation"
        ]
    );
    assert_eq!(log[0]["request"]["caption"], "El plano");
    assert_eq!(log[0]["request"]["file"]["filename"], "plano.png");
    assert_eq!(log[0]["request"]["reply_to"], inbound.as_str());
    assert_eq!(log[2]["request"]["convert"], false, "already ogg");
    assert_eq!(log[4]["request"]["title"], "Piso en Sol");
    // The image really arrived: it is stored with the message.
    let msgs = c
        .chat_messages(
            BUYER,
            &MessagesQuery {
                download_media: true,
                ..Default::default()
            },
        )
        .await
        .unwrap();
    let sent_image = msgs
        .iter()
        .find(|m| m.id == image.id.clone().unwrap())
        .unwrap();
    let (bytes, _) = c
        .download_media(
            sent_image.media.as_ref().unwrap().url.as_deref().unwrap(),
            1024,
        )
        .await
        .unwrap();
    assert_eq!(bytes, b"\x89PNG\r\n\x1a\nfake");

    c.send_seen(BUYER, std::slice::from_ref(&inbound))
        .await
        .unwrap();
    c.send_seen(BUYER, &[]).await.unwrap();
    c.start_typing(BUYER).await.unwrap();
    let view = emu.get("/__emulator/sessions/default").await;
    assert_eq!(view["typing"]["chatId"], BUYER);
    c.stop_typing(BUYER).await.unwrap();
    let view = emu.get("/__emulator/sessions/default").await;
    assert_eq!(view["typing"], Value::Null);

    c.reaction(&inbound, "👍").await.unwrap();
    c.reaction(&inbound, "").await.unwrap();

    let text = c
        .send_text(BUYER, "Buenas", None)
        .await
        .unwrap()
        .id
        .unwrap();
    c.edit_message(BUYER, &text, "Buenas tardes").await.unwrap();
    let all = emu.get("/__emulator/sessions/default/messages").await;
    let edited = all
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == text.as_str())
        .unwrap();
    assert_eq!(edited["body"], "Buenas tardes");
    c.delete_message(BUYER, &text).await.unwrap();
    let all = emu.get("/__emulator/sessions/default/messages").await;
    let deleted = all
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["id"] == text.as_str())
        .unwrap();
    assert_eq!(deleted["revoked"], true);

    let contact = c.contact(BUYER).await.unwrap();
    assert_eq!(contact.id, BUYER);
    assert_eq!(contact.pushname.as_deref(), Some("Ana"));
}

#[tokio::test]
async fn lids_resolve_to_phones_or_none() {
    let emu = Emu::start(&[]).await;
    let c = working(&emu, "34600000001").await;
    emu.inbound(json!({"from": "34600000002", "body": "Hola"}))
        .await;
    emu.inbound(json!({"from": "999000111222333@lid", "body": "anónimo"}))
        .await;
    let lids = emu.get("/api/default/lids").await;
    let known = lids
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["pn"] == BUYER)
        .unwrap()["lid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(
        c.lid_to_phone(&known).await.unwrap().as_deref(),
        Some(BUYER)
    );
    assert_eq!(c.lid_to_phone("999000111222333@lid").await.unwrap(), None);
}

#[tokio::test]
async fn request_code_while_pairing_and_refused_after() {
    let emu = Emu::start(&[]).await;
    let c = emu.client();
    c.ensure_started(None).await.unwrap();
    let code = c.request_code("+34 600 000 001").await.unwrap();
    assert_eq!(code.len(), 9, "{code}");
    assert_eq!(&code[4..5], "-");
    assert!(code
        .chars()
        .all(|ch| ch == '-' || ch.is_ascii_alphanumeric()));
    drop(emu);

    let emu = Emu::start(&[("WHATSAPP_DEFAULT_ENGINE", "GOWS")]).await;
    let c = working(&emu, "34600000001").await;
    match c.request_code("34600000001").await {
        Err(WahaError::Unprocessable(m)) => {
            assert!(m.contains("SCAN_QR_CODE") && m.contains("WORKING"), "{m}")
        }
        other => panic!("GOWS in WORKING: {other:?}"),
    }
}

#[tokio::test]
async fn errors_are_typed() {
    let emu = Emu::start(&[("EMULATOR_FLAVOR", "core-legacy")]).await;
    let wrong = WahaClient::new(reqwest::Client::new(), &emu.base, "not-the-key").unwrap();
    assert!(matches!(
        wrong.session().await,
        Err(WahaError::Unauthorized)
    ));
    assert!(matches!(
        wrong.send_text(BUYER, "x", None).await,
        Err(WahaError::Unauthorized)
    ));
    wrong.ping().await.expect("/ping needs no key");
    let err = wrong.session().await.unwrap_err().to_string();
    assert!(!err.contains("not-the-key"), "{err}");

    let c = emu.client();
    let version = c.server_version().await.unwrap();
    assert_eq!(version.tier.as_deref(), Some("CORE"));
    assert_eq!(version.version.as_deref(), Some("2026.2.1"));
    assert_eq!(version.engine.as_deref(), Some("WEBJS"));

    // Not WORKING: WAHA waits, then the 422 state object.
    match c.send_text(BUYER, "x", None).await {
        Err(e @ WahaError::WrongStatus { .. }) => {
            assert_eq!(e.wrong_status(), Some(SessionStatus::Stopped));
            assert!(e.is_transient());
        }
        other => panic!("send while STOPPED: {other:?}"),
    }
    // Legacy Core: only `default`.
    let other = emu.client().with_session("agent-7");
    match other.session().await {
        Err(WahaError::Unprocessable(m)) => assert!(m.contains("only 'default' session"), "{m}"),
        r => panic!("{r:?}"),
    }
    // Legacy Core: media sending is a Plus feature.
    c.ensure_started(None).await.unwrap();
    wait_status(&c, SessionStatus::ScanQrCode).await;
    emu.scan("34600000001").await;
    let png = OutgoingFile::from_bytes("image/png", None, b"\x89PNG");
    match c.send_image(BUYER, &png, None, None).await {
        Err(WahaError::Unprocessable(m)) => assert!(m.contains("Plus"), "{m}"),
        r => panic!("{r:?}"),
    }
    // Validation errors keep WAHA's message.
    match c.send_location(BUYER, f64::NAN, 0.0, "x", None).await {
        Err(WahaError::Http {
            status: 400,
            message,
        }) => assert!(message.contains("latitude"), "{message}"),
        r => panic!("{r:?}"),
    }

    // Nobody listening: Unreachable.
    let port = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().port()
    };
    let gone = WahaClient::new(
        WahaClient::http_client().unwrap(),
        &format!("http://127.0.0.1:{port}"),
        KEY,
    )
    .unwrap();
    match gone.session().await {
        Err(e @ WahaError::Unreachable(_)) => assert!(e.is_transient()),
        r => panic!("{r:?}"),
    }
}
