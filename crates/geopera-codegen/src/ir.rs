//! The intermediate form: what the generator understood of the contract, before any Rust is
//! written. Parsing fails loudly on constructs the emitters cannot express, so a contract
//! change never silently produces wrong code.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{anyhow, bail, Context, Result};
use serde_json::{Map, Value};

use crate::naming;
use crate::rate::RateClass;

/// Schemas written by hand in `geopera-types` (contract name, module), because they carry
/// behaviour the contract cannot express: RFC 9457 defaults and extension members, a fast,
/// lossless typed decoding of catalog pages, and typed members (estimate groups, upload states,
/// a subscription's secret that never prints) where the contract leaves an answer open.
pub const HAND_WRITTEN: &[(&str, &str)] = &[
    ("ArchiveEstimateOutput", "orders"),
    ("CatalogSearchOutput", "stac"),
    ("HTTPValidationError", "problem"),
    ("ProcessExecuteOutput", "jobs"),
    ("Problem", "problem"),
    ("SubscriptionOutput", "subscriptions"),
    ("TaskingEstimateOutput", "orders"),
    ("UploadOutput", "uploads"),
    ("ValidationError", "problem"),
];

/// Operations that draw from the order-placement budget (from the API's rate-limit docs).
const ORDER_PLACEMENT: &[&str] = &[
    "orders.archive.place",
    "orders.place",
    "orders.tasking.place",
];

/// Operations that draw from the spend budget (from the API's rate-limit docs).
const SPEND: &[&str] = &[
    "billing.topup",
    "clip.create_from_area",
    "clip.create_from_item",
    "orders.cancel",
    "processing.create",
    "processing.create_and_dispatch",
];

/// Operations that answer newline-delimited JSON although the contract types their answer as
/// any JSON (the API's docs say so). An operation whose success answer the contract declares
/// as `application/x-ndjson` needs no entry: [`declares_ndjson`] reads it.
pub const NDJSON: &[&str] = &["catalog.search_stream"];

/// The media type of newline-delimited JSON.
pub const NDJSON_MEDIA_TYPE: &str = "application/x-ndjson";

/// Whether a success `response` of the contract declares newline-delimited JSON content.
pub fn declares_ndjson(response: &Value) -> bool {
    response
        .get("content")
        .and_then(Value::as_object)
        .is_some_and(|content| content.contains_key(NDJSON_MEDIA_TYPE))
}

/// The Rust type of a binary answer, as a path both generated crates resolve (`geopera`
/// re-exports it from `geopera-types`).
pub const BINARY_OUTPUT: &str = "crate::Binary";

/// Outputs chosen by hand where the contract's schema says less than the API answers
/// (operation id, Rust type path resolving in both generated crates); they win over both the
/// contract's schema and [`answers_raw`]. Typed overlays of free-form JSON answers go here.
pub const OUTPUT_OVERRIDES: &[(&str, &str)] = &[
    // Statistics as JSON, or the picture rendered when `output_format` is `png`.
    ("analytics.band_math", "crate::JsonOrBinary"),
    ("analytics.calculate_index", "crate::JsonOrBinary"),
    ("clip.create_from_area", "crate::models::ClipJobCreated"),
    ("clip.create_from_item", "crate::models::ClipJobCreated"),
    // Signed links are credentials: the answer keeps them out of `Debug`.
    ("clip.job.download", "crate::models::DownloadLinks"),
    ("clip.job.downloads", "crate::models::DownloadLinks"),
    ("clip.job.get", "crate::models::Job"),
    (
        "event_subscriptions.get",
        "crate::models::SubscriptionOutput",
    ),
    (
        "event_subscriptions.list",
        "crate::models::SubscriptionList",
    ),
    ("items.asset.download", "crate::models::DownloadLinks"),
    ("items.list_assets", "crate::models::DownloadLinks"),
    // The asset as `items.list_assets` answers it, its `href` a signed link.
    ("items.set_asset_band_names", "crate::models::DownloadLinks"),
    ("orders.archive.place", "crate::models::Order"),
    ("orders.get", "crate::models::Order"),
    ("orders.list_assets", "crate::models::DownloadLinks"),
    ("orders.tasking.place", "crate::models::Order"),
    ("processing.create", "crate::models::Job"),
    // `ProcessExecuteOutput` is `Job`; named so, the answer is known to hold signed links.
    ("processing.execute", "crate::models::Job"),
    ("processing.job.register", "crate::models::Job"),
    // Lists of jobs, whose outputs are signed links.
    ("clip.jobs.list", "crate::models::DownloadLinks"),
    ("processing.jobs.list", "crate::models::DownloadLinks"),
    (
        "processing.project_jobs.list",
        "crate::models::DownloadLinks",
    ),
    (
        "processing.create_and_dispatch",
        "crate::models::DispatchedJob",
    ),
    ("processing.job.get", "crate::models::Job"),
    ("processing.project_job.get", "crate::models::Job"),
    ("uploads.complete", "crate::models::UploadOutput"),
];

