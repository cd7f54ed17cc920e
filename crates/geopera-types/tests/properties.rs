//! Property tests at the wire-format edge: every decoder and the request validator meet
//! arbitrary JSON values and arbitrary bytes. Nothing may panic, every failure is a typed
//! error, every validation error points into the body it describes, and whatever decodes
//! re-encodes to a fixed point.
//!
//! Each property runs a fixed number of cases per operation or model (see [`config`]);
//! `PROPTEST_CASES=1000` runs more, `PROPTEST_RNG_SEED=<n>` explores other inputs. Failures
//! are not persisted: the printed minimal input is the reproduction.

use std::collections::BTreeMap;

use geopera_types::shape::Shape;
use geopera_types::stac::{Asset, CatalogSearchOutput, Link};
use geopera_types::{models, sample::sample, schemas};
use proptest::prelude::*;
use proptest::sample::Index;
use proptest::test_runner::{Config, RngAlgorithm, RngSeed, TestCaseError, TestRunner};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Number, Value};

/// The seed of every runner unless `PROPTEST_RNG_SEED` is set, so CI sees the same inputs on
/// every run.
const SEED: u64 = 0x0067_656f_7065_7261;

/// A runner configuration: `cases` unless `PROPTEST_CASES` says otherwise, a fixed seed
/// (varied by `salt`) unless `PROPTEST_RNG_SEED` says otherwise, and no persisted failures.
fn config(cases: u32, salt: u64) -> Config {
    let mut config = Config {
        failure_persistence: None,
        max_shrink_iters: 2_000,
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

/// Runs `test` on `cases` inputs from `strategy`; panics with the minimal failing input.
fn check<S: Strategy>(
    what: &str,
    cases: u32,
    salt: u64,
    strategy: &S,
    test: impl Fn(S::Value) -> Result<(), TestCaseError>,
) where
    S::Value: std::fmt::Debug,
{
    let mut runner = TestRunner::new(config(cases, salt));
    if let Err(failure) = runner.run(strategy, test) {
        panic!("{what}: {failure}");
    }
}

// ---------------------------------------------------------------------------------------------
// Arbitrary JSON

/// Numbers that sit on the edges of i64, u64, f64 and the contract's bounds.
const EDGE_NUMBERS: &[f64] = &[
    0.0,
    -0.0,
    0.5,
    -0.5,
    1.0,
    -1.0,
    1.5,
    2.0,
    99.999,
    100.0,
    500.0,
    501.0,
    1e15,
    1e16,
    4_435_267_417_386_802.0,
    9_007_199_254_740_993.0,
    1e300,
    -1e300,
    f64::MAX,
    f64::MIN,
    f64::MIN_POSITIVE,
    f64::EPSILON,
    5e-324,
];

fn number() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => (-1000i64..1000).prop_map(Value::from),
        2 => any::<i64>().prop_map(Value::from),
        2 => any::<u64>().prop_map(Value::from),
        1 => prop::sample::select(vec![i64::MIN, i64::MAX, -1, 0, 1]).prop_map(Value::from),
        1 => Just(Value::from(u64::MAX)),
        2 => any::<f64>().prop_filter_map("finite", |x| Number::from_f64(x).map(Value::Number)),
        2 => (-1e6f64..1e6).prop_filter_map("finite", |x| Number::from_f64(x).map(Value::Number)),
        2 => prop::sample::select(EDGE_NUMBERS)
            .prop_filter_map("finite", |x| Number::from_f64(x).map(Value::Number)),
    ]
}

/// Strings the contract's checks care about: dates right and wrong, enum-like words,
/// escapes, controls, surrogate-free unicode of every plane.
const EDGE_STRINGS: &[&str] = &[
    "",
    " ",
    "null",
    "0",
    "-1",
    "1e999",
    "true",
    "about:blank",
    "earthsearch-aws",
    "sentinel-2-l2a",
    "FeatureCollection",
    "Feature",
    "Polygon",
    "2024-06-01T12:00:00Z",
    "2024-02-29t23:59:59.123456z",
    "9999-12-31T23:59:60-23:59",
    "2023-02-29T00:00:00Z",
    "2024-06-01T24:00:00Z",
    "2024-06-01T12:00:00+0100",
    "2024-06-01",
    "2024-13-01",
    "２０２４-06-01T12:00:00Z",
    "2024-06-01T12:00:00.Z",
    "2024-06-01T12:00:00+24:00",
    "ACCEPTED",
    "REJECTED",
    "up",
    "pm_a",
    "cst_",
    "browser",
    "\u{0}",
    "\u{7f}\u{1b}[31m",
    "\"\\/\u{8}\u{c}\n\r\t",
    "\u{202e}txt.exe",
    "\u{fe0f}\u{200d}",
    "🛰️🌍",
    "\u{10ffff}",
    "é",
    "e\u{301}",
];

/// Any character: mostly ASCII, then controls, Latin-1, the rest of the plane, other planes.
/// (Cheaper to generate than proptest's regex and `String` strategies.)
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
        5 => prop::collection::vec(character(), 0..12).prop_map(String::from_iter),
        3 => prop::sample::select(EDGE_STRINGS).prop_map(str::to_owned),
        // Long strings, for length limits and excerpts.
        1 => (prop::collection::vec(character(), 1..4), 10usize..2000)
            .prop_map(|(part, times)| String::from_iter(part).repeat(times)),
    ]
}

