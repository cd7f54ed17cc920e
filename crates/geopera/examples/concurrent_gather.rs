//! Running operations concurrently on one shared client, like `asyncio.gather`: the futures
//! are joined and the pool fans the requests out.
//!
//! Run with `cargo run -p geopera --example concurrent_gather`.

mod support;

use futures::future::try_join_all;
use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::AuthenticatedClient;

const COLLECTIONS: [&str; 3] = ["sentinel-2-l2a", "landsat-c2-l2", "sentinel-1-grd"];

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::target()?;
    let client = AuthenticatedClient::new(&target.base_url, &target.token)?;

    let searches = COLLECTIONS.iter().map(|collection| {
        catalog_search::send(
            &client,
            CatalogSearchInput::new("earthsearch-aws")
                .collections([*collection])
                .limit(10),
        )
    });
    // Like gather without return_exceptions: the first error ends the whole group.
    let pages = try_join_all(searches).await?;
    for (collection, page) in COLLECTIONS.iter().zip(&pages) {
        println!("{collection} -> {} features", support::feature_count(page));
    }
    Ok(())
}