/// Hand-written types that are no contract schema of their own — the members and states of
/// the typed overlays above, and overlays of answers the contract leaves untyped — listed in
/// `models` beside the schemas (module, type names).
pub const HAND_WRITTEN_EXTRAS: &[(&str, &[&str])] = &[
    ("downloads", &["DownloadLinks"]),
    (
        "jobs",
        &["ClipJobCreated", "DispatchedJob", "Job", "JobStatus"],
    ),
    (
        "orders",
        &[
            "ArchiveEstimateGroup",
            "Order",
            "OrderStatus",
            "TaskingEstimateGroup",
        ],
    ),
    (
        "stac",
        &[
            "Asset",
            "Geometry",
            "Lazy",
            "Link",
            "Properties",
            "StacItem",
        ],
    ),
    ("subscriptions", &["SigningSecret", "SubscriptionList"]),
    ("uploads", &["UploadStatus", "UploadedFile"]),
];

/// Fields given a hand-written type where the contract's says too little (schema, field,
/// the type it had in the contract, module, hand-written type): credentials, which must
/// never print — a subscription's delivery headers carry the receiver's, and API keys shown
/// once, payment client secrets, share tokens and passwords are the caller's own, as is a
/// signed upload URL, which lets whoever holds it write the file. `models`
/// re-exports each type; a contract that changes such a field's type fails the generator
/// rather than losing the override.
pub const FIELD_TYPES: &[(&str, &str, &str, &str, &str)] = &[
    (
        "ApiKeyCreateOutput",
        "key",
        "string",
        "secret",
        "SecretString",
    ),
    (
        "CreateSubscriptionInput",
        "headers",
        "object of strings",
        "subscriptions",
        "DeliveryHeaders",
    ),
    (
        "ItemWmtsCapabilitiesInput",
        "key",
        "string",
        "secret",
        "SecretString",
    ),
    (
        "SetupIntentOutput",
        "client_secret",
        "string",
        "secret",
        "SecretString",
    ),
    (
        "ShareLinkCreate",
        "password",
        "string",
        "secret",
        "SecretString",
    ),
    (
        "ShareLinkCreateOutput",
        "token",
        "string",
        "secret",
        "SecretString",
    ),
    (
        "ShareLinkValidateInput",
        "password",
        "string",
        "secret",
        "SecretString",
    ),
    (
        "ShareLinkValidateInput",
        "token",
        "string",
        "secret",
        "SecretString",
    ),
    (
        "ShareTileInput",
        "password",
        "string",
        "secret",
        "SecretString",
    ),
    (
        "ShareTileInput",
        "token",
        "string",
        "secret",
        "SecretString",
    ),
    (
        "ShareTilejsonInput",
        "password",
        "string",
        "secret",
        "SecretString",
    ),
    (
        "ShareTilejsonInput",
        "token",
        "string",
        "secret",
        "SecretString",
    ),
    (
        "SignedUrlOutput",
        "upload_url",
        "string",
        "secret",
        "SecretString",
    ),
    (
        "UpdateSubscriptionInput",
        "headers",
        "object of strings",
        "subscriptions",
        "DeliveryHeaders",
    ),
];

/// Operations whose answer, untyped in the contract, holds a credential: `share.tilejson`'s
/// tile URL carries the share's key, which serves its tiles without the password (a map
/// client cannot send one).
pub const CREDENTIAL_ANSWERS: &[&str] = &["share.tilejson"];

/// Hand-written output types that hold credentials of their own (see the modules that define
/// them): a webhook's signing secret, alone or in a list, and signed download links, bare or
/// as a job's outputs. With the outputs that have a member of [`FIELD_TYPES`], they are the
/// answers an error must not quote.
pub const CREDENTIAL_OUTPUTS: &[&str] = &[
    "DownloadLinks",
    "Job",
    "SubscriptionList",
    "SubscriptionOutput",
];

