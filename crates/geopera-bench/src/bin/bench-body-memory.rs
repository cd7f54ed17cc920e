//! `bench-body-memory`: how much memory one call takes for a large or endless answer.
//!
//! A server thread in this process streams a `catalog.search` page of the requested size —
//! one representative STAC item repeated, written from a fixed buffer, so the server itself
//! holds next to nothing — or a chunked body that never ends. The client makes one call and
//! the binary prints one JSON line: body size, the process's resident memory before the call
//! and its peak during it (Linux `VmHWM`, reset just before the call through
//! `/proc/self/clear_refs`), and the peak over the body size.
//!
//! ```text
//! bench-body-memory --mb 50 --mode typed       # catalog_search::send → CatalogSearchOutput
//! bench-body-memory --mb 50 --mode json        # Geopera::invoke → serde_json::Value
//! bench-body-memory --mb 50 --mode blocking    # catalog_search::send_blocking
//! bench-body-memory --endless --cap-mb 64      # an endless body against the cap
//! ```

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::{Parser, ValueEnum};
use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera_bench::usage::status_bytes;

/// One STAC item as the API sends them (about 1.6 KB), repeated to build a page.
const ITEM: &str = r#"{"type":"Feature","stac_version":"1.0.0","stac_extensions":["https://stac-extensions.github.io/eo/v1.1.0/schema.json","https://stac-extensions.github.io/view/v1.0.0/schema.json"],"id":"S2B_33UUP_20240612_0_L2A","collection":"sentinel-2-l2a","bbox":[13.3539,52.2385,14.9608,53.2347],"geometry":{"type":"Polygon","coordinates":[[[13.3539,52.2385],[14.9608,52.2385],[14.9608,53.2347],[13.3539,53.2347],[13.3539,52.2385]]]},"properties":{"datetime":"2024-06-12T10:15:59.024000Z","eo:cloud_cover":12.5,"gsd":10,"platform":"sentinel-2b","constellation":"sentinel-2","instruments":["msi"],"view:sun_azimuth":158.2,"view:sun_elevation":59.7,"s2:mgrs_tile":"33UUP","proj:epsg":32633},"assets":{"red":{"href":"https://sentinel-cogs.s3.us-west-2.amazonaws.com/sentinel-s2-l2a-cogs/33/U/UP/2024/6/S2B_33UUP_20240612_0_L2A/B04.tif","type":"image/tiff; application=geotiff; profile=cloud-optimized","title":"Red (band 4) - 10m","roles":["data"]},"nir":{"href":"https://sentinel-cogs.s3.us-west-2.amazonaws.com/sentinel-s2-l2a-cogs/33/U/UP/2024/6/S2B_33UUP_20240612_0_L2A/B08.tif","type":"image/tiff; application=geotiff; profile=cloud-optimized","title":"NIR 1 (band 8) - 10m","roles":["data"]},"thumbnail":{"href":"https://sentinel-cogs.s3.us-west-2.amazonaws.com/sentinel-s2-l2a-cogs/33/U/UP/2024/6/S2B_33UUP_20240612_0_L2A/thumbnail.jpg","type":"image/jpeg","title":"Thumbnail image","roles":["thumbnail"]}},"links":[{"rel":"self","href":"https://earth-search.aws.element84.com/v1/collections/sentinel-2-l2a/items/S2B_33UUP_20240612_0_L2A","type":"application/geo+json"},{"rel":"parent","href":"https://earth-search.aws.element84.com/v1/collections/sentinel-2-l2a","type":"application/json"}]}"#;

/// Peak memory of one SDK call on a large or endless answer.
#[derive(Debug, Parser)]
#[command(name = "bench-body-memory", about)]
struct Args {
    /// Size of the answer in MB (10^6 bytes).
    #[arg(long, default_value_t = 50)]
    mb: u64,
    /// Send a chunked body that never ends instead.
    #[arg(long)]
    endless: bool,
    /// How the answer is read.
    #[arg(long, value_enum, default_value_t = Mode::Typed)]
    mode: Mode,
    /// The client's response-size cap in MiB.
    #[arg(long, default_value_t = 64)]
    cap_mb: u64,
    /// Announce the length (`Content-Length`) instead of sending the body chunked.
    #[arg(long)]
    announce: bool,
}

#[derive(Clone, Copy, Debug, ValueEnum)]
enum Mode {
    /// `catalog_search::send`, decoding into the typed STAC page.
    Typed,
    /// `Geopera::invoke`, decoding into `serde_json::Value`.
    Json,
    /// `catalog_search::send_blocking`.
    Blocking,
}

/// The page written in pieces: the head, `count` items, the tail.
struct Page {
    count: usize,
}

impl Page {
    const HEAD: &'static str = r#"{"type":"FeatureCollection","features":["#;

    fn sized(bytes: u64) -> Page {
        let per_item = ITEM.len() as u64 + 1;
        Page {
            count: usize::try_from(bytes / per_item)
                .unwrap_or(usize::MAX)
                .max(1),
        }
    }

