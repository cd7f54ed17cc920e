//! Every fault kind, from the header and from a builder plan.

use std::time::{Duration, Instant};

use geopera_emulator::{Emulator, FaultPlan, ManualClock, RateLimits, DEMO_ORG};
use serde_json::json;

use crate::common::Api;

fn with_fault(api: &Api, fault: &str) -> reqwest::Result<crate::common::Resp> {
    let key = format!("Bearer {}", api.emu.api_key());
    api.try_call_with(
        "catalog.search",
        &json!({"host_name": "earthsearch-aws", "limit": 20}),
        &[("authorization", &key), ("x-emulator-fault", fault)],
    )
}

#[test]
fn latency_delays_the_answer() {
    let api = Api::start();
    let started = Instant::now();
    assert_eq!(
        with_fault(&api, "latency=300ms").expect("answer").status,
        200
    );
    assert!(started.elapsed() >= Duration::from_millis(300));
}

#[test]
fn server_errors_with_and_without_retry_after() {
    let api = Api::start();
    for code in [500u16, 502, 503] {
        let resp = with_fault(&api, &code.to_string()).expect("answer");
        assert_eq!(resp.status, code);
        assert_eq!(resp.content_type(), "application/problem+json");
        assert!(resp.header("retry-after").is_none());
    }
    let resp = with_fault(&api, "503;retry-after=2").expect("answer");
    assert_eq!(resp.header("retry-after"), Some("2"));
    assert_eq!(
        api.emu.executed("catalog.search"),
        0,
        "before-faults never execute"
    );
}

#[test]
fn a_429_burst_lasts_the_given_number_of_requests() {
    let api = Api::start();
    let first = with_fault(&api, "429;burst=3").expect("answer");
    assert_eq!(first.status, 429);
    assert!(first.header("retry-after").is_some());
    let next: Vec<u16> = (0..3)
        .map(|_| api.call("billing.credits.balance", json!({})).status)
        .collect();
    assert_eq!(next, vec![429, 429, 200]);
}

/// A burst whose rule names an operation (`op=`) goes on for that operation only, from a
/// header or from the plan: the requests of other operations in between are not throttled,
/// and do not use the burst up. They were all 429.
#[test]
fn a_429_burst_limited_to_an_operation_throttles_that_operation_only() {
    let api = Api::start();
    let search = || {
        api.call(
            "catalog.search",
            json!({"host_name": "earthsearch-aws", "limit": 1}),
        )
        .status
    };
    let balance = || api.call("billing.credits.balance", json!({})).status;
    let first = with_fault(&api, "429;burst=3;op=catalog.search").expect("answer");
    assert_eq!(first.status, 429);
    assert_eq!(
        [balance(), search(), balance(), search(), search()],
        [200, 429, 200, 429, 200]
    );

    api.emu.set_faults(
        "429;burst=2;op=billing.credits.balance"
            .parse()
            .expect("plan"),
    );
    assert_eq!(balance(), 429);
    assert_eq!([search(), search(), balance()], [200, 200, 429]);
    assert_eq!(search(), 200);

    // A burst of one operation goes on through another's 429 in between, which neither ends
    // it nor takes its place.
    api.emu.set_faults(
        "429;burst=3;op=catalog.search;times=1,429;op=billing.credits.balance;times=1"
            .parse()
            .expect("plan"),
    );
    assert_eq!(
        [search(), balance(), search(), search(), search()],
        [429, 429, 429, 429, 200]
    );
    api.emu.set_faults(FaultPlan::none());
    assert_eq!(balance(), 200);
}

#[test]
fn every_429_of_a_burst_carries_the_rules_retry_after() {
    let api = Api::start();
    let first = with_fault(&api, "429;burst=3;retry-after=1").expect("answer");
    assert_eq!(first.header("retry-after"), Some("1"));
    for _ in 0..2 {
        let next = api.call("billing.credits.balance", json!({}));
        assert_eq!(next.status, 429);
        assert_eq!(next.header("retry-after"), Some("1"));
    }
}