/// Whether `name` is a hand-written field type of [`FIELD_TYPES`], which setters take as
/// anything that converts into it.
pub fn is_field_type(name: &str) -> bool {
    FIELD_TYPES.iter().any(|(_, _, _, _, ty)| *ty == name)
}

/// A field's type after [`FIELD_TYPES`]: the hand-written one where an entry names the field,
/// provided the contract still gives the type the entry was written for.
fn field_type_override(schema: &str, field: &str, ty: Ty) -> Result<Ty> {
    let Some((_, _, was, _, hand)) = FIELD_TYPES
        .iter()
        .find(|(s, f, _, _, _)| *s == schema && *f == field)
    else {
        return Ok(ty);
    };
    let expected = match *was {
        "string" => Ty::Str,
        "object of strings" => Ty::Map(Box::new(Ty::Str)),
        other => bail!("FIELD_TYPES: unknown contract type {other:?}"),
    };
    if ty != expected {
        bail!(
            "schema {schema}, field {field}: the contract's type changed from {was}; \
             FIELD_TYPES must be updated"
        );
    }
    Ok(Ty::Named((*hand).to_owned()))
}

/// Whether an operation answers raw content (an image or an XML document) rather than JSON.
///
/// The contract types every answer as `application/json`, so the rule reads what it does say:
/// the success schema must be untyped, and the words of the operation's summary must name such
/// a product — a tile render (leading verb `render`), a thumbnail, a WMTS `GetTile`, or an XML
/// document — without naming JSON, metadata or a redirect (the quicklook and thumbnail
/// redirects answer JSON, as do download descriptors). `items.tile.render`-style renders all
/// lead with the verb; "rendering" elsewhere (tile info) is a different word.
pub fn answers_raw(summary: &str, output_untyped: bool) -> bool {
    let words: Vec<String> = summary
        .split(|c: char| !c.is_ascii_alphanumeric())
        .filter(|w| !w.is_empty())
        .map(str::to_ascii_lowercase)
        .collect();
    let has = |word: &str| words.iter().any(|w| w == word);
    let product = words.first().is_some_and(|w| w == "render")
        || has("thumbnail")
        || has("gettile")
        || has("xml");
    let json = has("json") || has("metadata") || has("redirect");
    output_untyped && product && !json
}

/// The Rust output type an operation gets instead of its contract schema's, if any: an entry
/// of [`OUTPUT_OVERRIDES`], else [`BINARY_OUTPUT`] for an answer of bytes (`raw`): raw
/// content, or newline-delimited JSON, which `send` hands over as text and `stream` parses
/// line by line.
pub fn output_override(id: &str, raw: bool) -> Option<&'static str> {
    OUTPUT_OVERRIDES
        .iter()
        .find(|(op, _)| *op == id)
        .map(|(_, ty)| *ty)
        .or(raw.then_some(BINARY_OUTPUT))
}

/// The whole contract, as the emitters need it.
#[derive(Debug)]
pub struct Api {
    /// `info.version` of the contract.
    pub version: String,
    /// Every component schema plus the enums lifted out of inline properties, by Rust name.
    pub schemas: Vec<SchemaDef>,
    /// Every operation, sorted by id.
    pub operations: Vec<OperationDef>,
}

/// A schema that becomes one Rust type.
#[derive(Debug)]
pub struct SchemaDef {
    /// The name in the contract (for lifted enums, `Parent.field`).
    pub wire: String,
    /// The Rust type name.
    pub rust: String,
    /// What kind of type it becomes.
    pub kind: SchemaKind,
    /// The schema itself, for the shape emitter.
    pub raw: Value,
    /// Whether it is a component schema (lifted inline enums are not).
    pub component: bool,
}

/// What kind of Rust type a schema becomes.
#[derive(Debug)]
pub enum SchemaKind {
    /// A struct with named fields; `open` keeps undeclared members.
    Struct {
        /// The declared fields, in contract order.
        fields: Vec<FieldDef>,
        /// Whether undeclared members are kept.
        open: bool,
    },
    /// A string enum.
    Enum {
        /// The values, in contract order.
        values: Vec<String>,
    },
    /// An object with no declared fields that keeps whatever it is sent.
    FreeForm,
    /// Written by hand; re-exported under this name.
    HandWritten,
}

