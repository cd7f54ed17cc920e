//! `bench-client`: keeps `--concurrency` `catalog.search` calls in flight against a server for
//! a bounded time, and prints calls/s, CPU time per call and peak RSS as one JSON line.
//!
//! Async modes run on a single-threaded Tokio runtime (one core for the client); the
//! blocking modes use one OS thread per concurrent call. Retries are off so the SDK does the
//! same work as the plain clients.
//!
//! Two blocking modes are not clients anyone should use but floors for the SDK's blocking
//! face: `ureq-blocking` (a synchronous HTTP client crate, each thread doing its own I/O) and
//! `raw-blocking` (each thread writing a prepared request to its own socket and reading the
//! answer, nothing else). Both decode into the SDK's typed page, so the difference to
//! `sdk-blocking` is the cost of carrying a call, not of reading it. A third,
//! `hyper-blocking`, sits between them: hyper's own HTTP/1.1 client connection, polled by the
//! calling thread over its own socket with no runtime, the answer decoded the same way.
//!
//! `reqwest-blocking` is the design the SDK's blocking face shares, with nothing of the SDK
//! around it: reqwest's own blocking client, a handle that hands each call to a thread running
//! reqwest's async client. It reads the answer as `reqwest-value` does, so the two side by side
//! are what that hand-off costs.

use std::hint::black_box;
use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::ops::Range;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context as _};
use bytes::Bytes;
use clap::{Parser, ValueEnum};
use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::{AuthenticatedClient, RetryPolicy};
use geopera_bench::{count_features, search_body, usage, Sample, HOST_NAME};
use http::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE};

/// Load client for `catalog.search`.
#[derive(Debug, Parser)]
#[command(name = "bench-client", about)]
struct Args {
    /// Which client to measure.
    #[arg(long, value_enum)]
    mode: Mode,
    /// Base URL of the server (bench-server or the emulator).
    #[arg(long)]
    url: String,
    /// Bearer token; the bench server ignores it, the emulator needs its demo key.
    #[arg(long, default_value = "gpra_bench")]
    token: String,
    /// Items per page to ask for (the bench server knows 10 and 500).
    #[arg(long, default_value_t = 10)]
    limit: usize,
    /// Calls kept in flight.
    #[arg(long, default_value_t = 1)]
    concurrency: usize,
    /// Seconds to measure, after the warm-up (the upper bound when --requests is given).
    #[arg(long, default_value_t = 5.0)]
    duration: f64,
    /// Stop measuring once at least this many calls succeeded (checked every 5 ms, so a few
    /// more may be counted; calls/s uses the actual count).
    #[arg(long)]
    requests: Option<u64>,
    /// Seconds of calls before measuring starts.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// The `scenario` field of the printed line.
    #[arg(long, default_value = "static")]
    scenario: String,
}

/// The clients under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Mode {
    /// `catalog_search::send` on one shared `AuthenticatedClient`, typed output.
    SdkAsync,
    /// `catalog_search::send_blocking`, one OS thread per concurrent call.
    SdkBlocking,
    /// `catalog_search::send_blocking`, each call on a thread started for it: what a
    /// thread's first blocking call costs (its runtime and connection pool are made then).
    SdkBlockingNewThread,
    /// Plain reqwest, body decoded into `serde_json::Value`.
    ReqwestValue,
    /// Plain reqwest, body read as bytes only.
    ReqwestBytes,
    /// ureq, one OS thread per concurrent call, typed input and output: a floor for the
    /// blocking face built on a synchronous client crate.
    UreqBlocking,
    /// One socket per OS thread, a prepared request, the answer decoded into the typed page:
    /// the least any blocking call over HTTP/1.1 can cost.
    RawBlocking,
    /// One socket per OS thread carrying hyper's HTTP/1.1 client connection, polled by the
    /// thread itself, which sleeps in `poll(2)` rather than in a runtime; the answer decoded
    /// into the typed page: a blocking transport built on hyper rather than written by hand.
    HyperBlocking,
    /// `reqwest::blocking`, one OS thread per concurrent call, body decoded into
    /// `serde_json::Value`: `reqwest-value` behind reqwest's own hand-off between threads.
    ReqwestBlocking,
}

