//! Seeing what the SDK does with `tracing`: a span per call (operation, request id, attempts)
//! and an event per answer and per retry, never a credential. Any subscriber works; this one
//! prints to stderr, filtered by `RUST_LOG` (default `geopera=debug`). Against the embedded
//! emulator, whose target also starts with `geopera`, its request log shows too, with the same
//! request ids as the SDK's spans.
//!
//! Run with `cargo run -p geopera --example trace_calls`.

mod support;

use geopera::models::{CatalogSearchInput, OrderGetInput};
use geopera::operations::{catalog_search, orders_get};
use geopera::AuthenticatedClient;
use tracing_subscriber::fmt::format::FmtSpan;
use tracing_subscriber::EnvFilter;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    // Wire-level crates (hyper, reqwest) stay quiet unless asked for: their debug output is
    // about connections, and a filter that names only `geopera` cannot switch them on.
    let filter =
        EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("geopera=debug"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        // A line when each call's span closes, with its fields and how long it took.
        .with_span_events(FmtSpan::CLOSE)
        .init();

    let target = support::target()?;
    let client = AuthenticatedClient::new(&target.base_url, &target.token)?;

    let page =
        catalog_search::send(&client, CatalogSearchInput::new("earthsearch-aws").limit(3)).await?;
    println!("{} features", support::feature_count(&page));

    // A failed call is traced too, with the status that ended it.
    let missing = orders_get::send(&client, OrderGetInput::new("ord_does_not_exist")).await;
    if let Err(error) = missing {
        println!("as expected: {error}");
    }
    Ok(())
}
