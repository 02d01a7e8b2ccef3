//! Puente's file store: media downloaded from WAHA and files uploaded by users. The bytes
//! live behind [`FileStore`] (local disk by default); the `files` table holds the metadata.
//! Files are served only through handlers that check the caller may see them.

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use sha2::{Digest, Sha256};
use uuid::Uuid;

#[async_trait]
pub trait FileStore: Send + Sync + 'static {
    async fn put(&self, key: &str, bytes: &[u8]) -> std::io::Result<()>;
    async fn get(&self, key: &str) -> std::io::Result<Vec<u8>>;
}

/// Files under a directory, written to a temporary name and renamed, so a reader never sees
/// half a file.
pub struct LocalDisk {
    root: PathBuf,
}

impl LocalDisk {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    fn path(&self, key: &str) -> std::io::Result<PathBuf> {
        if key.is_empty()
            || !key
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.')
            || key.contains("..")
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::InvalidInput,
                "bad file key",
            ));
        }
        Ok(self.root.join(key))
    }
}

#[async_trait]
impl FileStore for LocalDisk {
    async fn put(&self, key: &str, bytes: &[u8]) -> std::io::Result<()> {
        let path = self.path(key)?;
        tokio::fs::create_dir_all(&self.root).await?;
        let tmp = self
            .root
            .join(format!(".{key}.{}.tmp", Uuid::new_v4().simple()));
        tokio::fs::write(&tmp, bytes).await?;
        let f = tokio::fs::File::open(&tmp).await?;
        f.sync_all().await?;
        tokio::fs::rename(&tmp, &path).await
    }

    async fn get(&self, key: &str) -> std::io::Result<Vec<u8>> {
        tokio::fs::read(self.path(key)?).await
    }
}

/// A new storage key for a file.
pub fn new_key() -> String {
    Uuid::now_v7().simple().to_string()
}

pub fn sha256(bytes: &[u8]) -> Vec<u8> {
    Sha256::digest(bytes).to_vec()
}

pub fn root_exists(path: &Path) -> bool {
    path.is_dir()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn round_trip_and_refuses_path_tricks() {
        let dir = std::env::temp_dir().join(format!("puente-files-{}", Uuid::new_v4().simple()));
        let store = LocalDisk::new(&dir);
        let key = new_key();
        store.put(&key, b"hello").await.unwrap();
        assert_eq!(store.get(&key).await.unwrap(), b"hello");
        for bad in ["../etc/passwd", "", "a/b", ".."] {
            assert!(store.put(bad, b"x").await.is_err(), "{bad}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }
}
