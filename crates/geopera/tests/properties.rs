//! Property tests of the SDK against a hostile server of the test's own on 127.0.0.1: every
//! answer is generated — any status, any or no `Content-Type`, any `Retry-After`, honest or
//! lying framing, arbitrary bytes or arbitrary JSON — and driven through the public API
//! (`send`, `send_detailed`, `send_blocking`, `send_blocking_detailed`, pages, the NDJSON
//! stream and `Geopera::invoke`).
//!
//! Whatever the server says, the SDK must not panic; every failure is a `geopera::Error` whose
//! message is non-empty and never holds the client's token; a call succeeds only on the
//! operation's documented success status, and does succeed when that status comes with a
//! body that fits the output model.
//!
//! Cases are bounded (see [`config`]); `PROPTEST_CASES=1000` runs more and
//! `PROPTEST_RNG_SEED=<n>` explores other inputs. Failures are not persisted.

use std::collections::VecDeque;
use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use futures::StreamExt as _;
use geopera::{AuthenticatedClient, Geopera, OperationInfo};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestCaseError, TestRunner};
use serde_json::{Map, Number, Value};

/// The client's credential: recognisable, so any message that repeats it is caught.
const TOKEN: &str = "gpra_proptest_SECRET_7f3c9a1e5b2d";

/// The seed of every runner unless `PROPTEST_RNG_SEED` is set.
const SEED: u64 = 0x0067_656f_7065_7261;

/// A runner configuration: `cases` unless `PROPTEST_CASES` says otherwise, a fixed seed
/// (varied by `salt`) unless `PROPTEST_RNG_SEED` says otherwise, no persisted failures.
fn config(cases: u32, salt: u64) -> Config {
    let mut config = Config {
        failure_persistence: None,
        max_shrink_iters: 500,
        // ChaCha is the default; unoptimized, it costs more than the tests themselves.
        rng_algorithm: RngAlgorithm::XorShift,
        ..Config::default()
    };
    if std::env::var_os("PROPTEST_CASES").is_none() {
        config.cases = cases;
    }
    config.rng_seed = match config.rng_seed {
        RngSeed::Fixed(seed) => RngSeed::Fixed(seed ^ salt),
        RngSeed::Random => RngSeed::Fixed(SEED ^ salt),
    };
    config
}

/// Runs `test` on inputs from `strategy`; panics with the minimal failing input.
fn check<S: Strategy>(
    what: &str,
    cases: u32,
    salt: u64,
    strategy: S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(config(cases, salt));
    if let Err(failure) = runner.run(&strategy, test) {
        panic!("{what}: {failure}");
    }
}

fn fail(what: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(what.to_string())
}

// ---------------------------------------------------------------------------------------------
// The hostile server

/// How the body is delimited on the wire.
#[derive(Clone, Debug)]
enum Framing {
    /// A correct `Content-Length`.
    Length,
    /// No length: the body ends when the connection closes.
    Close,
    /// `Transfer-Encoding: chunked`, cut at these places.
    Chunked(Vec<Index>),
    /// A `Content-Length` this much larger than the body (the answer is cut off).
    Longer(usize),
    /// A `Content-Length` this much smaller than the body (the rest is trailing garbage).
    Shorter(usize),
    /// Not HTTP at all: these bytes instead of the whole answer.
    Garbage(Vec<u8>),
}

impl Framing {
    /// Whether the body arrives whole and exactly.
    fn honest(&self) -> bool {
        matches!(self, Framing::Length | Framing::Close | Framing::Chunked(_))
    }
}

/// One generated answer.
#[derive(Clone)]
struct Answer {
    status: u16,
    content_type: Option<&'static str>,
    /// Extra header lines, e.g. `Retry-After`, as raw bytes (obs-text included).
    headers: Vec<(&'static str, Vec<u8>)>,
    body: Vec<u8>,
    framing: Framing,
}

impl std::fmt::Debug for Answer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let headers: Vec<(&str, String)> = self
            .headers
            .iter()
            .map(|(name, value)| (*name, value.escape_ascii().to_string()))
            .collect();
        f.debug_struct("Answer")
            .field("status", &self.status)
            .field("content_type", &self.content_type)
            .field("headers", &headers)
            .field("body", &String::from_utf8_lossy(&self.body))
            .field("framing", &self.framing)
            .finish()
    }
}

