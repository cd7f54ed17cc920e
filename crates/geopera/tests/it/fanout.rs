//! The seed's bounded fan-out: many calls on one client, at most N in flight, every outcome kept.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use futures::stream::{self, StreamExt as _};
use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;

use crate::support::{client, emulator, HOST};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_hundred_calls_at_concurrency_eight_on_one_client() {
    let emu = emulator();
    let client = client(&emu);
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let outcomes: Vec<_> = stream::iter(0..200)
        .map(|i| {
            let (client, in_flight, peak) = (client.clone(), in_flight.clone(), peak.clone());
            async move {
                let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                let limit = 1 + (i % 5);
                let outcome = catalog_search::send_detailed(
                    &client,
                    CatalogSearchInput::new(HOST).limit(limit),
                )
                .await;
                in_flight.fetch_sub(1, Ordering::SeqCst);
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
            page.get_as::<i64>("numberReturned").expect("a number"),
            Some(*limit),
            "in input order"
        );
    }
    assert!(peak.load(Ordering::SeqCst) <= 8);
    assert_eq!(emu.executed("catalog.search"), 200);
}
