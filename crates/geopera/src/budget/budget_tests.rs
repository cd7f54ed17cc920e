//! Unit tests of the `budget` module (`budget/mod.rs`).
use super::*;

#[test]
fn local_budget_counts_narrow_classes_against_the_default_too() {
    let budget = LocalBudget::documented()
        .window(Duration::from_secs(3600))
        .cap(RateClass::Default, 3)
        .cap(RateClass::Spend, 2);
    // Far from the end of an hour-long window, unless the test runs at the turn of one.
    let granted = |class| budget.reserve_now(class) == Reservation::Granted;
    assert!(granted(RateClass::Spend));
    assert!(granted(RateClass::Spend));
    assert!(!granted(RateClass::Spend), "the spend cap is 2");
    assert!(granted(RateClass::Default));
    assert!(
        !granted(RateClass::Default),
        "two spends and one default fill 3"
    );
    assert!(
        !granted(RateClass::OrderPlacement),
        "order placement draws on the full default budget"
    );
}

#[test]
fn local_budget_holds_a_class_after_a_429() {
    let budget = LocalBudget::documented();
    budget.limited_now(RateClass::Default, Duration::from_secs(5));
    match budget.reserve_now(RateClass::Default) {
        Reservation::Wait(wait) => assert!(wait > Duration::from_secs(4), "{wait:?}"),
        Reservation::Granted => panic!("a 429 holds the class"),
    }
    assert!(
        matches!(budget.reserve_now(RateClass::Spend), Reservation::Wait(_)),
        "spend draws on the held default budget"
    );
}
