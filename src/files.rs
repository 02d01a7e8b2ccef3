//! Puente's file store: media downloaded from WAHA and files uploaded by users. The bytes
//! live behind [`FileStore`] (local disk by default); the `files` table holds the metadata.
//! Files are served only through handlers that check the caller may see them.
//!
//! Invariants: an image's size is read from its header before anything is decoded, and only
//! images within [`MAX_IMAGE_SIDE`] and [`MAX_IMAGE_PIXELS`] are decoded, under a memory cap,
//! at most [`THUMBNAIL_CONCURRENCY`] at a time ([`thumbnail_bounded`]); a download's
//! `Content-Disposition` is always a valid header whatever the file's name
//! ([`content_disposition`]).

use std::path::{Path, PathBuf};

use async_trait::async_trait;
use axum::http::HeaderValue;
use sha2::{Digest, Sha256};
use uuid::Uuid;

/// Longest side of an image Puente decodes, in pixels.
pub const MAX_IMAGE_SIDE: u32 = 8000;
/// Most pixels of an image Puente decodes (30 megapixels).
pub const MAX_IMAGE_PIXELS: u64 = 30_000_000;
/// Memory a decode may allocate: an RGBA image of [`MAX_IMAGE_PIXELS`], with room to spare.
const MAX_DECODE_ALLOC: u64 = 160 * 1024 * 1024;
/// Thumbnails made at once across the process; the rest wait their turn.
pub const THUMBNAIL_CONCURRENCY: usize = 2;
static THUMBNAILS: tokio::sync::Semaphore =
    tokio::sync::Semaphore::const_new(THUMBNAIL_CONCURRENCY);

/// Why an image gets no thumbnail.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImageError {
    /// Not an image Puente can read.
    #[error("not a readable image")]
    Unreadable,
    /// Larger than Puente decodes (from its header; nothing was decoded).
    #[error("{width}×{height} pixels is too large")]
    TooLarge { width: u32, height: u32 },
}

/// A `Content-Disposition: attachment` for a file named `name` (RFC 6266): an ASCII
/// `filename` fallback (anything but printable ASCII, quotes and backslashes become `_`) and
/// the exact name as UTF-8 in `filename*` (RFC 8187 percent-encoding), so control
/// characters, quotes or newlines in a WhatsApp file name can never break the header.
pub fn content_disposition(name: Option<&str>) -> HeaderValue {
    let name: String = name
        .unwrap_or_default()
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let name = if name.trim().is_empty() {
        "file".to_string()
    } else {
        name
    };
    let fallback: String = name
        .chars()
        .map(|c| match c {
            ' '..='~' if c != '"' && c != '\\' => c,
            _ => '_',
        })
        .collect();
    const ATTR: &percent_encoding::AsciiSet = &percent_encoding::NON_ALPHANUMERIC
        .remove(b'!')
        .remove(b'#')
        .remove(b'$')
        .remove(b'&')
        .remove(b'+')
        .remove(b'-')
        .remove(b'.')
        .remove(b'^')
        .remove(b'_')
        .remove(b'`')
        .remove(b'|')
        .remove(b'~');
    let encoded = percent_encoding::utf8_percent_encode(&name, ATTR);
    HeaderValue::from_str(&format!(
        "attachment; filename=\"{fallback}\"; filename*=UTF-8''{encoded}"
    ))
    .unwrap_or_else(|_| HeaderValue::from_static("attachment"))
}

#[async_trait]
pub trait FileStore: Send + Sync + 'static {
    async fn put(&self, key: &str, bytes: &[u8]) -> std::io::Result<()>;
    async fn get(&self, key: &str) -> std::io::Result<Vec<u8>>;
    /// Remove a file; a key that holds nothing is not an error.
    async fn delete(&self, key: &str) -> std::io::Result<()>;
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

    async fn delete(&self, key: &str) -> std::io::Result<()> {
        match tokio::fs::remove_file(self.path(key)?).await {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            other => other,
        }
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

fn reader(bytes: &[u8]) -> Result<image::ImageReader<std::io::Cursor<&[u8]>>, ImageError> {
    image::ImageReader::new(std::io::Cursor::new(bytes))
        .with_guessed_format()
        .map_err(|_| ImageError::Unreadable)
}

/// A PNG thumbnail of an uploaded image (and the original's size). The size is read from the
/// header first: an image over [`MAX_IMAGE_SIDE`] or [`MAX_IMAGE_PIXELS`] is refused without
/// being decoded, and the decode itself is capped ([`image::Limits`]), so a decompression
/// bomb fails here instead of exhausting memory. CPU-bound: use [`thumbnail_bounded`].
pub fn thumbnail(bytes: &[u8]) -> Result<(Vec<u8>, u32, u32), ImageError> {
    let (width, height) = reader(bytes)?
        .into_dimensions()
        .map_err(|_| ImageError::Unreadable)?;
    if width > MAX_IMAGE_SIDE
        || height > MAX_IMAGE_SIDE
        || u64::from(width) * u64::from(height) > MAX_IMAGE_PIXELS
    {
        return Err(ImageError::TooLarge { width, height });
    }
    let mut reader = reader(bytes)?;
    let mut limits = image::Limits::default();
    limits.max_image_width = Some(MAX_IMAGE_SIDE);
    limits.max_image_height = Some(MAX_IMAGE_SIDE);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let img = reader.decode().map_err(|_| ImageError::Unreadable)?;
    let (w, h) = (img.width(), img.height());
    let thumb = img.thumbnail(THUMB_MAX, THUMB_MAX);
    let mut out = std::io::Cursor::new(Vec::new());
    thumb
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|_| ImageError::Unreadable)?;
    Ok((out.into_inner(), w, h))
}

/// [`thumbnail`] on the blocking pool, at most [`THUMBNAIL_CONCURRENCY`] at once.
pub async fn thumbnail_bounded(
    bytes: axum::body::Bytes,
) -> Result<(Vec<u8>, u32, u32), ImageError> {
    let _permit = THUMBNAILS
        .acquire()
        .await
        .map_err(|_| ImageError::Unreadable)?;
    tokio::task::spawn_blocking(move || thumbnail(&bytes))
        .await
        .unwrap_or(Err(ImageError::Unreadable))
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
        assert_eq!(thumbnail(b"not an image"), Err(ImageError::Unreadable));
    }

    #[test]
    fn dispositions_are_valid_headers_for_any_name() {
        for name in [
            "a\u{1}b\r\nc\".txt",
            "informe \"final\".pdf",
            "casa ñ 家.jpg",
            "",
            "\u{7}",
        ] {
            let v = content_disposition(Some(name));
            let s = v.to_str().unwrap();
            assert!(s.starts_with("attachment; filename=\""), "{s}");
            assert!(s.contains("filename*=UTF-8''"), "{s}");
        }
        assert_eq!(
            content_disposition(Some("casa ñ.jpg")).to_str().unwrap(),
            "attachment; filename=\"casa _.jpg\"; filename*=UTF-8''casa%20%C3%B1.jpg"
        );
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