/// An injected 429 without `retry-after` asks for the rest of the rate window, as a real
/// limit's does: with a 2-second window, never the rest of the minute.
#[test]
fn an_injected_429_asks_for_the_rest_of_the_rate_window() {
    // 10 s into a minute: 50 s to the minute's end, at most 2 to the window's.
    let clock = ManualClock::starting_at(1_700_000_050);
    let api = Api::with(
        Emulator::builder()
            .clock(clock)
            .rate_window(Duration::from_secs(2)),
    );
    let limited = with_fault(&api, "429").expect("answer");
    assert_eq!(limited.status, 429);
    let wait: u64 = limited
        .header("retry-after")
        .and_then(|secs| secs.parse().ok())
        .expect("a Retry-After in seconds");
    assert!((1..=2).contains(&wait), "{wait} s");
}

#[test]
fn undocumented_status_with_a_plain_text_body() {
    let api = Api::start();
    let resp = with_fault(&api, "status=418").expect("answer");
    assert_eq!(resp.status, 418);
    assert!(resp.content_type().starts_with("text/plain"));
    assert!(String::from_utf8_lossy(&resp.body).contains("418"));
}

#[test]
fn reset_drops_the_connection_before_or_after_execution() {
    let api = Api::start();
    assert!(with_fault(&api, "reset").is_err());
    assert_eq!(api.emu.executed("catalog.search"), 0);
    assert!(with_fault(&api, "reset;after").is_err());
    assert_eq!(api.emu.executed("catalog.search"), 1);
    let recorded = api.emu.requests();
    assert!(recorded.iter().all(|request| request.status.is_none()));
    // The server is still fine afterwards.
    assert_eq!(with_fault(&api, "").expect("answer").status, 200);
}

#[test]
fn server_error_after_execution_commits_the_effect() {
    let api = Api::start();
    let key = format!("Bearer {}", api.emu.api_key());
    let before = api.emu.balance_credits(DEMO_ORG);
    let resp = api.call_with(
        "billing.topup",
        &json!({"credits": 500}),
        &[("authorization", &key), ("x-emulator-fault", "503;after")],
    );
    assert_eq!(resp.status, 503);
    assert_eq!(api.emu.balance_credits(DEMO_ORG), before + 500);
}

#[test]
fn truncated_body_fails_while_reading() {
    let api = Api::start();
    let result = with_fault(&api, "truncate");
    assert!(
        result.is_err(),
        "reading a truncated body fails: {result:?}"
    );
}

#[test]
fn malformed_json_arrives_complete_but_unparseable() {
    let api = Api::start();
    let resp = with_fault(&api, "malformed").expect("answer");
    assert_eq!(resp.status, 200);
    assert_eq!(resp.content_type(), "application/json");
    assert!(serde_json::from_slice::<serde_json::Value>(&resp.body).is_err());
}

#[test]
fn slow_body_arrives_intact_but_late() {
    let api = Api::start();
    let started = Instant::now();
    let resp = with_fault(&api, "slow=500ms").expect("answer");
    assert!(started.elapsed() >= Duration::from_millis(400));
    assert_eq!(resp.json()["numberReturned"], 20);
}

#[test]
fn a_bad_fault_header_is_400() {
    let api = Api::start();
    assert_eq!(with_fault(&api, "explode").expect("answer").status, 400);
    let misspelt = with_fault(&api, "503;op=catalog.serch").expect("answer");
    assert_eq!(misspelt.status, 400, "an op no operation has");
    let detail = misspelt.json()["detail"].to_string();
    assert!(detail.contains("names no operation"), "{detail}");
}

/// Regression: a header value with bytes outside visible ASCII was read as no header at all,
/// so a typo such as a non-ASCII letter silently turned the fault off.
#[test]
fn a_fault_header_that_is_not_visible_ascii_is_400_not_ignored() {
    let api = Api::start();
    for fault in ["l\u{e4}tency=1ms", "503\u{a0}"] {
        let resp = with_fault(&api, fault).expect("answer");
        assert_eq!(resp.status, 400, "{fault:?}");
        let detail = resp.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(detail.contains("x-emulator-fault"), "{detail}");
    }
}