fn leaf() -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => Just(Value::Null),
        1 => any::<bool>().prop_map(Value::Bool),
        3 => number(),
        3 => text().prop_map(Value::String),
    ]
}

/// Every member name declared anywhere in the contract, so arbitrary objects hit real fields.
fn field_names() -> &'static [&'static str] {
    static NAMES: std::sync::OnceLock<Vec<&'static str>> = std::sync::OnceLock::new();
    NAMES.get_or_init(collect_field_names)
}

fn collect_field_names() -> Vec<&'static str> {
    fn walk(shape: &'static Shape, names: &mut Vec<&'static str>, depth: usize) {
        if depth > 3 {
            return;
        }
        match shape {
            Shape::Object(rule) => {
                for field in rule.fields {
                    names.push(field.name);
                    walk(&field.shape, names, depth + 1);
                }
            }
            Shape::Array(rule) => walk(rule.items, names, depth + 1),
            Shape::Map(member) => walk(member, names, depth + 1),
            Shape::Tuple(items) | Shape::AnyOf(items) => {
                for item in *items {
                    walk(item, names, depth + 1);
                }
            }
            _ => {}
        }
    }
    let mut names = vec![
        "type", "features", "geometry", "assets", "links", "href", "detail",
    ];
    for schema in schemas::ALL {
        walk(&schema.shape, &mut names, 0);
    }
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

/// Any JSON value: nested arrays and objects, bounded in depth and width.
fn json() -> BoxedStrategy<Value> {
    leaf()
        .prop_recursive(4, 24, 5, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..5).prop_map(Value::Array),
                prop::collection::btree_map(key(), inner, 0..5)
                    .prop_map(|members| Value::Object(members.into_iter().collect())),
            ]
        })
        .boxed()
}

/// An edit of a JSON value at one of its positions (chosen by `Index` when applied).
#[derive(Clone, Debug)]
enum Edit {
    Replace(Index, Value),
    Remove(Index),
    Insert(Index, String, Value),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        3 => (any::<Index>(), json()).prop_map(|(at, value)| Edit::Replace(at, value)),
        1 => any::<Index>().prop_map(Edit::Remove),
        1 => (any::<Index>(), key(), json()).prop_map(|(at, name, value)| Edit::Insert(at, name, value)),
    ]
}

/// The positions of a value, root first.
fn positions(value: &Value) -> Vec<Vec<PathStep>> {
    fn walk(value: &Value, path: &mut Vec<PathStep>, out: &mut Vec<Vec<PathStep>>) {
        out.push(path.clone());
        match value {
            Value::Array(items) => {
                for (index, item) in items.iter().enumerate() {
                    path.push(PathStep::Index(index));
                    walk(item, path, out);
                    path.pop();
                }
            }
            Value::Object(members) => {
                for (name, member) in members {
                    path.push(PathStep::Key(name.clone()));
                    walk(member, path, out);
                    path.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(value, &mut Vec::new(), &mut out);
    out
}

#[derive(Clone, Debug, PartialEq)]
enum PathStep {
    Key(String),
    Index(usize),
}

fn at_mut<'a>(value: &'a mut Value, path: &[PathStep]) -> Option<&'a mut Value> {
    path.iter().try_fold(value, |here, step| match step {
        PathStep::Key(name) => here.get_mut(name.as_str()),
        PathStep::Index(index) => here.get_mut(*index),
    })
}

fn apply(mut value: Value, edits: &[Edit]) -> Value {
    for edit in edits {
        let places = positions(&value);
        match edit {
            Edit::Replace(at, replacement) => {
                if let Some(slot) = at_mut(&mut value, at.get(&places).as_slice()) {
                    *slot = replacement.clone();
                }
            }
            Edit::Remove(at) => {
                let path = at.get(&places).as_slice();
                if let Some((last, parent)) = path.split_last() {
                    match (at_mut(&mut value, parent), last) {
                        (Some(Value::Object(members)), PathStep::Key(name)) => {
                            members.remove(name);
                        }
                        (Some(Value::Array(items)), PathStep::Index(index)) => {
                            items.remove(*index);
                        }
                        _ => {}
                    }
                }
            }
            Edit::Insert(at, name, member) => {
                match at_mut(&mut value, at.get(&places).as_slice()) {
                    Some(Value::Object(members)) => {
                        members.insert(name.clone(), member.clone());
                    }
                    Some(Value::Array(items)) => items.push(member.clone()),
                    _ => {}
                }
            }
        }
    }
    value
}

/// Values that start out valid for `shape` (a sample) and are then edited anywhere, deep
/// inside too; or any JSON at all.
fn near(shape: &'static Shape) -> impl Strategy<Value = Value> {
    prop_oneof![
        1 => any::<u64>().prop_map(move |seed| sample(shape, seed)),
        4 => (any::<u64>(), prop::collection::vec(edit(), 1..4))
            .prop_map(move |(seed, edits)| apply(sample(shape, seed), &edits)),
        1 => json(),
    ]
}

/// A body as bytes, shown as text when it is UTF-8.
#[derive(Clone)]
struct Bytes(Vec<u8>);

impl std::fmt::Debug for Bytes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match std::str::from_utf8(&self.0) {
            Ok(text) => write!(f, "{text:?}"),
            Err(_) => write!(f, "b\"{}\"", self.0.escape_ascii()),
        }
    }
}

