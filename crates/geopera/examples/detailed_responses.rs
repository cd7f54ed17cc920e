//! `send_detailed`: status, headers, raw bytes and a parsed value that is the success model, a
//! `Problem` or a validation error — error answers come back as values to branch on.
//!
//! Run with `cargo run -p geopera --example detailed_responses`.

mod support;

use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::{AuthenticatedClient, Parsed};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::target()?;
    // The SDK refuses a body that breaks the contract before sending it (`Error::InvalidInput`,
    // with the same locations and wording as the API's 422). That check is off here so that
    // the second search reaches the API and its 422 shows as a value.
    let client = AuthenticatedClient::builder(&target.token)
        .base_url(&target.base_url)
        .validate_input(false)
        .build()?;

    // A valid search, then one whose limit is out of range (1..=500).
    for limit in [10, 5000] {
        let response = catalog_search::send_detailed(
            &client,
            CatalogSearchInput::new("earthsearch-aws")
                .collections(["sentinel-2-l2a"])
                .limit(limit),
        )
        .await?;
        println!(
            "limit {limit}: {} ({} bytes of {})",
            response.status,
            response.content.len(),
            response
                .headers
                .get("content-type")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("no stated type")
        );
        match &response.parsed {
            Parsed::Success(page) => println!("  {} features", support::feature_count(page)),
            Parsed::Validation(invalid) => println!("  rejected: {invalid}"),
            Parsed::Problem(problem) => println!("  problem: {problem}"),
            Parsed::Unparsed => println!("  an answer the contract does not describe"),
            // `Parsed` is non-exhaustive: a later version may parse more kinds of answer.
            _ => println!("  status {}", response.status),
        }
    }
    Ok(())
}
