//! Every task's outcome, independently — the Rust form of `gather(..., return_exceptions=True)`.
//! `join_all` never cancels siblings, and `send_detailed` returns documented errors as values.
//!
//! Run with `cargo run -p geopera --example per_task_failures`.

mod support;

use futures::future::join_all;
use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::{AuthenticatedClient, Parsed};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::target()?;
    let client = AuthenticatedClient::new(&target.base_url, &target.token)?;
    // The last search asks for more than the API allows, so it fails on its own.
    let limits = [10, 20, 900];

    let outcomes = join_all(limits.iter().map(|limit| {
        catalog_search::send_detailed(
            &client,
            CatalogSearchInput::new("earthsearch-aws").limit(*limit),
        )
    }))
    .await;

    for (limit, outcome) in limits.iter().zip(outcomes) {
        match outcome {
            Err(error) => println!("limit {limit}: failed: {error}"),
            Ok(response) => match response.parsed {
                Parsed::Success(page) => {
                    println!("limit {limit}: {} features", support::feature_count(&page))
                }
                Parsed::Validation(invalid) => println!("limit {limit}: rejected: {invalid}"),
                Parsed::Problem(problem) => {
                    println!("limit {limit}: {}: {problem}", response.status)
                }
                // `Parsed` is non-exhaustive: a later version may parse more kinds of answer.
                _ => println!("limit {limit}: unexpected {}", response.status),
            },
        }
    }
    Ok(())
}
