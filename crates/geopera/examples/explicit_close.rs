//! The Rust form of the Python page's "without a context manager" section: keep the client in
//! a variable and close its pool explicitly with `drop` once the work is done, even when the
//! work fails.
//!
//! Run with `cargo run -p geopera --example explicit_close`.

mod support;

use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::AuthenticatedClient;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::target()?;
    let client = AuthenticatedClient::new(&target.base_url, &target.token)?;
    let result = catalog_search::send(
        &client,
        CatalogSearchInput::new("earthsearch-aws").limit(10),
    )
    .await;
    drop(client); // releases the pool whether or not the call succeeded
    let page = result?;
    println!("{} features", support::feature_count(&page));
    Ok(())
}
