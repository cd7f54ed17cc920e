//! Unit tests of `retry.rs`.
use super::*;

fn policy() -> RetryPolicy {
    RetryPolicy::default()
}

#[test]
fn a_rate_limit_past_a_redirect_is_retried_only_where_a_timeout_would_be() {
    let wait = Some(Duration::from_secs(3));
    let past = Outcome::LimitedPastRedirect;
    assert_eq!(decide(&policy(), 2, past, wait, false, 1), Decision::Finish);
    assert_eq!(
        decide(&policy(), 2, past, wait, true, 1),
        Decision::RetryAfter(Duration::from_secs(3))
    );
    assert_eq!(
        decide(&policy(), 2, past, Some(Duration::from_secs(61)), true, 1),
        Decision::TooLongToWait(Duration::from_secs(61))
    );
    assert_eq!(decide(&policy(), 2, past, wait, true, 3), Decision::Finish);
}

#[test]
fn rate_limits_are_always_retried_after_the_servers_wait() {
    let wait = Some(Duration::from_secs(3));
    assert_eq!(
        decide(&policy(), 2, Outcome::Status(429), wait, false, 1),
        Decision::RetryAfter(Duration::from_secs(3))
    );
    assert_eq!(
        decide(
            &policy(),
            2,
            Outcome::Status(429),
            Some(Duration::from_secs(61)),
            true,
            1
        ),
        Decision::TooLongToWait(Duration::from_secs(61))
    );
    assert_eq!(
        decide(&policy(), 2, Outcome::Status(429), wait, true, 3),
        Decision::Finish
    );
}

#[test]
fn ambiguous_failures_are_retried_only_when_safe() {
    for outcome in [
        Outcome::Ambiguous,
        Outcome::Status(503),
        Outcome::Status(500),
    ] {
        assert!(matches!(
            decide(&policy(), 2, outcome, None, true, 1),
            Decision::RetryAfter(_)
        ));
        assert_eq!(
            decide(&policy(), 2, outcome, None, false, 1),
            Decision::Finish
        );
    }
    assert!(matches!(
        decide(&policy(), 2, Outcome::NotSent, None, false, 1),
        Decision::RetryAfter(_)
    ));
}

#[test]
fn a_5xx_asking_for_more_than_the_ceiling_finishes_at_once() {
    let ceiling = policy().max_retry_after;
    assert_eq!(
        decide(
            &policy(),
            2,
            Outcome::Status(503),
            Some(ceiling * 2),
            true,
            1
        ),
        Decision::Finish
    );
    assert_eq!(
        decide(&policy(), 2, Outcome::Status(503), Some(ceiling), true, 1),
        Decision::RetryAfter(ceiling)
    );
}

#[test]
fn other_answers_and_exhausted_budgets_finish() {
    for status in [200, 201, 400, 401, 403, 404, 409, 422] {
        assert_eq!(
            decide(&policy(), 2, Outcome::Status(status), None, true, 1),
            Decision::Finish
        );
    }
    assert_eq!(
        decide(&policy(), 0, Outcome::NotSent, None, true, 1),
        Decision::Finish
    );
    assert_eq!(
        decide(&policy(), 2, Outcome::Fatal, None, true, 1),
        Decision::Finish
    );
}

#[test]
fn backoff_grows_jitters_and_is_capped() {
    let policy =
        RetryPolicy::default().backoff(Duration::from_millis(100), Duration::from_millis(500));
    for _ in 0..50 {
        let first = policy.backoff_for(1);
        assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
        assert!(policy.backoff_for(10) <= Duration::from_millis(500));
    }
}

