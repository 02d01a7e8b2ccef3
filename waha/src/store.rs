//! The on-disk session folder: `<WAHA_LOCAL_STORE_BASE_DIR>/<engine>/<session>/`.
//!
//! Layout of one folder:
//! - `auth.json` — the login (`me`). Its presence means "paired": a restarted or re-created
//!   container on the same volume comes back WORKING without a scan.
//! - `session.json` — name, config and whether it was started (current flavor only; legacy Core
//!   keeps config in memory).
//! - `messages.jsonl` — every message, append-only; a later line with the same id replaces the
//!   earlier one (acks, edits, revokes, reactions).
//! - `sent.jsonl` — what was sent through the API, in order.
//! - `files/` — media, served under `/api/files/<session>/<file>`.
//!
//! Writes are small synchronous appends; callers may hold the manager's std mutex while writing
//! because nothing here awaits.

use std::fs::{self, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::model::{Me, StoredMessage};

/// `session.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionRecord {
    pub name: String,
    pub config: Option<Value>,
    pub started: bool,
}

/// One session folder.
#[derive(Debug, Clone)]
pub struct SessionDir {
    dir: PathBuf,
}

impl SessionDir {
    pub fn new(base: &Path, engine_dir: &str, session: &str) -> Self {
        Self {
            dir: base.join(engine_dir).join(session),
        }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    pub fn files_dir(&self) -> PathBuf {
        self.path("files")
    }

    fn ensure(&self) -> std::io::Result<()> {
        fs::create_dir_all(&self.dir)
    }

    fn write_atomic(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        self.ensure()?;
        let tmp = self.path(&format!(".{name}.tmp"));
        fs::write(&tmp, bytes)?;
        fs::rename(tmp, self.path(name))
    }

    fn read_json<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Option<T> {
        let bytes = fs::read(self.path(name)).ok()?;
        match serde_json::from_slice(&bytes) {
            Ok(v) => Some(v),
            Err(e) => {
                tracing::warn!(file = %self.path(name).display(), error = %e, "unreadable store file ignored");
                None
            }
        }
    }

    pub fn load_auth(&self) -> Option<Me> {
        self.read_json("auth.json")
    }

    pub fn save_auth(&self, me: &Me) -> std::io::Result<()> {
        self.write_atomic("auth.json", &serde_json::to_vec_pretty(me)?)
    }

    pub fn wipe_auth(&self) -> std::io::Result<()> {
        match fs::remove_file(self.path("auth.json")) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    pub fn load_record(&self) -> Option<SessionRecord> {
        self.read_json("session.json")
    }

    pub fn save_record(&self, record: &SessionRecord) -> std::io::Result<()> {
        self.write_atomic("session.json", &serde_json::to_vec_pretty(record)?)
    }

    /// Removes the whole folder (session deleted).
    pub fn remove_all(&self) -> std::io::Result<()> {
        match fs::remove_dir_all(&self.dir) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(()),
        }
    }

    fn append_line(&self, name: &str, value: &impl Serialize) -> std::io::Result<()> {
        self.ensure()?;
        let mut line = serde_json::to_vec(value)?;
        line.push(b'\n');
        let mut f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.path(name))?;
        f.write_all(&line)
    }

    fn read_lines<T: for<'de> Deserialize<'de>>(&self, name: &str) -> Vec<T> {
        let Ok(f) = fs::File::open(self.path(name)) else {
            return Vec::new();
        };
        BufReader::new(f)
            .lines()
            .map_while(Result::ok)
            .filter(|l| !l.trim().is_empty())
            .filter_map(|l| serde_json::from_str(&l).ok())
            .collect()
    }

    pub fn append_message(&self, m: &StoredMessage) -> std::io::Result<()> {
        self.append_line("messages.jsonl", m)
    }

    /// All messages, first-seen order, latest version of each.
    pub fn load_messages(&self) -> Vec<StoredMessage> {
        let mut out: Vec<StoredMessage> = Vec::new();
        let mut index = std::collections::HashMap::new();
        for m in self.read_lines::<StoredMessage>("messages.jsonl") {
            match index.get(&m.id) {
                Some(&i) => out[i] = m,
                None => {
                    index.insert(m.id.clone(), out.len());
                    out.push(m);
                }
            }
        }
        out
    }

    pub fn append_sent(&self, entry: &Value) -> std::io::Result<()> {
        self.append_line("sent.jsonl", entry)
    }

    pub fn load_sent(&self) -> Vec<Value> {
        self.read_lines("sent.jsonl")
    }

    /// Stores a media file and returns its name.
    pub fn write_file(&self, name: &str, bytes: &[u8]) -> std::io::Result<()> {
        let dir = self.files_dir();
        fs::create_dir_all(&dir)?;
        fs::write(dir.join(name), bytes)
    }

    pub fn read_file(&self, name: &str) -> std::io::Result<Vec<u8>> {
        if name.contains('/') || name.contains("..") {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                "bad file name",
            ));
        }
        fs::read(self.files_dir().join(name))
    }
}

/// Session names that have a folder under `<base>/<engine>/`.
pub fn list_session_dirs(base: &Path, engine_dir: &str) -> Vec<String> {
    let Ok(entries) = fs::read_dir(base.join(engine_dir)) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    names.sort();
    names
}
