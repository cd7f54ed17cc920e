//! Unit tests of `notice.rs`.
use super::*;

fn retry(wait_ms: u64) -> Retry {
    Retry {
        retrying: true,
        operation: Some("catalog.search".to_owned()),
        outcome: Some("HTTP 429".to_owned()),
        wait: Some(Duration::from_millis(wait_ms)),
    }
}

#[test]
fn a_long_wait_is_said_in_whole_seconds_rounded_up() {
    assert_eq!(
        retry(57_001).line().as_deref(),
        Some("Retrying catalog.search in 58 s (HTTP 429); Ctrl-C stops")
    );
    assert_eq!(
        retry(2_000).line().as_deref(),
        Some("Retrying catalog.search in 2 s (HTTP 429); Ctrl-C stops")
    );
}

#[test]
fn a_short_wait_or_another_event_is_not_said() {
    assert_eq!(retry(999).line(), None);
    let mut other = retry(5_000);
    other.retrying = false;
    assert_eq!(other.line(), None);
    let mut unknown = retry(5_000);
    unknown.wait = None;
    assert_eq!(unknown.line(), None);
}