impl Mode {
    fn name(self) -> &'static str {
        match self {
            Mode::SdkAsync => "sdk-async",
            Mode::SdkBlocking => "sdk-blocking",
            Mode::SdkBlockingNewThread => "sdk-blocking-new-thread",
            Mode::ReqwestValue => "reqwest-value",
            Mode::ReqwestBytes => "reqwest-bytes",
            Mode::UreqBlocking => "ureq-blocking",
            Mode::RawBlocking => "raw-blocking",
            Mode::HyperBlocking => "hyper-blocking",
            Mode::ReqwestBlocking => "reqwest-blocking",
        }
    }
}

/// Counters shared by every worker.
#[derive(Default)]
struct Counters {
    done: AtomicU64,
    errors: AtomicU64,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    stop: AtomicBool,
    first_error: Mutex<Option<String>>,
}

impl Counters {
    fn begin(&self) {
        let now = self.in_flight.fetch_add(1, Ordering::Relaxed) + 1;
        self.max_in_flight.fetch_max(now, Ordering::Relaxed);
    }

    fn end<T>(&self, result: anyhow::Result<T>) {
        self.in_flight.fetch_sub(1, Ordering::Relaxed);
        match result {
            Ok(value) => {
                black_box(value);
                self.done.fetch_add(1, Ordering::Relaxed);
            }
            Err(e) => {
                self.errors.fetch_add(1, Ordering::Relaxed);
                if let Ok(mut first) = self.first_error.lock() {
                    first.get_or_insert_with(|| format!("{e:#}"));
                }
            }
        }
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::Relaxed)
    }
}

/// A snapshot at the start or end of the measured window.
struct Mark {
    at: Instant,
    cpu: Duration,
    wait: Duration,
    done: u64,
    errors: u64,
}

impl Mark {
    fn take(counters: &Counters) -> anyhow::Result<Mark> {
        Ok(Mark {
            at: Instant::now(),
            cpu: usage::cpu_time()?,
            wait: usage::run_queue_wait()?,
            done: counters.done.load(Ordering::Relaxed),
            errors: counters.errors.load(Ordering::Relaxed),
        })
    }
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if args.concurrency == 0 {
        bail!("--concurrency must be at least 1");
    }
    if !(args.duration.is_finite() && args.duration > 0.0) {
        bail!("--duration must be a positive number of seconds");
    }
    if !(args.warmup.is_finite() && args.warmup >= 0.0) {
        bail!("--warmup must be a number of seconds");
    }
    let counters = Arc::new(Counters::default());
    let (start, end) = match args.mode {
        Mode::SdkBlocking => {
            let (client, input) = sdk_blocking_client(&args)?;
            run_threads(&args, &counters, || {
                || {
                    Ok(black_box(catalog_search::send_blocking(
                        &client,
                        input.clone(),
                    )?))
                }
            })?
        }
        Mode::SdkBlockingNewThread => {
            let (client, input) = sdk_blocking_client(&args)?;
            run_threads(&args, &counters, || {
                || {
                    let (client, input) = (client.clone(), input.clone());
                    let output =
                        std::thread::spawn(move || catalog_search::send_blocking(&client, input))
                            .join()
                            .map_err(|_| anyhow::anyhow!("the call's thread panicked"))??;
                    Ok(black_box(output))
                }
            })?
        }
        Mode::UreqBlocking => {
            let call = UreqCall::new(&args)?;
            check_items(&args, output_items(&call.once()?)?)?;
            run_threads(&args, &counters, || || Ok(black_box(call.once()?)))?
        }
        Mode::ReqwestBlocking => {
            let call = ReqwestBlockingCall::new(&args)?;
            check_items(&args, count_features(&call.fetch()?)?)?;
            run_threads(&args, &counters, || {
                || {
                    let page: serde_json::Value = serde_json::from_slice(&call.fetch()?)?;
                    Ok(black_box(page))
                }
            })?
        }
        Mode::HyperBlocking => {
            let target = HyperTarget::new(&args)?;
            check_items(&args, output_items(&HyperConnection::new(&target).once()?)?)?;
            run_threads(&args, &counters, || {
                let mut connection = HyperConnection::new(&target);
                move || Ok(black_box(connection.once()?))
            })?
        }
        Mode::RawBlocking => {
            let request = RawRequest::new(&args)?;
            check_items(&args, output_items(&RawConnection::new(&request).once()?)?)?;
            run_threads(&args, &counters, || {
                let mut connection = RawConnection::new(&request);
                move || Ok(black_box(connection.once()?))
            })?
        }
        _ => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("building the runtime")?
            .block_on(run_async(&args, &counters))?,
    };
    let calls = end.done - start.done;
    let seconds = (end.at - start.at).as_secs_f64();
    let cpu = (end.cpu - start.cpu).as_secs_f64();
    let first_error = counters.first_error.lock().ok().and_then(|e| e.clone());
    let sample = Sample {
        scenario: args.scenario.clone(),
        mode: args.mode.name().to_owned(),
        limit: args.limit,
        concurrency: args.concurrency,
        calls,
        errors: end.errors - start.errors,
        seconds,
        calls_per_sec: calls as f64 / seconds,
        cpu_us_per_call: if calls == 0 {
            0.0
        } else {
            cpu * 1e6 / calls as f64
        },
        peak_rss_mib: usage::peak_rss_mib()?,
        cpu_util: cpu / seconds,
        cpu_wait: end.wait.saturating_sub(start.wait).as_secs_f64() / seconds,
        max_in_flight: counters.max_in_flight.load(Ordering::Relaxed),
        first_error,
    };
    println!("{}", serde_json::to_string(&sample)?);
    if calls == 0 {
        bail!("no call succeeded");
    }
    Ok(())
}

