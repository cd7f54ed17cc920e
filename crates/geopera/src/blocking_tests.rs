//! Unit tests of `blocking.rs`.
use std::sync::Barrier;

use geopera_emulator::{Emulator, FaultPlan, RateLimits};

use crate::models::{CatalogSearchInput, OrderGetInput};
use crate::operations::{catalog_search, orders_get};
use crate::{ApiClient as _, AuthenticatedClient, StatusCode};

/// What a process with one core does: calls in flight together go to the I/O thread, which
/// decodes small answers there and hands large ones back to be decoded by their callers. Each
/// caller must still get its own page, or its own error.
#[test]
fn answers_decoded_on_the_io_thread_reach_their_own_callers() {
    const CALLERS: usize = 8;
    // Every answer is held long enough that the calls are surely in flight together.
    let emu = Emulator::builder()
        .rate_limits(RateLimits::off())
        .faults(FaultPlan::parse("latency=300ms").expect("a valid plan"))
        .start()
        .expect("starts");
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .build()
        .expect("valid");
    let transport = &client.core().blocking;
    transport
        .io_thread_decodes
        .set(true)
        .expect("not learnt before the first call");

    let barrier = Barrier::new(CALLERS);
    std::thread::scope(|scope| {
        let calls: Vec<_> = (0..CALLERS)
            .map(|caller| {
                let (client, barrier) = (&client, &barrier);
                scope.spawn(move || {
                    barrier.wait();
                    if caller % 2 == 0 {
                        // The first caller's page (about 110 KB) is too large to be decoded
                        // on the I/O thread; the others' are small.
                        let limit = if caller == 0 { 100 } else { caller + 1 };
                        let input = CatalogSearchInput::new("earthsearch-aws").limit(limit as i64);
                        let page = catalog_search::send_blocking(client, input).expect("a page");
                        assert_eq!(page.features.len(), limit, "caller {caller}");
                    } else {
                        let input = OrderGetInput::new(format!("ord_missing_{caller}"));
                        let err = orders_get::send_blocking(client, input).expect_err("404");
                        assert_eq!(err.status(), Some(StatusCode::NOT_FOUND), "caller {caller}");
                    }
                })
            })
            .collect();
        for call in calls {
            call.join().expect("no caller panicked");
        }
    });
    assert!(
        transport.io_thread.get().is_some(),
        "calls in flight together went to the I/O thread"
    );
}

/// A failure to start the I/O thread (a moment's shortage of threads or descriptors as the
/// first calls met) is not kept: the next call that needs the thread starts it. Kept, every
/// concurrent blocking call of the client failed for its life.
#[test]
fn a_failed_start_of_the_io_thread_is_tried_again() {
    let tries = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = tries.clone();
    let transport = super::BlockingTransport::new(move || {
        if counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            Err(crate::Error::config("no descriptors left"))
        } else {
            reqwest::Client::builder()
                .build()
                .map_err(|e| crate::Error::config(e.to_string()))
        }
    });
    let failed = transport
        .io_thread()
        .map(drop)
        .expect_err("the first start fails");
    assert!(
        failed.to_string().contains("no descriptors left"),
        "{failed}"
    );
    transport.io_thread().expect("started on the second try");
    transport.io_thread().expect("kept once started");
    assert_eq!(tries.load(std::sync::atomic::Ordering::SeqCst), 2);
}
