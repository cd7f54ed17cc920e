//! Quick start: one authenticated client, one awaited `catalog.search`.
//!
//! Run with `cargo run -p geopera --example quickstart` (uses an embedded emulator unless
//! `GEOPERA_API_URL` and `GEOPERA_API_TOKEN` are set).

mod support;

use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::AuthenticatedClient;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::target()?;
    let client = AuthenticatedClient::new(&target.base_url, &target.token)?;

    let page = catalog_search::send(
        &client,
        CatalogSearchInput::new("earthsearch-aws")
            .collections(["sentinel-2-l2a"])
            .limit(10),
    )
    .await?;

    println!(
        "catalog.search returned {} features",
        support::feature_count(&page)
    );
    for item in &page.features {
        // Both are optional in STAC: a radar scene has no cloud cover.
        let when = item.properties.datetime.as_deref().unwrap_or("no date");
        let cloud = item
            .properties
            .cloud_cover
            .map_or_else(|| "no cloud cover".to_owned(), |c| format!("{c}% cloud"));
        println!("  {} {when} {cloud}", item.id);
    }
    if let Some(next) = &page.next {
        println!("more pages follow; next token {next}");
    }
    Ok(())
}
