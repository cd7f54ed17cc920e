//! Fixed per-minute windows on the injected clock, and `Retry-After`.

use std::time::Duration;

use geopera_emulator::{Emulator, ManualClock, RateLimits, DEFAULT_START_UNIX_SECS};
use geopera_types::RateClass;
use serde_json::json;

use crate::common::Api;

fn limits(default: u32) -> RateLimits {
    RateLimits {
        default_per_min: Some(default),
        ..RateLimits::documented()
    }
}

#[test]
fn default_budget_resets_at_the_top_of_the_minute_with_retry_after() {
    let clock = ManualClock::new();
    let api = Api::with(
        Emulator::builder()
            .rate_limits(limits(5))
            .clock(clock.clone()),
    );
    let body = json!({});
    clock.advance(Duration::from_secs(15));
    for _ in 0..5 {
        assert_eq!(
            api.call("billing.credits.balance", body.clone()).status,
            200
        );
    }
    let limited = api.call("billing.credits.balance", body.clone());
    assert_eq!(limited.status, 429);
    assert_eq!(limited.content_type(), "application/problem+json");
    assert_eq!(limited.header("retry-after"), Some("45"));
    assert_eq!(
        api.emu.executed("billing.credits.balance"),
        5,
        "429s do not execute"
    );

    clock.advance(Duration::from_secs(44));
    assert_eq!(
        api.call("billing.credits.balance", body.clone())
            .header("retry-after"),
        Some("1")
    );
    clock.set(DEFAULT_START_UNIX_SECS + 60);
    assert_eq!(
        api.call("billing.credits.balance", body).status,
        200,
        "a new window"
    );
}

#[test]
fn order_placement_has_its_own_documented_cap_of_60() {
    let clock = ManualClock::new();
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::documented())
            .clock(clock.clone()),
    );
    let id = api
        .call(
            "catalog.search",
            json!({"host_name": "earthsearch-aws", "limit": 1}),
        )
        .json()["features"][0]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let place = json!({"captures": [{"id": id}]});
    for n in 0..60 {
        assert_eq!(
            api.call("orders.archive.place", place.clone()).status,
            202,
            "placement {n}"
        );
    }
    let limited = api.call("orders.archive.place", place.clone());
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("60"));
    // Other operations still have budget.
    assert_eq!(api.call("billing.credits.balance", json!({})).status, 200);
    clock.advance(Duration::from_secs(60));
    assert_eq!(api.call("orders.archive.place", place).status, 202);
}

#[test]
fn spend_cap_is_30_and_organizations_are_counted_apart() {
    let api = Api::with(Emulator::builder().rate_limits(RateLimits::documented()));
    let topup = json!({"amount_aud": 1});
    for _ in 0..30 {
        assert_eq!(api.call("billing.topup", topup.clone()).status, 201);
    }
    assert_eq!(api.call("billing.topup", topup.clone()).status, 429);
    let other = api.emu.create_key_in_org("org_other", &["*"]);
    // A new organization has no card to charge until it attaches one.
    let card = json!({"payment_method_id": "pm_other"});
    assert_eq!(
        api.call_as(&other, "payment_methods.attach", card).status,
        200
    );
    assert_eq!(api.call_as(&other, "billing.topup", topup).status, 201);
}

#[test]
fn unauthenticated_calls_are_limited_per_client_ip() {
    let api = Api::with(Emulator::builder().rate_limits(RateLimits {
        unauthenticated_per_min: Some(3),
        ..RateLimits::documented()
    }));
    for _ in 0..3 {
        assert_eq!(api.call_with("webhooks.drain", &json!({}), &[]).status, 200);
    }
    let limited = api.call_with("webhooks.drain", &json!({}), &[]);
    assert_eq!(limited.status, 429);
    assert!(limited.header("retry-after").is_some());
    // Authenticated calls use the organization's budget.
    assert_eq!(api.call("billing.credits.balance", json!({})).status, 200);
}

#[test]
fn limits_can_be_switched_off() {
    let api = Api::with(Emulator::builder().rate_limits(RateLimits::off()));
    for _ in 0..40 {
        assert_eq!(api.call("billing.topup", json!({"credits": 1})).status, 201);
    }
}

#[test]
fn documented_limits_are_the_budgets_geopera_types_states() {
    assert_eq!(
        RateLimits::documented(),
        RateLimits {
            default_per_min: Some(RateClass::Default.documented_per_minute()),
            order_placement_per_min: Some(RateClass::OrderPlacement.documented_per_minute()),
            spend_per_min: Some(RateClass::Spend.documented_per_minute()),
            unauthenticated_per_min: Some(RateClass::Unauthenticated.documented_per_minute()),
        }
    );
    // The API's published numbers, so a slip in the shared constants is caught here too.
    assert_eq!(
        RateClass::ALL.map(RateClass::documented_per_minute),
        [600, 60, 30, 60]
    );
    assert_eq!(RateLimits::default(), RateLimits::documented());
}

#[test]
fn a_default_emulator_admits_the_documented_unauthenticated_budget() {
    let api = Api::with(Emulator::builder());
    for n in 0..RateClass::Unauthenticated.documented_per_minute() {
        assert_eq!(
            api.call_with("webhooks.drain", &json!({}), &[]).status,
            200,
            "anonymous call {n}"
        );
    }
    assert_eq!(api.call_with("webhooks.drain", &json!({}), &[]).status, 429);
}