/// Whether the measured window that began at `start` is over: its time is up, or it holds
/// `--requests` calls.
fn window_ends(args: &Args, counters: &Counters, start: &Mark, now: Instant) -> bool {
    let deadline = start.at + Duration::from_secs_f64(args.duration);
    let enough = args
        .requests
        .is_some_and(|n| counters.done.load(Ordering::Relaxed) - start.done >= n);
    now >= deadline || enough
}

/// How often the controller looks at the counters while measuring.
const TICK: Duration = Duration::from_millis(5);

async fn run_async(args: &Args, counters: &Arc<Counters>) -> anyhow::Result<(Mark, Mark)> {
    let call = AsyncCall::new(args)?;
    // One call first: the server answers, and with a page of the size we asked for.
    let items = call.items().await.context("the first call failed")?;
    check_items(args, items)?;
    let mut workers = Vec::with_capacity(args.concurrency);
    for _ in 0..args.concurrency {
        let (call, counters) = (call.clone(), counters.clone());
        workers.push(tokio::spawn(async move {
            while !counters.stopped() {
                counters.begin();
                let result = call.once().await;
                let failed = result.is_err();
                counters.end(result);
                if failed {
                    // A server that refuses must not turn the loop into a busy spin.
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            }
        }));
    }
    tokio::time::sleep(Duration::from_secs_f64(args.warmup)).await;
    let start = Mark::take(counters)?;
    while !window_ends(args, counters, &start, Instant::now()) {
        tokio::time::sleep(TICK).await;
    }
    let end = Mark::take(counters)?;
    counters.stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let _ = worker.await;
    }
    Ok((start, end))
}

