//! The seed's bounded fan-out: many calls on one client, at most N in flight, every outcome kept.

use std::sync::atomic::{AtomicUsize, Ordering};

use futures::stream::{self, StreamExt as _};
use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;

use crate::support::{client, emulator, HOST};

/// The seed's pattern, a buffered stream of calls on one shared client: 200 calls, eight at a
/// time, each answered with its own page (the limit it asked for) in input order.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_calls_at_concurrency_eight_on_one_client() {
    let emu = emulator();
    let client = client(&emu);
    let outcomes: Vec<_> = stream::iter(0..200)
        .map(|i| {
            let client = client.clone();
            async move {
                let limit = 1 + (i % 5);
                let outcome = catalog_search::send_detailed(
                    &client,
                    CatalogSearchInput::new(HOST).limit(limit),
                )
                .await;
                (limit, outcome)
            }
        })
        .buffered(8)
        .collect()
        .await;
    assert_eq!(outcomes.len(), 200);
    for (limit, outcome) in &outcomes {
        let response = outcome.as_ref().expect("every call is answered");
        let page = response.parsed.success().expect("every call succeeds");
        assert_eq!(
            page.number_returned.map(|n| n as i64),
            Some(*limit),
            "in input order"
        );
    }
    assert_eq!(emu.executed("catalog.search"), 200);
}

#[tokio::test]
async fn fan_out_keeps_every_outcome_in_input_order() {
    let emu = emulator();
    let client = client(&emu);
    let limits: Vec<i64> = (0..60)
        .map(|i| if i % 7 == 3 { 9999 } else { 1 + i % 4 })
        .collect();
    let outcomes = geopera::fan_out(limits.clone(), 8, |limit| {
        catalog_search::send(&client, CatalogSearchInput::new(HOST).limit(limit))
    })
    .await;
    assert_eq!(outcomes.len(), limits.len());
    for (limit, outcome) in limits.iter().zip(&outcomes) {
        match outcome {
            Ok(page) => assert_eq!(page.number_returned.map(|n| n as i64), Some(*limit)),
            Err(error) => {
                assert_eq!(*limit, 9999, "only the invalid calls fail");
                assert!(error.validation().is_some());
            }
        }
    }
}

#[test]
fn fan_out_blocking_keeps_every_outcome_in_input_order() {
    let emu = emulator();
    let client = client(&emu);
    let limits: Vec<i64> = (1..=30).collect();
    let outcomes = geopera::fan_out_blocking(limits.clone(), 4, |limit| {
        catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST).limit(limit))
    });
    let returned: Vec<Option<i64>> = outcomes
        .iter()
        .map(|o| {
            o.as_ref()
                .ok()
                .and_then(|page| page.number_returned.map(|n| n as i64))
        })
        .collect();
    assert_eq!(returned, limits.into_iter().map(Some).collect::<Vec<_>>());
}

#[test]
fn fan_out_blocking_stops_at_a_panic_and_raises_it_again() {
    let calls = AtomicUsize::new(0);
    let panicked = std::sync::atomic::AtomicBool::new(false);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        geopera::fan_out_blocking((0..20).collect::<Vec<u32>>(), 2, |input| {
            calls.fetch_add(1, Ordering::SeqCst);
            if input == 0 {
                panicked.store(true, Ordering::SeqCst);
                // Unwinds as a panic does, without the panic hook's report in the test output.
                std::panic::resume_unwind(Box::new("input 0 failed"));
            }
            // Every other call is still running when input 0 panics.
            let started = std::time::Instant::now();
            while !panicked.load(Ordering::SeqCst) && started.elapsed().as_secs() < 10 {
                std::thread::sleep(std::time::Duration::from_millis(1));
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
            input
        })
    }));
    let payload = outcome.expect_err("the panic goes on");
    assert_eq!(payload.downcast_ref::<&str>(), Some(&"input 0 failed"));
    // Input 0 and the one the other thread was running, not the eighteen after them.
    assert!(calls.load(Ordering::SeqCst) <= 3, "{calls:?}");
}

/// A slot freed by a call that finished goes to the next input at once, though an earlier
/// call is still running: here the first input can only end once the third has started, which
/// a fan-out holding finished outcomes in their slots until the first is done never does.
#[tokio::test]
async fn fan_out_keeps_its_slots_busy_behind_a_slow_call() {
    let third_started = std::sync::Arc::new(tokio::sync::Notify::new());
    let outcomes = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        geopera::fan_out(0..3_u32, 2, |input| {
            let third_started = third_started.clone();
            async move {
                match input {
                    0 => third_started.notified().await,
                    2 => third_started.notify_one(),
                    _ => {}
                }
                input * 10
            }
        }),
    )
    .await
    .expect("the third input started while the first ran");
    assert_eq!(outcomes, [0, 10, 20]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_in_flight_is_shared_by_clones() {
    let emu = emulator();
    let capped = geopera::AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .max_in_flight(3)
        .build()
        .expect("valid");
    let started = std::time::Instant::now();
    // Each answer takes 150 ms; 9 calls through 3 slots take at least 3 rounds.
    let outcomes = geopera::fan_out(0..9, 9, |_| {
        let clone = capped.clone();
        async move {
            let request = geopera::Request::new(CatalogSearchInput::new(HOST).limit(1))
                .header("x-emulator-fault", "latency=150ms");
            catalog_search::send(&clone, request).await
        }
    })
    .await;
    assert!(outcomes.iter().all(Result::is_ok));
    assert!(
        started.elapsed() >= std::time::Duration::from_millis(430),
        "{:?}",
        started.elapsed()
    );
}
