//! Bounding fan-out, the Rust form of `asyncio.Semaphore(8)`: a stream runs at most eight
//! searches at once, so a long list neither trips the rate limits nor exhausts the pool.
//!
//! Run with `cargo run -p geopera --example bounded_concurrency`.

mod support;

use futures::stream::{self, StreamExt as _};
use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::AuthenticatedClient;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::target()?;
    let client = AuthenticatedClient::new(&target.base_url, &target.token)?;
    let collections: Vec<String> = ["sentinel-2-l2a", "landsat-c2-l2", "sentinel-1-grd"]
        .iter()
        .cycle()
        .take(40)
        .map(|c| (*c).to_owned())
        .collect();

    // `buffered` keeps input order; at most 8 requests are in flight at any time.
    let results: Vec<_> = stream::iter(&collections)
        .map(|collection| {
            catalog_search::send(
                &client,
                CatalogSearchInput::new("earthsearch-aws")
                    .collections([collection.as_str()])
                    .limit(5),
            )
        })
        .buffered(8)
        .collect()
        .await;

    let ok = results.iter().filter(|r| r.is_ok()).count();
    println!(
        "{ok} of {} searches succeeded with at most 8 in flight",
        results.len()
    );
    Ok(())
}
