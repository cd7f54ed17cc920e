//! What the SDK records with `tracing`: a span per call, an event per attempt, never the token.
//!
//! A test binary of its own: it installs a process-wide subscriber, which would otherwise see
//! (and race with) every other test's calls.

use std::io::Write;
use std::sync::{Arc, Mutex};

use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera_emulator::{Emulator, FaultPlan, RateLimits};

const HOST: &str = "earthsearch-aws";

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn calls_and_retries_are_traced_without_the_token() {
    let emu = Emulator::builder()
        .rate_limits(RateLimits::off())
        .faults(FaultPlan::parse("503;op=catalog.search;times=1").expect("valid"))
        .start()
        .expect("starts");
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .finish();
    let client = geopera::AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .retry_policy(geopera::RetryPolicy::default().backoff(
            std::time::Duration::from_millis(5),
            std::time::Duration::from_millis(10),
        ))
        .build()
        .expect("valid");
    tracing::subscriber::set_global_default(subscriber)
        .expect("the only subscriber of this binary");
    catalog_search::send_blocking(&client, CatalogSearchInput::new(HOST).limit(1))
        .expect("a page after one retry");
    let text = String::from_utf8_lossy(
        &captured
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner),
    )
    .into_owned();
    assert!(text.contains("geopera.call"), "{text}");
    assert!(text.contains("operation_id=\"catalog.search\""), "{text}");
    assert!(
        text.contains("status=503") && text.contains("status=200"),
        "{text}"
    );
    assert!(text.contains("retrying"), "{text}");
    assert!(!text.contains(emu.api_key()), "the token is never logged");
    assert!(!text.contains(HOST), "bodies are never logged");
}
