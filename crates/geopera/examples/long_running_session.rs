//! A job that outlives its access token: a session for an API key (the client-credentials
//! grant) exchanges the key again ahead of every expiry, so no call ever meets an expired
//! token, and each new access token is handed to a callback. (A user's session, from
//! `Session::password` or a device sign-in, refreshes with its refresh token instead, whose
//! rotations the callback is where to store.)
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
            // A user's session would write `tokens.refresh_token()` somewhere safe here; a
            // key's has none, as the key itself signs it in again.
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
    println!("an hour of calls on one session, no call refused");
    Ok(())
}