/// Bytes that are mostly not JSON, sometimes almost JSON and sometimes JSON.
fn bytes_near(values: impl Strategy<Value = Value>) -> impl Strategy<Value = Bytes> {
    const TOKENS: &[&str] = &[
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"",
        "\"a\"",
        "\"type\":",
        "\"features\":",
        "\"geometry\":",
        "\"assets\":",
        "\"links\":",
        "\"href\":",
        "\"id\":",
        "null",
        "true",
        "1",
        "-0",
        "1e999",
        "-1e999",
        "1.5",
        "18446744073709551616",
        "\"\\u0000\"",
        "\"\\ud800\"",
        "\"\\udc00\\ud800\"",
        "\"\\uDFFF\"",
        "\"\\x\"",
        " ",
        "\n",
        "\u{feff}",
        "\u{ff}",
        "\"é\"",
    ];
    prop_oneof![
        2 => prop::collection::vec(any::<u8>(), 0..256),
        2 => prop::collection::vec(prop::sample::select(TOKENS), 0..48)
            .prop_map(|tokens| tokens.concat().into_bytes()),
        2 => values.prop_map(|value| serde_json::to_vec(&value).unwrap_or_default()),
        3 => (
            json().prop_map(|value| serde_json::to_vec(&value).unwrap_or_default()),
            prop::collection::vec((any::<Index>(), any::<u8>(), 0u8..5), 1..4),
        )
            .prop_map(|(mut bytes, cuts)| {
                for (at, byte, how) in cuts {
                    if bytes.is_empty() {
                        bytes.push(byte);
                        continue;
                    }
                    let at = at.index(bytes.len());
                    match how {
                        0 => bytes.truncate(at),
                        1 => bytes[at] = byte,
                        2 => bytes.insert(at, byte),
                        3 => {
                            // Inside a string these are escapes a Rust string cannot hold
                            // or must unescape; elsewhere, stray punctuation.
                            let snippet = [&b"\\ud800"[..], b"\\udfff", b"\\u0000", b"\\\"", b"\\"];
                            let snippet = snippet[usize::from(byte) % snippet.len()];
                            bytes.splice(at..at, snippet.iter().copied());
                        }
                        _ => {
                            let tail = bytes[at..].to_vec();
                            bytes.extend(tail);
                        }
                    }
                }
                bytes
            }),
    ]
    .prop_map(Bytes)
}

// ---------------------------------------------------------------------------------------------
// Comparing values

/// Whether two floats are the same number. Exact: this crate turns on serde_json's
/// `float_roundtrip`, so a float that goes through text comes back bit for bit (without it,
/// one in eight random coordinates drifted by a unit or two in the last place).
fn close(a: f64, b: f64) -> bool {
    a == b
}

fn same_number(a: &Number, b: &Number) -> bool {
    match (a.as_i64(), b.as_i64(), a.as_u64(), b.as_u64()) {
        (Some(x), Some(y), _, _) => x == y,
        (_, _, Some(x), Some(y)) => x == y,
        _ => match (a.as_f64(), b.as_f64()) {
            (Some(x), Some(y)) => close(x, y),
            _ => false,
        },
    }
}

/// Equality of JSON values, with numbers compared as in [`close`] when either is a float.
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            if x.is_f64() || y.is_f64() {
                matches!((x.as_f64(), y.as_f64()), (Some(x), Some(y)) if close(x, y))
            } else {
                same_number(x, y)
            }
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(x, y)| same(x, y))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

/// Every member of `original` is in `back` with the same value (numbers as `f64`); a `null`
/// member may be dropped. `back` may add members (defaults).
fn kept(original: &Value, back: &Value) -> bool {
    match (original, back) {
        (Value::Object(a), Value::Object(b)) => a.iter().all(|(key, value)| match b.get(key) {
            Some(other) => kept(value, other),
            None => value.is_null(),
        }),
        (Value::Array(a), Value::Array(b)) => {
            a.len() == b.len() && a.iter().zip(b).all(|(x, y)| kept(x, y))
        }
        (Value::Number(a), Value::Number(b)) => {
            matches!((a.as_f64(), b.as_f64()), (Some(x), Some(y)) if close(x, y))
        }
        (a, b) => a == b,
    }
}

// ---------------------------------------------------------------------------------------------
// The validator

/// The value a validation location points at, below `body`.
#[cfg(feature = "validate")]
fn at<'a>(value: &'a Value, loc: &[geopera_types::LocItem]) -> Option<&'a Value> {
    use geopera_types::LocItem;
    loc.iter().try_fold(value, |here, step| match step {
        LocItem::Key(name) => here.as_object()?.get(name),
        LocItem::Index(index) => here.as_array()?.get(usize::try_from(*index).ok()?),
    })
}

