//! Unit tests of `select.rs`.
use super::*;

#[test]
fn latency_rules_add_up_to_at_most_the_bound() {
    let plan = FaultPlan::parse("latency=400s,latency=400s,latency=400s").expect("a plan");
    let mut injected = Injected::default();
    for rule in plan.rules() {
        injected.add(rule.clone());
    }
    assert_eq!(injected.latency, crate::faults::MAX_LATENCY);

    let plan = FaultPlan::parse("latency=1s,latency=250ms").expect("a plan");
    let mut injected = Injected::default();
    for rule in plan.rules() {
        injected.add(rule.clone());
    }
    assert_eq!(injected.latency, Duration::from_millis(1250));
}

#[test]
fn a_callers_latency_and_the_plans_together_keep_to_the_bound() {
    let own = |spec: &str| {
        let mut injected = Injected::default();
        for rule in FaultPlan::parse(spec).expect("rules").rules() {
            injected.add(rule.clone());
        }
        injected
    };
    let max = crate::faults::MAX_LATENCY;
    assert_eq!(own("latency=600s").latency_after(max), Duration::ZERO);
    assert_eq!(
        own("latency=600s").latency_after(Duration::from_secs(550)),
        Duration::from_secs(50)
    );
    assert_eq!(
        own("latency=2s").latency_after(Duration::from_secs(1)),
        Duration::from_secs(2)
    );
    assert_eq!(
        own("latency=2s").latency_after(Duration::MAX),
        Duration::ZERO
    );
}

/// A rule that finds its slot taken by a rule before it does nothing to the request, and its
/// `times=` is not used up: `503;times=1,500;times=1` answers a 503, then a 500, then nothing;
/// the 500's one strike was counted on the first request, which it never reached.
#[test]
fn a_rule_whose_slot_was_taken_keeps_its_times_for_a_later_request() {
    let plan = FaultPlan::parse("503;times=1,500;times=1").expect("a plan");
    let mut state = FaultState::new(plan);
    let before = |injected: Injected| match injected.before.map(|rule| rule.kind) {
        Some(FaultKind::ServerError(code)) => Some(code),
        _ => None,
    };
    assert_eq!(before(state.draw_plan(1, "catalog.search")), Some(503));
    assert_eq!(before(state.draw_plan(1, "catalog.search")), Some(500));
    assert_eq!(before(state.draw_plan(1, "catalog.search")), None);
}

/// A rule that acts after the operation or on the answer's body does nothing to a request
/// another rule answers instead, and keeps its `times=` for a request it reaches:
/// `503;times=1,reset;after;times=1` answers a 503, then resets the next request; a body rule
/// waits out both, as a reset sends no answer for it to cut.
#[test]
fn a_rule_after_the_operation_keeps_its_times_while_another_answers_instead() {
    let plan =
        FaultPlan::parse("503;times=1,reset;after;times=1,truncate;times=1").expect("a plan");
    let mut state = FaultState::new(plan);
    let first = state.draw_plan(1, "catalog.search");
    assert!(first.before.is_some());
    let second = state.draw_plan(1, "catalog.search");
    assert!(second.before.is_none());
    assert!(matches!(
        second.after.map(|rule| rule.kind),
        Some(FaultKind::Reset)
    ));
    // Drawn, but the reset is sent instead of the answer it would cut: kept for the next.
    assert!(matches!(second.body, Some(FaultKind::Truncate)));
    let third = state.draw_plan(1, "catalog.search");
    assert!(third.after.is_none());
    assert!(matches!(third.body, Some(FaultKind::Truncate)));
    let fourth = state.draw_plan(1, "catalog.search");
    assert!(fourth.after.is_none() && fourth.body.is_none());

    // An answer after the operation is sent instead of the answer a body rule would act on.
    let plan = FaultPlan::parse("reset;after;times=1,truncate;times=1").expect("a plan");
    let mut state = FaultState::new(plan);
    let first = state.draw_plan(1, "catalog.search");
    assert!(matches!(
        first.after.map(|rule| rule.kind),
        Some(FaultKind::Reset)
    ));
    let second = state.draw_plan(1, "catalog.search");
    assert!(second.after.is_none());
    assert!(matches!(second.body, Some(FaultKind::Truncate)));
}

/// A caller without credentials has the waits of its header held to the bound it is given,
/// latency and slow body alike; the other faults stay as drawn.
#[test]
fn the_waits_of_a_header_are_held_to_a_bound() {
    let mut state = FaultState::new(FaultPlan::none());
    let plan = Injected::default();
    let mut drawn = state
        .draw_header(
            1,
            "webhooks.drain",
            "ip:127.0.0.1",
            Some("latency=600s,slow=600s"),
            &plan,
        )
        .expect("a header");
    drawn.hold_waits_to(Duration::from_secs(10));
    assert_eq!(drawn.latency, Duration::from_secs(10));
    assert_eq!(
        drawn.body,
        Some(FaultKind::SlowBody(Duration::from_secs(10)))
    );
    let mut short = state
        .draw_header(
            1,
            "webhooks.drain",
            "ip:127.0.0.1",
            Some("latency=2s,503"),
            &plan,
        )
        .expect("a header");
    short.hold_waits_to(Duration::from_secs(10));
    assert_eq!(short.latency, Duration::from_secs(2));
    assert!(short.before.is_some());
}
