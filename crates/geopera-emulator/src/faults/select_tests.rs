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