/// Every error starts at `body`, points at a member or item the body has (or, for `missing`,
/// at a member its object lacks), and carries that very value as its `input`.
#[cfg(feature = "validate")]
fn errors_point_into(
    body: &Value,
    errors: &[geopera_types::ValidationError],
) -> Result<(), TestCaseError> {
    use geopera_types::LocItem;
    let body_root = LocItem::from("body");
    for error in errors {
        prop_assert_eq!(error.loc.first(), Some(&body_root), "{}", error);
        prop_assert!(
            !error.msg.is_empty() && !error.r#type.is_empty(),
            "{}",
            error
        );
        prop_assert!(error.to_string().starts_with("body"), "{}", error);
        let path = &error.loc[1..];
        if error.r#type == "missing" {
            // A member its object lacks, or a position a tuple does not reach.
            let Some((step, parent)) = path.split_last() else {
                return Err(TestCaseError::fail(format!("{error}: missing what?")));
            };
            let parent = at(body, parent);
            let lacking = match step {
                LocItem::Key(name) => parent
                    .and_then(Value::as_object)
                    .is_some_and(|o| !o.contains_key(name)),
                LocItem::Index(index) => parent
                    .and_then(Value::as_array)
                    .is_some_and(|a| usize::try_from(*index).is_ok_and(|i| i >= a.len())),
            };
            prop_assert!(lacking, "{}: the member is there after all", error);
            prop_assert_eq!(error.extra.get("input"), parent, "{}", error);
        } else {
            let here = at(body, path);
            prop_assert!(here.is_some(), "{}: points at nothing in {}", error, body);
            prop_assert_eq!(error.extra.get("input"), here, "{}", error);
        }
    }
    // The 422 body the emulator builds from these errors survives its own encoding.
    let answer = json!({ "detail": errors });
    let decoded: geopera_types::HttpValidationError =
        serde_json::from_value(answer.clone()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(decoded.detail.as_slice(), errors);
    Ok(())
}

/// Every operation's input shape against values that start valid and are broken anywhere.
#[cfg(feature = "validate")]
#[test]
fn the_validator_locates_every_failure_of_every_operation_input() {
    use geopera_types::validate::validate;
    let invalid = std::cell::Cell::new(0usize);
    let deepest = std::cell::Cell::new(0usize);
    for (salt, info) in (0u64..).zip(geopera_types::operations::ALL.iter()) {
        let strategy = near(info.input);
        check(info.id, 24, salt, &strategy, |body| {
            let errors = validate(info.input, &body);
            invalid.set(invalid.get() + usize::from(!errors.is_empty()));
            let depth = errors.iter().map(|error| error.loc.len()).max();
            deepest.set(deepest.get().max(depth.unwrap_or(0)));
            errors_point_into(&body, &errors)?;
            prop_assert_eq!(validate(info.input, &body), errors, "not deterministic");
            Ok(())
        });
        // A sample of the shape itself is valid.
        assert!(
            validate(info.input, &sample(info.input, 1)).is_empty(),
            "{}: its own sample is invalid",
            info.id
        );
    }
    // The edits do break bodies, deep inside too: a property that never sees an error would
    // prove nothing.
    assert!(
        invalid.get() > 500,
        "only {} invalid bodies were generated",
        invalid.get()
    );
    // `body` and three members: the deepest the contract declares (below is `Any`).
    assert!(
        deepest.get() >= 4,
        "errors reach depth {} only",
        deepest.get()
    );
}

/// Arbitrary bytes, parsed as the emulator parses a body, then validated.
#[cfg(feature = "validate")]
#[test]
fn the_validator_takes_whatever_bytes_parse() {
    use geopera_types::validate::validate;
    let all = geopera_types::operations::ALL;
    let strategy = (any::<Index>(), bytes_near(json()));
    check("bytes", 512, 1, &strategy, |(op, Bytes(bytes))| {
        let info = all[op.index(all.len())];
        if let Ok(body) = serde_json::from_slice::<Value>(&bytes) {
            errors_point_into(&body, &validate(info.input, &body))?;
        }
        Ok(())
    });
}

// ---------------------------------------------------------------------------------------------
// The model decoders

/// The contract shape of a model, when the contract has one.
fn shape_of(rust_name: &str) -> Option<&'static Shape> {
    schemas::ALL
        .iter()
        .find(|schema| schema.rust_name == rust_name)
        .map(|schema| &schema.shape)
}

fn inputs_for(rust_name: &str) -> BoxedStrategy<Value> {
    match shape_of(rust_name) {
        Some(shape) => near(shape).boxed(),
        None => json(),
    }
}

fn fail(what: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(what.to_string())
}

/// Every model, through its codec (`serde_json::Value` in and out, as the emulator and the
/// fluent client use it): decoding never panics, and a decoded value re-encodes to a fixed
/// point.
#[test]
fn every_model_decodes_any_json_and_re_encodes_to_a_fixed_point() {
    let decoded = std::cell::Cell::new(0usize);
    for (salt, (name, codec)) in (1000u64..).zip(models::CODECS.iter()) {
        check(name, 24, salt, &inputs_for(name), |value| {
            if let Ok(once) = codec(value) {
                decoded.set(decoded.get() + 1);
                let twice = codec(once.clone())
                    .map_err(|e| fail(format!("its own encoding {once} does not decode: {e}")))?;
                prop_assert_eq!(twice, once);
            }
            Ok(())
        });
    }
    // Most inputs start from a valid sample, so many decode and the round trip is exercised.
    assert!(
        decoded.get() > models::CODECS.len() * 4,
        "only {} values decoded",
        decoded.get()
    );
}

/// Regression: a nullable member whose default is not null (`sort`, default
/// `"createdAt,desc"`) decodes an explicit `null` as `None`, which encodes by omitting the
/// member, which decodes as the default: the caller's `null` turns into the default on the
/// wire. Checked for every nullable member of every model.
#[test]
fn an_explicit_null_survives_a_round_trip_in_every_model() {
    let mut changed = Vec::new();
    for (name, codec) in models::CODECS {
        let Some(shape) = shape_of(name) else {
            continue;
        };
        let base = sample(shape, 0);
        for field in shape.fields() {
            let nullable = matches!(field.shape.resolve(), Shape::AnyOf(alternatives)
                if alternatives.iter().any(|a| matches!(a.resolve(), Shape::Null)));
            if !nullable {
                continue;
            }
            let mut body = base.clone();
            body[field.name] = Value::Null;
            let Ok(once) = codec(body) else {
                continue;
            };
            match codec(once.clone()) {
                Ok(twice) if twice == once => {}
                twice => changed.push(format!(
                    "{name}.{}: null became {:?}",
                    field.name,
                    twice.map(|twice| twice[field.name].clone())
                )),
            }
        }
    }
    assert!(changed.is_empty(), "{changed:#?}");
}