/// One field of a struct.
#[derive(Debug)]
pub struct FieldDef {
    /// The member name on the wire.
    pub wire: String,
    /// The Rust field name (possibly a raw identifier).
    pub rust: String,
    /// The value type, without the `Option` of nullability.
    pub ty: Ty,
    /// Whether the member must be present.
    pub required: bool,
    /// Whether the contract allows `null`.
    pub nullable: bool,
    /// The contract's default, when it has a non-null one.
    pub default: Option<Value>,
    /// Constraints worth repeating in the field's doc, e.g. `1 ≤ value ≤ 500`.
    pub constraints: Vec<String>,
}

impl FieldDef {
    /// Whether the Rust field is an `Option`.
    pub fn is_option(&self) -> bool {
        self.nullable || (!self.required && self.default.is_none())
    }
}

/// A Rust value type.
#[derive(Clone, Debug, PartialEq)]
pub enum Ty {
    /// `serde_json::Value`.
    Any,
    /// `bool`.
    Bool,
    /// `i64`.
    Int,
    /// `f64`.
    Num,
    /// `String`.
    Str,
    /// A generated or hand-written model, by Rust name.
    Named(String),
    /// `Vec<T>`.
    List(Box<Ty>),
    /// `BTreeMap<String, T>`.
    Map(Box<Ty>),
    /// A free-form JSON object.
    Object,
    /// A fixed-size array as a tuple.
    Tuple(Vec<Ty>),
}

/// How an operation pages, judged from its input fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Paging {
    /// Not paged.
    None,
    /// `limit` + `next`.
    Cursor,
    /// `limit` + `offset`.
    Offset,
    /// `page` + `size`.
    PageSize,
    /// `limit` + `page`.
    LimitPage,
}

/// One operation.
#[derive(Debug)]
pub struct OperationDef {
    /// The operation id.
    pub id: String,
    /// The route.
    pub path: String,
    /// The required scope.
    pub scope: String,
    /// Whether the contract's security requirements demand credentials.
    pub needs_credentials: bool,
    /// The success status.
    pub success: u16,
    /// The documented error statuses, ascending.
    pub errors: Vec<u16>,
    /// The input's Rust type (`None`: a free-form object).
    pub input: Option<String>,
    /// The input schema's contract name, when it has one.
    pub input_schema: Option<String>,
    /// The output's Rust type (`None`: any JSON).
    pub output: Option<String>,
    /// The output schema's contract name, when it has one.
    pub output_schema: Option<String>,
    /// The output's Rust type path when it is not the contract schema's (see
    /// [`output_override`]); it wins over [`output`](Self::output).
    pub output_override: Option<&'static str>,
    /// Whether the answer is raw content (image or XML), decoded as [`BINARY_OUTPUT`].
    pub binary: bool,
    /// Whether the contract declares `Idempotency-Key`.
    pub idempotency_key: bool,
    /// Whether the body may be omitted.
    pub body_optional: bool,
    /// How results are paged.
    pub paging: Paging,
    /// Which budget it draws from.
    pub rate_class: RateClass,
    /// Whether the answer is newline-delimited JSON.
    pub ndjson: bool,
    /// The request body schema as written in the contract.
    pub input_raw: Value,
    /// The success response schema as written in the contract.
    pub output_raw: Value,
}

impl OperationDef {
    /// The scope's action (`read`, `write`, `process`, `destroy`).
    pub fn action(&self) -> &str {
        self.scope.rsplit(':').next().unwrap_or("")
    }

    /// Whether repeating the call can never change server state (a `*:read` scope), which is
    /// what decides how failed attempts may be retried.
    pub fn is_read_only(&self) -> bool {
        self.action() == "read"
    }
}

