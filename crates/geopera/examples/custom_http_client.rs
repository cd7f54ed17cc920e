//! Bringing your own `reqwest` clients: one for async calls, and a factory for blocking calls,
//! which keep one connection pool per thread. Unlike the Python SDK, the base URL and the
//! credentials still apply to calls made through them.
//!
//! Run with `cargo run -p geopera --example custom_http_client`.

mod support;

use std::time::Duration;

use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::AuthenticatedClient;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::target()?;
    // Leave redirects to the SDK, which drops credentials on the way to another origin;
    // reqwest's own following would forward `x-api-key` and custom headers.
    let http = reqwest::Client::builder()
        .pool_max_idle_per_host(10)
        .tcp_keepalive(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let client = AuthenticatedClient::new(&target.base_url, &target.token)?
        .with_http_client(http)
        // Called once on each thread that makes blocking calls.
        .with_blocking_http_client(|| {
            reqwest::Client::builder()
                .pool_max_idle_per_host(2)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap_or_default()
        });

    let page = catalog_search::send_blocking(
        &client,
        CatalogSearchInput::new("earthsearch-aws").limit(3),
    )?;
    println!(
        "blocking call through a custom client: {} features",
        support::feature_count(&page)
    );

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let page = runtime.block_on(catalog_search::send(
        &client,
        CatalogSearchInput::new("earthsearch-aws").limit(4),
    ))?;
    println!(
        "async call through a custom client: {} features",
        support::feature_count(&page)
    );
    Ok(())
}