impl Answer {
    fn is_json(&self) -> bool {
        self.content_type
            .is_some_and(|t| t.starts_with("application/json"))
    }

    /// Whether this is a well-formed HTTP answer with one `Content-Type` whose body arrives
    /// whole: header values hold no control characters but HTAB (RFC 9110, section 5.5).
    fn well_formed(&self) -> bool {
        self.framing.honest()
            && self.headers.iter().all(|(name, value)| {
                *name != "content-type"
                    && value
                        .iter()
                        .all(|b| *b == b'\t' || *b >= 0x20 && *b != 0x7f)
            })
    }

    /// The answer as bytes on the wire; the connection closes after it.
    fn to_wire(&self) -> Vec<u8> {
        if let Framing::Garbage(bytes) = &self.framing {
            return bytes.clone();
        }
        let mut out =
            format!("HTTP/1.1 {} Whatever\r\nconnection: close\r\n", self.status).into_bytes();
        if let Some(content_type) = self.content_type {
            out.extend_from_slice(format!("content-type: {content_type}\r\n").as_bytes());
        }
        for (name, value) in &self.headers {
            out.extend_from_slice(name.as_bytes());
            out.extend_from_slice(b": ");
            out.extend_from_slice(value);
            out.extend_from_slice(b"\r\n");
        }
        let body = &self.body;
        match &self.framing {
            Framing::Length => {
                out.extend_from_slice(format!("content-length: {}\r\n\r\n", body.len()).as_bytes());
                out.extend_from_slice(body);
            }
            Framing::Close => {
                out.extend_from_slice(b"\r\n");
                out.extend_from_slice(body);
            }
            Framing::Chunked(cuts) => {
                out.extend_from_slice(b"transfer-encoding: chunked\r\n\r\n");
                let mut cuts: Vec<usize> =
                    cuts.iter().map(|cut| cut.index(body.len() + 1)).collect();
                cuts.push(0);
                cuts.push(body.len());
                cuts.sort_unstable();
                cuts.dedup();
                for pair in cuts.windows(2) {
                    let chunk = &body[pair[0]..pair[1]];
                    out.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                    out.extend_from_slice(chunk);
                    out.extend_from_slice(b"\r\n");
                }
                out.extend_from_slice(b"0\r\n\r\n");
            }
            Framing::Longer(extra) => {
                let length = body.len() + extra;
                out.extend_from_slice(format!("content-length: {length}\r\n\r\n").as_bytes());
                out.extend_from_slice(body);
            }
            Framing::Garbage(_) => {}
            Framing::Shorter(less) => {
                let length = body.len().saturating_sub(*less);
                out.extend_from_slice(format!("content-length: {length}\r\n\r\n").as_bytes());
                out.extend_from_slice(body);
            }
        }
        out
    }
}

/// A one-connection-at-a-time HTTP/1.1 server on 127.0.0.1 that answers each request with the
/// next planned answer (the last one again when the plan runs out) and then closes.
struct Server {
    address: SocketAddr,
    plan: Arc<Mutex<VecDeque<Vec<u8>>>>,
    requests: Arc<AtomicUsize>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl Server {
    fn start() -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("a port on 127.0.0.1");
        let address = listener.local_addr().expect("bound");
        let plan = Arc::new(Mutex::new(VecDeque::<Vec<u8>>::new()));
        let requests = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (plan, requests, stop) = (plan.clone(), requests.clone(), stop.clone());
            std::thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(stream) = stream else { continue };
                    requests.fetch_add(1, Ordering::SeqCst);
                    let answer = {
                        let mut plan = plan.lock().unwrap_or_else(|e| e.into_inner());
                        if plan.len() > 1 {
                            plan.pop_front()
                        } else {
                            plan.front().cloned()
                        }
                    };
                    serve(stream, answer.unwrap_or_default());
                }
            })
        };
        Server {
            address,
            plan,
            requests,
            stop,
            thread: Some(thread),
        }
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.address)
    }

    /// Plans the next answers and resets the request count.
    fn answer(&self, answers: &[Answer]) {
        let mut plan = self.plan.lock().unwrap_or_else(|e| e.into_inner());
        *plan = answers.iter().map(Answer::to_wire).collect();
        self.requests.store(0, Ordering::SeqCst);
    }

    fn requests(&self) -> usize {
        self.requests.load(Ordering::SeqCst)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.address);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads one request (head, then `Content-Length` bytes of body) and writes `answer`.