/// Regression: an option given twice in one rule was taken silently, the last one winning,
/// so `op=a;op=b` struck only `b` and a test aimed at `a` saw no fault.
#[test]
fn an_option_given_twice_in_one_rule_is_400_naming_it() {
    let api = Api::start();
    for (fault, option) in [
        ("503;op=catalog.search;op=billing.topup", "op"),
        ("503;retry-after=1;retry-after=2", "retry-after"),
        ("503;after;before", "before"),
        ("429;burst=2;times=1;burst=3", "burst"),
    ] {
        let resp = with_fault(&api, fault).expect("answer");
        assert_eq!(resp.status, 400, "{fault}");
        let detail = resp.json()["detail"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(detail.contains(&format!("{option:?}")), "{fault}: {detail}");
    }
    // The same option in two rules is two rules, not a repeat.
    assert_eq!(
        with_fault(&api, "503;op=billing.topup,502;op=catalog.search")
            .expect("answer")
            .status,
        502
    );
}

/// Regression: a header rule struck whatever its `times=`, so `times=0`, "at most no times",
/// struck every request. A header's rules are drawn for that one request, so any other
/// count lets the rule strike once.
#[test]
fn a_header_rule_with_times_zero_never_strikes() {
    let api = Api::start();
    assert_eq!(with_fault(&api, "503;times=0").expect("answer").status, 200);
    assert_eq!(with_fault(&api, "503;times=1").expect("answer").status, 503);
}

/// Regression: only the first `x-emulator-fault` line was read and the others dropped; the
/// header is a comma-separated list, so its lines count as one list, as HTTP combines them.
#[test]
fn every_fault_header_line_counts() {
    let api = Api::start();
    let key = format!("Bearer {}", api.emu.api_key());
    let resp = api.call_with(
        "catalog.search",
        &json!({"host_name": "earthsearch-aws", "limit": 1}),
        &[
            ("authorization", &key),
            ("x-emulator-fault", "latency=1ms"),
            ("x-emulator-fault", "503"),
        ],
    );
    assert_eq!(resp.status, 503);
    let bad_second = api.call_with(
        "catalog.search",
        &json!({"host_name": "earthsearch-aws", "limit": 1}),
        &[
            ("authorization", &key),
            ("x-emulator-fault", "latency=1ms"),
            ("x-emulator-fault", "explode"),
        ],
    );
    assert_eq!(bad_second.status, 400);
}

#[test]
fn plans_with_rates_are_deterministic_by_seed() {
    let statuses = |seed: u64| -> Vec<u16> {
        let plan: FaultPlan = "503@30%".parse().expect("plan");
        let api = Api::with(
            Emulator::builder()
                .seed(seed)
                .rate_limits(RateLimits::off())
                .faults(plan),
        );
        (0..40)
            .map(|_| api.call("billing.credits.balance", json!({})).status)
            .collect()
    };
    let a = statuses(3);
    assert_eq!(a, statuses(3));
    let failures = a.iter().filter(|status| **status == 503).count();
    assert!((4..=20).contains(&failures), "{failures} of 40");
    assert_ne!(a, statuses(4));
}

#[test]
fn plans_can_target_one_operation_a_limited_number_of_times() {
    let plan: FaultPlan = "502;op=billing.topup;times=2".parse().expect("plan");
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .faults(plan),
    );
    assert_eq!(api.call("billing.credits.balance", json!({})).status, 200);
    let topups: Vec<u16> = (0..3)
        .map(|_| api.call("billing.topup", json!({"credits": 1})).status)
        .collect();
    assert_eq!(topups, vec![502, 502, 201]);
}

#[test]
fn set_faults_swaps_the_plan_of_a_running_emulator_with_fresh_counters() {
    let plan: FaultPlan = "503".parse().expect("plan");
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .faults(plan),
    );
    let balance = || api.call("billing.credits.balance", json!({})).status;
    assert_eq!(balance(), 503);

    api.emu.set_faults(FaultPlan::none());
    assert_eq!(balance(), 200, "no rule is left");

    // `times=1` counts from zero for every plan put in force, even an identical one.
    let once: FaultPlan = "502;times=1".parse().expect("plan");
    api.emu.set_faults(once.clone());
    assert_eq!((balance(), balance()), (502, 200));
    api.emu.set_faults(once);
    assert_eq!((balance(), balance()), (502, 200));

    // A burst started by the old plan does not outlive it.
    api.emu.set_faults("429;burst=5".parse().expect("plan"));
    assert_eq!(balance(), 429);
    api.emu.set_faults(FaultPlan::none());
    assert_eq!(balance(), 200);
}

