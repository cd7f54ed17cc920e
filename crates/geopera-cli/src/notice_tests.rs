//! Unit tests of `notice.rs`.
use super::*;

fn retry(wait_ms: u64) -> Wait {
    Wait {
        kind: Kind::Retrying,
        operation: Some("catalog.search".to_owned()),
        outcome: Some("HTTP 429".to_owned()),
        reason: None,
        wait: Some(Duration::from_millis(wait_ms)),
    }
}

fn held(reason: &str, wait_ms: u64) -> Wait {
    Wait {
        kind: Kind::Held,
        operation: Some("orders.archive.place".to_owned()),
        outcome: None,
        reason: Some(reason.to_owned()),
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
    other.kind = Kind::Other;
    assert_eq!(other.line(), None);
    let mut unknown = retry(5_000);
    unknown.wait = None;
    assert_eq!(unknown.line(), None);
}

#[test]
fn a_call_held_back_says_for_what() {
    assert_eq!(
        held("shared_budget", 41_500).line().as_deref(),
        Some("Waiting 42 s for the shared rate budget before orders.archive.place; Ctrl-C stops")
    );
    assert_eq!(
        held("rate_limited", 3_000).line().as_deref(),
        Some(
            "Waiting 3 s for the API's rate limit (HTTP 429) before orders.archive.place; \
             Ctrl-C stops"
        )
    );
    assert_eq!(
        held("paced", 1_000).line().as_deref(),
        Some("Waiting 1 s for the pacing before orders.archive.place; Ctrl-C stops")
    );
    // A reason the SDK may add later still gets a line, without a why.
    assert_eq!(
        held("something_new", 2_000).line().as_deref(),
        Some("Waiting 2 s before orders.archive.place; Ctrl-C stops")
    );
    assert_eq!(held("shared_budget", 999).line(), None);
}
