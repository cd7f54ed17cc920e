//! Property test of the emulator over real TCP on 127.0.0.1: requests with arbitrary bytes or
//! arbitrary JSON as the body (or a valid body broken anywhere), to any operation id or to
//! ids that do not exist, with odd content types, methods and credentials.
//!
//! Every answer must arrive (no dropped connection), never be a 5xx, and be JSON
//! (`application/json` or `application/problem+json`) that parses; a problem names the status
//! it came with, a 422 lists failures located in the request, and a 2xx comes only from a
//! known operation with its documented success status.
//!
//! Cases are bounded (see [`config`]); `PROPTEST_CASES=1000` runs more and
//! `PROPTEST_RNG_SEED=<n>` explores other inputs. Failures are not persisted.

use std::time::Duration;

use geopera_emulator::{Emulator, EmulatorHandle, RateLimits};
use geopera_types::operations::ALL;
use geopera_types::OperationInfo;
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestCaseError, TestRunner};
use serde_json::{Number, Value};

/// The seed of every runner unless `PROPTEST_RNG_SEED` is set.
const SEED: u64 = 0x0067_656f_7065_7261;

/// Generated bodies stay below this, far under the emulator's 2 MiB body limit.
const MAX_BODY: usize = 64 * 1024;

/// A runner configuration: `cases` unless `PROPTEST_CASES` says otherwise, a fixed seed
/// unless `PROPTEST_RNG_SEED` says otherwise, no persisted failures.
fn config(cases: u32) -> Config {
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
    if config.rng_seed == RngSeed::Random {
        config.rng_seed = RngSeed::Fixed(SEED);
    }
    config
}

fn fail(what: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(what.to_string())
}

// ---------------------------------------------------------------------------------------------
// Generated requests

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
        1 => (prop::collection::vec(character(), 1..4), 10usize..2000)
            .prop_map(|(part, times)| String::from_iter(part).repeat(times)),
    ]
}

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (-1000i64..1000).prop_map(Value::from),
        1 => any::<i64>().prop_map(Value::from),
        1 => any::<u64>().prop_map(Value::from),
        2 => any::<f64>().prop_filter_map("finite", |x| Number::from_f64(x).map(Value::Number)),
        1 => prop::sample::select(vec![0.5, -1.0, 1e300, 4_435_267_417_386_802.0, 5e-324])
            .prop_filter_map("finite", |x| Number::from_f64(x).map(Value::Number)),
    ]
}

/// Member names of every operation input, so objects hit the fields the emulator reads.
fn field_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = ALL
        .iter()
        .flat_map(|info| info.input.fields())
        .map(|field| field.name)
        .collect();
    names.sort_unstable();
    names.dedup();
    names
}

fn key() -> impl Strategy<Value = String> {
    prop_oneof![
        3 => prop::sample::select(field_names()).prop_map(str::to_owned),
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

/// Where the request goes.
#[derive(Clone)]
enum Target {
    /// A known operation.
    Known(&'static OperationInfo),
    /// An id no operation has.
    Unknown(String),
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Target::Known(info) => write!(f, "Known({:?})", info.id),
            Target::Unknown(id) => write!(f, "Unknown({id:?})"),
        }
    }
}

impl Target {
    fn id(&self) -> &str {
        match self {
            Target::Known(info) => info.id,
            Target::Unknown(id) => id,
        }
    }
}

fn target() -> impl Strategy<Value = Target> {
    let unknown = prop_oneof![
        prop::sample::select(vec![
            "",
            "no.such.operation",
            "catalog.search.",
            ".catalog.search",
            "CATALOG.SEARCH",
            "catalog search",
            "catalog/search",
            "../openapi.json",
            "catalog.search%00",
            "каталог.поиск",
        ])
        .prop_map(str::to_owned),
        text(),
    ];
    prop_oneof![
        6 => any::<Index>().prop_map(|index| Target::Known(ALL[index.index(ALL.len())])),
        1 => unknown.prop_map(Target::Unknown),
    ]
}

/// A body: the operation's sample broken anywhere, any JSON, any bytes, or nothing.
#[derive(Clone)]
enum Body {
    /// The contract sample of the operation's input, with one member replaced.
    Edited(u64, Option<(Index, Value)>),
    Json(Value),
    Bytes(Vec<u8>),
    Empty,
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Body::Edited(seed, edit) => f.debug_tuple("Edited").field(seed).field(edit).finish(),
            Body::Json(value) => write!(f, "Json({value})"),
            Body::Bytes(bytes) => write!(f, "Bytes(b\"{}\")", bytes.escape_ascii()),
            Body::Empty => f.write_str("Empty"),
        }
    }
}

