//! Real bytes for pictures and files: the QR PNG, the screenshot JPEG and the small sample media
//! that inbound image/file/voice/video messages carry.

use std::io::Cursor;

use image::{ImageFormat, Luma, Rgb, RgbImage};
use qrcode::QrCode;

use crate::model::Kind;

/// A PNG of a QR code encoding `value` exactly.
pub fn qr_png(value: &str) -> Result<Vec<u8>, String> {
    let code = QrCode::new(value.as_bytes()).map_err(|e| e.to_string())?;
    let img = code
        .render::<Luma<u8>>()
        .min_dimensions(256, 256)
        .quiet_zone(true)
        .build();
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

/// A JPEG "screenshot": the QR when there is one, otherwise a plain page-coloured image.
pub fn screenshot_jpeg(qr: Option<&str>) -> Result<Vec<u8>, String> {
    let img: RgbImage = match qr {
        Some(value) => {
            let code = QrCode::new(value.as_bytes()).map_err(|e| e.to_string())?;
            let luma = code.render::<Luma<u8>>().min_dimensions(256, 256).build();
            RgbImage::from_fn(luma.width(), luma.height(), |x, y| {
                let v = luma.get_pixel(x, y).0[0];
                Rgb([v, v, v])
            })
        }
        None => RgbImage::from_fn(320, 200, |_, y| {
            if y < 40 {
                Rgb([0, 168, 132])
            } else {
                Rgb([240, 242, 245])
            }
        }),
    };
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Jpeg)
        .map_err(|e| e.to_string())?;
    Ok(out.into_inner())
}

/// A small but real sample file for an inbound media message:
/// `(bytes, mimetype, extension, filename)`.
pub fn sample(kind: Kind, seed: &str) -> (Vec<u8>, &'static str, &'static str, Option<String>) {
    match kind {
        Kind::Image => {
            let h = seed
                .bytes()
                .fold(7u8, |a, b| a.wrapping_mul(31).wrapping_add(b));
            let img = RgbImage::from_fn(64, 48, |x, y| {
                Rgb([h.wrapping_add(x as u8 * 3), (y as u8).wrapping_mul(5), 200])
            });
            let mut out = Cursor::new(Vec::new());
            let bytes = match img.write_to(&mut out, ImageFormat::Jpeg) {
                Ok(()) => out.into_inner(),
                Err(_) => Vec::new(),
            };
            (bytes, "image/jpeg", "jpeg", None)
        }
        Kind::File => (
            sample_pdf(seed),
            "application/pdf",
            "pdf",
            Some("document.pdf".into()),
        ),
        Kind::Voice => (sample_ogg(), "audio/ogg; codecs=opus", "oga", None),
        Kind::Video => (sample_mp4(), "video/mp4", "mp4", None),
        Kind::Text | Kind::Location => (Vec::new(), "application/octet-stream", "bin", None),
    }
}

fn sample_pdf(text: &str) -> Vec<u8> {
    let safe: String = text
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || *c == ' ')
        .take(60)
        .collect();
    let content = format!("BT /F1 18 Tf 40 100 Td ({safe}) Tj ET");
    let objects = [
        "<< /Type /Catalog /Pages 2 0 R >>".to_owned(),
        "<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_owned(),
        "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 300 200] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_owned(),
        format!("<< /Length {} >>\nstream\n{content}\nendstream", content.len()),
        "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_owned(),
    ];
    let mut out = b"%PDF-1.4\n".to_vec();
    let mut offsets = Vec::new();
    for (i, obj) in objects.iter().enumerate() {
        offsets.push(out.len());
        out.extend_from_slice(format!("{} 0 obj\n{obj}\nendobj\n", i + 1).as_bytes());
    }
    let xref = out.len();
    out.extend_from_slice(
        format!("xref\n0 {}\n0000000000 65535 f \n", objects.len() + 1).as_bytes(),
    );
    for off in offsets {
        out.extend_from_slice(format!("{off:010} 00000 n \n").as_bytes());
    }
    out.extend_from_slice(
        format!(
            "trailer\n<< /Size {} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n",
            objects.len() + 1
        )
        .as_bytes(),
    );
    out
}

/// One Ogg page carrying an `OpusHead` header: enough for `file(1)` and type sniffers.
fn sample_ogg() -> Vec<u8> {
    let mut head = b"OpusHead".to_vec();
    head.extend_from_slice(&[1, 1, 0x38, 0x01, 0x80, 0xBB, 0, 0, 0, 0, 0]);
    let mut page = b"OggS".to_vec();
    page.extend_from_slice(&[0, 2]);
    page.extend_from_slice(&[0; 8]); // granule position
    page.extend_from_slice(&[0x57, 0x41, 0x48, 0x41]); // serial
    page.extend_from_slice(&[0; 4]); // page sequence
    page.extend_from_slice(&[0; 4]); // checksum (not computed)
    page.push(1);
    page.push(head.len() as u8);
    page.extend_from_slice(&head);
    page
}

/// An `ftyp` box plus an empty `mdat`: a recognisable (if empty) MP4.
fn sample_mp4() -> Vec<u8> {
    let mut out = Vec::new();
    let ftyp: &[u8] = b"isom\0\0\x02\0isomiso2mp41";
    out.extend_from_slice(&((8 + ftyp.len()) as u32).to_be_bytes());
    out.extend_from_slice(b"ftyp");
    out.extend_from_slice(ftyp);
    out.extend_from_slice(&8u32.to_be_bytes());
    out.extend_from_slice(b"mdat");
    out
}

/// File extension for a mimetype (the part WAHA appends to `<messageId>.`).
pub fn extension_for(mimetype: &str) -> &'static str {
    let base = mimetype.split(';').next().unwrap_or("").trim();
    match base {
        "image/jpeg" => "jpeg",
        "image/png" => "png",
        "image/webp" => "webp",
        "image/gif" => "gif",
        "application/pdf" => "pdf",
        "audio/ogg" => "oga",
        "audio/mpeg" => "mp3",
        "audio/mp4" => "m4a",
        "video/mp4" => "mp4",
        "text/plain" => "txt",
        _ => "bin",
    }
}

/// Mimetype for a stored file name.
pub fn mimetype_for_file(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or("") {
        "jpeg" | "jpg" => "image/jpeg",
        "png" => "image/png",
        "webp" => "image/webp",
        "gif" => "image/gif",
        "pdf" => "application/pdf",
        "oga" | "ogg" => "audio/ogg",
        "mp3" => "audio/mpeg",
        "m4a" => "audio/mp4",
        "mp4" => "video/mp4",
        "txt" => "text/plain",
        _ => "application/octet-stream",
    }
}