/// Runs `--concurrency` OS threads, each calling the function `worker` makes for it in a loop,
/// and returns the counters at the start and end of the measured window.
fn run_threads<W, T>(
    args: &Args,
    counters: &Arc<Counters>,
    worker: impl Fn() -> W + Sync,
) -> anyhow::Result<(Mark, Mark)>
where
    W: FnMut() -> anyhow::Result<T> + Send,
{
    std::thread::scope(|scope| -> anyhow::Result<(Mark, Mark)> {
        for _ in 0..args.concurrency {
            let (mut call, counters) = (worker(), counters.clone());
            std::thread::Builder::new()
                .stack_size(256 * 1024)
                .spawn_scoped(scope, move || {
                    while !counters.stopped() {
                        counters.begin();
                        let result = call();
                        let failed = result.is_err();
                        counters.end(result);
                        if failed {
                            std::thread::sleep(Duration::from_millis(1));
                        }
                    }
                })
                .context("starting a worker thread")?;
        }
        let measured = (|| {
            std::thread::sleep(Duration::from_secs_f64(args.warmup));
            let start = Mark::take(counters)?;
            while !window_ends(args, counters, &start, Instant::now()) {
                std::thread::sleep(TICK);
            }
            Ok((start, Mark::take(counters)?))
        })();
        // Stop the workers even when measuring failed; the scope joins them.
        counters.stop.store(true, Ordering::Relaxed);
        measured
    })
}

fn check_items(args: &Args, items: usize) -> anyhow::Result<()> {
    if items != args.limit {
        bail!("asked for {} items, the page holds {items}", args.limit);
    }
    Ok(())
}

fn sdk_client(args: &Args) -> anyhow::Result<AuthenticatedClient> {
    AuthenticatedClient::builder(args.token.clone())
        .base_url(args.url.clone())
        .retry_policy(RetryPolicy::none())
        .build()
        .context("building the SDK client")
}

/// The SDK client of the blocking modes and the input they send, after one blocking call
/// that checked the page.
fn sdk_blocking_client(args: &Args) -> anyhow::Result<(AuthenticatedClient, CatalogSearchInput)> {
    let client = sdk_client(args)?;
    let input = CatalogSearchInput::new(HOST_NAME).limit(args.limit as i64);
    let first =
        catalog_search::send_blocking(&client, input.clone()).context("the first call failed")?;
    check_items(args, output_items(&first)?)?;
    Ok((client, input))
}

/// The item count of a decoded output, read through its JSON form so that it keeps working
/// whatever shape the output model takes.
fn output_items(output: &catalog_search::Output) -> anyhow::Result<usize> {
    let value = serde_json::to_value(output).context("re-encoding the output")?;
    Ok(value
        .get("features")
        .and_then(serde_json::Value::as_array)
        .map_or(0, Vec::len))
}

/// One async call of the selected mode.
#[derive(Clone)]
enum AsyncCall {
    Sdk {
        client: AuthenticatedClient,
        // Boxed: the input is several times the size of the other variant.
        input: Box<CatalogSearchInput>,
    },
    Plain {
        client: reqwest::Client,
        url: Arc<str>,
        auth: HeaderValue,
        body: Bytes,
        decode: bool,
    },
}

impl AsyncCall {
    fn new(args: &Args) -> anyhow::Result<AsyncCall> {
        Ok(match args.mode {
            Mode::SdkAsync => AsyncCall::Sdk {
                client: sdk_client(args)?,
                input: Box::new(CatalogSearchInput::new(HOST_NAME).limit(args.limit as i64)),
            },
            Mode::ReqwestValue | Mode::ReqwestBytes => AsyncCall::Plain {
                client: reqwest::Client::builder()
                    .build()
                    .context("building the reqwest client")?,
                url: format!("{}/v1/op/catalog.search", args.url.trim_end_matches('/')).into(),
                auth: HeaderValue::from_str(&format!("Bearer {}", args.token))
                    .context("the token is not a valid header value")?,
                body: Bytes::from(search_body(HOST_NAME, args.limit)),
                decode: args.mode == Mode::ReqwestValue,
            },
            Mode::SdkBlocking
            | Mode::SdkBlockingNewThread
            | Mode::UreqBlocking
            | Mode::RawBlocking
            | Mode::HyperBlocking
            | Mode::ReqwestBlocking => {
                bail!("a blocking mode has no async call")
            }
        })
    }

