//! The dashboard's guard against cross-site requests: every change made with
//! a session carries the session's CSRF token, in the `X-CSRF-Token` header
//! or a form's `csrf_token` field. Pages carry the token masked afresh each
//! time, which compression cannot turn into a leak (BREACH).

use axum::body::Body;
use axum::extract::Request;
use axum::http::header;
use rand::RngCore;
use subtle::ConstantTimeEq;

use super::page::PageError;
use super::session::{CSRF_FIELD, CSRF_HEADER};

/// The session's CSRF token as a page carries it: `pad ‖ pad⊕token` in hex,
/// with a fresh random pad each time. Pages are compressed, and a secret
/// that a compressed page repeats byte for byte beside text an attacker can
/// put in it (a search term) would leak through the page's size (BREACH);
/// masked, it is never the same twice.
pub fn masked_csrf(token: &str) -> String {
    let token = token.as_bytes();
    let mut pad = vec![0u8; token.len()];
    rand::rng().fill_bytes(&mut pad);
    let xored: Vec<u8> = pad.iter().zip(token).map(|(p, t)| p ^ t).collect();
    format!("{}{}", hex::encode(pad), hex::encode(xored))
}

/// Whether `given` is the session's CSRF `token`, masked by [`masked_csrf`]
/// or as it is; in constant time.
pub fn csrf_matches(given: &str, token: &str) -> bool {
    let given = given.trim();
    let unmasked = hex::decode(given).ok().and_then(|bytes| {
        let (pad, xored) = bytes.split_at(bytes.len() / 2);
        (bytes.len() == 2 * token.len()).then(|| {
            pad.iter()
                .zip(xored)
                .map(|(p, x)| p ^ x)
                .collect::<Vec<u8>>()
        })
    });
    let candidate = unmasked.unwrap_or_else(|| given.as_bytes().to_vec());
    bool::from(candidate.as_slice().ct_eq(token.as_bytes()))
}

/// Lets the request through if it carries `expected` in the `X-CSRF-Token`
/// header or, for a form, in its `csrf_token` field (the body is read and put
/// back, at most `max` bytes of it).
pub(super) async fn check(
    request: Request,
    expected: &str,
    max: usize,
) -> Result<Request, PageError> {
    let refused = || {
        PageError::forbidden(
            "the form's security token is missing or out of date; reload the page and try again",
        )
    };
    let matches = |given: &str| csrf_matches(given, expected);
    if let Some(given) = request.headers().get(CSRF_HEADER) {
        return match given.to_str() {
            Ok(given) if matches(given) => Ok(request),
            _ => Err(refused()),
        };
    }
    let is_form = request
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(refused());
    }
    let (parts, body) = request.into_parts();
    let bytes = axum::body::to_bytes(body, max).await.map_err(|_| {
        PageError::new(
            axum::http::StatusCode::PAYLOAD_TOO_LARGE,
            format!("the form is larger than {max} bytes, or could not be read"),
        )
    })?;
    // PostgreSQL cannot store U+0000 in text, and no form needs it.
    if let Some((field, _)) = form_urlencoded::parse(&bytes).find(|(_, v)| v.contains('\0')) {
        return Err(PageError::bad_request(format!(
            "the field {field:?} contains a NUL character; remove it and try again"
        )));
    }
    let given = form_urlencoded::parse(&bytes)
        .find(|(k, _)| k == CSRF_FIELD)
        .map(|(_, v)| v.into_owned());
    match given {
        Some(given) if matches(&given) => Ok(Request::from_parts(parts, Body::from(bytes))),
        _ => Err(refused()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::session::random_token;

    #[test]
    fn a_masked_csrf_token_differs_each_time_and_still_matches() {
        let token = random_token();
        let (a, b) = (masked_csrf(&token), masked_csrf(&token));
        assert_ne!(a, b);
        assert!(!a.contains(&token));
        assert!(csrf_matches(&a, &token) && csrf_matches(&b, &token));
        assert!(csrf_matches(&token, &token), "the token as it is");
        assert!(!csrf_matches(&masked_csrf(&random_token()), &token));
        assert!(!csrf_matches("", &token));
        assert!(!csrf_matches("zz", &token));
    }
}