/// Reads the contract into the intermediate form.
///
/// # Errors
///
/// The contract is missing a required part or uses a construct the generator does not support.
pub fn parse(spec: &Value) -> Result<Api> {
    let version = spec
        .pointer("/info/version")
        .and_then(Value::as_str)
        .context("the contract has no info.version")?
        .to_owned();
    let components = spec
        .pointer("/components/schemas")
        .and_then(Value::as_object)
        .context("the contract has no components.schemas")?;

    let mut schemas = Vec::new();
    let mut lifted = Vec::new();
    for (wire, raw) in components {
        let rust = naming::type_name(wire);
        let kind = schema_kind(wire, &rust, raw, &mut lifted)?;
        schemas.push(SchemaDef {
            wire: wire.clone(),
            rust,
            kind,
            raw: raw.clone(),
            component: true,
        });
    }
    schemas.extend(lifted);
    schemas.sort_by(|a, b| a.rust.cmp(&b.rust));
    let mut seen = BTreeSet::new();
    for schema in &schemas {
        if !seen.insert(schema.rust.as_str()) {
            bail!("two schemas map to the Rust type name {}", schema.rust);
        }
    }

    let default_security = spec.get("security");
    let mut operations = Vec::new();
    let paths = spec
        .get("paths")
        .and_then(Value::as_object)
        .context("the contract has no paths")?;
    for (path, item) in paths {
        let item = item.as_object().context("a path item is not an object")?;
        for (method, op) in item {
            if method != "post" {
                bail!("{path}: only POST operations are supported, found {method}");
            }
            operations.push(operation(path, op, components, default_security)?);
        }
    }
    operations.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(Api {
        version,
        schemas,
        operations,
    })
}

fn schema_kind(
    wire: &str,
    rust: &str,
    raw: &Value,
    lifted: &mut Vec<SchemaDef>,
) -> Result<SchemaKind> {
    if HAND_WRITTEN.iter().any(|(name, _)| *name == wire) {
        return Ok(SchemaKind::HandWritten);
    }
    refuse_unsupported(raw).with_context(|| format!("schema {wire}"))?;
    if let Some(values) = raw.get("enum") {
        return Ok(SchemaKind::Enum {
            values: enum_values(values).with_context(|| format!("schema {wire}"))?,
        });
    }
    match raw.get("type").and_then(Value::as_str) {
        Some("object") => {}
        other => bail!("schema {wire}: top-level type {other:?} is not supported"),
    }
    let properties = raw.get("properties").and_then(Value::as_object);
    // Members beyond the listed ones, of any type or of one (a map), are kept: its struct
    // would drop them.
    let open = matches!(
        raw.get("additionalProperties"),
        Some(Value::Bool(true) | Value::Object(_))
    );
    let Some(properties) = properties.filter(|p| !p.is_empty()) else {
        return Ok(if open {
            SchemaKind::FreeForm
        } else {
            SchemaKind::Struct {
                fields: Vec::new(),
                open: false,
            }
        });
    };
    let required: BTreeSet<&str> = raw
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let mut fields = Vec::new();
    let mut names = BTreeSet::new();
    for (field_wire, prop) in properties {
        let field_rust = naming::field_name(field_wire);
        if !names.insert(field_rust.clone()) || (open && field_rust == "extra") {
            bail!("schema {wire}: two fields map to the Rust name {field_rust}");
        }
        let (ty, nullable) = if let Some(values) = prop.get("enum") {
            let enum_rust = format!(
                "{rust}{}",
                heck::ToUpperCamelCase::to_upper_camel_case(field_wire.as_str())
            );
            lifted.push(SchemaDef {
                wire: format!("{wire}.{field_wire}"),
                rust: enum_rust.clone(),
                kind: SchemaKind::Enum {
                    values: enum_values(values)?,
                },
                raw: prop.clone(),
                component: false,
            });
            (Ty::Named(enum_rust), false)
        } else {
            let (ty, nullable) =
                value_type(prop).with_context(|| format!("schema {wire}, field {field_wire}"))?;
            (field_type_override(wire, field_wire, ty)?, nullable)
        };
        let default = prop.get("default").filter(|d| !d.is_null()).cloned();
        fields.push(FieldDef {
            wire: field_wire.clone(),
            rust: field_rust,
            ty,
            required: required.contains(field_wire.as_str()),
            nullable,
            default,
            constraints: constraints(prop),
        });
    }
    Ok(SchemaKind::Struct { fields, open })
}

fn enum_values(values: &Value) -> Result<Vec<String>> {
    values
        .as_array()
        .context("enum is not an array")?
        .iter()
        .map(|v| {
            v.as_str()
                .map(str::to_owned)
                .ok_or_else(|| anyhow!("only string enums are supported, found {v}"))
        })
        .collect()
}

