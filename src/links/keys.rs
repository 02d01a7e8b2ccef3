//! Per-link secrets, derived from the master secret: the WAHA API key Puente uses to call the
//! link's container, and the HMAC key the container signs its webhooks with. Nothing is
//! stored; bumping `key_version` rotates both. Neither ever appears in an API response or log.

use hmac::{Hmac, Mac};
use sha2::Sha256;
use uuid::Uuid;

fn derive(master: &[u8], purpose: &str, link: Uuid, version: i32) -> String {
    let mut mac = match Hmac::<Sha256>::new_from_slice(master) {
        Ok(m) => m,
        Err(_) => return String::new(),
    };
    mac.update(purpose.as_bytes());
    mac.update(b"\0");
    mac.update(link.as_bytes());
    mac.update(&version.to_be_bytes());
    hex::encode(mac.finalize().into_bytes())
}

/// `X-Api-Key` for the link's WAHA.
pub fn api_key(master: &[u8], link: Uuid, version: i32) -> String {
    derive(master, "puente/waha-api-key", link, version)
}

/// `WHATSAPP_HOOK_HMAC_KEY` for the link's WAHA.
pub fn hmac_key(master: &[u8], link: Uuid, version: i32) -> String {
    derive(master, "puente/waha-webhook-hmac", link, version)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_differ_by_purpose_link_version_and_master() {
        let l = Uuid::new_v4();
        let m = b"0123456789abcdef0123456789abcdef";
        let a = api_key(m, l, 1);
        assert_eq!(a.len(), 64);
        assert_eq!(a, api_key(m, l, 1), "deterministic");
        assert_ne!(a, hmac_key(m, l, 1));
        assert_ne!(a, api_key(m, l, 2));
        assert_ne!(a, api_key(m, Uuid::new_v4(), 1));
        assert_ne!(a, api_key(b"another-master-secret-0123456789", l, 1));
    }
}