fn serve(stream: TcpStream, answer: Vec<u8>) {
    let _ = stream.set_read_timeout(Some(Duration::from_secs(5)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(5)));
    let mut reader = BufReader::new(&stream);
    let mut length = 0usize;
    loop {
        let mut line = String::new();
        match reader.read_line(&mut line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("content-length") {
                length = value.trim().parse().unwrap_or(0);
            }
        }
    }
    let mut body = vec![0; length];
    if reader.read_exact(&mut body).is_err() {
        return;
    }
    let mut writer = &stream;
    let _ = writer.write_all(&answer);
    let _ = writer.flush();
    let _ = stream.shutdown(Shutdown::Both);
}

// ---------------------------------------------------------------------------------------------
// Generated answers

fn character() -> impl Strategy<Value = char> {
    prop_oneof![
        8 => 0x20u32..0x7f,
        1 => 0u32..0x20,
        1 => 0x7fu32..0x800,
        1 => 0x800u32..0x1_0000,
        1 => 0x1_0000u32..0x11_0000,
    ]
    .prop_map(|code| char::from_u32(code).unwrap_or(char::REPLACEMENT_CHARACTER))
}

fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        4 => prop::collection::vec(character(), 0..12).prop_map(String::from_iter),
        1 => (prop::collection::vec(character(), 1..4), 10usize..600)
            .prop_map(|(part, times)| String::from_iter(part).repeat(times)),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (-1000i64..1000).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        2 => any::<f64>().prop_filter_map("finite", |x| Number::from_f64(x).map(Value::Number)),
    ]
}

/// Member names the SDK looks at, so generated objects hit its paths.
const KEYS: &[&str] = &[
    "type",
    "title",
    "status",
    "detail",
    "instance",
    "loc",
    "msg",
    "input",
    "ctx",
    "features",
    "items",
    "content",
    "results",
    "data",
    "next",
    "totalPages",
    "id",
    "geometry",
    "properties",
    "assets",
    "links",
    "href",
    "bbox",
    "numberReturned",
    "eo:cloud_cover",
    "key",
    "api_key",
];

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(KEYS).prop_map(str::to_owned),
        1 => text(),
    ]
}

fn json() -> BoxedStrategy<Value> {
    let leaf = prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        2 => number(),
        2 => text().prop_map(Value::String),
    ];
    leaf.prop_recursive(4, 24, 5, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
            prop::collection::btree_map(key(), inner, 0..5)
                .prop_map(|members| Value::Object(members.into_iter().collect())),
        ]
    })
    .boxed()
}

/// JSON shaped like what the SDK expects, with members of any type mixed in.
fn shaped() -> BoxedStrategy<Value> {
    let problem = (
        prop::option::of(text()),
        prop::option::of(text()),
        prop::option::of(number()),
        prop::option::of(text()),
        json(),
    )
        .prop_map(|(kind, title, status, detail, extra)| {
            let mut members = Map::new();
            members.insert("extra".into(), extra);
            for (name, value) in [
                ("type", kind.map(Value::from)),
                ("title", title.map(Value::from)),
                ("status", status),
                ("detail", detail.map(Value::from)),
            ] {
                if let Some(value) = value {
                    members.insert(name.into(), value);
                }
            }
            Value::Object(members)
        });
    let failure = (
        prop::collection::vec(prop_oneof![text().prop_map(Value::from), number()], 0..4),
        text(),
        text(),
    )
        .prop_map(|(loc, msg, kind)| serde_json::json!({"loc": loc, "msg": msg, "type": kind}));
    let validation = prop::collection::vec(failure, 0..3)
        .prop_map(|detail| serde_json::json!({ "detail": detail }));
    let item = (text(), json(), json()).prop_map(
        |(id, geometry, properties)| serde_json::json!({"id": id, "geometry": geometry, "properties": {"eo:cloud_cover": 1.5, "x": properties}}),
    );
    let page = (
        prop::collection::vec(item, 0..3),
        prop::option::of(text()),
        prop::option::of(0i64..5),
    )
        .prop_map(|(features, next, total)| {
            serde_json::json!({"type": "FeatureCollection", "features": features, "content": [1, 2], "next": next, "totalPages": total})
        });
    prop_oneof![problem, validation, page, json()].boxed()
}

