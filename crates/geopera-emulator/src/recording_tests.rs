//! Unit tests of `recording.rs`.
use super::*;

fn request(log: &RequestLog, body: &'static [u8]) -> RecordedRequest {
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_static("Bearer gpra_secret"),
    );
    headers.insert("x-api-key", HeaderValue::from_static("gpra_other"));
    headers.insert("x-trace", HeaderValue::from_static("abc"));
    log.entry(
        Some("catalog.search".into()),
        "POST".into(),
        "/v1/op/catalog.search".into(),
        &headers,
        &Bytes::from_static(body),
    )
}

#[test]
fn credentials_are_hashed_and_redacted() {
    let log = RequestLog::new(10, 1 << 20, false);
    let entry = request(&log, b"{}");
    assert_eq!(entry.header("authorization"), Some("Bearer [redacted]"));
    assert_eq!(entry.header("x-api-key"), Some("[redacted]"));
    assert!(entry.header_is("authorization", "Bearer gpra_secret"));
    assert!(!entry.header_is("authorization", "Bearer gpra_wrong"));
    assert!(entry.header_is("x-api-key", "gpra_other"));
    assert!(entry.header_is("x-trace", "abc"));
    assert!(!format!("{entry:?}").contains("gpra_"));
    assert!(entry.body.is_empty(), "bodies only when asked for");
}

#[test]
fn the_byte_budget_evicts_the_oldest_and_drops_oversized_bodies() {
    let mut log = RequestLog::new(100, 4_000, true);
    for _ in 0..20 {
        let entry = request(&log, b"{}");
        log.push(entry);
    }
    let kept = log.iter().count();
    assert!((1..20).contains(&kept), "{kept}");
    assert!(log.bytes <= 4_000);
    let big = request(&log, &[b' '; 5_000]);
    log.push(big);
    let last = log.iter().last().expect("kept without its body");
    assert!(last.body.is_empty());
    log.clear();
    assert_eq!((log.iter().count(), log.bytes), (0, 0));
}
