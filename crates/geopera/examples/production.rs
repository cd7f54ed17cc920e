//! What the SDK adds beyond the Python page: safe retries, rate-limit pacing, deadlines,
//! page streams and the NDJSON stream.
//!
//! Run with `cargo run -p geopera --example production`.

mod support;

use std::time::Duration;

use futures::StreamExt as _;
use geopera::models::{CatalogSearchInput, OrdersListInput};
use geopera::operations::{catalog_search, catalog_search_stream, orders_list};
use geopera::{AuthenticatedClient, Request, RetryPolicy};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::target()?;
    let client = AuthenticatedClient::builder(&target.token)
        .base_url(&target.base_url)
        // Up to 4 retries; a Retry-After over 30 s fails at once with Error::RateLimited.
        .retry_policy(
            RetryPolicy::default()
                .max_retries(4)
                .max_retry_after(Duration::from_secs(30)),
        )
        // Never more than 16 requests in flight, spaced to the API's per-minute budgets.
        .max_in_flight(16)
        .pace_documented_limits()
        // Every call, all attempts and waits included, ends within 20 s.
        .deadline(Duration::from_secs(20))
        .build()?;

    // Walk every page of a search as one stream of items.
    let mut items = catalog_search::items(
        &client,
        CatalogSearchInput::new("earthsearch-aws")
            .collections(["sentinel-1-grd"])
            .limit(200),
    );
    let mut count = 0;
    while let Some(item) = items.next().await {
        let item = item?;
        if count < 3 {
            let collection = item.collection.as_deref().unwrap_or("no collection");
            println!("item {} in {collection}", item.id);
        }
        count += 1;
    }
    println!("{count} sentinel-1-grd items, page by page");

    // The same matches as NDJSON, parsed as they arrive.
    let body =
        serde_json::json!({"host_name": "earthsearch-aws", "collections": ["sentinel-1-grd"]});
    let streamed =
        catalog_search_stream::stream(&client, body.as_object().cloned().unwrap_or_default())
            .filter(|item| std::future::ready(item.is_ok()))
            .count()
            .await;
    println!("{streamed} items streamed as NDJSON");

    // page/size paging, typed pages.
    let pages: Vec<_> = orders_list::pages(&client, OrdersListInput::new().size(100))
        .collect()
        .await;
    println!("{} pages of orders", pages.len());

    // A per-call deadline and retry count override the client's.
    let response = catalog_search::send_detailed(
        &client,
        Request::new(CatalogSearchInput::new("earthsearch-aws").limit(1))
            .deadline(Duration::from_secs(2))
            .retries(0),
    )
    .await?;
    println!(
        "one quick call: {} after {} attempt(s)",
        response.status, response.attempts
    );
    Ok(())
}