/// What [`from_bytes`] found.
struct Decoded {
    /// The model, encoded as a value.
    value: Value,
    /// The model encoded as text, decoded from that text and encoded as a value again.
    again: Result<Value, serde_json::Error>,
}

/// Decodes bytes straight into `T`, as the SDK decodes an answer.
fn from_bytes<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
) -> Result<Result<Decoded, serde_json::Error>, serde_json::Error> {
    let model: T = serde_json::from_slice(bytes)?;
    Ok(serde_json::to_value(&model).map(|value| Decoded {
        value,
        again: serde_json::to_vec(&model)
            .and_then(|text| serde_json::from_slice::<T>(&text))
            .and_then(|model| serde_json::to_value(&model)),
    }))
}

type FromBytes = fn(&[u8]) -> Result<Result<Decoded, serde_json::Error>, serde_json::Error>;

macro_rules! decoders {
    ($($model:ident),* $(,)?) => {
        &[$((
            stringify!($model),
            from_bytes::<models::$model> as FromBytes,
            geopera_types::round_trip::<models::$model> as geopera_types::Codec,
        )),*]
    };
}

/// Every model of the crate: the hand-written ones, then every generated one.
static DECODERS: &[(&str, FromBytes, geopera_types::Codec)] = decoders![
    Problem,
    HttpValidationError,
    ValidationError,
    LocItem,
    CatalogSearchOutput,
    Order,
    Job,
    ClipJobCreated,
    DispatchedJob,
    DownloadLinks,
    SubscriptionList,
    AccrualInput,
    AcknowledgeEventInput,
    AddMemberInput,
    AlertEventOutput,
    AlertEventsListInput,
    AlertRuleGetInput,
    AlertRuleOutput,
    AlertRulesListInput,
    AnalyticsExecuteOutput,
    ApiKeyCreateInput,
    ApiKeyCreateOutput,
    ApiKeyListInput,
    ApiKeyRevokeInput,
    ApiKeyRevokeOutput,
    ApprovalGetInput,
    ApprovalOutput,
    ApprovalRefInput,
    ApprovalsListInput,
    ApproveInput,
    ArchiveEstimateInput,
    ArchiveEstimateOutput,
    Area,
    AssetDeleteInput,
    AssetDeleteOutput,
    AssetDownloadInput,
    AssetOutput,
    AttachInput,
    BandFormulaCreateInput,
    BandFormulaDeleteInput,
    BandFormulaDeleteOutput,
    BandFormulaGetInput,
    BandFormulaOutput,
    BandFormulaUpdateInput,
    BandFormulasListInput,
    BandMathInput,
    BaseModel,
    CalculateIndexInput,
    CatalogSearchInput,
    CatalogTileInput,
    ClipCreateFromAreaInput,
    ClipDownloadInput,
    ClipJobDeleteInput,
    ClipJobInput,
    ClipJobsListInput,
    CloudQuery,
    CogEmptyInput,
    CogStatsInput,
    CogTerrainInput,
    CogThumbnailInput,
    CogTileInput,
    CollectionCreateInput,
    CollectionDeleteInput,
    CollectionDeleteOutput,
    CollectionDto,
    CollectionGetInput,
    CollectionResponse,
    CollectionUpdateInput,
    CollectionsGetInput,
    CollectionsListInput,
    CommitmentsListInput,
    CorrectInput,
    CorrectionsInput,
    CoverageInput,
    CreateAlertRuleInput,
    CreateSubscriptionInput,
    DataProductGetInput,
    DataProductsListInput,
    DecisionsPendingInput,
    DeleteAlertRuleInput,
    DeleteAlertRuleOutput,
    DeleteSubscriptionInput,
    DeleteSubscriptionOutput,
    DetachInput,
    DetachOutput,
    DetectBandsInput,
    DetectBandsOutput,
    DrainInput,
    DriftInput,
    Empty,
    EstimateInput,
    EulaAcceptInput,
    EulaDocumentGetInput,
    EulaDocumentsListInput,
    EulaGetInput,
    EulasListInput,
    ExecuteRequest,
    ExpiringInput,
    FeasibilityCheckInput,
    FeasibilityDecideInput,
    FeatureCollectionOutput,
    FederatedSearchInput,
    FederatedSearchOutput,
    GcsRegion,
    GetSubscriptionInput,
    GlossaryCollectionsListInput,
    GranulePointsInput,
    GranulePointsOutput,
    ImageAssetInput,
    IndexGetInput,
    IndicesListInput,
    InvoicesInput,
    ItemAssetsInput,
    ItemCreateInput,
    ItemDeleteInput,
    ItemDeleteOutput,
    ItemDuplicateInput,
    ItemGetInput,
    ItemGetOutput,
    ItemLineageInput,
    ItemResponse,
    ItemStacInput,
    ItemStatisticsInput,
    ItemTileRenderInput,
    ItemTilejsonInput,
    ItemType,
    ItemUpdateInput,
    ItemWmtsCapabilitiesInput,
    ItemWmtsGetTileInput,
    ItemsByCollectionInput,
    ItemsListInput,
    JobGetInput,
    JobRegisterInput,
    JobTypesInput,
    JobsListInput,
    LifecycleState,
    LineageEdge,
    LineageGetInput,
    LineageGetOutput,
    LineageNode,
    ListSubscriptionsInput,
    MarkAllReadOutput,
    MarkInvoicedInput,
    MemberOutput,
    NotificationOutput,
    NotificationRef,
    NotificationsListInput,
    OkOutput,
    OperationGetInput,
    OperationsListInput,
    OrderAssetsInput,
    OrderCancelInput,
    OrderCancelOutput,
    OrderGetInput,
    OrderPlaceInput,
    OrderPlaceOutput,
    OrderSchemaInput,
    OrderUpdateInput,
    OrderUpdateOutput,
    OrdersListInput,
    OrgInput,
    OrgItemSearchInput,
    OrgStatusInput,
    OrganizationCreateInput,
    OrganizationCreateOutput,
    PaymentMethodOutput,
    ProcessExecuteInput,
    ProcessExecuteOutput,
    ProcessGetInput,
    ProcessRunInput,
    ProcessingDispatchInput,
    ProcessingDispatchOutput,
    ProcessingJobInput,
    ProfileCreateInput,
    ProfileGetInput,
    ProfileLayer,
    ProfileRef,
    ProfileResponse,
    ProfileType,
    ProfileUpdateInput,
    ProfilesListInput,
    ProjectArchiveInput,
    ProjectCreate,
    ProjectDeleteInput,
    ProjectDeleteOutput,
    ProjectItemSearchInput,
    ProjectJobGetInput,
    ProjectJobsInput,
    ProjectResponse,
    ProjectUpdateInput,
    ProviderGetInput,
    ProviderSamplesInput,
    ProvidersListInput,
    QuotationDecideInput,
    RecalculateInput,
    RejectApprovalInput,
    RemoveMemberInput,
    RemoveMemberOutput,
    ReplayInput,
    RequestApprovalInput,
    RunAllInput,
    RunInput,
    RunsInput,
    SampleInfoInput,
    SceneInfoInput,
    SearchInput,
    SetAutoTopupInput,
    SetAutoTopupOutput,
    SetBandNamesInput,
    SetDefaultInput,
    SettleInput,
    SetupIntentInput,
    SetupIntentOutput,
    ShareLinkCreate,
    ShareLinkCreateOutput,
    ShareLinkRevokeInput,
    ShareLinkRevokeOutput,
    ShareLinkValidateInput,
    ShareLinkValidateOutput,
    SharePermission,
    ShareTargetType,
    ShareTileInput,
    ShareTilejsonInput,
    SignedUrlInput,
    SignedUrlOutput,
    SortClause,
    SourceDto,
    SourceResultSummary,
    SourcesListInput,
    SourcesListOutput,
    StacCollectionsListInput,
    StatementInput,
    StudiesListInput,
    SubscriptionOutput,
    TaskingEstimateInput,
    TaskingEstimateOutput,
    TaskingGroupsInput,
    TaskingSensorsInput,
    TaskingSensorsOutput,
    TemplateDeleteInput,
    TemplateDeleteOutput,
    TemplateListInput,
    TemplateListOutput,
    TemplateSaveInput,
    TemplateSaveOutput,
    TestAlertRuleInput,
    TestAlertRuleOutput,
    TestSubscriptionInput,
    TestSubscriptionOutput,
    TransactionsInput,
    UpdateAlertRuleInput,
    UpdateMemberInput,
    UpdateSubscriptionInput,
    UploadFailInput,
    UploadInitiate,
    UploadOutput,
    UploadProgressInput,
    UsageCurrentInput,
    UsageHistoryInput,
    ValidateFormulaInput,
    ValidateFormulaOutput,
    VisualizationListInput,
    VisualizationListOutput,
    VisualizationSpec,
    VisualizationSpecKind,
    VizListInput,
];