/// The Rust type of a property schema and whether it admits `null`.
///
/// # Errors
///
/// An unsupported type or reference.
pub fn value_type(schema: &Value) -> Result<(Ty, bool)> {
    refuse_unsupported(schema)?;
    if let Some(reference) = schema.get("$ref").and_then(Value::as_str) {
        return Ok((Ty::Named(naming::type_name(ref_name(reference)?)), false));
    }
    if let Some(alternatives) = schema.get("anyOf").and_then(Value::as_array) {
        let non_null: Vec<&Value> = alternatives.iter().filter(|a| !is_null(a)).collect();
        let nullable = non_null.len() < alternatives.len();
        let ty = match non_null.as_slice() {
            [only] => value_type(only)?.0,
            _ => Ty::Any,
        };
        return Ok((ty, nullable));
    }
    let ty = match schema.get("type").and_then(Value::as_str) {
        None => Ty::Any,
        Some("string") => Ty::Str,
        Some("integer") => Ty::Int,
        Some("number") => Ty::Num,
        Some("boolean") => Ty::Bool,
        Some("null") => Ty::Any,
        Some("array") => {
            if let Some(prefix) = schema.get("prefixItems").and_then(Value::as_array) {
                Ty::Tuple(
                    prefix
                        .iter()
                        .map(|p| value_type(p).map(|(t, _)| t))
                        .collect::<Result<_>>()?,
                )
            } else {
                let items = match schema.get("items") {
                    Some(items) => value_type(items)?.0,
                    None => Ty::Any,
                };
                Ty::List(Box::new(items))
            }
        }
        Some("object") => match schema.get("additionalProperties") {
            Some(ap @ Value::Object(_)) if !schema_has_properties(schema) => {
                Ty::Map(Box::new(value_type(ap)?.0))
            }
            _ => Ty::Object,
        },
        Some(other) => bail!("unsupported type {other}"),
    };
    Ok((ty, false))
}

fn schema_has_properties(schema: &Value) -> bool {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|p| !p.is_empty())
}

fn is_null(schema: &Value) -> bool {
    schema.get("type").and_then(Value::as_str) == Some("null")
}

/// The schema name a `#/components/schemas/...` reference points at.
///
/// # Errors
///
/// The reference points anywhere else.
pub fn ref_name(reference: &str) -> Result<&str> {
    reference
        .strip_prefix("#/components/schemas/")
        .ok_or_else(|| anyhow!("unsupported reference {reference}"))
}

fn constraints(prop: &Value) -> Vec<String> {
    let mut out = Vec::new();
    let target = prop
        .get("anyOf")
        .and_then(Value::as_array)
        .and_then(|alts| alts.iter().find(|a| !is_null(a)))
        .unwrap_or(prop);
    let num = |key: &str| target.get(key).and_then(Value::as_f64).map(fmt_number);
    match (num("minimum"), num("maximum")) {
        (Some(lo), Some(hi)) => out.push(format!("{lo} ≤ value ≤ {hi}")),
        (Some(lo), None) => out.push(format!("value ≥ {lo}")),
        (None, Some(hi)) => out.push(format!("value ≤ {hi}")),
        (None, None) => {}
    }
    if let Some(lo) = num("exclusiveMinimum") {
        out.push(format!("value > {lo}"));
    }
    if let Some(hi) = num("exclusiveMaximum") {
        out.push(format!("value < {hi}"));
    }
    match (num("minLength"), num("maxLength")) {
        (Some(lo), Some(hi)) => out.push(format!("{lo} to {hi} characters")),
        (Some(lo), None) => out.push(format!("at least {}", count(&lo, "character"))),
        (None, Some(hi)) => out.push(format!("at most {}", count(&hi, "character"))),
        (None, None) => {}
    }
    match (num("minItems"), num("maxItems")) {
        (Some(lo), Some(hi)) if lo == hi => out.push(format!("exactly {}", count(&lo, "item"))),
        (Some(lo), Some(hi)) => out.push(format!("{lo} to {hi} items")),
        (Some(lo), None) => out.push(format!("at least {}", count(&lo, "item"))),
        (None, Some(hi)) => out.push(format!("at most {}", count(&hi, "item"))),
        (None, None) => {}
    }
    if let Some(pattern) = target.get("pattern").and_then(Value::as_str) {
        out.push(format!("matches `{pattern}`"));
    }
    if let Some(format) = target.get("format").and_then(Value::as_str) {
        out.push(format!("format `{format}`"));
    }
    out
}

