//! Unit tests of the `faults` module (`faults/mod.rs`).
use super::*;

#[test]
fn parses_every_kind() {
    let plan = FaultPlan::parse(
        "latency=250ms, 500, 502;retry-after=3, 503:after@10%, 429;burst=3, status=418, \
             reset;after;op=billing.topup;times=1, truncate, malformed, slow=1s, 418",
    )
    .expect("valid spec");
    let kinds: Vec<&FaultKind> = plan.rules().iter().map(|rule| &rule.kind).collect();
    assert_eq!(
        kinds,
        vec![
            &FaultKind::Latency(Duration::from_millis(250)),
            &FaultKind::ServerError(500),
            &FaultKind::ServerError(502),
            &FaultKind::ServerError(503),
            &FaultKind::RateLimited { burst: 3 },
            &FaultKind::Status(418),
            &FaultKind::Reset,
            &FaultKind::Truncate,
            &FaultKind::Malformed,
            &FaultKind::SlowBody(Duration::from_secs(1)),
            &FaultKind::Status(418),
        ]
    );
    assert_eq!(plan.rules()[2].retry_after, Some(3));
    assert_eq!(plan.rules()[3].phase, Phase::After);
    assert_eq!(plan.rules()[3].rate_percent, Some(10.0));
    assert_eq!(plan.rules()[6].operation.as_deref(), Some("billing.topup"));
    assert_eq!(plan.rules()[6].times, Some(1));
}

/// A rule aimed at an operation that does not exist is refused, not kept to strike nothing.
#[test]
fn an_op_that_names_no_operation_is_refused() {
    for spec in [
        "503;op=orders.lst",
        "503;op=Orders.Get",
        "429;burst=2;op=orders-get",
    ] {
        let refused = FaultPlan::parse(spec).expect_err(spec);
        assert!(
            refused.reason.contains("names no operation"),
            "{spec}: {refused}"
        );
    }
    assert!(FaultPlan::parse("503;op=").is_err(), "an empty op");
    assert!(FaultPlan::parse("503;op=orders.get").is_ok());
}

/// A bare status is a transient server error exactly when the SDK would retry it: both read
/// one list.
#[test]
fn bare_statuses_are_server_errors_exactly_when_transient() {
    for code in 500..=599u16 {
        let plan = FaultPlan::parse(&code.to_string()).expect("a status");
        let expected = if TRANSIENT_STATUSES.contains(&code) {
            FaultKind::ServerError(code)
        } else {
            FaultKind::Status(code)
        };
        assert_eq!(plan.rules()[0].kind, expected, "{code}");
    }
}

#[test]
fn rejects_nonsense() {
    for bad in [
        "explode",
        "503@lots",
        "503@150%",
        "latency=soon",
        "truncate;after",
        "200;burst=2",
        "status=99",
    ] {
        assert!(FaultPlan::parse(bad).is_err(), "{bad} accepted");
    }
    assert!(FaultPlan::parse("").expect("empty is fine").is_empty());
}

#[test]
fn rates_are_deterministic_and_roughly_right() {
    let hits = (0..10_000).filter(|&n| strikes(7, 0, n, 10.0)).count();
    assert!((800..1200).contains(&hits), "{hits}");
    let again = (0..10_000).filter(|&n| strikes(7, 0, n, 10.0)).count();
    assert_eq!(hits, again);
    assert!((0..100).all(|n| !strikes(7, 0, n, 0.0)));
    assert!((0..100).all(|n| strikes(7, 0, n, 100.0)));
}
