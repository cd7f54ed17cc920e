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
const ONE_503: &str = "503;op=catalog.search;times=1";

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
        .faults(FaultPlan::parse(ONE_503).expect("valid"))
        .start()
        .expect("starts");
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::DEBUG)
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_span_events(tracing_subscriber::fmt::format::FmtSpan::CLOSE)
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
    // One engine: the async and the blocking call are traced alike, each after one retry.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(catalog_search::send(
            &client,
            CatalogSearchInput::new(HOST).limit(1),
        ))
        .expect("a page after one retry");
    emu.set_faults(FaultPlan::parse(ONE_503).expect("valid"));
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
    let closed: Vec<&str> = text.lines().filter(|l| l.contains("close")).collect();
    assert_eq!(closed.len(), 2, "{text}");
    assert!(
        closed.iter().all(|line| line.contains("attempts=2")),
        "both faces record their attempts: {closed:?}"
    );
    assert!(!text.contains(emu.api_key()), "the token is never logged");
    assert!(!text.contains(HOST), "bodies are never logged");
}
