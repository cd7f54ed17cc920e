//! The constructor knobs of the Python page, as builder calls: timeouts, TLS, redirects,
//! headers, cookies, the pool, the answer cap, raise-on-unexpected-status; and the `with_*`
//! helpers, which return a new client sharing the connection pool. (Retries, deadlines,
//! pacing and the in-flight cap have examples of their own.)
//!
//! Run with `cargo run -p geopera --example configure_client`.

mod support;

use std::time::Duration;

use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::AuthenticatedClient;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::target()?;
    let client = AuthenticatedClient::builder(&target.token)
        .base_url(&target.base_url)
        .timeout(Duration::from_secs(30))
        .connect_timeout(Duration::from_secs(5))
        .verify_tls(true) // the default; `ca_file(..)` or `tls_config(..)` for private CAs
        .follow_redirects(false) // the default, as in the Python SDK
        .header("X-Request-Source", "my-app")
        .cookie("session-hint", "eu")
        .pool_max_idle_per_host(16)
        .max_response_bytes(16 * 1024 * 1024) // default 64 MiB; a longer answer is Error::TooLarge
        .raise_on_unexpected_status(true)
        .build()?;

    let batch = client.with_headers([("X-Request-Source", "batch-job")])?;
    let patient = batch.with_timeout(Duration::from_secs(120));
    assert!(patient.shares_pool_with(&client), "with_* keeps the pool");

    let page = catalog_search::send(
        &patient,
        CatalogSearchInput::new("earthsearch-aws").limit(5),
    )
    .await?;
    println!(
        "{} features via a client tagged {}",
        support::feature_count(&page),
        patient
            .headers()
            .get("x-request-source")
            .and_then(|value| value.to_str().ok())
            .unwrap_or("(untagged)")
    );
    Ok(())
}
