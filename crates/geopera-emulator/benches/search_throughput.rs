//! Requests per second of `catalog.search` (limit 10) at 64 concurrent connections.
//!
//! Run with `cargo bench -p geopera-emulator --bench search_throughput`; set
//! `BENCH_SECS` to change the measuring time (default 5 s).

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use geopera_emulator::{Emulator, RateLimits};

const CONNECTIONS: usize = 64;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let secs: u64 = std::env::var("BENCH_SECS")
        .ok()
        .and_then(|text| text.parse().ok())
        .unwrap_or(5);
    let emulator = Emulator::builder().rate_limits(RateLimits::off()).start()?;
    let url = format!("{}/v1/op/catalog.search", emulator.base_url());
    let auth = format!("Bearer {}", emulator.api_key());
    let body = r#"{"host_name":"earthsearch-aws","limit":10}"#;
    let done = Arc::new(AtomicU64::new(0));
    let failed = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut workers = Vec::new();
    for _ in 0..CONNECTIONS {
        let (url, auth) = (url.clone(), auth.clone());
        let (done, failed, stop) = (done.clone(), failed.clone(), stop.clone());
        workers.push(std::thread::spawn(move || {
            // One client per worker: one keep-alive connection each.
            let Ok(client) = reqwest::blocking::Client::builder()
                .pool_max_idle_per_host(1)
                .build()
            else {
                return;
            };
            while !stop.load(Ordering::Relaxed) {
                let sent = client
                    .post(&url)
                    .header("authorization", &auth)
                    .header("content-type", "application/json")
                    .body(body)
                    .send()
                    .and_then(|response| response.error_for_status()?.bytes());
                match sent {
                    Ok(_) => done.fetch_add(1, Ordering::Relaxed),
                    Err(_) => failed.fetch_add(1, Ordering::Relaxed),
                };
            }
        }));
    }
    // Warm up, then measure.
    std::thread::sleep(Duration::from_secs(1));
    let start_count = done.load(Ordering::Relaxed);
    let started = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let count = done.load(Ordering::Relaxed) - start_count;
    let elapsed = started.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.join();
    }
    println!(
        "catalog.search limit 10, {CONNECTIONS} connections: {:.0} requests/s over {elapsed:.1} s ({} failed)",
        count as f64 / elapsed,
        failed.load(Ordering::Relaxed)
    );
    Ok(())
}
