//! Unit tests of `request_id.rs`.
use super::*;

fn with(value: &[u8]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        REQUEST_ID_HEADER,
        HeaderValue::from_bytes(value).expect("a header value"),
    );
    headers
}

#[test]
fn only_short_visible_ascii_ids_are_kept() {
    assert!(accepted(&with(b"3f8d2c1e-0b7a")).is_some());
    assert!(accepted(&with("x".repeat(MAX_REQUEST_ID_CHARS).as_bytes())).is_some());
    assert!(accepted(&with("x".repeat(MAX_REQUEST_ID_CHARS + 1).as_bytes())).is_none());
    assert!(accepted(&with(b"two words")).is_none());
    assert!(accepted(&with(b"caf\xc3\xa9")).is_none());
    assert!(accepted(&with(b"")).is_none());
    assert!(accepted(&HeaderMap::new()).is_none());
}

#[test]
fn generated_ids_are_prefixed_and_distinct() {
    let (a, b) = (generated(), generated());
    assert!(a.to_str().is_ok_and(|a| a.starts_with("req_")), "{a:?}");
    assert_ne!(a, b);
}