    fn tail(&self) -> String {
        format!(r#"],"numberReturned":{}}}"#, self.count)
    }

    fn len(&self) -> u64 {
        (Self::HEAD.len() + self.count * (ITEM.len() + 1) - 1 + self.tail().len()) as u64
    }

    /// Writes the page; items go out in batches from one buffer, so the server's memory does
    /// not grow with the page.
    fn write(&self, out: &mut impl std::io::Write, chunked: bool) -> std::io::Result<()> {
        let batch_items = 64;
        let mut batch = String::with_capacity(batch_items * (ITEM.len() + 1));
        for _ in 0..batch_items {
            batch.push_str(ITEM);
            batch.push(',');
        }
        let piece = |out: &mut dyn std::io::Write, bytes: &[u8]| -> std::io::Result<()> {
            if chunked {
                write!(out, "{:x}\r\n", bytes.len())?;
                out.write_all(bytes)?;
                out.write_all(b"\r\n")
            } else {
                out.write_all(bytes)
            }
        };
        piece(out, Self::HEAD.as_bytes())?;
        let mut left = self.count;
        while left > 1 {
            let n = (left - 1).min(batch_items);
            piece(out, &batch.as_bytes()[..n * (ITEM.len() + 1)])?;
            left -= n;
        }
        piece(out, ITEM.as_bytes())?;
        piece(out, self.tail().as_bytes())?;
        if chunked {
            out.write_all(b"0\r\n\r\n")?;
        }
        Ok(())
    }
}

/// Reads one request's head and body off the connection.
fn read_request(stream: &TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?.take(1 << 20));
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line)?;
        let line = line.trim_end().to_ascii_lowercase();
        if line.is_empty() {
            break;
        }
        if let Some(value) = line.strip_prefix("content-length:") {
            length = value.trim().parse().unwrap_or(0);
        }
    }
    std::io::copy(&mut reader.take(length), &mut std::io::sink())?;
    Ok(())
}

fn serve(listener: TcpListener, args: &Args) {
    let page = Page::sized(args.mb * 1_000_000);
    let (endless, announce) = (args.endless, args.announce);
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            if read_request(&stream).is_err() {
                continue;
            }
            let _ = if endless {
                write_endless(&mut stream)
            } else if announce {
                write!(
                    stream,
                    "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\r\n",
                    page.len()
                )
                .and_then(|()| page.write(&mut stream, false))
            } else {
                stream
                    .write_all(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n")
                    .and_then(|()| page.write(&mut stream, true))
            };
        }
    });
}

/// A chunked body of spaces for as long as the client reads (at most ten minutes).
fn write_endless(stream: &mut TcpStream) -> std::io::Result<()> {
    stream.write_all(
        b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n",
    )?;
    let chunk = [b' '; 64 * 1024];
    let mut framed = format!("{:x}\r\n", chunk.len()).into_bytes();
    framed.extend_from_slice(&chunk);
    framed.extend_from_slice(b"\r\n");
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(600) {
        stream.write_all(&framed)?;
    }
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let listener = TcpListener::bind("127.0.0.1:0").context("binding a loopback port")?;
    let base_url = format!("http://{}", listener.local_addr()?);
    let body_bytes = if args.endless {
        None
    } else {
        Some(Page::sized(args.mb * 1_000_000).len())
    };
    serve(listener, &args);

    let client = geopera::AuthenticatedClient::builder("gpra_bench")
        .base_url(&base_url)
        .max_response_bytes(args.cap_mb * 1024 * 1024)
        .timeout(Duration::from_secs(120))
        .retries(0)
        .build()?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let input = || CatalogSearchInput::new("earthsearch-aws").limit(500);
    // Warm up the pool and the allocator with one small call's worth of set-up.
    let geopera = geopera::Geopera::from(client.clone());

    std::fs::write("/proc/self/clear_refs", "5").context("resetting the peak (Linux 4.0+)")?;
    let before = status_bytes("VmRSS")?;
    let started = Instant::now();
    let outcome = match args.mode {
        Mode::Typed => runtime
            .block_on(catalog_search::send(&client, input()))
            .map(|page| page.features.len()),
        Mode::Json => runtime
            .block_on(geopera.invoke(
                "catalog.search",
                serde_json::json!({"host_name": "earthsearch-aws", "limit": 500}),
            ))
            .map(|page| page["features"].as_array().map_or(0, Vec::len)),
        Mode::Blocking => catalog_search::send_blocking(&client, input()).map(|p| p.features.len()),
    };
    let seconds = started.elapsed().as_secs_f64();
    let peak = status_bytes("VmHWM")?;
    let mib = |bytes: u64| bytes as f64 / (1024.0 * 1024.0);
    let (items, error) = match outcome {
        Ok(items) => (items, None),
        Err(error) => (0, Some(error.to_string())),
    };
    let line = serde_json::json!({
        "mode": format!("{:?}", args.mode).to_lowercase(),
        "body": if args.endless { "endless".to_owned() } else { format!("{} MB", args.mb) },
        "body_mib": body_bytes.map(mib),
        "cap_mib": args.cap_mb,
        "items": items,
        "error": error,
        "rss_before_mib": (mib(before) * 10.0).round() / 10.0,
        "peak_rss_mib": (mib(peak) * 10.0).round() / 10.0,
        "peak_over_body": body_bytes.map(|b| ((peak as f64 / b as f64) * 100.0).round() / 100.0),
        "seconds": (seconds * 100.0).round() / 100.0,
    });
    println!("{line}");
    Ok(())
}
