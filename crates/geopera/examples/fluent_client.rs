//! The fluent client for quick calls, awaited here (each has a blocking form as well), and its
//! underlying client for the operation functions, so one configuration backs both styles.
//!
//! Run with `cargo run -p geopera --example fluent_client`.

mod support;

use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::Geopera;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::target()?;
    let geopera = Geopera::builder(&target.token)
        .base_url(&target.base_url)
        .build()?;

    // Typed body, awaited.
    let page = geopera
        .catalog()
        .search(CatalogSearchInput::new("earthsearch-aws").limit(5))
        .await?;
    println!("fluent, typed: {} features", support::feature_count(&page));

    // JSON body, checked against CatalogSearchInput before it is sent.
    let page = geopera
        .catalog()
        .search(serde_json::json!({"host_name": "earthsearch-aws", "limit": 3}))
        .await?;
    println!("fluent, JSON: {} features", support::feature_count(&page));

    // Any operation by id, JSON in and out.
    let balance = geopera
        .invoke("billing.credits.balance", serde_json::json!({}))
        .await?;
    println!("billing.credits.balance -> {balance}");

    // The same configured client, for the operation functions.
    let page = catalog_search::send(
        geopera.client(),
        CatalogSearchInput::new("earthsearch-aws").limit(2),
    )
    .await?;
    println!(
        "operation function on the fluent client's client: {} features",
        support::feature_count(&page)
    );
    Ok(())
}
