//! Running many workers: every process of an organization shares one rate budget in Redis, so
//! together they stay inside the API's per-minute budgets instead of all stalling on 429s.
//!
//! Start Redis (`redis-server`), then run this in as many terminals as you like:
//! `cargo run -p geopera --features redis --example fleet_budget`. `GEOPERA_REDIS_URL` names
//! the Redis (default `redis://127.0.0.1:6379/`), `GEOPERA_ORG` the organization the budget is
//! counted for; the API is the embedded emulator unless `GEOPERA_API_URL` and
//! `GEOPERA_API_TOKEN` are set. Without Redis the workers still run, each on a local budget.
//! A Redis that requires TLS is `rediss://...`; when a private authority signed its
//! certificate, `GEOPERA_REDIS_CA` names that authority's PEM file.

mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use geopera::budget::RedisBudget;
use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::AuthenticatedClient;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let target = support::target()?;
    let redis =
        std::env::var("GEOPERA_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379/".into());
    let org = std::env::var("GEOPERA_ORG").unwrap_or_else(|_| "my-org".into());

    // The documented caps less 5 % headroom, per minute, for every process naming `org`;
    // if Redis is down, each paces itself at a quarter of them (we expect four workers).
    let mut budget = RedisBudget::builder(redis, org)
        .fleet_size(4)
        .timeout(Duration::from_millis(100));
    if let Some(ca) = std::env::var_os("GEOPERA_REDIS_CA") {
        budget = budget.ca_file(ca);
    }
    let budget = budget.build()?;
    let client = AuthenticatedClient::builder(&target.token)
        .base_url(&target.base_url)
        .budget(Arc::new(budget.clone()))
        .build()?;

    let started = Instant::now();
    let calls = (0..20).map(|_| {
        catalog_search::send(&client, CatalogSearchInput::new("earthsearch-aws").limit(1))
    });
    let results = futures::future::join_all(calls).await;
    let ok = results.iter().filter(|r| r.is_ok()).count();
    println!(
        "{ok} of {} searches succeeded in {:?}; budget shared through Redis: {}",
        results.len(),
        started.elapsed(),
        budget.is_shared()
    );
    Ok(())
}