/// Bodies: any bytes, JSON shaped like the SDK expects, any JSON, nothing, or a lot.
fn body() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..256),
        3 => shaped().prop_map(|value| serde_json::to_vec(&value).unwrap_or_default()),
        2 => json().prop_map(|value| serde_json::to_vec(&value).unwrap_or_default()),
        1 => Just(Vec::new()),
        1 => (any::<u8>(), 1usize..64 * 1024).prop_map(|(byte, length)| vec![byte; length]),
    ]
}

/// `Retry-After` values: seconds (huge, negative, fractional), HTTP dates (past, far future,
/// malformed) and noise, obs-text bytes included.
fn retry_after() -> impl Strategy<Value = Vec<u8>> {
    const VALUES: &[&str] = &[
        "0",
        "1",
        "59",
        "61",
        "3600",
        "-1",
        "1.5",
        " 2 ",
        "18446744073709551615",
        "18446744073709551616",
        "99999999999999999999999999999999",
        "Thu, 01 Jan 1970 00:00:00 GMT",
        "Fri, 31 Dec 9999 23:59:59 GMT",
        "Sun, 06 Nov 1994 08:49:37 GMT",
        "Sunday, 06-Nov-94 08:49:37 GMT",
        "Sun Nov  6 08:49:37 1994",
        "Mon, 30 Feb 2026 25:61:61 GMT",
        "",
        "now",
    ];
    prop_oneof![
        3 => prop::sample::select(VALUES).prop_map(|v| v.as_bytes().to_vec()),
        1 => any::<u64>().prop_map(|v| v.to_string().into_bytes()),
        1 => prop::collection::vec(prop_oneof![0x20u8..0x7f, 0x80u8..=0xff, Just(b'\t')], 0..40),
    ]
}

fn status() -> impl Strategy<Value = u16> {
    prop_oneof![
        6 => Just(200u16),
        2 => prop::sample::select(vec![201u16, 202, 204, 304, 401, 403, 404, 409, 413, 422, 429, 500, 502, 503, 504]),
        2 => 100u16..1000,
    ]
}