    /// One call as measured: the output is decoded (or not) and dropped.
    async fn once(&self) -> anyhow::Result<()> {
        match self {
            AsyncCall::Sdk { client, input } => {
                let output = catalog_search::send(client, CatalogSearchInput::clone(input)).await?;
                black_box(output);
            }
            AsyncCall::Plain { decode, .. } => {
                let bytes = self.fetch().await?;
                if *decode {
                    let value: serde_json::Value = serde_json::from_slice(&bytes)?;
                    black_box(value);
                } else {
                    black_box(bytes);
                }
            }
        }
        Ok(())
    }

    /// One call whose page is checked: the number of items in it.
    async fn items(&self) -> anyhow::Result<usize> {
        match self {
            AsyncCall::Sdk { client, input } => {
                output_items(&catalog_search::send(client, CatalogSearchInput::clone(input)).await?)
            }
            AsyncCall::Plain { .. } => count_features(&self.fetch().await?),
        }
    }

    async fn fetch(&self) -> anyhow::Result<Bytes> {
        let AsyncCall::Plain {
            client,
            url,
            auth,
            body,
            ..
        } = self
        else {
            bail!("not a plain client");
        };
        let response = client
            .post(&**url)
            .header(AUTHORIZATION, auth.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body.clone())
            .send()
            .await?
            .error_for_status()?;
        Ok(response.bytes().await?)
    }
}

/// How long a blocking floor waits on a silent server before the call fails.
const FLOOR_TIMEOUT: Duration = Duration::from_secs(10);
/// The largest answer a blocking floor reads; the bench server's pages are far smaller.
const FLOOR_MAX_BODY: usize = 64 << 20;
/// The largest answer head `raw-blocking` reads before giving up on it.
const FLOOR_MAX_HEAD: usize = 64 << 10;

/// One `catalog.search` through ureq: the typed input serialized, posted, and the answer
/// decoded into the typed page. No checks, retries, limiter or tracing: what a synchronous
/// transport under the SDK would cost before the SDK's own work.
struct UreqCall {
    agent: ureq::Agent,
    url: String,
    authorization: String,
    input: CatalogSearchInput,
}

impl UreqCall {
    fn new(args: &Args) -> anyhow::Result<UreqCall> {
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_idle_connections(args.concurrency)
            .max_idle_connections_per_host(args.concurrency)
            // Bounds for each phase rather than one for the whole call: ureq resolves the host
            // on a thread of its own per call when a global timeout is set, which halves its
            // calls/s here.
            .timeout_send_request(Some(FLOOR_TIMEOUT))
            .timeout_recv_response(Some(FLOOR_TIMEOUT))
            .timeout_recv_body(Some(FLOOR_TIMEOUT))
            .build()
            .new_agent();
        Ok(UreqCall {
            agent,
            url: format!("{}/v1/op/catalog.search", args.url.trim_end_matches('/')),
            authorization: format!("Bearer {}", args.token),
            input: CatalogSearchInput::new(HOST_NAME).limit(args.limit as i64),
        })
    }

    fn once(&self) -> anyhow::Result<catalog_search::Output> {
        let body = serde_json::to_vec(&self.input)?;
        let mut response = self
            .agent
            .post(&self.url)
            .header(AUTHORIZATION, &self.authorization)
            .header(CONTENT_TYPE, "application/json")
            .send(&body[..])?;
        ensure!(
            response.status() == http::StatusCode::OK,
            "the server answered {}",
            response.status()
        );
        let page = response
            .body_mut()
            .with_config()
            .limit(FLOOR_MAX_BODY as u64)
            .read_to_vec()?;
        Ok(serde_json::from_slice(&page)?)
    }
}

/// One `catalog.search` through `reqwest::blocking`, sent as `reqwest-value` sends it. reqwest
/// runs every call of the client on one thread of its own: that hand-off is what is measured.
struct ReqwestBlockingCall {
    client: reqwest::blocking::Client,
    url: String,
    authorization: HeaderValue,
    body: Bytes,
}

