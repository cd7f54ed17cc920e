//! A job that outlives its access token: a session signed in once with an API key (the
//! client-credentials grant) refreshes itself ahead of every expiry, and each new token pair
//! is handed to a callback that could store it.
//!
//! Run with `cargo run -p geopera --example long_running_session`. Against the embedded
//! emulator the hour passes on the emulator's clock in a moment; with `GEOPERA_API_URL` and
//! `GEOPERA_API_TOKEN` (an API key) set it runs for real, one call a minute.

mod support;

use std::time::Duration;

use geopera::auth::{Oidc, Session};
use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::AuthenticatedClient;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let (target, time) = support::target_with_time()?;
    let clock = time.sdk_clock();

    let session = Session::client_credentials(Oidc::for_base_url(&target.base_url)?, &target.token)
        .clock(clock.clone())
        .on_refresh(|tokens| {
            // A real application would write `tokens.refresh_token()` somewhere safe here.
            println!(
                "  new tokens (scope {}), the access token valid for {} s",
                tokens.scope().unwrap_or("-"),
                tokens
                    .expires_at()
                    .duration_since(std::time::SystemTime::now())
                    .unwrap_or_default()
                    .as_secs_f64()
                    .round()
            );
        });
    let client = AuthenticatedClient::builder_with_credentials(session)
        .base_url(&target.base_url)
        .clock(clock)
        .build()?;

    // One search a minute for an hour: twelve access-token lifetimes of five minutes.
    for minute in 0..60 {
        let page =
            catalog_search::send(&client, CatalogSearchInput::new("earthsearch-aws").limit(1))
                .await?;
        if minute % 10 == 0 {
            println!("minute {minute}: {} feature(s)", page.features.len());
        }
        time.pass(Duration::from_secs(60)).await;
    }
    println!("an hour of calls on one sign-in, no call refused");
    Ok(())
}
