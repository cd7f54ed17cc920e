//! The blocking face, for programs without an async runtime: the same operations, retries,
//! deadlines and errors as `send`, called from plain threads. It is the Rust form of the
//! Python SDK's `sync` / `sync_detailed`.
//!
//! Run with `cargo run -p geopera --example blocking_calls`.

mod support;

use std::thread;

use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::AuthenticatedClient;

const COLLECTIONS: [&str; 3] = ["sentinel-2-l2a", "landsat-c2-l2", "sentinel-1-grd"];

fn search(collection: &str) -> CatalogSearchInput {
    CatalogSearchInput::new("earthsearch-aws")
        .collections([collection])
        .limit(5)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::target()?;
    let client = AuthenticatedClient::new(&target.base_url, &target.token)?;

    // One call: the typed answer, or an `Error` value.
    let page = catalog_search::send_blocking(&client, search(COLLECTIONS[0]))?;
    println!(
        "{}: {} features",
        COLLECTIONS[0],
        support::feature_count(&page)
    );

    // The detailed form keeps what the typed answer drops: status, attempts, request id.
    let detailed = catalog_search::send_blocking_detailed(&client, search(COLLECTIONS[1]))?;
    println!(
        "{}: {} after {} attempt(s), request id {}",
        COLLECTIONS[1], detailed.status, detailed.attempts, detailed.request_id
    );

    // Threads share one client by reference (or by clone): one set of settings, one rate
    // budget. Calls made at the same time are carried together on the client's I/O thread.
    let found = thread::scope(|scope| {
        let searches: Vec<_> = COLLECTIONS
            .iter()
            .map(|collection| {
                let client = &client;
                scope.spawn(move || {
                    catalog_search::send_blocking(client, search(collection))
                        .map(|page| (*collection, page.features.len()))
                })
            })
            .collect();
        searches
            .into_iter()
            .map(|search| search.join().map_err(|_| "a search thread panicked"))
            .collect::<Vec<_>>()
    });
    for outcome in found {
        let (collection, count) = outcome??;
        println!("  in parallel, {collection}: {count} features");
    }

    // Every item of every page, fetched as the iterator advances: two items a page here, and
    // `take` ends the walk after the fifth item without fetching further pages.
    for item in catalog_search::items_blocking(&client, search(COLLECTIONS[0]).limit(2)).take(5) {
        let item = item?;
        println!(
            "  {} {}",
            item.id,
            item.properties.datetime.as_deref().unwrap_or("?")
        );
    }
    Ok(())
}
