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
