//! WAHA's webhook signature: `X-Webhook-Hmac: hex(HMAC-SHA512(key, raw body))`, lowercase, with
//! `X-Webhook-Hmac-Algorithm: sha512` (contract §6).
//!
//! Invariants: the body is the exact bytes received (never re-serialized JSON); the key is used
//! as given (WAHA uses the UTF-8 bytes of the configured string); the comparison is constant
//! time; only the form WAHA produces is accepted — 128 **lowercase** hex digits, optionally
//! surrounded by whitespace. Uppercase, odd lengths, non-hex and any other length are rejected
//! without computing anything secret-dependent.

use hmac::{Hmac, Mac};
use sha2::Sha512;

type HmacSha512 = Hmac<Sha512>;

/// Name of the header carrying the signature.
pub const HEADER: &str = "x-webhook-hmac";
/// Name of the header naming the algorithm (`sha512`).
pub const ALGORITHM_HEADER: &str = "x-webhook-hmac-algorithm";

fn mac(key: &[u8], body: &[u8]) -> HmacSha512 {
    // RFC 2104 HMAC takes keys of any length (long keys are hashed, short ones padded), so
    // `new_from_slice` cannot fail here.
    #[allow(clippy::expect_used)]
    let mut mac = HmacSha512::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(body);
    mac
}

/// Lowercase hex HMAC-SHA512 of `body` under `key`: what WAHA sends in `X-Webhook-Hmac`.
pub fn sign(key: &[u8], body: &[u8]) -> String {
    hex::encode(mac(key, body).finalize().into_bytes())
}

/// Whether `header_value` is the signature of `body` under `key`. Constant time in the
/// signature's content; rejects anything that is not exactly 128 lowercase hex digits.
pub fn verify(key: &[u8], body: &[u8], header_value: &str) -> bool {
    let Some(expected) = decode_lower_hex(header_value.trim()) else {
        return false;
    };
    mac(key, body).verify_slice(&expected).is_ok()
}

/// Decodes exactly 64 bytes of lowercase hex; `None` for anything else.
fn decode_lower_hex(s: &str) -> Option<Vec<u8>> {
    let bytes = s.as_bytes();
    if bytes.len() != 128 {
        return None;
    }
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    bytes
        .chunks_exact(2)
        .map(|pair| Some((nibble(pair[0])? << 4) | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const KEY: &[u8] = b"my-secret-key";
    const BODY: &[u8] = br#"{"event":"message","session":"default","engine":"WEBJS"}"#;
    const VECTOR: &str = "208f8a55dde9e05519e898b10b89bf0d0b3b0fdf11fdbf09b6b90476301b98d8097c462b2b17a6ce93b6b47a136cf2e78a33a63f6752c2c1631777076153fa89";

    #[test]
    fn contract_test_vector() {
        assert_eq!(sign(KEY, BODY), VECTOR);
        assert!(verify(KEY, BODY, VECTOR));
        assert!(
            verify(KEY, BODY, &format!(" {VECTOR}\n")),
            "surrounding whitespace"
        );
    }

    #[test]
    fn wrong_key_or_body() {
        assert!(!verify(b"my-secret-kez", BODY, VECTOR));
        assert!(!verify(b"", BODY, VECTOR));
        let mut body = BODY.to_vec();
        body.push(b' ');
        assert!(!verify(KEY, &body, VECTOR), "one extra byte");
        assert!(
            !verify(
                KEY,
                br#"{"session":"default","event":"message","engine":"WEBJS"}"#,
                VECTOR
            ),
            "same JSON, other bytes"
        );
    }

    #[test]
    fn malformed_headers() {
        assert!(!verify(KEY, BODY, &VECTOR.to_uppercase()), "uppercase");
        assert!(!verify(KEY, BODY, ""));
        assert!(!verify(KEY, BODY, "garbage"));
        assert!(!verify(KEY, BODY, &VECTOR[..127]), "odd length");
        assert!(!verify(KEY, BODY, &VECTOR[..126]), "short");
        assert!(!verify(KEY, BODY, &format!("{VECTOR}00")), "long");
        assert!(!verify(KEY, BODY, &format!("sha512={}", &VECTOR[..121])));
        let mut flipped = VECTOR.to_owned();
        flipped.replace_range(127.., "8");
        assert!(!verify(KEY, BODY, &flipped), "last digit");
        let non_hex = format!("{}zz", &VECTOR[..126]);
        assert!(!verify(KEY, BODY, &non_hex));
    }

    #[test]
    fn long_and_binary_keys() {
        let key = [7u8; 300];
        let sig = sign(&key, BODY);
        assert_eq!(sig.len(), 128);
        assert!(verify(&key, BODY, &sig));
        assert!(!verify(&key[..299], BODY, &sig));
    }
}
