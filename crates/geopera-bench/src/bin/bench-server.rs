//! `bench-server`: a minimal HTTP/1.1 server that answers `POST /v1/op/catalog.search` with
//! one of two canned pages, so client benchmarks measure the client and not the server.
//!
//! At start-up it runs the emulator in-process once to take a 10-item and a 500-item page of
//! `earthsearch-aws`, then serves them from memory: a body with `"limit": 10` gets the small
//! page, anything else the large one. Every other path is 404. Credentials are not checked.
//! The URL is printed on stdout; the server stops after `--max-secs`.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use clap::Parser;
use geopera_bench::CannedPages;
use http::header::CONTENT_TYPE;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt as _, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde::Deserialize;

/// A fixed-response `catalog.search` server for benchmarks.
#[derive(Debug, Parser)]
#[command(name = "bench-server", about)]
struct Args {
    /// Address to listen on; port 0 picks a free one.
    #[arg(long, default_value = "127.0.0.1:0")]
    addr: SocketAddr,
    /// Wait this long before each answer, so that many requests are in flight at once.
    #[arg(long, default_value_t = 0)]
    delay_ms: u64,
    /// Stop by itself after this many seconds.
    #[arg(long, default_value_t = 1800)]
    max_secs: u64,
}

struct State {
    pages: CannedPages,
    delay: Duration,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    anyhow::ensure!(
        args.addr.ip().is_loopback(),
        "the bench server only listens on loopback addresses"
    );
    let pages = CannedPages::from_emulator()?;
    eprintln!(
        "bench-server: pages of {} bytes (limit 10) and {} bytes (limit 500)",
        pages.small.len(),
        pages.large.len()
    );
    let state = Arc::new(State {
        pages,
        delay: Duration::from_millis(args.delay_ms),
    });
    // One thread: the server is pinned to one core, and a single-threaded runtime is the
    // cheapest way to use it.
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("building the runtime")?
        .block_on(serve(args, state))
}

async fn serve(args: Args, state: Arc<State>) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(args.addr)
        .await
        .with_context(|| format!("binding {}", args.addr))?;
    let local = listener.local_addr().context("reading the bound address")?;
    println!("http://{local}");
    let deadline = tokio::time::sleep(Duration::from_secs(args.max_secs));
    tokio::pin!(deadline);
    loop {
        let (stream, _) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(e) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    eprintln!("bench-server: accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(10)).await;
                    continue;
                }
            },
            () = &mut deadline => {
                eprintln!("bench-server: --max-secs reached, stopping");
                return Ok(());
            }
        };
        let _ = stream.set_nodelay(true);
        let state = state.clone();
        tokio::spawn(async move {
            let service = service_fn(move |request| answer(state.clone(), request));
            let _ = http1::Builder::new()
                .keep_alive(true)
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}

async fn answer(
    state: Arc<State>,
    request: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, hyper::Error> {
    if request.method() != Method::POST || request.uri().path() != "/v1/op/catalog.search" {
        return Ok(plain(StatusCode::NOT_FOUND, "not found"));
    }
    let body = request.into_body().collect().await?.to_bytes();
    #[derive(Deserialize)]
    struct Limit {
        limit: Option<u64>,
    }
    let Ok(Limit { limit }) = serde_json::from_slice::<Limit>(&body) else {
        return Ok(plain(
            StatusCode::BAD_REQUEST,
            "the body is not a JSON object",
        ));
    };
    if !state.delay.is_zero() {
        tokio::time::sleep(state.delay).await;
    }
    let mut response = Response::new(Full::new(state.pages.for_limit(limit).clone()));
    response.headers_mut().insert(
        CONTENT_TYPE,
        http::HeaderValue::from_static("application/json"),
    );
    Ok(response)
}

fn plain(status: StatusCode, text: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(text.as_bytes())));
    *response.status_mut() = status;
    response
}