impl ReqwestBlockingCall {
    fn new(args: &Args) -> anyhow::Result<ReqwestBlockingCall> {
        Ok(ReqwestBlockingCall {
            client: reqwest::blocking::Client::builder()
                .timeout(FLOOR_TIMEOUT)
                .build()
                .context("building the blocking reqwest client")?,
            url: format!("{}/v1/op/catalog.search", args.url.trim_end_matches('/')),
            authorization: HeaderValue::from_str(&format!("Bearer {}", args.token))
                .context("the token is not a valid header value")?,
            body: Bytes::from(search_body(HOST_NAME, args.limit)),
        })
    }

    /// The answer's body, undecoded.
    fn fetch(&self) -> anyhow::Result<Bytes> {
        let response = self
            .client
            .post(&self.url)
            .header(AUTHORIZATION, self.authorization.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(self.body.clone())
            .send()?;
        ensure!(
            response.status() == http::StatusCode::OK,
            "the server answered {}",
            response.status()
        );
        ensure!(
            response
                .content_length()
                .is_some_and(|length| length <= FLOOR_MAX_BODY as u64),
            "the answer has no Content-Length or is too long"
        );
        Ok(response.bytes()?)
    }
}

/// The `raw-blocking` call every thread sends: a request written once and sent as is.
struct RawRequest {
    address: String,
    bytes: Vec<u8>,
}

impl RawRequest {
    fn new(args: &Args) -> anyhow::Result<RawRequest> {
        let url = reqwest::Url::parse(&args.url).context("--url is not a URL")?;
        ensure!(
            url.scheme() == "http",
            "raw-blocking speaks plain HTTP only"
        );
        let host = url.host_str().context("--url has no host")?;
        let port = url.port_or_known_default().context("--url has no port")?;
        let body = search_body(HOST_NAME, args.limit);
        let bytes = format!(
            "POST /v1/op/catalog.search HTTP/1.1\r\nhost: {host}:{port}\r\n\
             authorization: Bearer {}\r\ncontent-type: application/json\r\n\
             content-length: {}\r\n\r\n{body}",
            args.token,
            body.len()
        );
        Ok(RawRequest {
            address: format!("{host}:{port}"),
            bytes: bytes.into_bytes(),
        })
    }
}

/// One thread's connection for `raw-blocking`: the answer's head parsed by `httparse`, its
/// `Content-Length` body read and decoded into the typed page. It handles what the bench
/// server sends (HTTP/1.1, `Content-Length`, keep-alive) and nothing more.
struct RawConnection<'a> {
    request: &'a RawRequest,
    /// Made on first use and after any failure, so a broken connection is never reused.
    stream: Option<TcpStream>,
    buffer: Vec<u8>,
}

impl RawConnection<'_> {
    fn new(request: &RawRequest) -> RawConnection<'_> {
        RawConnection {
            request,
            stream: None,
            buffer: Vec::with_capacity(32 * 1024),
        }
    }

    fn once(&mut self) -> anyhow::Result<catalog_search::Output> {
        let body = self.exchange();
        if body.is_err() {
            self.stream = None;
        }
        Ok(serde_json::from_slice(&self.buffer[body?])?)
    }

    /// Sends the request and reads one whole answer into the buffer; returns where its body is.
    fn exchange(&mut self) -> anyhow::Result<Range<usize>> {
        let RawConnection {
            request,
            stream,
            buffer,
        } = self;
        let stream = match stream {
            Some(stream) => stream,
            None => {
                let fresh = TcpStream::connect(&request.address)
                    .with_context(|| format!("connecting to {}", request.address))?;
                fresh.set_nodelay(true)?;
                fresh.set_read_timeout(Some(FLOOR_TIMEOUT))?;
                fresh.set_write_timeout(Some(FLOOR_TIMEOUT))?;
                stream.insert(fresh)
            }
        };
        stream.write_all(&request.bytes)?;
        buffer.clear();
        let (head, length) = loop {
            read_more(stream, buffer)?;
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut answer = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(head) = answer.parse(buffer)? {
                ensure!(
                    answer.code == Some(200),
                    "the server answered {:?}",
                    answer.code
                );
                let length = answer
                    .headers
                    .iter()
                    .find(|h| h.name.eq_ignore_ascii_case("content-length"))
                    .context("the answer has no Content-Length")?;
                let length: usize = std::str::from_utf8(length.value)?.trim().parse()?;
                ensure!(
                    length <= FLOOR_MAX_BODY,
                    "the answer is {length} bytes long"
                );
                break (head, length);
            }
            ensure!(buffer.len() < FLOOR_MAX_HEAD, "the answer head is too long");
        };
        while buffer.len() < head + length {
            read_more(stream, buffer)?;
        }
        // The server answers only what was asked, so nothing follows this body.
        ensure!(
            buffer.len() == head + length,
            "the server sent more than one answer"
        );
        Ok(head..head + length)
    }
}

