//! Answers compressed with gzip (feature `gzip`), from the tests' own server answering with
//! bytes compressed beforehand: read as they arrive, capped after decompression, and refused
//! with a typed error when the compressed bytes are broken.
//!
//! A test binary of its own, built only with the feature; CI runs it with the Redis and TLS
//! tests, in the same build.
#![cfg(feature = "gzip")]

#[path = "it/hostile.rs"]
#[allow(dead_code, reason = "the other answers serve the tests under it/")]
mod hostile;

use std::io::Write as _;

use geopera::models::{CatalogSearchInput, CatalogTileInput};
use geopera::operations::{catalog_search, catalog_search_stream, catalog_tile_render};
use geopera::{Client, Error, ErrorKind};

use hostile::{Hostile, Reply};

/// A page of two items, as the API answers `catalog.search`.
const PAGE: &str = r#"{"type":"FeatureCollection","features":[
    {"type":"Feature","stac_version":"1.0.0","id":"a","geometry":null,"properties":{"datetime":"2024-01-01T00:00:00Z"},"links":[],"assets":{}},
    {"type":"Feature","stac_version":"1.0.0","id":"b","geometry":null,"properties":{"datetime":"2024-01-02T00:00:00Z"},"links":[],"assets":{}}
]}"#;

/// `bytes` compressed with gzip.
fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(bytes).expect("compressing into memory");
    encoder.finish().expect("compressing into memory")
}

/// A server on 127.0.0.1 that answers every request with `body` as gzip-encoded JSON.
fn serving(body: Vec<u8>) -> Hostile {
    serving_as("application/json", body)
}