#[test]
fn retry_after_reads_seconds_and_dates() {
    let mut headers = HeaderMap::new();
    headers.insert(RETRY_AFTER, "17".parse().expect("valid"));
    assert_eq!(retry_after(&headers), Some(Duration::from_secs(17)));
    let later = SystemTime::now() + Duration::from_secs(120);
    headers.insert(
        RETRY_AFTER,
        httpdate::fmt_http_date(later).parse().expect("valid"),
    );
    let wait = retry_after(&headers).expect("a date");
    assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120));
    assert!(read_retry_after(&headers).is_some_and(|asked| asked.dated));
    headers.insert(RETRY_AFTER, "17".parse().expect("valid"));
    assert!(read_retry_after(&headers).is_some_and(|asked| !asked.dated));
    headers.insert(RETRY_AFTER, "soon".parse().expect("valid"));
    assert_eq!(retry_after(&headers), None);
}

#[test]
fn a_retry_after_too_big_for_any_clock_is_the_longest_wait_not_a_missing_one() {
    let mut headers = HeaderMap::new();
    headers.insert(
        RETRY_AFTER,
        http::HeaderValue::from_static("99999999999999999999999999"),
    );
    assert_eq!(retry_after(&headers), Some(Duration::from_secs(u64::MAX)));
    assert_eq!(
        decide(
            &policy(),
            2,
            Outcome::Status(429),
            retry_after(&headers),
            true,
            1
        ),
        Decision::TooLongToWait(Duration::from_secs(u64::MAX))
    );
    headers.insert(RETRY_AFTER, http::HeaderValue::from_static("-5"));
    assert_eq!(
        retry_after(&headers),
        None,
        "not a number of seconds nor a date"
    );
}

/// Several `Retry-After` values (a gateway's own `0` ahead of the API's, or a proxy joining
/// them into one line) are read for the longest wait: the first alone ended the pause the API
/// asked for at once, and a joined line was read as none.
#[test]
fn several_retry_afters_are_read_for_the_longest_wait() {
    let mut headers = HeaderMap::new();
    headers.append(RETRY_AFTER, http::HeaderValue::from_static("0"));
    headers.append(RETRY_AFTER, http::HeaderValue::from_static("30"));
    assert_eq!(
        read_retry_after(&headers).map(|asked| asked.wait),
        Some(Duration::from_secs(30))
    );
    let joined = HeaderMap::from_iter([(RETRY_AFTER, http::HeaderValue::from_static("5, 30"))]);
    assert_eq!(
        read_retry_after(&joined).map(|asked| asked.wait),
        Some(Duration::from_secs(30))
    );
    // An HTTP date's own comma is no list.
    let dated = HeaderMap::from_iter([(
        RETRY_AFTER,
        http::HeaderValue::from_static("Wed, 21 Oct 2015 07:28:00 GMT"),
    )]);
    assert!(read_retry_after(&dated).is_some_and(|asked| asked.dated));
    // A value that reads as neither is passed over, not taken for none at all.
    let mut mixed = HeaderMap::new();
    mixed.append(RETRY_AFTER, http::HeaderValue::from_static("soon"));
    mixed.append(RETRY_AFTER, http::HeaderValue::from_static("7"));
    assert_eq!(
        read_retry_after(&mixed).map(|asked| asked.wait),
        Some(Duration::from_secs(7))
    );
}

/// A 409 while the key's first request may still run is retried as a transient answer is,
/// within the retries left and the longest `Retry-After` the policy waits out.
#[test]
fn a_key_in_use_is_retried_within_the_budget() {
    assert!(matches!(
        decide(&policy(), 2, Outcome::KeyInUse, None, true, 1),
        Decision::RetryAfter(_)
    ));
    assert_eq!(
        decide(
            &policy(),
            2,
            Outcome::KeyInUse,
            Some(Duration::from_secs(2)),
            true,
            1
        ),
        Decision::RetryAfter(Duration::from_secs(2))
    );
    assert_eq!(
        decide(
            &policy(),
            2,
            Outcome::KeyInUse,
            Some(Duration::from_secs(61)),
            true,
            1
        ),
        Decision::Finish
    );
    assert_eq!(
        decide(&policy(), 2, Outcome::KeyInUse, None, true, 3),
        Decision::Finish
    );
}