/// Where `hyper-blocking` sends its calls, and what.
struct HyperTarget {
    /// `host:port`, to connect to and to send as `Host`.
    authority: String,
    authorization: HeaderValue,
    input: CatalogSearchInput,
}

impl HyperTarget {
    fn new(args: &Args) -> anyhow::Result<HyperTarget> {
        let url = reqwest::Url::parse(&args.url).context("--url is not a URL")?;
        ensure!(
            url.scheme() == "http",
            "hyper-blocking speaks plain HTTP only"
        );
        let host = url.host_str().context("--url has no host")?;
        let port = url.port_or_known_default().context("--url has no port")?;
        Ok(HyperTarget {
            authority: format!("{host}:{port}"),
            authorization: HeaderValue::from_str(&format!("Bearer {}", args.token))
                .context("the token is not a valid header value")?,
            input: CatalogSearchInput::new(HOST_NAME).limit(args.limit as i64),
        })
    }
}

/// A blocking socket as hyper's I/O, for a thread without a runtime. Reads never wait
/// (`MSG_DONTWAIT`): hyper reads again after each answer to notice a closed connection, and a
/// read that waited would hang there; [`drive`] instead sleeps in `poll(2)` until the socket is
/// readable whenever nothing else can move. Writes wait until done (a request fits the send
/// buffer). Reads land in `scratch` first, since filling hyper's buffer in place would need
/// `unsafe`.
struct BlockingIo {
    stream: TcpStream,
    scratch: Vec<u8>,
}

/// Sleeps until `stream` has something to read (or is closed), for at most [`FLOOR_TIMEOUT`].
fn wait_readable(stream: &TcpStream) -> std::io::Result<()> {
    use rustix::event::{poll, PollFd, PollFlags, Timespec};
    let timeout = Timespec {
        tv_sec: FLOOR_TIMEOUT.as_secs() as i64,
        tv_nsec: 0,
    };
    let ready = poll(&mut [PollFd::new(stream, PollFlags::IN)], Some(&timeout))?;
    if ready == 0 {
        return Err(std::io::ErrorKind::TimedOut.into());
    }
    Ok(())
}

impl hyper::rt::Read for BlockingIo {
    fn poll_read(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        mut buf: hyper::rt::ReadBufCursor<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use rustix::net::{recv, RecvFlags};
        let io = self.get_mut();
        let room = buf.remaining().min(io.scratch.len());
        match recv(&io.stream, &mut io.scratch[..room], RecvFlags::DONTWAIT) {
            Ok((read, _)) => {
                buf.put_slice(&io.scratch[..read]);
                std::task::Poll::Ready(Ok(()))
            }
            Err(rustix::io::Errno::AGAIN) => std::task::Poll::Pending,
            Err(e) => std::task::Poll::Ready(Err(e.into())),
        }
    }
}

impl hyper::rt::Write for BlockingIo {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
        buf: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        std::task::Poll::Ready(self.get_mut().stream.write(buf))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(self.get_mut().stream.flush())
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        std::task::Poll::Ready(self.get_mut().stream.shutdown(std::net::Shutdown::Write))
    }
}

type HyperConn = hyper::client::conn::http1::Connection<BlockingIo, http_body_util::Full<Bytes>>;
type HyperSender = hyper::client::conn::http1::SendRequest<http_body_util::Full<Bytes>>;

