//! Checking a request's credentials against the source's `auth`.

use hyper::Request;
use hyper::body::Incoming;

use super::server_options::HttpServerAuth;

/// Whether the request carries the credentials `auth` asks for.
pub(crate) fn authorized(auth: Option<&HttpServerAuth>, request: &Request<Incoming>) -> bool {
    let Some(auth) = auth else {
        return true;
    };
    let Some(given) = request
        .headers()
        .get(hyper::header::AUTHORIZATION)
        .map(|v| v.as_bytes())
    else {
        return false;
    };
    let expected = match auth {
        HttpServerAuth::Bearer(token) => format!("Bearer {}", token.expose()),
        HttpServerAuth::Basic { user, password } => format!(
            "Basic {}",
            data_encoding::BASE64.encode(format!("{user}:{}", password.expose()).as_bytes())
        ),
    };
    same_bytes(given, expected.as_bytes())
}

/// Compares in time that depends only on the lengths, not on where the
/// bytes first differ.
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}