/// A server on 127.0.0.1 that answers every request with `body`, gzip-encoded `content_type`.
fn serving_as(content_type: &str, body: Vec<u8>) -> Hostile {
    let mut answer = format!(
        "HTTP/1.1 200 OK\r\ncontent-type: {content_type}\r\ncontent-encoding: gzip\r\n\
         content-length: {}\r\nconnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    answer.extend_from_slice(&body);
    Hostile::serve("127.0.0.1", move |_| Reply::Raw(answer.clone()))
}

fn client(url: &str, cap: u64) -> Client {
    Client::builder()
        .base_url(url)
        .retries(0)
        .max_response_bytes(cap)
        .build()
        .expect("valid configuration")
}

fn search() -> CatalogSearchInput {
    CatalogSearchInput::new("earthsearch-aws")
}

#[tokio::test]
async fn a_call_asks_for_gzip_and_reads_a_compressed_answer() {
    let server = serving(gzip(PAGE.as_bytes()));
    let page = catalog_search::send(&client(&server.url(), 1024 * 1024), search())
        .await
        .expect("the compressed page reads");
    let ids: Vec<&str> = page.features.iter().map(|item| item.id.as_str()).collect();
    assert_eq!(ids, ["a", "b"]);
    let seen = server.seen();
    let asked = seen[0].header("accept-encoding").unwrap_or_default();
    assert!(asked.contains("gzip"), "{seen:?}");
}

/// The blocking face reads it the same way: one engine.
#[test]
fn a_blocking_call_reads_a_compressed_answer() {
    let server = serving(gzip(PAGE.as_bytes()));
    let page = catalog_search::send_blocking(&client(&server.url(), 1024 * 1024), search())
        .expect("the compressed page reads");
    assert_eq!(page.features.len(), 2);
}

/// A few kilobytes that expand to 32 MiB of white space (valid JSON padding) are refused at
/// the 1 MiB cap, counted after decompression, not read whole.
#[tokio::test]
async fn a_compressed_answer_that_expands_past_the_cap_is_too_large() {
    let mut padded = PAGE.as_bytes().to_vec();
    padded.resize(32 * 1024 * 1024, b' ');
    let bomb = gzip(&padded);
    assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
    let server = serving(bomb);
    let url = server.url();
    let error = catalog_search::send(&client(&url, 1024 * 1024), search())
        .await
        .expect_err("past the cap once decompressed");
    assert!(
        matches!(error, Error::TooLarge { limit, .. } if limit == 1024 * 1024),
        "{error:?}"
    );
    // The same answer is read under a cap that holds it.
    let page = catalog_search::send(&client(&url, 64 * 1024 * 1024), search())
        .await
        .expect("within the cap");
    assert_eq!(page.features.len(), 2);
}

/// Bytes that claim to be gzip and are not end the call with a typed error, not a panic and
/// not a page of garbage.
#[tokio::test]
async fn an_answer_that_is_not_the_gzip_it_claims_is_a_typed_error() {
    let mut broken = gzip(PAGE.as_bytes());
    let middle = broken.len() / 2;
    broken[middle..].fill(0xff);
    let server = serving(broken);
    let error = catalog_search::send(&client(&server.url(), 1024 * 1024), search())
        .await
        .expect_err("undecodable");
    // The body could not be read, as a cut connection's could not: not a page that failed
    // to parse.
    assert!(matches!(error, Error::Transport { .. }), "{error:?}");
    assert_eq!(error.kind(), ErrorKind::Transport, "{error:?}");
}

/// The body of a `catalog.search_stream` call.
fn stream_body() -> serde_json::Map<String, serde_json::Value> {
    let mut body = serde_json::Map::new();
    body.insert("host_name".to_owned(), "earthsearch-aws".into());
    body
}

/// A compressed NDJSON answer is split into items after decompression, each line under the
/// same cap as a whole answer: a few kilobytes that expand to one 32 MiB line end the stream
/// with `TooLarge` once the line passes 1 MiB, after the items before it.
#[test]
fn a_compressed_stream_is_read_by_line_and_a_line_that_expands_past_the_cap_is_too_large() {
    let lines = "{\"id\":\"a\"}\n{\"id\":\"b\"}\n";
    let server = serving_as("application/x-ndjson", gzip(lines.as_bytes()));
    let items: Vec<serde_json::Value> =
        catalog_search_stream::stream_blocking(&client(&server.url(), 1024 * 1024), stream_body())
            .collect::<Result<_, _>>()
            .expect("the compressed lines read");
    assert_eq!(
        items,
        [
            serde_json::json!({"id": "a"}),
            serde_json::json!({"id": "b"})
        ]
    );

    let mut endless = b"{\"id\":\"a\"}\n\"".to_vec();
    endless.resize(32 * 1024 * 1024, b'x');
    let bomb = gzip(&endless);
    assert!(bomb.len() < 64 * 1024, "{} bytes", bomb.len());
    let server = serving_as("application/x-ndjson", bomb);
    let mut items =
        catalog_search_stream::stream_blocking(&client(&server.url(), 1024 * 1024), stream_body());
    assert_eq!(
        items.next().and_then(Result::ok),
        Some(serde_json::json!({"id": "a"}))
    );
    let error = items
        .next()
        .and_then(Result::err)
        .expect("the long line ends the stream");
    assert!(
        matches!(error, Error::TooLarge { limit, .. } if limit == 1024 * 1024),
        "{error:?}"
    );
    assert!(items.next().is_none(), "nothing follows the error");
}

/// A compressed binary answer reaches the caller as the bytes it stands for, whole, through
/// both the buffered call and the stream; the length the server declared is the compressed
/// one and does not count against them.
#[test]
fn a_compressed_binary_answer_reads_as_its_bytes() {
    let image: Vec<u8> = (0..200_000u32).map(|n| (n % 251) as u8).collect();
    let server = serving_as("image/png", gzip(&image));
    let client = client(&server.url(), 1024 * 1024);
    let tile = CatalogTileInput::new("sentinel-2-l2a", "s", "true_color", 3, 4, 2, "png");
    let whole = catalog_tile_render::send_blocking(&client, tile.clone()).expect("the bytes");
    assert_eq!(whole.bytes.as_ref(), image.as_slice());
    let streamed: Vec<u8> = catalog_tile_render::stream_body_blocking(&client, tile)
        .expect("a body")
        .collect::<Result<Vec<_>, _>>()
        .expect("every chunk")
        .concat();
    assert_eq!(streamed, image);
}
