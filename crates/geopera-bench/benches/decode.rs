//! Decoding the canned `catalog.search` pages (10 and 500 items, taken from the emulator at
//! start-up): into `serde_json::Value`, into the SDK's `CatalogSearchOutput`, and a
//! parse-only floor (`IgnoredAny`).
//!
//! Run with `cargo bench -p geopera-bench --bench decode`.

use std::sync::OnceLock;

use divan::counter::BytesCount;
use divan::Bencher;
use geopera::models::CatalogSearchOutput;
use geopera_bench::CannedPages;

const LIMITS: [usize; 2] = [10, 500];

fn pages() -> &'static CannedPages {
    static PAGES: OnceLock<CannedPages> = OnceLock::new();
    PAGES.get_or_init(|| match CannedPages::from_emulator() {
        Ok(pages) => pages,
        Err(e) => panic!("cannot take the canned pages from the emulator: {e:#}"),
    })
}

fn page(limit: usize) -> &'static [u8] {
    pages().for_limit(Some(limit as u64))
}

fn main() {
    // Take the pages before any timing starts.
    let _ = pages();
    divan::main();
}

#[divan::bench(args = LIMITS, max_time = 1)]
fn value(bencher: Bencher<'_, '_>, limit: usize) {
    let bytes = page(limit);
    bencher
        .counter(BytesCount::of_slice(bytes))
        .bench(|| serde_json::from_slice::<serde_json::Value>(divan::black_box(bytes)));
}

#[divan::bench(args = LIMITS, max_time = 1)]
fn sdk_output(bencher: Bencher<'_, '_>, limit: usize) {
    let bytes = page(limit);
    bencher
        .counter(BytesCount::of_slice(bytes))
        .bench(|| serde_json::from_slice::<CatalogSearchOutput>(divan::black_box(bytes)));
}

#[divan::bench(args = LIMITS, max_time = 1)]
fn parse_only(bencher: Bencher<'_, '_>, limit: usize) {
    let bytes = page(limit);
    bencher
        .counter(BytesCount::of_slice(bytes))
        .bench(|| serde_json::from_slice::<serde::de::IgnoredAny>(divan::black_box(bytes)));
}
