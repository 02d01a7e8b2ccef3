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

/// Longest side of a thumbnail, in pixels.
pub const THUMB_MAX: u32 = 320;

/// A PNG thumbnail of an uploaded image (and the original's size), or `None` when the bytes
/// are not a decodable image within the limits (30 megapixels, 256 MiB decoded): a
/// decompression bomb fails here instead of exhausting memory. CPU-bound: call it on the
/// blocking pool.
pub fn thumbnail(bytes: &[u8]) -> Option<(Vec<u8>, u32, u32)> {
    let mut reader = image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .ok()?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(8000);
    limits.max_image_height = Some(8000);
    limits.max_alloc = Some(256 * 1024 * 1024);
    reader.limits(limits);
    let img = reader.decode().ok()?;
    if u64::from(img.width()) * u64::from(img.height()) > 30_000_000 {
        return None;
    }
    let (w, h) = (img.width(), img.height());
    let thumb = img.thumbnail(THUMB_MAX, THUMB_MAX);
    let mut out = std::io::Cursor::new(Vec::new());
    thumb.write_to(&mut out, image::ImageFormat::Png).ok()?;
    Some((out.into_inner(), w, h))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thumbnails_shrink_images_and_refuse_garbage() {
        let img = image::RgbImage::from_pixel(1200, 600, image::Rgb([10, 120, 200]));
        let mut jpeg = std::io::Cursor::new(Vec::new());
        img.write_to(&mut jpeg, image::ImageFormat::Jpeg).unwrap();
        let (png, w, h) = thumbnail(jpeg.get_ref()).unwrap();
        assert_eq!((w, h), (1200, 600));
        let t = image::load_from_memory(&png).unwrap();
        assert_eq!((t.width(), t.height()), (320, 160));
        assert!(thumbnail(b"not an image").is_none());
    }

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
