//! Rendering WAHA's raw QR value (`2@…`) as PNG, SVG or terminal text with the qrcode crate.

use std::io::Cursor;

use base64::engine::general_purpose::STANDARD;
use base64::Engine;
use image::{ImageFormat, Luma};
use qrcode::render::{svg, unicode};
use qrcode::{EcLevel, QrCode};

use crate::error::{AppError, Result};

fn code(raw: &str) -> Result<QrCode> {
    QrCode::with_error_correction_level(raw.as_bytes(), EcLevel::L)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("QR encoding failed: {e}")))
}

/// PNG bytes, black on white with a quiet zone.
pub fn png(raw: &str) -> Result<Vec<u8>> {
    let img = code(raw)?
        .render::<Luma<u8>>()
        .min_dimensions(264, 264)
        .build();
    let mut out = Cursor::new(Vec::new());
    img.write_to(&mut out, ImageFormat::Png)
        .map_err(|e| AppError::Internal(anyhow::anyhow!("PNG encoding failed: {e}")))?;
    Ok(out.into_inner())
}

/// A `data:image/png;base64,…` URL, for WebSocket frames.
pub fn png_data_url(raw: &str) -> Result<String> {
    Ok(format!(
        "data:image/png;base64,{}",
        STANDARD.encode(png(raw)?)
    ))
}

pub fn svg(raw: &str) -> Result<String> {
    Ok(code(raw)?
        .render::<svg::Color<'_>>()
        .min_dimensions(264, 264)
        .dark_color(svg::Color("#000000"))
        .light_color(svg::Color("#ffffff"))
        .build())
}

/// Half-block characters for a terminal (two modules per character row).
pub fn terminal(raw: &str) -> Result<String> {
    Ok(code(raw)?
        .render::<unicode::Dense1x2>()
        .dark_color(unicode::Dense1x2::Light)
        .light_color(unicode::Dense1x2::Dark)
        .quiet_zone(true)
        .build())
}

#[cfg(test)]
mod tests {
    use super::*;

    const RAW: &str =
        "2@AbCdEfGhIjKlMnOpQrStUvWxYz0123456789+/==,AbCdEfGhIjKlMnOpQr=,AbCdEfGhIjKl=,AbCdEf=";

    #[test]
    fn renders_all_formats() {
        let p = png(RAW).unwrap();
        assert_eq!(&p[..8], b"\x89PNG\r\n\x1a\n");
        let decoded = image::load_from_memory(&p).unwrap();
        assert!(decoded.width() >= 264);
        let s = svg(RAW).unwrap();
        assert!(s.starts_with("<?xml") && s.contains("<svg"));
        let t = terminal(RAW).unwrap();
        assert!(t.lines().count() > 10);
        assert!(png_data_url(RAW)
            .unwrap()
            .starts_with("data:image/png;base64,iVBOR"));
    }
}
