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

/// Calls without credentials are counted per client address: the organization's budget
/// spent or held leaves them free, and theirs leaves the organization's.
#[test]
fn local_budget_counts_calls_without_credentials_apart() {
    let budget = LocalBudget::documented()
        .window(Duration::from_secs(3600))
        .cap(RateClass::Default, 1)
        .cap(RateClass::Unauthenticated, 1);
    let granted = |class| budget.reserve_now(class) == Reservation::Granted;
    assert!(granted(RateClass::Default));
    assert!(!granted(RateClass::Default), "the default cap is 1");
    assert!(
        granted(RateClass::Unauthenticated),
        "not the default budget's"
    );
    assert!(!granted(RateClass::Unauthenticated), "its own cap is 1");
    let fresh = LocalBudget::documented();
    fresh.limited_now(RateClass::Unauthenticated, Duration::from_secs(60));
    assert_eq!(fresh.reserve_now(RateClass::Default), Reservation::Granted);
    assert!(matches!(
        fresh.reserve_now(RateClass::Unauthenticated),
        Reservation::Wait(_)
    ));
    fresh.limited_now(RateClass::Default, Duration::from_secs(60));
    assert!(matches!(
        fresh.reserve_now(RateClass::Spend),
        Reservation::Wait(_)
    ));
}

/// A hold after a 429 lasts what was asked, even when the wall clock is set back while it
/// runs; it does not last as long again as the clock went back.
#[test]
fn a_hold_after_a_429_outlasts_no_setting_back_of_the_wall_clock() {
    const HOUR_MS: u64 = 3_600_000;
    let budget = LocalBudget::documented();
    let start = 1_800_000_000_000;
    budget.limited_at(RateClass::Default, Duration::from_secs(5), start);
    let back = start - HOUR_MS;
    for now in [back, back + 4_000] {
        match budget.reserve_at(RateClass::Spend, now) {
            Reservation::Wait(wait) => assert!(wait <= Duration::from_secs(5), "{wait:?}"),
            Reservation::Granted => panic!("a 429 holds the default budget at {now}"),
        }
    }
    // Once the hold, started again when the clock was set back, is over, calls go out.
    assert_eq!(
        budget.reserve_at(RateClass::Default, back + 6_000),
        Reservation::Granted
    );
    // A shorter hold asked for later does not cut a longer one short.
    budget.limited_at(RateClass::Default, Duration::from_secs(30), start + 10_000);
    budget.limited_at(RateClass::Default, Duration::from_secs(1), start + 11_000);
    assert_eq!(
        budget.reserve_at(RateClass::Default, start + 20_000),
        Reservation::Wait(Duration::from_secs(20))
    );
}