/// Whether an operation's security requirements (its own, else the contract's) demand
/// credentials. The requirements are alternatives: an empty list, or an empty requirement
/// among them, lets a caller in without any.
///
/// # Errors
///
/// Neither the operation nor the contract states requirements; guessing either way would put
/// a wrong fact into every client, so the contract must say.
fn needs_credentials(security: Option<&Value>) -> Result<bool> {
    let alternatives = security
        .context("no security requirements, on the operation or the contract")?
        .as_array()
        .context("security requirements are not a list")?;
    let mut anonymous = alternatives.is_empty();
    for requirement in alternatives {
        let schemes = requirement
            .as_object()
            .context("a security requirement is not an object")?;
        anonymous |= schemes.is_empty();
    }
    Ok(!anonymous)
}

/// `1 item`, `2 items`.
fn count(n: &str, noun: &str) -> String {
    if n == "1" {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// A JSON number as written in docs: `500` rather than `500.0`.
pub fn fmt_number(n: f64) -> String {
    if n.fract() == 0.0 && n.abs() < 1e15 {
        format!("{}", n as i64)
    } else {
        format!("{n}")
    }
}

fn operation(
    path: &str,
    op: &Value,
    components: &Map<String, Value>,
    default_security: Option<&Value>,
) -> Result<OperationDef> {
    let id = op
        .get("operationId")
        .and_then(Value::as_str)
        .with_context(|| format!("{path}: no operationId"))?
        .to_owned();
    let needs_credentials = needs_credentials(op.get("security").or(default_security))
        .with_context(|| format!("{id}: security"))?;
    let scope = op
        .get("x-required-scope")
        .and_then(Value::as_str)
        .with_context(|| format!("{id}: no x-required-scope"))?
        .to_owned();
    let responses = op
        .get("responses")
        .and_then(Value::as_object)
        .with_context(|| format!("{id}: no responses"))?;
    let mut success = None;
    let mut errors = Vec::new();
    let mut output_schema = None;
    let mut output_raw = Value::Null;
    let mut ndjson = NDJSON.contains(&id.as_str());
    for (status, response) in responses {
        let code: u16 = status
            .parse()
            .with_context(|| format!("{id}: status {status} is not a number"))?;
        if (200..300).contains(&code) {
            if success.replace(code).is_some() {
                bail!("{id}: more than one success status");
            }
            ndjson |= declares_ndjson(response);
            output_raw = response
                .pointer("/content/application~1json/schema")
                .cloned()
                .unwrap_or(Value::Null);
            output_schema = response
                .pointer("/content/application~1json/schema/$ref")
                .and_then(Value::as_str)
                .map(ref_name)
                .transpose()?
                .map(str::to_owned);
        } else {
            errors.push(code);
        }
    }
    errors.sort_unstable();
    let success = success.with_context(|| format!("{id}: no success status"))?;

    let body = op.get("requestBody");
    let input_raw = body
        .and_then(|b| b.pointer("/content/application~1json/schema"))
        .cloned()
        .unwrap_or(Value::Null);
    let input_schema = body
        .and_then(|b| b.pointer("/content/application~1json/schema/$ref"))
        .and_then(Value::as_str)
        .map(ref_name)
        .transpose()?
        .map(str::to_owned);
    let body_optional = body
        .and_then(|b| b.get("required"))
        .and_then(Value::as_bool)
        != Some(true);
    let idempotency_key = op
        .get("parameters")
        .and_then(Value::as_array)
        .is_some_and(|ps| {
            ps.iter().any(|p| {
                p.get("name")
                    .and_then(Value::as_str)
                    .is_some_and(|n| n.eq_ignore_ascii_case(crate::headers::IDEMPOTENCY_KEY))
            })
        });

    let input_fields: BTreeMap<&str, &Value> = input_schema
        .as_deref()
        .and_then(|name| components.get(name))
        .and_then(|s| s.get("properties"))
        .and_then(Value::as_object)
        .map(|p| p.iter().map(|(k, v)| (k.as_str(), v)).collect())
        .unwrap_or_default();
    let has = |name: &str| input_fields.contains_key(name);
    let paging = if has("next") && has("limit") {
        Paging::Cursor
    } else if has("offset") && has("limit") {
        Paging::Offset
    } else if has("page") && has("size") {
        Paging::PageSize
    } else if has("page") && has("limit") {
        Paging::LimitPage
    } else {
        Paging::None
    };
    let summary = op.get("summary").and_then(Value::as_str).unwrap_or("");
    let binary = answers_raw(summary, output_schema.is_none());
    // A page of bytes has no items or `next` to read, and NDJSON is read as bytes too (its
    // items come through `stream`), so paged helpers over it would never reach a second page.
    if (binary || ndjson) && paging != Paging::None {
        let kind = if binary { "a binary" } else { "an NDJSON" };
        bail!("{id}: {kind} answer cannot be paged");
    }
    // The API counts calls without credentials per client address, whatever they spend.
    let rate_class = if !needs_credentials {
        RateClass::Unauthenticated
    } else if ORDER_PLACEMENT.contains(&id.as_str()) {
        RateClass::OrderPlacement
    } else if SPEND.contains(&id.as_str()) {
        RateClass::Spend
    } else {
        RateClass::Default
    };

    Ok(OperationDef {
        path: path.to_owned(),
        scope,
        needs_credentials,
        success,
        errors,
        input: input_schema.as_deref().map(naming::type_name),
        input_schema,
        output: output_schema.as_deref().map(naming::type_name),
        output_override: output_override(&id, binary || ndjson),
        output_schema,
        binary,
        idempotency_key,
        body_optional,
        paging,
        rate_class,
        ndjson,
        input_raw,
        output_raw,
        id,
    })
}

#[cfg(test)]
#[path = "ir_tests.rs"]
mod tests;

/// The JSON Schema keywords no emitter reads: a schema using one would be generated without
/// what it says (a type, a bound, a closed object) while the docs still named the rest.
pub const UNSUPPORTED_KEYWORDS: [&str; 16] = [
    "allOf",
    "oneOf",
    "not",
    "const",
    "multipleOf",
    "uniqueItems",
    "minProperties",
    "maxProperties",
    "patternProperties",
    "propertyNames",
    "dependentRequired",
    "if",
    "contains",
    "discriminator",
    "unevaluatedProperties",
    "$defs",
];

/// Refuses a schema (its own keywords, not its members') whose meaning the generated code
/// would drop: a keyword of [`UNSUPPORTED_KEYWORDS`], a `type` list, a closed object
/// (`additionalProperties: false`, which the API would enforce and the input check would
/// not), listed members beside a schema for the others (whose values the input check would
/// not check), OpenAPI 3.0's `nullable` and boolean `exclusiveMinimum`/`exclusiveMaximum`,
/// or a length bound that is no whole number (`8.0`, which the docs would state and the check
/// would drop).
///
/// # Errors
/// Naming the construct, when `schema` uses one of those.
pub fn refuse_unsupported(schema: &Value) -> Result<()> {
    let Some(object) = schema.as_object() else {
        return Ok(());
    };
    if let Some(keyword) = UNSUPPORTED_KEYWORDS
        .iter()
        .find(|k| object.contains_key(**k))
    {
        bail!("the keyword {keyword} is not supported");
    }
    if object.get("type").is_some_and(Value::is_array) {
        bail!("a list of types is not supported; write anyOf");
    }
    if object.get("additionalProperties") == Some(&Value::Bool(false)) {
        bail!("additionalProperties: false is not supported");
    }
    for bound in ["exclusiveMinimum", "exclusiveMaximum"] {
        if object.get(bound).is_some_and(Value::is_boolean) {
            bail!("a boolean {bound} (OpenAPI 3.0) is not supported; give the bound itself");
        }
    }
    if object.get("nullable") == Some(&Value::Bool(true)) {
        bail!("nullable (OpenAPI 3.0) is not supported; write anyOf with a null type");
    }
    let has_members = object
        .get("properties")
        .and_then(Value::as_object)
        .is_some_and(|members| !members.is_empty());
    let typed_extra = object
        .get("additionalProperties")
        .and_then(Value::as_object)
        .is_some_and(|schema| !schema.is_empty());
    if has_members && typed_extra {
        bail!("additionalProperties with a schema beside properties is not supported");
    }
    for bound in ["minLength", "maxLength", "minItems", "maxItems"] {
        if let Some(given) = object.get(bound).filter(|given| given.as_u64().is_none()) {
            bail!("{bound} must be a whole number of at least 0, not {given}");
        }
    }
    Ok(())
}