/// A plan's rule that acts after the operation or on the body keeps its `times=` while a
/// caller's own header answers before it could act: `500;after;times=1` stays for the next
/// request when the first is answered by its header's 503, and a plan `truncate;times=1`
/// stays while a header's `502;after` is sent instead of the answer it would cut. Both were
/// used up by the request they never reached.
#[test]
fn a_plan_rule_pre_empted_by_a_callers_header_keeps_its_times() {
    let plan: FaultPlan = "500;after;times=1".parse().expect("plan");
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .faults(plan),
    );
    assert_eq!(with_fault(&api, "503").expect("answer").status, 503);
    let balance = || api.call("billing.credits.balance", json!({})).status;
    assert_eq!((balance(), balance()), (500, 200));

    api.emu
        .set_faults("truncate;times=1".parse().expect("plan"));
    assert_eq!(with_fault(&api, "502;after").expect("answer").status, 502);
    let truncated = with_fault(&api, "latency=1ms");
    assert!(
        truncated.is_err(),
        "the plan's truncation acts on the next answer sent: {:?}",
        truncated.map(|resp| resp.status)
    );
    assert_eq!(with_fault(&api, "latency=1ms").expect("answer").status, 200);
}

/// A fault header on a call without credentials (`webhooks.drain`, which anyone may send)
/// holds the call at most 10 seconds, whatever latency it asks: ten minutes each, a few hundred
/// such calls kept as many connections past every timeout the emulator keeps.
#[test]
fn a_header_without_credentials_holds_a_call_ten_seconds_at_most() {
    let api = Api::start();
    let started = Instant::now();
    let drained = api.call_with(
        "webhooks.drain",
        &json!({}),
        &[("x-emulator-fault", "latency=600s")],
    );
    let held = started.elapsed();
    assert_eq!(drained.status, 200);
    assert!(
        held >= Duration::from_secs(9) && held < Duration::from_secs(60),
        "held {held:?}"
    );
}

#[test]
fn a_fault_header_does_not_skip_authentication() {
    let api = Api::start();
    let body = json!({});
    for fault in ["503", "429;burst=3", "reset", "explode"] {
        let resp = api.call_with(
            "billing.credits.balance",
            &body,
            &[("x-emulator-fault", fault)],
        );
        assert_eq!(resp.status, 401, "{fault}");
        assert_eq!(resp.json()["title"], "Unauthenticated");
    }
    // Nor did the unauthenticated burst reach anyone else.
    assert_eq!(api.call("billing.credits.balance", body).status, 200);
}

#[test]
fn a_header_burst_throttles_only_the_organization_that_asked() {
    let api = Api::start();
    let balance = json!({});
    let same_org = api.emu.create_key(&["*"]);
    let other_org = api.emu.create_key_in_org("org_other", &["*"]);
    let first = with_fault(&api, "429;burst=3;retry-after=7").expect("answer");
    assert_eq!(first.status, 429);
    assert_eq!(
        api.call_as(&other_org, "billing.credits.balance", balance.clone())
            .status,
        200,
        "another organization is not throttled"
    );
    let next = api.call_as(&same_org, "billing.credits.balance", balance.clone());
    assert_eq!(next.status, 429, "another key of the same organization is");
    assert_eq!(next.header("retry-after"), Some("7"));
    assert_eq!(
        api.call("billing.credits.balance", balance.clone()).status,
        429
    );
    assert_eq!(
        api.call("billing.credits.balance", balance.clone()).status,
        200
    );
    assert_eq!(
        api.call_as(&other_org, "billing.credits.balance", balance)
            .status,
        200
    );
}

#[test]
fn plan_faults_still_strike_before_authentication_and_for_everyone() {
    let plan: FaultPlan = "429;burst=2;times=1,503;op=orders.list;times=1"
        .parse()
        .expect("plan");
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .faults(plan),
    );
    let other_org = api.emu.create_key_in_org("org_other", &["*"]);
    let body = json!({});
    assert_eq!(
        api.call("billing.credits.balance", body.clone()).status,
        429
    );
    assert_eq!(
        api.call_as(&other_org, "billing.credits.balance", body.clone())
            .status,
        429
    );
    assert_eq!(
        api.call("billing.credits.balance", body.clone()).status,
        200
    );
    assert_eq!(api.call_with("orders.list", &body, &[]).status, 503);
    assert_eq!(api.call_with("orders.list", &body, &[]).status, 401);
}