/// One thread's hyper connection for `hyper-blocking`, opened on first use and after a failure.
struct HyperConnection<'a> {
    target: &'a HyperTarget,
    /// The request side, the connection to poll, and the socket (a second handle) to wait on.
    open: Option<(HyperSender, std::pin::Pin<Box<HyperConn>>, TcpStream)>,
}

impl HyperConnection<'_> {
    fn new(target: &HyperTarget) -> HyperConnection<'_> {
        HyperConnection { target, open: None }
    }

    fn once(&mut self) -> anyhow::Result<catalog_search::Output> {
        let body = self.exchange();
        if body.is_err() {
            self.open = None;
        }
        Ok(serde_json::from_slice(&body?)?)
    }

    fn exchange(&mut self) -> anyhow::Result<Bytes> {
        use http_body_util::BodyExt as _;
        let target = self.target;
        let (sender, connection, socket) = match &mut self.open {
            Some(open) => open,
            None => {
                let stream = TcpStream::connect(&target.authority)
                    .with_context(|| format!("connecting to {}", target.authority))?;
                stream.set_nodelay(true)?;
                stream.set_read_timeout(Some(FLOOR_TIMEOUT))?;
                stream.set_write_timeout(Some(FLOOR_TIMEOUT))?;
                let socket = stream.try_clone()?;
                let handshake = hyper::client::conn::http1::handshake(BlockingIo {
                    stream,
                    scratch: vec![0; 32 * 1024],
                });
                let (sender, connection) = drive(None, std::pin::pin!(handshake))??;
                self.open.insert((sender, Box::pin(connection), socket))
            }
        };
        let request = http::Request::post("/v1/op/catalog.search")
            .header(http::header::HOST, &target.authority)
            .header(AUTHORIZATION, target.authorization.clone())
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(http_body_util::Full::new(Bytes::from(serde_json::to_vec(
                &target.input,
            )?)))?;
        let response = drive(
            Some((connection.as_mut(), &*socket)),
            std::pin::pin!(sender.send_request(request)),
        )??;
        ensure!(
            response.status() == http::StatusCode::OK,
            "the server answered {}",
            response.status()
        );
        let limited = http_body_util::Limited::new(response.into_body(), FLOOR_MAX_BODY);
        let collected = drive(
            Some((connection.as_mut(), &*socket)),
            std::pin::pin!(limited.collect()),
        )?
        .map_err(|e| anyhow::anyhow!("reading the answer: {e}"))?;
        Ok(collected.to_bytes())
    }
}

/// Polls `work`, and the connection between its polls, until `work` is done; when neither
/// can move, sleeps until the socket has something to read. A connection that ends first fails
/// the call.
fn drive<T>(
    mut connection: Option<(std::pin::Pin<&mut HyperConn>, &TcpStream)>,
    mut work: std::pin::Pin<&mut impl std::future::Future<Output = T>>,
) -> anyhow::Result<T> {
    use std::future::Future as _;
    use std::task::Poll;
    let mut context = std::task::Context::from_waker(std::task::Waker::noop());
    for _ in 0..100_000 {
        if let Poll::Ready(output) = work.as_mut().poll(&mut context) {
            return Ok(output);
        }
        let Some((connection, socket)) = connection.as_mut() else {
            bail!("nothing drives this work");
        };
        if let Poll::Ready(ended) = connection.as_mut().poll(&mut context) {
            ended?;
            bail!("the connection ended before the answer");
        }
        if let Poll::Ready(output) = work.as_mut().poll(&mut context) {
            return Ok(output);
        }
        wait_readable(socket)?;
    }
    bail!("no answer after a hundred thousand turns")
}

/// Appends what the socket has (up to 32 KiB) to `buffer`; a closed connection is an error.
fn read_more(stream: &mut TcpStream, buffer: &mut Vec<u8>) -> anyhow::Result<()> {
    let start = buffer.len();
    buffer.resize(start + 32 * 1024, 0);
    let read = stream.read(&mut buffer[start..]);
    buffer.truncate(start + *read.as_ref().unwrap_or(&0));
    ensure!(read? > 0, "the server closed the connection");
    Ok(())
}