impl Body {
    fn to_bytes(&self, target: &Target) -> Vec<u8> {
        let value = match (self, target) {
            (Body::Edited(seed, edit), Target::Known(info)) => {
                let mut value = geopera_types::sample::sample(info.input, *seed);
                if let (Some((at, replacement)), Some(members)) = (edit, value.as_object_mut()) {
                    let names: Vec<String> = members.keys().cloned().collect();
                    if !names.is_empty() {
                        members.insert(names[at.index(names.len())].clone(), replacement.clone());
                    }
                }
                value
            }
            (Body::Edited(..), Target::Unknown(_)) => Value::Object(Default::default()),
            (Body::Json(value), _) => value.clone(),
            (Body::Bytes(bytes), _) => return bytes.clone(),
            (Body::Empty, _) => return Vec::new(),
        };
        let mut bytes = serde_json::to_vec(&value).unwrap_or_default();
        bytes.truncate(MAX_BODY);
        bytes
    }
}

fn body() -> impl Strategy<Value = Body> {
    prop_oneof![
        4 => (any::<u64>(), prop::option::weighted(0.5, (any::<Index>(), json())))
            .prop_map(|(seed, edit)| Body::Edited(seed, edit)),
        2 => json().prop_map(Body::Json),
        2 => prop::collection::vec(any::<u8>(), 0..512).prop_map(Body::Bytes),
        1 => (any::<u8>(), 1usize..MAX_BODY).prop_map(|(byte, length)| Body::Bytes(vec![byte; length])),
        1 => Just(Body::Empty),
    ]
}

fn content_type() -> impl Strategy<Value = Option<&'static str>> {
    prop::sample::select(vec![
        Some("application/json"),
        Some("application/json"),
        Some("application/json"),
        Some("application/json"),
        Some("application/json"),
        Some("application/json; charset=utf-8"),
        Some("application/problem+json"),
        Some("text/plain"),
        Some("application/x-www-form-urlencoded"),
        Some("multipart/form-data; boundary=x"),
        Some("application/json; charset=latin1"),
        Some("*/*"),
        Some(""),
        None,
    ])
}

/// Credentials: the demo key as a bearer token (mostly) or as `x-api-key`, none, or junk.
#[derive(Clone, Debug)]
enum Credentials {
    Bearer,
    ApiKey,
    None,
    Junk(String),
}

fn credentials() -> impl Strategy<Value = Credentials> {
    prop_oneof![
        8 => Just(Credentials::Bearer),
        1 => Just(Credentials::ApiKey),
        1 => Just(Credentials::None),
        1 => prop_oneof![
            Just("Bearer".to_owned()),
            Just("Basic dXNlcjpwYXNz".to_owned()),
            Just("Bearer gpra_".to_owned()),
            "[ -~]{0,64}".prop_map(|junk| format!("Bearer {junk}")),
        ]
        .prop_map(Credentials::Junk),
    ]
}

fn method() -> impl Strategy<Value = reqwest::Method> {
    prop_oneof![
        24 => Just(reqwest::Method::POST),
        1 => Just(reqwest::Method::GET),
        1 => Just(reqwest::Method::PUT),
        1 => Just(reqwest::Method::DELETE),
        1 => Just(reqwest::Method::PATCH),
        1 => Just(reqwest::Method::OPTIONS),
    ]
}

// ---------------------------------------------------------------------------------------------
// The property

fn emulator() -> EmulatorHandle {
    Emulator::builder()
        .rate_limits(RateLimits::off())
        .start()
        .expect("the emulator starts on 127.0.0.1")
}

fn http() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("a client")
}

/// An `Idempotency-Key`: none, one of two reused across cases (so replays and conflicts
/// happen), or any visible ASCII.
fn idempotency_key() -> impl Strategy<Value = Option<String>> {
    prop_oneof![
        3 => Just(None),
        2 => prop::sample::select(vec!["key-1", "key-2"]).prop_map(|key| Some(key.to_owned())),
        1 => "[!-~]{0,300}".prop_map(Some),
    ]
}

/// One request as the test sends it.
type Case = (
    Target,
    Body,
    Option<&'static str>,
    Credentials,
    reqwest::Method,
    Option<String>,
);

