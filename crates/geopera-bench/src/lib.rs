//! The measurement harness of the Geopera SDK.
//!
//! Five binaries and one micro-benchmark share this library:
//!
//! - `bench-server` answers `POST /v1/op/catalog.search` with one of two canned pages taken
//!   once from the emulator ([`CannedPages`]), so the server costs next to nothing and every
//!   client is measured against the same bytes;
//! - `bench-client` drives that server (or the emulator) with our SDK, async or blocking, or
//!   with a plain reqwest client, and prints one [`Sample`] as a JSON line;
//! - `bench-report` turns the JSON lines of one run into the table and ratios of
//!   `BENCHMARKS.md` ([`report`]);
//! - `bench-body-memory` makes one SDK call against a large or endless answer and prints the
//!   process's peak memory, to check the response-size cap and decoding overhead;
//! - `bench-upload-memory` uploads a large file to the emulator from a child process and
//!   checks the child's peak memory against a limit, to show an upload is streamed;
//! - `benches/decode.rs` compares decoding the canned pages into `serde_json::Value` and into
//!   the SDK's output model.
//!
//! `bench/compare.sh` at the repository root runs the server, the client and the report; the
//! two memory probes are run by hand, as `BENCHMARKS.md` says. This crate is not published; its
//! library only exists to share code between its own binaries, so it reports errors with
//! `anyhow` like they do.

pub mod report;
pub mod usage;

use std::time::Duration;

use anyhow::{bail, Context as _};
use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// The host whose catalog the canned pages come from.
pub const HOST_NAME: &str = "earthsearch-aws";

/// The two `catalog.search` answers every benchmark uses, exactly as the emulator sent them.
#[derive(Clone, Debug)]
pub struct CannedPages {
    /// The answer to `limit: 10` (about 16 KB).
    pub small: Bytes,
    /// The answer to `limit: 500` (about 800 KB).
    pub large: Bytes,
}

impl CannedPages {
    /// Starts the emulator in this process (rate limits off), asks it for a 10-item and a
    /// 500-item page of `earthsearch-aws`, checks both, and stops it again.
    ///
    /// Uses a blocking HTTP client, so call it outside any async runtime.
    ///
    /// # Errors
    ///
    /// The emulator does not start, or an answer is not a page of the expected size.
    pub fn from_emulator() -> anyhow::Result<Self> {
        let emulator = geopera_emulator::Emulator::builder()
            .rate_limits(geopera_emulator::RateLimits::off())
            .start()
            .context("starting the emulator")?;
        let url = format!("{}/v1/op/catalog.search", emulator.base_url());
        let http = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(60))
            .build()
            .context("building the HTTP client")?;
        let fetch = |limit: usize| -> anyhow::Result<Bytes> {
            let response = http
                .post(&url)
                .bearer_auth(emulator.api_key())
                .header(http::header::CONTENT_TYPE, "application/json")
                .body(search_body(HOST_NAME, limit))
                .send()
                .with_context(|| format!("asking the emulator for {limit} items"))?;
            let status = response.status();
            let bytes = response.bytes().context("reading the emulator's answer")?;
            if !status.is_success() {
                bail!(
                    "the emulator answered {status} to limit {limit}: {}",
                    String::from_utf8_lossy(&bytes)
                );
            }
            let items = count_features(&bytes)?;
            if items != limit {
                bail!("asked the emulator for {limit} items, got {items}");
            }
            Ok(bytes)
        };
        let pages = CannedPages {
            small: fetch(10)?,
            large: fetch(500)?,
        };
        emulator.shutdown();
        Ok(pages)
    }

    /// The page a request with this `limit` gets: 10 → the small one, anything else → the
    /// large one.
    pub fn for_limit(&self, limit: Option<u64>) -> &Bytes {
        if limit == Some(10) {
            &self.small
        } else {
            &self.large
        }
    }
}

/// The JSON body of a `catalog.search` call, as the plain clients send it.
pub fn search_body(host_name: &str, limit: usize) -> String {
    serde_json::json!({ "host_name": host_name, "limit": limit }).to_string()
}

/// The number of entries in the `features` array of a STAC FeatureCollection.
///
/// # Errors
///
/// The bytes are not JSON, or hold no `features` array.
pub fn count_features(page: &[u8]) -> anyhow::Result<usize> {
    #[derive(Deserialize)]
    struct Features {
        features: Vec<serde::de::IgnoredAny>,
    }
    let parsed: Features = serde_json::from_slice(page).context("the page is not a STAC page")?;
    Ok(parsed.features.len())
}

/// One measurement, printed by `bench-client` and `bench/python_sdk.py` as one JSON line.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// What was measured against what: `static` (the bench server), `rss` (the bench server
    /// with a delay, to hold many requests in flight) or `emulator`.
    pub scenario: String,
    /// The client: `sdk-async`, `sdk-blocking`, `sdk-blocking-new-thread`, `reqwest-value`,
    /// `reqwest-bytes`, `python-async` or `python-sync`; or a reference for blocking calls,
    /// `ureq-blocking`, `reqwest-blocking`, `hyper-blocking` or `raw-blocking`.
    pub mode: String,
    /// The page size asked for.
    pub limit: usize,
    /// Calls kept in flight.
    pub concurrency: usize,
    /// Successful calls in the measured window (after the warm-up).
    pub calls: u64,
    /// Failed calls in the measured window.
    pub errors: u64,
    /// Length of the measured window.
    pub seconds: f64,
    /// `calls / seconds`.
    pub calls_per_sec: f64,
    /// User + system CPU time of the whole client process in the window, per call.
    pub cpu_us_per_call: f64,
    /// Peak resident set size of the client process over its whole life (warm-up included).
    pub peak_rss_mib: f64,
    /// CPU seconds of the client per wall-clock second in the window: near 1 for a
    /// single-threaded client that is CPU-bound, lower when it waits for the server or when
    /// other processes share its core.
    #[serde(default)]
    pub cpu_util: f64,
    /// Time the client's threads were ready to run but waited for a CPU, per wall-clock
    /// second in the window: how much other processes on its core held it back (threads
    /// are added up, so a many-threaded client can exceed 1).
    #[serde(default)]
    pub cpu_wait: f64,
    /// The most calls seen in flight at once.
    #[serde(default)]
    pub max_in_flight: usize,
    /// The first error, if any call failed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_error: Option<String>,
}

/// Compile-time measurement of the SDK crate, printed by `bench-report timings`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct CompileSample {
    /// Always `compile`; tells these lines apart from [`Sample`]s.
    pub scenario: String,
    /// `debug` or `release`.
    pub profile: String,
    /// Wall-clock seconds of the clean build.
    pub seconds: f64,
    /// The slowest crates of the build, `(crate, seconds)`, slowest first; a crate built in
    /// several versions is named `name ×N`.
    pub top: Vec<(String, f64)>,
    /// Seconds of every unit added up (what the build costs on one core).
    #[serde(default)]
    pub unit_seconds: f64,
    /// Seconds of the workspace's own crates (`geopera*`) added up.
    #[serde(default)]
    pub own_seconds: f64,
}
