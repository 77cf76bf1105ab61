//! Signing a request body, so a receiver can tell it came from this sink
//! and was not replayed: `X-Sinkbox-Signature: t=<unix seconds>,v1=<hex>`
//! where `<hex>` is HMAC-SHA256, keyed with the shared secret, of
//! `"<t>.<body>"` (the body exactly as sent, after any Content-Encoding).
//!
//! A receiver recomputes the HMAC over the raw body it received with the
//! same `t`, compares in constant time, and refuses a `t` more than five
//! minutes away from its own clock.

use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::secret::Secret;

/// The header a signature goes in unless configured otherwise.
pub const DEFAULT_SIGNATURE_HEADER: &str = "X-Sinkbox-Signature";

/// How each request is signed.
#[derive(Clone, Debug)]
pub struct Signing {
    /// The shared secret (from `[secrets]`).
    pub secret: Secret,
    /// The header the signature goes in.
    pub header: String,
}

impl Signing {
    /// The header value for `body` sent at `unix_seconds`.
    pub fn signature(&self, unix_seconds: u64, body: &[u8]) -> String {
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(unix_seconds.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        format!(
            "t={unix_seconds},v1={}",
            hex::encode(mac.finalize().into_bytes())
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_is_hmac_sha256_of_time_dot_body() {
        let signing = Signing {
            secret: Secret::new("key"),
            header: DEFAULT_SIGNATURE_HEADER.into(),
        };
        // HMAC-SHA256("key", "1700000000.{}"), computed independently.
        let mut mac = Hmac::<Sha256>::new_from_slice(b"key").unwrap();
        mac.update(b"1700000000.{}");
        let expected = hex::encode(mac.finalize().into_bytes());
        assert_eq!(
            signing.signature(1_700_000_000, b"{}"),
            format!("t=1700000000,v1={expected}")
        );
        assert!(!format!("{signing:?}").contains("key\""), "{signing:?}");
    }
}