/// Sends one generated request and checks the answer.
fn exchange(
    emulator: &EmulatorHandle,
    http: &reqwest::blocking::Client,
    (target, body, content_type, credentials, method, idempotency_key): Case,
) -> Result<u16, TestCaseError> {
    let mut url = reqwest::Url::parse(&emulator.base_url()).map_err(fail)?;
    url.path_segments_mut()
        .map_err(|()| fail("a base URL"))?
        .extend(["v1", "op", target.id()]);
    let mut request = http.request(method.clone(), url.clone());
    if let Some(content_type) = content_type {
        request = request.header("content-type", content_type);
    }
    request = match &credentials {
        Credentials::Bearer => {
            request.header("authorization", format!("Bearer {}", emulator.api_key()))
        }
        Credentials::ApiKey => request.header("x-api-key", emulator.api_key()),
        Credentials::None => request,
        Credentials::Junk(value) => request.header("authorization", value.as_str()),
    };
    if let Some(key) = &idempotency_key {
        request = request.header("idempotency-key", key.as_str());
    }
    let sent = body.to_bytes(&target);
    let response = request
        .body(sent)
        .send()
        .map_err(|e| fail(format!("no answer to {method} {url}: {e}")))?;
    let status = response.status().as_u16();
    let kind = response
        .headers()
        .get("content-type")
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let answer = response
        .bytes()
        .map_err(|e| fail(format!("the answer to {method} {url} broke off: {e}")))?;
    let shown = String::from_utf8_lossy(&answer);
    prop_assert!(status < 500, "{} {}: {} {}", method, url, status, shown);
    if (200..300).contains(&status) {
        let Target::Known(info) = &target else {
            return Err(fail(format!(
                "{status} for the unknown id {:?}",
                target.id()
            )));
        };
        prop_assert_eq!(status, info.success_status, "{}: {}", info.id, shown);
    }
    if kind.starts_with("application/x-ndjson") {
        // `catalog.search_stream` answers newline-delimited JSON: each line must parse.
        prop_assert!(
            (200..300).contains(&status),
            "{} {}: {} NDJSON",
            method,
            url,
            status
        );
        for line in answer
            .split(|b| *b == b'\n')
            .filter(|line| !line.is_empty())
        {
            serde_json::from_slice::<Value>(line).map_err(|e| {
                fail(format!(
                    "{method} {url}: an NDJSON line is not JSON ({e}): {shown}"
                ))
            })?;
        }
        return Ok(status);
    }
    if kind.starts_with("image/") || kind.starts_with("application/xml") {
        // Tiles, thumbnails and COG renders are pictures and WMTS capabilities XML, but
        // only when they succeed: their failures are JSON like every other.
        prop_assert!(
            (200..300).contains(&status) && !answer.is_empty(),
            "{} {}: {} with content type {:?}",
            method,
            url,
            status,
            kind
        );
        return Ok(status);
    }
    // `application/json`, `application/problem+json`, or another JSON type such as the
    // `application/geo+json` of `items.get_stac`.
    let essence = kind.split(';').next().unwrap_or_default().trim();
    prop_assert!(
        essence == "application/json"
            || essence.starts_with("application/") && essence.ends_with("+json"),
        "{} {}: {} with content type {:?}: {}",
        method,
        url,
        status,
        kind,
        shown
    );
    let json: Value = serde_json::from_slice(&answer).map_err(|e| {
        fail(format!(
            "{method} {url}: {status} is not JSON ({e}): {shown}"
        ))
    })?;

    if kind.starts_with("application/problem+json") {
        if let Some(member) = json.get("status") {
            prop_assert_eq!(member.as_u64(), Some(u64::from(status)), "{}", shown);
        }
    }
    if status == 422 {
        let detail = json["detail"]
            .as_array()
            .ok_or_else(|| fail(format!("{shown}")))?;
        prop_assert!(!detail.is_empty(), "a 422 without failures: {}", shown);
        for failure in detail {
            let loc = failure["loc"]
                .as_array()
                .ok_or_else(|| fail(format!("{shown}")))?;
            prop_assert!(!loc.is_empty(), "a failure located nowhere: {}", shown);
            prop_assert!(
                failure["msg"].is_string() && failure["type"].is_string(),
                "{}",
                shown
            );
        }
    }
    if matches!(target, Target::Unknown(_)) && matches!(credentials, Credentials::Bearer) {
        prop_assert!(
            matches!(status, 404 | 405),
            "{:?}: {} {}",
            target.id(),
            status,
            shown
        );
    }
    Ok(status)
}

/// Any request to any operation id is answered, never with a 5xx, always with JSON except
/// for the pictures and XML of successful image operations.
#[test]
fn every_request_gets_a_json_answer_and_never_a_server_error() {
    let emulator = emulator();
    let http = http();
    let strategy = (
        target(),
        body(),
        content_type(),
        credentials(),
        method(),
        idempotency_key(),
    );
    let mut runner = TestRunner::new(config(256));
    let seen = std::cell::RefCell::new(std::collections::BTreeMap::<u16, usize>::new());
    let result = runner.run(&strategy, |case| {
        let status = exchange(&emulator, &http, case)?;
        *seen.borrow_mut().entry(status).or_default() += 1;
        Ok(())
    });
    if let Err(failure) = result {
        panic!("{failure}");
    }
    // The requests went deep enough to succeed, fail validation and miss.
    let seen = seen.into_inner();
    for status in [200, 404, 422] {
        assert!(seen.contains_key(&status), "no {status} among {seen:?}");
    }
    // The emulator is still up and answering after all that.
    let after = http
        .post(format!(
            "{}/v1/op/billing.credits.balance",
            emulator.base_url()
        ))
        .bearer_auth(emulator.api_key())
        .json(&serde_json::json!({}))
        .send()
        .expect("an answer");
    assert_eq!(after.status().as_u16(), 200);
}