#[test]
fn the_byte_decoders_cover_every_model() {
    for (name, _) in models::CODECS {
        assert!(
            DECODERS.iter().any(|(listed, ..)| listed == name),
            "{name} is missing from DECODERS"
        );
    }
    for info in geopera_types::operations::ALL {
        for model in [info.input_type, info.output_type] {
            assert!(
                // Binary answers are bytes, not JSON, and those that may be either are read
                // by their content type; their decoding has tests of its own.
                ["JsonObject", "serde_json::Value", "Binary", "JsonOrBinary"].contains(&model)
                    || DECODERS.iter().any(|(listed, ..)| *listed == model),
                "{}: {model} is missing from DECODERS",
                info.id
            );
        }
    }
}

/// Every model straight from bytes: never a panic; what decodes re-encodes to a value that
/// survives a text round trip, and agrees with decoding through `serde_json::Value`.
#[test]
fn every_model_decodes_any_bytes_and_survives_a_text_round_trip() {
    let decoded = std::cell::Cell::new(0usize);
    for (salt, (name, decode, codec)) in (2000u64..).zip(DECODERS.iter()) {
        check(
            name,
            24,
            salt,
            &bytes_near(inputs_for(name)),
            |Bytes(bytes)| {
                let Ok(result) = decode(&bytes) else {
                    return Ok(());
                };
                decoded.set(decoded.get() + 1);
                let Decoded { value, again } =
                    result.map_err(|e| fail(format!("decoded but cannot be encoded: {e}")))?;
                let again = again
                    .map_err(|e| fail(format!("its own text {value} does not decode: {e}")))?;
                prop_assert!(same(&again, &value), "{} became {}", value, again);
                // The same bytes through a JSON value agree (only this direction holds: duplicate
                // members collapse in a value, and members a model skips are not checked for
                // lone surrogate escapes, which a value rejects).
                let Ok(parsed) = serde_json::from_slice::<Value>(&bytes) else {
                    return Ok(());
                };
                let through_value = codec(parsed)
                    .map_err(|e| fail(format!("decodes from bytes, not from a value: {e}")))?;
                prop_assert!(
                    same(&through_value, &value),
                    "{} vs {}",
                    through_value,
                    value
                );
                Ok(())
            },
        );
    }
    assert!(
        decoded.get() > DECODERS.len(),
        "only {} inputs decoded",
        decoded.get()
    );
}