fn framing() -> impl Strategy<Value = Framing> {
    prop_oneof![
        6 => Just(Framing::Length),
        2 => Just(Framing::Close),
        2 => prop::collection::vec(any::<Index>(), 0..6).prop_map(Framing::Chunked),
        1 => (1usize..100).prop_map(Framing::Longer),
        1 => (1usize..100).prop_map(Framing::Shorter),
        1 => prop_oneof![
            prop::collection::vec(any::<u8>(), 0..64),
            prop::collection::vec(any::<u8>(), 0..64).prop_map(|junk| [&b"HTTP/1.1 "[..], &junk].concat()),
            Just(b"HTTP/1.1 200 OK\r\ncontent-length: 9999999999999999999999\r\n\r\n{}".to_vec()),
            Just(b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n".to_vec()),
        ]
        .prop_map(Framing::Garbage),
    ]
}

fn answer() -> impl Strategy<Value = Answer> {
    let content_type = prop::sample::select(vec![
        Some("application/json"),
        Some("application/json"),
        Some("application/problem+json"),
        Some("application/json; charset=utf-8"),
        Some("text/plain"),
        Some("text/html; charset=iso-8859-1"),
        Some("application/x-ndjson"),
        None,
    ]);
    let headers = prop::collection::vec(
        prop_oneof![
            3 => retry_after().prop_map(|value| ("retry-after", value)),
            1 => retry_after().prop_map(|value| ("content-type", value)),
            1 => text().prop_map(|value| ("x-request-id", value.into_bytes())),
        ],
        0..3,
    );
    (status(), content_type, headers, body(), framing()).prop_map(
        |(status, content_type, mut headers, body, framing)| {
            // Header values cannot carry CR, LF or NUL: that would be another message.
            for (_, value) in &mut headers {
                value.retain(|b| !matches!(b, b'\r' | b'\n' | 0));
            }
            Answer {
                status,
                content_type,
                headers,
                body,
                framing,
            }
        },
    )
}

// ---------------------------------------------------------------------------------------------
// Judging outcomes

fn client(server: &Server) -> AuthenticatedClient {
    AuthenticatedClient::builder(TOKEN)
        .base_url(server.base_url())
        .retries(0)
        .timeout(Duration::from_secs(5))
        .build()
        .expect("a valid configuration")
}

/// A failure is an error value that says something and never repeats the token, in its
/// message, its debug form or any of its causes; a status it reports is the one that came.
fn clean(error: &geopera::Error, answer: &Answer) -> Result<(), TestCaseError> {
    clean_of(error, std::slice::from_ref(answer))
}

/// [`clean`], for an error that came from one of `answers`.
fn clean_of(error: &geopera::Error, answers: &[Answer]) -> Result<(), TestCaseError> {
    let message = error.to_string();
    prop_assert!(!message.trim().is_empty(), "an empty message: {:?}", error);
    let debug = format!("{error:?}");
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(error);
    let mut causes = String::new();
    while let Some(inner) = cause {
        causes.push_str(&inner.to_string());
        cause = inner.source();
    }
    for (what, text) in [
        ("message", &message),
        ("debug form", &debug),
        ("causes", &causes),
    ] {
        prop_assert!(
            !text.contains(TOKEN) && !text.contains("SECRET_7f3c"),
            "the token is in the {}: {}",
            what,
            text
        );
    }
    let garbage = answers
        .iter()
        .any(|answer| matches!(answer.framing, Framing::Garbage(_)));
    if let (Some(status), false) = (error.status(), garbage) {
        prop_assert!(
            answers
                .iter()
                .any(|answer| answer.status == status.as_u16()),
            "{} reported, not one of the answers: {}",
            status,
            message
        );
    }
    Ok(())
}

/// What a call gave back, short of its model.
enum Done {
    /// `send`: the success model.
    Model,
    /// `send_detailed`: an answer with this status, carrying the success model or not.
    Detailed { status: u16, success: bool },
}

/// Judges one call of `info` against the answer it got; `fits` says whether the body decodes
/// as the operation's output model. Returns whether the call succeeded.
fn judge(
    info: &OperationInfo,
    answer: &Answer,
    fits: bool,
    outcome: Result<Done, geopera::Error>,
) -> Result<bool, TestCaseError> {
    let success = answer.status == info.success_status;
    if let Framing::Garbage(bytes) = &answer.framing {
        // Whatever the bytes say is the status; only a real HTTP head can be a success.
        if !bytes.starts_with(b"HTTP/1.1 200") && !bytes.starts_with(b"HTTP/1.1 20") {
            prop_assert!(
                outcome.is_err(),
                "garbage accepted: {}",
                bytes.escape_ascii()
            );
        }
        return match outcome {
            Err(error) => clean(&error, answer).map(|()| false),
            Ok(_) => Ok(true),
        };
    }
    match &outcome {
        Ok(Done::Model) => prop_assert!(success, "{} accepted as a success", answer.status),
        Ok(Done::Detailed {
            status,
            success: parsed,
        }) => {
            prop_assert_eq!(*status, answer.status);
            prop_assert!(!parsed || success, "{} parsed as a success", answer.status);
        }
        Err(error) => clean(error, answer)?,
    }
    // The converse: the documented success status with an honest JSON body that fits.
    if success && fits && answer.is_json() && answer.well_formed() {
        match outcome {
            Ok(Done::Model) | Ok(Done::Detailed { success: true, .. }) => {}
            Ok(Done::Detailed { .. }) => return Err(fail("a fitting success was not parsed")),
            Err(error) => return Err(fail(format!("a fitting success failed: {error}"))),
        }
    }
    Ok(matches!(
        outcome,
        Ok(Done::Model | Done::Detailed { success: true, .. })
    ))
}

/// The four verbs of an operation module.
#[derive(Clone, Copy, Debug)]
enum Verb {
    Send,
    Detailed,
    Blocking,
    BlockingDetailed,
}

fn verb() -> impl Strategy<Value = Verb> {
    prop::sample::select(vec![
        Verb::Send,
        Verb::Detailed,
        Verb::Blocking,
        Verb::BlockingDetailed,
    ])
}

/// Calls operation module `$op` with `$verb` and judges the outcome.
macro_rules! call {
    ($op:ident, $client:expr, $runtime:expr, $verb:expr, $body:expr, $answer:expr) => {{
        use geopera::operations::$op as op;
        let (client, body) = ($client, $body);
        let outcome = match $verb {
            Verb::Send => $runtime
                .block_on(op::send(client, body))
                .map(|_| Done::Model),
            Verb::Detailed => {
                $runtime
                    .block_on(op::send_detailed(client, body))
                    .map(|r| Done::Detailed {
                        status: r.status.as_u16(),
                        success: r.is_success(),
                    })
            }
            Verb::Blocking => op::send_blocking(client, body).map(|_| Done::Model),
            Verb::BlockingDetailed => {
                op::send_blocking_detailed(client, body).map(|r| Done::Detailed {
                    status: r.status.as_u16(),
                    success: r.is_success(),
                })
            }
        };
        let fits = serde_json::from_slice::<op::Output>(&$answer.body).is_ok();
        let info = geopera::descriptors::find(op::OPERATION_ID).expect("a known operation");
        judge(info, &$answer, fits, outcome)
    }};
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a runtime")
}

fn object(value: Value) -> geopera::JsonObject {
    value.as_object().cloned().unwrap_or_default()
}

// ---------------------------------------------------------------------------------------------
// Properties

/// Five operations — a typed STAC page, free-form answers with 200, 201 and 202, and a typed
/// model — each through one of the four verbs, against any answer.
#[test]
fn every_verb_survives_any_answer() {
    let server = Server::start();
    let runtime = runtime();
    let strategy = (0usize..5, verb(), answer(), prop::bool::weighted(0.4));
    let (cases, successes) = (std::cell::Cell::new(0u32), std::cell::Cell::new(0u32));
    check(
        "operations",
        96,
        1,
        strategy,
        |(op, verb, mut answer, on_success)| {
            if on_success {
                // The operation's own success status, so that bodies that fit are seen often.
                answer.status = [200, 200, 201, 202, 200][op];
            }
            server.answer(std::slice::from_ref(&answer));
            let client = client(&server);
            let client = &client;
            let succeeded = match op {
                0 => call!(
                    catalog_search,
                    client,
                    runtime,
                    verb,
                    geopera::models::CatalogSearchInput::new("earthsearch-aws"),
                    answer
                ),
                1 => call!(
                    billing_credits_balance,
                    client,
                    runtime,
                    verb,
                    geopera::models::Empty::default(),
                    answer
                ),
                2 => call!(
                    billing_topup,
                    client,
                    runtime,
                    verb,
                    object(serde_json::json!({"amount": 10})),
                    answer
                ),
                3 => call!(
                    orders_archive_place,
                    client,
                    runtime,
                    verb,
                    object(serde_json::json!({"captures": []})),
                    answer
                ),
                _ => call!(
                    api_keys_create,
                    client,
                    runtime,
                    verb,
                    geopera::models::ApiKeyCreateInput::new("k"),
                    answer
                ),
            }?;
            cases.set(cases.get() + 1);
            successes.set(successes.get() + u32::from(succeeded));
            // Exactly one request, whatever came back: nothing is retried with `retries(0)`.
            prop_assert_eq!(server.requests(), 1);
            Ok(())
        },
    );
    // Success answers are generated often enough for the converse to be checked.
    assert!(
        successes.get() * 10 > cases.get(),
        "{} successes in {} calls",
        successes.get(),
        cases.get()
    );
}

/// `Geopera::invoke` with a valid body for any operation, against any answer; an unknown id
/// fails before anything is sent.
#[test]
fn invoke_survives_any_answer_for_any_operation() {
    let server = Server::start();
    let runtime = runtime();
    let all = geopera::descriptors::ALL;
    let strategy = (any::<Index>(), any::<u64>(), any::<bool>(), answer());
    check("invoke", 64, 2, strategy, |(op, seed, blocking, answer)| {
        let info = all[op.index(all.len())];
        server.answer(std::slice::from_ref(&answer));
        let geopera = Geopera::builder(TOKEN)
            .base_url(server.base_url())
            .retries(0)
            .timeout(Duration::from_secs(5))
            .build()
            .map_err(fail)?;
        let body = geopera_types_sample(info, seed);
        let outcome = if blocking {
            geopera.invoke_blocking(info.id, body)
        } else {
            runtime.block_on(geopera.invoke(info.id, body))
        };
        let fits = serde_json::from_slice::<Value>(&answer.body).is_ok();
        judge(info, &answer, fits, outcome.map(|_| Done::Model))?;

        server.answer(std::slice::from_ref(&answer));
        let unknown = runtime.block_on(geopera.invoke("no.such.operation", Value::Null));
        let error = unknown
            .err()
            .ok_or_else(|| fail("an unknown id succeeded"))?;
        clean(&error, &answer)?;
        prop_assert_eq!(server.requests(), 0);
        Ok(())
    });
}

/// A body that fits the operation's input: its contract sample.
fn geopera_types_sample(info: &OperationInfo, seed: u64) -> Value {
    geopera_types::sample::sample(info.input, seed)
}

/// `orders.list` walked page by page, each page any answer: a page is yielded only from a
/// 200, a failure ends the walk, and the walk never asks for more than it yields.
#[test]
fn pages_survive_any_answers() {
    let server = Server::start();
    let runtime = runtime();
    let strategy = (prop::collection::vec(answer(), 1..4), any::<bool>());
    check("pages", 48, 3, strategy, |(answers, blocking)| {
        server.answer(&answers);
        let client = client(&server);
        let body = geopera::models::OrdersListInput::new().size(2);
        let pages: Vec<Result<Value, geopera::Error>> = if blocking {
            geopera::operations::orders_list::pages_blocking(&client, body)
                .take(4)
                .collect()
        } else {
            runtime.block_on(
                geopera::operations::orders_list::pages(&client, body)
                    .take(4)
                    .collect(),
            )
        };
        prop_assert!(
            server.requests() <= pages.len(),
            "{} requests",
            server.requests()
        );
        for (index, page) in pages.iter().enumerate() {
            let answer = &answers[index.min(answers.len() - 1)];
            match page {
                Ok(_) => prop_assert_eq!(answer.status, 200),
                Err(error) => {
                    clean(error, answer)?;
                    prop_assert_eq!(index + 1, pages.len(), "the walk went on after {}", error);
                }
            }
        }
        // Items, flattened, survive the same answers. (A new client: a 429 above may have
        // paused this one for up to a minute.)
        server.answer(&answers);
        let items: Vec<Result<Value, geopera::Error>> = runtime.block_on(
            geopera::operations::orders_list::items(
                &self::client(&server),
                geopera::models::OrdersListInput::new().size(2),
            )
            .take(16)
            .collect(),
        );
        for item in &items {
            if let Err(error) = item {
                clean_of(error, &answers)?;
            }
        }
        Ok(())
    });
}

/// NDJSON lines, blank lines and broken lines, in any chunks.
fn ndjson() -> impl Strategy<Value = Vec<u8>> {
    let line = prop_oneof![
        4 => json().prop_map(|value| serde_json::to_vec(&value).unwrap_or_default()),
        1 => Just(Vec::new()),
        1 => Just(b" \t\r".to_vec()),
        1 => prop::collection::vec(any::<u8>(), 0..40),
    ];
    (
        prop::collection::vec(line, 0..8),
        prop::sample::select(vec![&b"\n"[..], b"\r\n"]),
        any::<bool>(),
    )
        .prop_map(|(lines, end, trailing)| {
            let mut body = lines.join(end);
            if trailing {
                body.extend_from_slice(end);
            }
            body
        })
}

/// What the stream should yield for `body`: each non-blank line, parsed.
fn expected_items(body: &[u8]) -> Vec<Option<Value>> {
    body.split(|b| *b == b'\n')
        .map(<[u8]>::trim_ascii)
        .filter(|line| !line.is_empty())
        .map(|line| serde_json::from_slice(line).ok())
        .collect()
}

/// `catalog.search_stream` read as it arrives: items come only from a 200, in order, each the
/// parse of its line; a line that does not parse is an error; nothing after an error but
/// errors or the rest of the lines.
#[test]
fn the_ndjson_stream_survives_any_bytes_in_any_chunks() {
    let server = Server::start();
    let runtime = runtime();
    let arrived = std::cell::Cell::new(0usize);
    let strategy = (
        answer(),
        ndjson(),
        prop::collection::vec(any::<Index>(), 0..8),
        any::<bool>(),
    );
    check(
        "ndjson",
        96,
        4,
        strategy,
        |(mut answer, body, cuts, blocking)| {
            if answer.status == 200 && answer.well_formed() {
                answer.body = body;
                answer.framing = Framing::Chunked(cuts);
            }
            server.answer(std::slice::from_ref(&answer));
            let client = client(&server);
            let input = geopera::JsonObject::new();
            let items: Vec<Result<Value, geopera::Error>> = if blocking {
                geopera::operations::catalog_search_stream::stream_blocking(&client, input)
                    .take(64)
                    .collect()
            } else {
                runtime.block_on(
                    geopera::operations::catalog_search_stream::stream(&client, input)
                        .take(64)
                        .collect(),
                )
            };
            arrived.set(arrived.get() + items.iter().filter(|item| item.is_ok()).count());
            if answer.status != 200 {
                prop_assert!(
                    items.iter().all(Result::is_err),
                    "items from a {}",
                    answer.status
                );
            }
            let expected = expected_items(&answer.body);
            for (index, item) in items.iter().enumerate() {
                match item {
                    Ok(value) => {
                        prop_assert_eq!(answer.status, 200);
                        let wanted = Some(value.clone());
                        prop_assert_eq!(expected.get(index), Some(&wanted));
                    }
                    Err(error) => clean(error, &answer)?,
                }
            }
            // Every good line up to the first bad one arrives when the body is sent honestly.
            if answer.status == 200 && answer.well_formed() {
                let good = expected.iter().take_while(|line| line.is_some()).count();
                prop_assert!(
                    items.iter().take_while(|item| item.is_ok()).count() >= good.min(64),
                    "{} of {} good lines arrived",
                    items.iter().filter(|item| item.is_ok()).count(),
                    good
                );
            }
            Ok(())
        },
    );
    assert!(arrived.get() > 64, "only {} items arrived", arrived.get());
}

/// Answers that repeat the client's token back (a server or proxy that reflects the
/// `Authorization` header into an error): the SDK must not pass it on in its errors.
fn reflecting() -> impl Strategy<Value = Answer> {
    let echo = prop::sample::select(vec![
        format!(
            r#"{{"type": "about:blank", "title": "Unauthorized", "status": 401, "detail": "bad token Bearer {TOKEN}"}}"#
        ),
        format!(
            r#"{{"detail": [{{"loc": ["header", "authorization"], "msg": "invalid", "type": "x", "input": "Bearer {TOKEN}"}}]}}"#
        ),
        format!("you sent {TOKEN}"),
        format!(r#"{{"features": "{TOKEN}"}}"#),
    ]);
    (answer(), echo).prop_map(|(mut answer, echo)| {
        answer.body = echo.into_bytes();
        answer.framing = Framing::Length;
        answer
    })
}

/// A reflected token never reaches an error's message, debug form or causes.
#[test]
fn a_token_the_server_reflects_is_not_repeated_in_errors() {
    let server = Server::start();
    let runtime = runtime();
    check(
        "reflected token",
        32,
        5,
        (0usize..2, verb(), reflecting()),
        |(op, verb, answer)| {
            server.answer(std::slice::from_ref(&answer));
            let client = client(&server);
            let client = &client;
            match op {
                0 => call!(
                    catalog_search,
                    client,
                    runtime,
                    verb,
                    geopera::models::CatalogSearchInput::new("earthsearch-aws"),
                    answer
                ),
                _ => call!(
                    billing_credits_balance,
                    client,
                    runtime,
                    verb,
                    geopera::models::Empty::default(),
                    answer
                ),
            }
            .map(drop)
        },
    );
}
