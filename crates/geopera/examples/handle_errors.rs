//! Handling failures by kind: input refused before sending (with the field's location), an
//! unknown resource, a rate limit that carries its wait — without matching every variant.
//!
//! Run with `cargo run -p geopera --example handle_errors`.

mod support;

use geopera::models::{CatalogSearchInput, OrderGetInput};
use geopera::operations::{catalog_search, orders_get};
use geopera::{AuthenticatedClient, Error, ErrorKind, Request};
use serde_json::json;

/// What a program does with a failed call, decided by its kind.
fn report(what: &str, error: &Error) {
    match error.kind() {
        ErrorKind::Validation => {
            // Locally or from the API: every failed check, each with its location.
            for failure in error
                .validation()
                .map(|v| v.detail.as_slice())
                .unwrap_or(&[])
            {
                println!("{what}: fix {failure}");
            }
        }
        ErrorKind::RateLimited => println!(
            "{what}: rate limited, come back in {:?}",
            error.retry_after().unwrap_or_default()
        ),
        ErrorKind::NotFound => println!("{what}: nothing there ({error})"),
        // The error's own judgement, not its kind's: a certificate error is a transport error
        // that no retry mends.
        _ if error.is_retryable() => println!("{what}: worth another try later ({error})"),
        _ => println!("{what}: {error}"),
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::target()?;
    let client = AuthenticatedClient::new(&target.base_url, &target.token)?;

    // A misspelt member is sent as given (the API decides); a wrong type or an out-of-range
    // value is refused before sending, naming the field.
    let refused = catalog_search::send(
        &client,
        json!({"host_name": "earthsearch-aws", "limit": "ten"}),
    )
    .await;
    if let Err(error) = &refused {
        report("search", error);
    }

    let missing = orders_get::send(&client, OrderGetInput::new("ord_does_not_exist")).await;
    if let Err(error) = &missing {
        report("order", error);
    }

    // The embedded emulator answers 429 to a call that asks for it (`x-emulator-fault`); the
    // API ignores the header. A wait longer than the retry policy's `max_retry_after` (60 s)
    // is not waited out: the call ends at once, carrying the wait it was asked for.
    let busy = catalog_search::send(
        &client,
        Request::new(CatalogSearchInput::new("earthsearch-aws").limit(1))
            .header("x-emulator-fault", "429;retry-after=90"),
    )
    .await;
    match &busy {
        Err(error) => report("busy", error),
        Ok(_) => println!("busy: not rate limited this time"),
    }
    Ok(())
}