// ---------------------------------------------------------------------------------------------
// STAC pages

fn string() -> BoxedStrategy<Value> {
    text().prop_map(Value::String).boxed()
}

fn strings() -> BoxedStrategy<Value> {
    prop::collection::vec(string(), 0..4)
        .prop_map(Value::Array)
        .boxed()
}

/// An object with these members, each usually present, plus members nobody declared.
/// (Members of the wrong type come from [`Edit`]s of the whole page.)
fn object(members: Vec<(&'static str, BoxedStrategy<Value>)>) -> BoxedStrategy<Value> {
    let parts: Vec<BoxedStrategy<Option<(String, Value)>>> = members
        .into_iter()
        .map(|(name, value)| {
            prop::option::weighted(0.85, value)
                .prop_map(move |value| value.map(|value| (name.to_owned(), value)))
                .boxed()
        })
        .collect();
    (parts, prop::collection::btree_map(key(), json(), 0..3))
        .prop_map(|(parts, extra)| {
            let mut members: Map<String, Value> = extra.into_iter().collect();
            members.extend(parts.into_iter().flatten());
            Value::Object(members)
        })
        .boxed()
}

fn link() -> BoxedStrategy<Value> {
    object(vec![
        ("href", string()),
        ("rel", string()),
        ("type", string()),
        ("title", string()),
    ])
}

fn links() -> BoxedStrategy<Value> {
    prop::collection::vec(link(), 0..3)
        .prop_map(Value::Array)
        .boxed()
}

fn geometry() -> BoxedStrategy<Value> {
    let position = prop::collection::vec(number(), 2..4)
        .prop_map(Value::Array)
        .boxed();
    let ring = prop::collection::vec(position.clone(), 0..5)
        .prop_map(Value::Array)
        .boxed();
    let coordinates = prop_oneof![
        position,
        ring.clone(),
        prop::collection::vec(ring, 0..3).prop_map(Value::Array),
    ];
    let kind = prop::sample::select(vec!["Point", "LineString", "Polygon", "MultiPolygon"])
        .prop_map(Value::from);
    object(vec![
        ("type", prop_oneof![3 => kind, 1 => string()].boxed()),
        ("coordinates", coordinates.boxed()),
    ])
}

fn stac_item() -> BoxedStrategy<Value> {
    let asset = object(vec![
        ("href", string()),
        ("type", string()),
        ("title", string()),
        ("roles", strings()),
    ]);
    let assets = prop::collection::btree_map(text(), asset, 0..3)
        .prop_map(|assets| Value::Object(assets.into_iter().collect()));
    let properties = object(vec![
        ("datetime", string()),
        ("start_datetime", string()),
        ("end_datetime", string()),
        ("eo:cloud_cover", number().boxed()),
        ("gsd", number().boxed()),
        ("platform", string()),
        ("constellation", string()),
        ("instruments", strings()),
    ]);
    object(vec![
        ("type", Just(Value::from("Feature")).boxed()),
        ("stac_version", string()),
        ("stac_extensions", strings()),
        ("id", string()),
        ("collection", string()),
        (
            "bbox",
            prop::collection::vec(number(), 0..7)
                .prop_map(Value::Array)
                .boxed(),
        ),
        ("geometry", geometry()),
        ("properties", properties),
        ("assets", assets.boxed()),
        ("links", links()),
    ])
}

/// Mostly a count, sometimes any number (a negative or fractional count is an error).
fn count() -> BoxedStrategy<Value> {
    prop_oneof![4 => (0u64..10_000).prop_map(Value::from), 1 => number()].boxed()
}

fn stac_page() -> BoxedStrategy<Value> {
    object(vec![
        ("type", Just(Value::from("FeatureCollection")).boxed()),
        (
            "features",
            prop::collection::vec(stac_item(), 0..4)
                .prop_map(Value::Array)
                .boxed(),
        ),
        ("numberReturned", count()),
        ("numberMatched", count()),
        ("next", string()),
        ("links", links()),
    ])
}

fn pages() -> impl Strategy<Value = Value> {
    prop_oneof![
        3 => stac_page(),
        3 => (stac_page(), prop::collection::vec(edit(), 1..3))
            .prop_map(|(page, edits)| apply(page, &edits)),
        1 => json(),
    ]
}

/// The lazily decoded members of a decoded item agree with the JSON it came from.
fn accessors_agree(page: &CatalogSearchOutput, original: &Value) -> Result<(), TestCaseError> {
    let originals = original["features"].as_array().cloned().unwrap_or_default();
    prop_assert_eq!(page.features.len(), originals.len());
    for (item, original) in page.features.iter().zip(&originals) {
        if let Some(geometry) = &item.geometry {
            let raw: Value = serde_json::from_str(geometry.raw()).map_err(fail)?;
            let value = geometry.to_value().map_err(fail)?;
            prop_assert!(same(&value, &original["geometry"]), "{}", value);
            prop_assert_eq!(&value, &raw);
            prop_assert_eq!(geometry.parse::<Value>().map_err(fail)?, raw);
            let kind = original["geometry"]
                .as_object()
                .and_then(|members| members.get("type"))
                .and_then(Value::as_str);
            let found = geometry.kind();
            prop_assert_eq!(found.as_deref(), kind, "{}", value);
        }
        if let Some(assets) = &item.assets {
            let value = assets.to_value().map_err(fail)?;
            prop_assert!(same(&value, &original["assets"]), "{}", value);
            let eager = BTreeMap::<String, Asset>::deserialize(&original["assets"]);
            match (assets.get(), eager) {
                (Ok(lazy), Ok(eager)) => prop_assert!(same(
                    &serde_json::to_value(lazy).map_err(fail)?,
                    &serde_json::to_value(eager).map_err(fail)?
                )),
                (Err(_), Err(_)) => {}
                (lazy, eager) => {
                    return Err(fail(format!(
                        "assets decode lazily to {lazy:?} but eagerly to {eager:?}"
                    )))
                }
            }
        }
        if let Some(links) = &item.links {
            let value = links.to_value().map_err(fail)?;
            prop_assert!(same(&value, &original["links"]), "{}", value);
            let eager = Vec::<Link>::deserialize(&original["links"]);
            prop_assert_eq!(links.get().is_ok(), eager.is_ok());
        }
    }
    Ok(())
}

/// Pages as JSON values (how the SDK's page walker decodes them): nothing panics, nothing is
/// lost, encoding is a fixed point, and the accessors agree with the JSON.
#[test]
fn stac_pages_decode_losslessly_from_any_json() {
    let decoded = std::cell::Cell::new(0usize);
    check("CatalogSearchOutput", 256, 3000, &pages(), |original| {
        let from_value = CatalogSearchOutput::deserialize(&original);
        let text = serde_json::to_vec(&original).map_err(fail)?;
        let from_text = serde_json::from_slice::<CatalogSearchOutput>(&text);
        prop_assert_eq!(
            from_value.is_ok(),
            from_text.is_ok(),
            "from a value: {:?}, from text: {:?}",
            from_value.as_ref().err(),
            from_text.as_ref().err()
        );
        let (Ok(page), Ok(from_text)) = (from_value, from_text) else {
            return Ok(());
        };
        decoded.set(decoded.get() + 1);
        let encoded = serde_json::to_value(&page).map_err(fail)?;
        prop_assert!(kept(&original, &encoded), "{} became {}", original, encoded);
        let again = CatalogSearchOutput::deserialize(&encoded)
            .and_then(|page| serde_json::to_value(&page))
            .map_err(fail)?;
        prop_assert!(same(&again, &encoded), "{} became {}", encoded, again);
        let from_text = serde_json::to_value(&from_text).map_err(fail)?;
        prop_assert!(same(&from_text, &encoded), "{} vs {}", from_text, encoded);
        let typed: Value = page.to_typed().map_err(fail)?;
        prop_assert!(same(&typed, &encoded));
        accessors_agree(&page, &original)
    });
    assert!(decoded.get() > 64, "only {} pages decoded", decoded.get());
}

/// Pages as bytes (how `catalog.search` answers are decoded): a page that decodes never
/// panics in any accessor; when the answer is JSON `serde_json` can hold as a whole (no lone
/// surrogate escape), every accessor succeeds, as their documentation promises, and the page
/// survives a text round trip.
#[test]
fn stac_pages_decode_from_any_bytes() {
    let whole = std::cell::Cell::new(0usize);
    let strategy = bytes_near(pages());
    check(
        "CatalogSearchOutput bytes",
        512,
        3001,
        &strategy,
        |Bytes(bytes)| {
            let Ok(page) = serde_json::from_slice::<CatalogSearchOutput>(&bytes) else {
                return Ok(());
            };
            let valid = serde_json::from_slice::<Value>(&bytes).is_ok();
            let mut results = Vec::new();
            for item in &page.features {
                if let Some(geometry) = &item.geometry {
                    results.push(geometry.to_value().map(drop));
                    let _ = geometry.kind();
                }
                if let Some(assets) = &item.assets {
                    results.push(assets.to_value().map(drop));
                    let _ = assets.get();
                }
                if let Some(links) = &item.links {
                    results.push(links.to_value().map(drop));
                    let _ = links.get();
                }
            }
            let value = serde_json::to_value(&page);
            if !valid {
                return Ok(());
            }
            whole.set(whole.get() + 1);
            for result in results {
                result.map_err(fail)?;
            }
            let value = value.map_err(fail)?;
            let again = serde_json::to_vec(&page)
                .and_then(|text| serde_json::from_slice::<CatalogSearchOutput>(&text))
                .and_then(|again| serde_json::to_value(&again))
                .map_err(fail)?;
            prop_assert!(same(&again, &value), "{} became {}", value, again);
            Ok(())
        },
    );
    assert!(whole.get() > 32, "only {} pages decoded", whole.get());
}
