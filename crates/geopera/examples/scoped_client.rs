//! The Rust form of Python's `async with AuthenticatedClient(...) as client:` — a client
//! scoped to a block. The pool is shared by every call inside and closed when the last clone is
//! dropped at the end of the block; there is nothing to enter, and nothing can be entered twice.
//!
//! Run with `cargo run -p geopera --example scoped_client`.

mod support;

use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::AuthenticatedClient;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::target()?;
    {
        let client = AuthenticatedClient::new(&target.base_url, &target.token)?;
        for collection in ["sentinel-2-l2a", "landsat-c2-l2"] {
            let page = catalog_search::send(
                &client,
                CatalogSearchInput::new("earthsearch-aws")
                    .collections([collection])
                    .limit(10),
            )
            .await?;
            println!("{collection}: {} features", support::feature_count(&page));
        }
    } // the client, and with it the connection pool, is dropped here
    Ok(())
}
