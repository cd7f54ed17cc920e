//! Calling one operation and printing its answer or its error.

use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::Duration;

use geopera::{Binary, Request, Response, StatusCode};
use geopera_types::OperationInfo;
use serde_json::Value;

use crate::auth::{self, Held, Target};
use crate::failure::{chain, Failure, Outcome};
use crate::json::{self, Unfit};
use crate::paint::inert;

/// An answer as the CLI reads it: its bytes, printed as they came. The SDK's own reading into
/// a `serde_json::Value` would go unused, and takes many times the answer's size in memory.
pub(crate) type Answer = Response<Binary>;

/// Calls `operation_id` and keeps its answer as an [`Answer`]: every call, page and wait of the
/// CLI goes through here.
pub(crate) async fn answer(
    client: &geopera::Geopera,
    operation_id: &str,
    request: Request<Value>,
) -> Result<Answer, geopera::Error> {
    client.invoke_request_as(operation_id, request).await
}

/// How answers are printed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Output {
    /// Indented JSON (the default, as the official CLI prints).
    Json,
    /// One compact JSON document per line.
    Ndjson,
    /// Columns for people: chosen for STAC items, orders and jobs, else the scalar members.
    Table,
    /// YAML, members in the server's order.
    Yaml,
}

/// Options of one call that come from the command line.
#[derive(Clone, Debug)]
pub(crate) struct Settings {
    pub(crate) timeout: Duration,
    pub(crate) idempotency_key: Option<String>,
    pub(crate) dry_run: bool,
    pub(crate) output: Output,
    /// Whether `--output` was given, rather than [`Settings::output`] being its default: a
    /// command that prints nothing it could format refuses it only when it was asked for.
    pub(crate) output_given: bool,
    /// Whether the SDK checks the body against the input shape before sending (off for
    /// `geopera op`, which sends any JSON as given).
    pub(crate) validate: bool,
    /// `--all`: walk every page and print each item on its own line.
    pub(crate) all: bool,
    /// `--wait`: wait for the order or job the call starts, and print it as it ends.
    pub(crate) wait: bool,
    /// `--wait-timeout`: how long `--wait` may take.
    pub(crate) wait_timeout: Option<Duration>,
    /// `--out`: where a binary answer (an image, a capabilities document) is written.
    pub(crate) out: Option<std::path::PathBuf>,
    /// `--jq`: a jq program the answer is passed through before it is printed.
    pub(crate) jq: Option<String>,
}

/// The user agent of every request, naming this program and its version.
pub(crate) fn user_agent() -> String {
    format!("geopera-cli-rs/{}", env!("CARGO_PKG_VERSION"))
}

/// The settings of every client a command calls the API with. `--timeout` bounds each attempt
/// whole, so the SDK's read timeout (how long an answer may go quiet, 60 s by default) is set
/// to it too: left at its default, it would end an attempt that `--timeout` above 60 s still
/// allows. No longer than the attempt's, it costs no timer of its own.
pub(crate) fn configure(
    builder: geopera::ClientBuilder<geopera::Geopera>,
    settings: &Settings,
) -> geopera::ClientBuilder<geopera::Geopera> {
    builder
        .timeout(settings.timeout)
        .read_timeout(settings.timeout)
        .user_agent(user_agent())
}

/// Calls `operation_id` with `body` and prints the answer.
pub(crate) async fn call(
    target: &Target,
    operation_id: &str,
    body: Value,
    settings: &Settings,
) -> Outcome {
    // Looked up before anything else, so that a dry run refuses an id the real run would, and
    // an unknown id is a usage error whether or not a credential is at hand.
    let Some(info) = geopera_types::operations::find(operation_id) else {
        return Err(unknown_operation(operation_id));
    };
    // A password or token the body carries is kept out of every message from here on, as
    // the credential the call is made with is: an error answer quoting the body (a gateway
    // echoing it, a wrong `--api-url`) would print it.
    for secret in secrets_in(info, &body) {
        crate::hidden::hide(secret);
    }
    out_answers_bytes(operation_id, settings)?;
    shaping_applies(operation_id, settings)?;
    all_prints_lines(settings)?;
    all_takes_no_key(settings)?;
    // An operation that needs none (`webhooks.drain`) is called without, as the API takes it:
    // no stored credential is read, renewed or checked against the server it is for.
    let held = if info.needs_credentials {
        auth::held(target, !settings.dry_run).await?
    } else {
        None
    };
    if settings.dry_run {
        // The SDK checks the body against the contract before sending it, and refuses it
        // unsent: a dry run that printed it would approve a request the real run never makes.
        if settings.validate {
            let failures = geopera_types::validate::validate(info.input, &body);
            if !failures.is_empty() {
                return Err(invalid_input(&failures));
            }
        }
        return print_dry_run(target, info, &body, held.as_ref(), settings);
    }
    if held.is_none() && info.needs_credentials {
        return Err(auth::not_signed_in(target));
    }
    let client = auth::client(target, held.as_ref(), |builder| {
        configure(builder, settings).validate_input(settings.validate)
    })?;
    if settings.all {
        return crate::pages::walk(&client, info, body, settings).await;
    }
    let mut request = Request::new(body);
    let key = idempotency_key(operation_id, settings);
    if let Some(key) = &key {
        request = request.idempotency_key(key.clone());
    }
    let unanswered = key.filter(|_| has_side_effects(operation_id));
    set_unanswered(
        unanswered
            .as_ref()
            .map(|key| retry_advice(operation_id, key, false)),
    );
    let result = answer(&client, operation_id, request).await;
    set_unanswered(None);
    match &result {
        Ok(response) => tracing::info!(
            operation_id,
            request_id = %response.request_id,
            status = response.status.as_u16(),
            attempts = response.attempts,
            "call ended"
        ),
        Err(error) => tracing::info!(
            operation_id,
            request_id = error.request_id().unwrap_or("-"),
            "call failed: {}",
            crate::failure::chain(error)
        ),
    }
    match result {
        Ok(response) if settings.wait && response.status.is_success() => {
            let answer = crate::json::tree_of(&response.content);
            let started = crate::waiting::kind_of(operation_id)
                .and_then(|kind| Some((kind, crate::waiting::started_id(kind, &answer)?)));
            let options = target.options();
            let Some((kind, id)) = started else {
                let printed = render(operation_id, &response, settings);
                // `settings.wait` is refused up front for operations of no kind.
                let kind =
                    crate::waiting::kind_of(operation_id).unwrap_or(crate::waiting::Kind::Order);
                let nothing = crate::waiting::nothing_to_wait_for(
                    kind,
                    operation_id,
                    unanswered.as_deref(),
                    &options,
                );
                return Err(Failure::after_printing(printed, nothing));
            };
            crate::waiting::wait_for_started(&client, kind, &id, &options, settings).await
        }
        // NDJSON (`catalog.search_stream`) is text, which `render` prints, unless `--out`
        // asks for the bytes in a file ([`is_written`]).
        Ok(response) if is_written(operation_id, &response, settings) => {
            if let Some(flag) = shaping(settings) {
                return Err(unshaped_bytes(operation_id, &response, flag));
            }
            write_binary(&response, settings.out.as_deref())
        }
        // `--out` asked for bytes: a redirect to them is printed, and said to be no file.
        Ok(response) if response.status.is_redirection() && settings.out.is_some() => {
            let printed = render(operation_id, &response, settings);
            Err(Failure::after_printing(
                printed,
                redirect_not_written(operation_id, settings),
            ))
        }
        Ok(response) => render(operation_id, &response, settings),
        Err(error) => {
            let mut failure = sdk_failure(operation_id, &target.api_url, settings, &error);
            if let Some(key) = unanswered.filter(|_| outcome_unknown(&error)) {
                // A last attempt that never connected sent nothing; only an earlier one may
                // have reached the API.
                let advice = retry_advice(operation_id, &key, error.is_connect());
                failure.message.push('\n');
                failure.message.push_str(&advice);
            }
            Err(failure)
        }
    }
}

/// The failure for an operation id this program does not know: a usage error, as the SDK's
/// refusal of it is.
fn unknown_operation(operation_id: &str) -> Failure {
    Failure::usage(format!(
        "unknown operation '{}' (see 'geopera op --list')",
        inert(operation_id)
    ))
}

/// Whether `operation_id` has side effects, which the API executes once per `Idempotency-Key`:
/// the operation descriptor's retry class, by which the SDK decides to send one.
fn has_side_effects(operation_id: &str) -> bool {
    geopera_types::operations::find(operation_id)
        .is_some_and(|info| info.retry == geopera_types::RetryClass::NeedsIdempotencyKey)
}

/// The `Idempotency-Key` a call is sent with: `--idempotency-key`, else a new one, made as the
/// SDK makes its own ([`geopera::new_idempotency_key`]), for an operation with side effects. Made here rather than left to
/// the SDK so that this program knows it, and can name it when the call's outcome is never
/// heard.
fn idempotency_key(operation_id: &str, settings: &Settings) -> Option<String> {
    settings
        .idempotency_key
        .clone()
        .or_else(|| has_side_effects(operation_id).then(geopera::new_idempotency_key))
}

/// Whether a failed call may still have had its effect: it timed out, or the exchange broke
/// off, on its last attempt or an earlier one. Only a connection never made on the one
/// attempt sent nothing.
fn outcome_unknown(error: &geopera::Error) -> bool {
    (error.is_timeout() || matches!(error, geopera::Error::Transport { .. }))
        && !(error.is_connect() && error.attempts() <= 1)
}

/// How to retry a call with side effects whose outcome is unknown without executing it twice:
/// with the same key, which the API answers, for 24 hours, with the first call's outcome.
/// `earlier_only` when only an attempt before the last may have reached the API.
fn retry_advice(operation_id: &str, key: &str, earlier_only: bool) -> String {
    let condition = if earlier_only {
        " if an earlier attempt reached the API"
    } else {
        ""
    };
    format!(
        "{operation_id} may have been executed{condition}: it was sent with Idempotency-Key \
         {key}; to retry it without executing it twice, repeat the same command with {}",
        idempotency_key_option(key)
    )
}

/// `--idempotency-key KEY`, as the user can paste it back: quoted for the shell, and joined
/// with `=` when the key starts with `-`, which the parser would otherwise read as flags.
pub(crate) fn idempotency_key_option(key: &str) -> String {
    let word = crate::paint::shell_word(key);
    // The shell takes the quotes off: a key `'-job:42'` reaches the parser as `-job:42`.
    if key.starts_with('-') {
        format!("--idempotency-key={word}")
    } else {
        format!("--idempotency-key {word}")
    }
}

/// What an interruption says of the call with side effects under way, sent and not answered:
/// how to retry it ([`retry_advice`]).
static UNANSWERED: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

fn set_unanswered(advice: Option<String>) {
    *UNANSWERED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner) = advice;
}

/// How to retry the call with side effects that Ctrl-C interrupted before it was answered,
/// if one was.
pub(crate) fn unanswered() -> Option<String> {
    UNANSWERED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
        .clone()
}

/// Refuses `--out FILE` (which `geopera op` takes for any operation) on an operation that
/// answers JSON, before anything is sent: `--out` is for bytes, as the typed commands say by
/// offering it only where the answer is bytes, and JSON goes to stdout through `--jq` and
/// `--output`, which a file of raw bytes would silently skip.
fn out_answers_bytes(operation_id: &str, settings: &Settings) -> Outcome {
    let Some(path) = settings
        .out
        .as_deref()
        .filter(|path| path.as_os_str() != "-")
    else {
        return Ok(());
    };
    let answers_json = !may_answer_bytes(operation_id);
    if answers_json {
        return Err(Failure::usage(format!(
            "--out {}: {operation_id} answers JSON, which is printed on stdout (redirect it \
             with '> FILE'); --out is for answers that are bytes; nothing was sent",
            crate::paint::path(path)
        )));
    }
    Ok(())
}

/// The option that asks for the answer to be shaped, `--jq` or `--output`, if one was given.
fn shaping(settings: &Settings) -> Option<&'static str> {
    if settings.jq.is_some() {
        Some("--jq")
    } else if settings.output_given {
        Some("-o/--output")
    } else {
        None
    }
}

/// Refuses `--jq` and `--output` in a dry run, before anything is read or sent: a dry run
/// prints the request it would send (its headers, then its body), not an answer, so there is
/// nothing for them to filter or format, and ignoring them would hand a script that asked for
/// JSON or YAML something else, with exit 0.
pub(crate) fn no_shaping_in_dry_run(settings: &Settings) -> Outcome {
    match shaping(settings) {
        Some(flag) if settings.dry_run => Err(Failure::usage(format!(
            "{flag}: a dry run prints the request, not an answer, so --jq and -o/--output have \
             nothing to filter or format; nothing was sent"
        ))),
        _ => Ok(()),
    }
}

/// Refuses `--jq` and `--output` where they could not apply, before anything is sent: in a
/// dry run ([`no_shaping_in_dry_run`]), and with `--out` on an operation that answers bytes,
/// which asks for the answer's bytes as they came. Without `--out` only the answer says: a
/// redirect (a tile's or a document's location) and NDJSON lines are printed through them,
/// other bytes are refused then ([`unshaped_bytes`]), unwritten.
fn shaping_applies(operation_id: &str, settings: &Settings) -> Outcome {
    no_shaping_in_dry_run(settings)?;
    let Some(flag) = shaping(settings) else {
        return Ok(());
    };
    if !may_answer_bytes(operation_id) || settings.out.is_none() {
        return Ok(());
    }
    let why = if answers_ndjson(operation_id) {
        format!(
            "--out writes the answer to {operation_id} as the bytes that came (without it, each \
             line is printed through them)"
        )
    } else {
        format!(
            "--out writes the answer to {operation_id} (an image or a document) as the bytes \
             that came"
        )
    };
    Err(Failure::usage(format!(
        "{flag}: {why}, so --jq and -o/--output have nothing to filter or format; nothing was \
         sent"
    )))
}

/// Refuses `-o table` and `-o yaml` with `--all`, before anything is sent: the walk prints
/// each item as it comes, one line of JSON each, and printed so instead the items would hand
/// a script that asked for a table or YAML something else, with exit 0.
fn all_prints_lines(settings: &Settings) -> Outcome {
    let (format, shape) = match settings.output {
        Output::Table if settings.all => ("table", "a table"),
        Output::Yaml if settings.all => ("yaml", "YAML"),
        _ => return Ok(()),
    };
    Err(Failure::usage(format!(
        "-o {format}: --all prints each item as one line of JSON (NDJSON), page by page, not \
         {shape}; use -o json or -o ndjson with it, or leave out --all; nothing was sent"
    )))
}

/// `--all` with `--idempotency-key`: a walk sends one request a page, each body with its own
/// page, and one key names one request body (the same key with another body is refused).
fn all_takes_no_key(settings: &Settings) -> Outcome {
    if settings.all && settings.idempotency_key.is_some() {
        return Err(Failure::usage(
            "--idempotency-key: --all sends a request for each page, each with another body, \
             which one key cannot name; nothing was sent",
        ));
    }
    Ok(())
}

/// The failure for an answer of bytes that `--jq` or `--output` was asked to shape: an image
/// or a document rather than the redirect to it that is printed as JSON, or a
/// `catalog.search_stream` answer that is not NDJSON; only the server decides which comes.
/// Written as it came, it would pass for the shaped answer, exit 0.
fn unshaped_bytes(operation_id: &str, response: &Answer, flag: &str) -> Failure {
    let kind = response
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or(geopera_types::OCTET_STREAM);
    let not = if answers_ndjson(operation_id) {
        "not NDJSON"
    } else {
        "not JSON"
    };
    Failure::other(format!(
        "{flag}: the answer to {operation_id} is {} bytes of {kind}, {not}, which --jq and \
         -o/--output cannot filter or format; it was not written",
        response.content.len(),
    ))
}

/// Whether the operation answers bytes (an image, an XML document) rather than JSON.
pub(crate) fn is_binary(operation_id: &str) -> bool {
    geopera_types::operations::find(operation_id).is_some_and(|info| info.answers_binary())
}

/// Whether `operation_id` may answer bytes: those that always do ([`is_binary`]), and those
/// whose body chooses (the analytics operations' `output_format`), which take `--out` too.
fn may_answer_bytes(operation_id: &str) -> bool {
    geopera_types::operations::find(operation_id).is_some_and(|info| info.may_answer_binary())
}

/// Whether `response` is bytes to write rather than JSON to print: every success of an
/// operation that answers bytes (NDJSON aside, unless `--out` asks for its bytes), and one of
/// an operation whose body chose between the two when it asked for a file or was not JSON.
fn is_written(operation_id: &str, response: &Answer, settings: &Settings) -> bool {
    if !response.status.is_success() {
        return false;
    }
    if is_binary(operation_id) {
        return !(is_ndjson(response) && settings.out.is_none());
    }
    // `--out -` is stdout, where a JSON answer is printed anyway.
    let to_file = settings
        .out
        .as_deref()
        .is_some_and(|path| path.as_os_str() != "-");
    may_answer_bytes(operation_id)
        && (to_file
            || response
                .headers
                .get("content-type")
                .and_then(|v| v.to_str().ok())
                .is_some_and(|kind| !geopera_types::is_json_type(kind)))
}

/// Whether `operation_id` answers NDJSON, bytes whose lines are printed as answers.
fn answers_ndjson(operation_id: &str) -> bool {
    geopera_types::operations::find(operation_id).is_some_and(|info| info.answers_ndjson)
}

/// Writes a binary answer to `--out`, or to stdout when that is a pipe or a file: bytes on a
/// terminal would garble it and are never what was meant.
/// The failure of `--out` when the answer was a redirect to the bytes rather than the bytes,
/// printed as JSON on stdout: left at that, the command would end 0 with the file unwritten
/// (or, from an earlier run, stale), and a script would read it as the answer.
fn redirect_not_written(operation_id: &str, settings: &Settings) -> Failure {
    let fate = match settings
        .out
        .as_deref()
        .filter(|path| path.as_os_str() != "-")
    {
        Some(path) => format!("nothing was written to {}", crate::paint::path(path)),
        None => "stdout holds that JSON instead of the bytes".to_owned(),
    };
    Failure::other(format!(
        "--out: the answer to {operation_id} is a redirect to where its bytes are (printed \
         as JSON), not the bytes; {fate}"
    ))
}

fn write_binary(response: &Answer, out: Option<&std::path::Path>) -> Outcome {
    // `--out -` means stdout, as for most tools that take an output file.
    if let Some(path) = out.filter(|path| path.as_os_str() != "-") {
        return crate::files::write_out(path, &response.content);
    }
    if std::io::IsTerminal::is_terminal(&std::io::stdout()) {
        let kind = response
            .headers
            .get("content-type")
            .and_then(|v| v.to_str().ok())
            .unwrap_or(geopera_types::OCTET_STREAM);
        return Err(Failure::other(format!(
            "the answer is binary ({kind}, {} bytes) and stdout is a terminal: use --out FILE or redirect stdout",
            response.content.len()
        )));
    }
    match write_stdout(&[&response.content]) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::other(format!("cannot write the answer: {e}"))),
    }
}

fn print_dry_run(
    target: &Target,
    info: &OperationInfo,
    body: &Value,
    held: Option<&Held>,
    settings: &Settings,
) -> Outcome {
    // `Accept-Encoding` is what reqwest asks for with the SDK's `gzip` feature, which this
    // program turns on; a test compares every header shown here with what a real run sends.
    let mut text = format!(
        "POST {}{}\nContent-Type: application/json\nAccept: {}\nAccept-Encoding: gzip\n\
         User-Agent: {}\n",
        inert(&target.api_url),
        inert(info.path),
        geopera::DEFAULT_ACCEPT,
        user_agent()
    );
    match held.map(auth::header) {
        Some((name, value)) => {
            let scheme = if value.starts_with("Bearer ") {
                "Bearer "
            } else {
                ""
            };
            text.push_str(&format!("{name}: {scheme}{}\n", crate::hidden::REDACTED));
        }
        None if info.needs_credentials => {
            text.push_str(&no_credentials(target));
            text.push('\n');
        }
        // Sent without, as the real run sends it.
        None => {}
    }
    match &settings.idempotency_key {
        Some(key) => text.push_str(&format!("Idempotency-Key: {}\n", inert(key))),
        // The real run makes one for each call ([`idempotency_key`]); one made here would not
        // be the one sent, so the line says what will be sent instead of showing a value.
        None if has_side_effects(info.id) => {
            text.push_str("# Idempotency-Key: a new one for each run; --idempotency-key sets it\n")
        }
        None => {}
    }
    // The SDK makes one for each call, and this program has no option to give one.
    text.push_str("# X-Request-Id: a new one for each run; -v names it\n");
    let (body, hidden) = without_credentials(info, body);
    for field in hidden {
        text.push_str(&format!(
            "# {field}: sent as given, shown as {}\n",
            crate::hidden::REDACTED
        ));
    }
    text.push('\n');
    // What a dry run is read for is that what it shows is what goes: a bidirectional override
    // in a string (from a `--json @file` someone else wrote) would show its text reordered,
    // and a C1 control could steer the terminal. As `\u` escapes they are the same JSON.
    text.push_str(&json::escape_controls(&json::pretty(&body)));
    print(&text)
}

/// The credentials `body` carries in the operation's secret fields: a field's text, or the
/// texts of a field that is an object (a subscription's delivery `headers`).
fn secrets_in<'a>(info: &OperationInfo, body: &'a Value) -> Vec<&'a str> {
    let mut found = Vec::new();
    for &field in info.secret_fields {
        match body.get(field) {
            Some(Value::String(text)) => found.push(text.as_str()),
            Some(Value::Object(members)) => {
                found.extend(members.values().filter_map(Value::as_str))
            }
            _ => {}
        }
    }
    found.retain(|text| !text.is_empty());
    found
}

/// `body` with the credentials it carries (the operation's `secret_fields`: a share link's
/// password, a delivery's headers) replaced by the redaction mark, and the names of the
/// members so changed. A dry run is pasted into tickets and chats, and shows the
/// `Authorization` header the same way; the members stay, so the shape shown is the shape sent.
fn without_credentials(info: &OperationInfo, body: &Value) -> (Value, Vec<&'static str>) {
    let mut shown = body.clone();
    let mut hidden = Vec::new();
    for &field in info.secret_fields {
        let changed = match shown.get_mut(field) {
            Some(value @ Value::String(_)) if value.as_str() != Some("") => {
                *value = Value::from(crate::hidden::REDACTED);
                true
            }
            Some(Value::Object(members)) => {
                let mut changed = false;
                for value in members
                    .values_mut()
                    .filter(|value| value.as_str().is_some_and(|text| !text.is_empty()))
                {
                    *value = Value::from(crate::hidden::REDACTED);
                    changed = true;
                }
                changed
            }
            _ => false,
        };
        if changed {
            hidden.push(field);
        }
    }
    (shown, hidden)
}

/// Prints a successful (or redirected) answer; turns an error answer into a failure.
pub(crate) fn render(operation_id: &str, response: &Answer, settings: &Settings) -> Outcome {
    let status = response.status;
    if status.is_redirection() {
        let location = response
            .headers
            .get("location")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        // Quicklooks and thumbnails are answered with a redirect to where they are stored,
        // which is the answer. Anywhere else a redirect is a wrong `--api-url` (an http URL
        // sent to https, a proxy's sign-in page), never a success.
        let expected = geopera_types::operations::find(operation_id)
            .is_some_and(|info| info.answers_with_redirect() || info.answers_binary());
        // Only a redirect that names where to go is that answer: a 304, or a 3xx without a
        // `Location` (or with one that is not text), leaves nowhere to fetch from.
        let names_a_place =
            matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) && !location.trim().is_empty();
        if expected && !names_a_place {
            return Err(Failure::api(format!(
                "[{}] {operation_id} was answered with a redirect that names no place to go",
                status.as_u16()
            )));
        }
        if !expected {
            return Err(Failure::api(format!(
                "[{}] {operation_id} was answered with a redirect to '{}', which is not \
                 followed: is the API URL right?",
                status.as_u16(),
                json::escape_controls(location)
            )));
        }
        let answer = geopera_types::redirect_answer(status.as_u16(), location);
        return print_json(&answer, settings);
    }
    if !status.is_success() {
        return Err(api_failure(operation_id, response));
    }
    if let Err(error) = std::str::from_utf8(&response.content) {
        if !is_binary(operation_id) {
            return Err(not_utf8(&format!("the answer to {operation_id}"), &error));
        }
    }
    let text = String::from_utf8_lossy(&response.content);
    let ndjson = is_ndjson(response);
    if text.trim().is_empty() {
        // No lines of NDJSON are no items, as each line is one: `null` would read as an item.
        // An empty answer otherwise is `null`, shaped as any other answer: a `--jq` program
        // runs on it (`. // "accepted"`), and a table shows it as an empty cell would.
        return if ndjson {
            Ok(())
        } else {
            print_json("null", settings)
        };
    }
    // Checked once, and a deep answer refused before any work that grows with its depth.
    match json::Checked::new(&text) {
        // One line of NDJSON is one JSON document too, but it is printed as one line, as any
        // other number of them: a reader that takes a line per item must not meet an indented
        // object when a stream holds a single item.
        Ok(_) if ndjson && !text.trim().contains('\n') => print_ndjson(&response.content, settings),
        Err(Unfit::TooDeep) => Err(too_deep(&format!("the answer to {operation_id}"))),
        Ok(checked) => print_checked(checked, settings, &mut Documents::default()),
        Err(_) if ndjson => print_ndjson(&response.content, settings),
        Err(Unfit::NotJson(error)) if !is_binary(operation_id) => {
            Err(not_json(operation_id, response, &error))
        }
        // Bytes that are text (e.g. XML capabilities): printed as a JSON string, so stdout
        // stays JSON.
        Err(_) => print(&json::escape_controls(
            &Value::String(text.into_owned()).to_string(),
        )),
    }
}

/// The failure for an answer, or a part of one, nested deeper than is printed (see
/// [`json::DEPTH_LIMIT`]).
/// The failure for `what` (an answer, a page, a line) when it is not UTF-8: JSON is UTF-8
/// (RFC 8259), and printed with replacement characters in place of its bad bytes it would be a
/// changed answer that reads as the real one.
pub(crate) fn not_utf8(what: &str, error: &std::str::Utf8Error) -> Failure {
    Failure::other(format!(
        "{what} is not UTF-8 text, as JSON must be: byte {} of it is not",
        error.valid_up_to()
    ))
}

fn too_deep(what: &str) -> Failure {
    Failure::other(format!(
        "{what} nests arrays and objects {} levels deep or more, which is not printed",
        json::DEPTH_LIMIT
    ))
}

/// The failure for a success answer of a JSON operation that is not JSON (a proxy's sign-in
/// page, an answer cut off), with how it begins: printed as a string it would pass for a
/// result, exit 0, with `--jq` and `--output` skipped. Not how it begins when the operation's
/// answer holds a credential (a signed URL, a share token, a new key), which a cut-off answer
/// would show, as the SDK's errors do not quote such answers either.
fn not_json(operation_id: &str, response: &Answer, error: &serde_json::Error) -> Failure {
    const EXCERPT_CHARS: usize = 80;
    let kind = response
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("no content type");
    let holds_credentials = geopera_types::operations::find(operation_id)
        .is_some_and(|info| info.answer_holds_credentials);
    if holds_credentials {
        return Failure::other(format!(
            "the answer to {operation_id} is not JSON ({error}): {} bytes of {kind}, not shown, \
             as its answer holds a credential",
            response.content.len()
        ));
    }
    let text = String::from_utf8_lossy(&response.content);
    // Credentials out before the cut: one that the cut went through would keep its start,
    // which no redaction of the message could recognise.
    let text = crate::hidden::redacted(text.trim());
    // Control characters (line breaks, escape sequences) as spaces: one line, and nothing
    // the server sent can steer the terminal.
    let mut excerpt: String = text
        .chars()
        .take(EXCERPT_CHARS)
        .map(|c| if crate::paint::steers(c) { ' ' } else { c })
        .collect();
    if text.chars().nth(EXCERPT_CHARS).is_some() {
        excerpt.push_str("...");
    }
    Failure::other(format!(
        "the answer to {operation_id} is not JSON ({error}): {} bytes of {kind}, starting '{excerpt}'",
        response.content.len()
    ))
}

/// Prints one JSON document (known to be valid) as `--output` asks, through `--jq` first
/// when given (each of its results is printed in turn). A document nested too deep is an
/// error (see [`json::DEPTH_LIMIT`]).
pub(crate) fn print_json(text: &str, settings: &Settings) -> Outcome {
    match json::Checked::new(text) {
        Ok(checked) => print_checked(checked, settings, &mut Documents::default()),
        Err(Unfit::TooDeep) => Err(too_deep("the answer")),
        Err(Unfit::NotJson(error)) => {
            Err(Failure::other(format!("cannot read the answer: {error}")))
        }
    }
}

/// Whether a document was printed yet: `-o yaml` puts `---` between two, whether they are
/// results of one `--jq` program or lines of an NDJSON answer. Printed back to back, the
/// second's members would read as more of the first's, and a YAML reader would keep one item.
#[derive(Default)]
struct Documents {
    printed: bool,
}

impl Documents {
    /// Called before each document is printed.
    fn next(&mut self, settings: &Settings) -> Outcome {
        if std::mem::replace(&mut self.printed, true) && settings.output == Output::Yaml {
            print("---")?;
        }
        Ok(())
    }
}

/// Prints a checked document through `--jq` and `--output`.
fn print_checked(
    checked: json::Checked<'_>,
    settings: &Settings,
    documents: &mut Documents,
) -> Outcome {
    let Some(expr) = &settings.jq else {
        documents.next(settings)?;
        return print_one(checked, settings);
    };
    warn_repeated_before_jq(checked.text());
    if settings.output == Output::Table {
        // The results are the rows of one table, as the lines of an NDJSON answer are, however
        // many there are: a table per result repeated the header above each row, and a
        // program's layout changed with the count of what it found. A lone list is laid out
        // as the list it is (`--jq .features`).
        let mut rows = TableRows::default();
        let mut lone = None;
        let ran = crate::jq::run(expr, checked.text(), |result| {
            if rows.is_empty() && lone.is_none() && result.trim_start().starts_with('[') {
                lone = Some(result);
                return Ok(());
            }
            if let Some(list) = lone.take() {
                rows.push(&list)?;
            }
            rows.push(&result)
        });
        if rows.full {
            return ran;
        }
        let printed = match lone {
            Some(list) => print_result(&list, settings),
            None => rows.print(),
        };
        return Failure::known_after_printing(printed, ran);
    }
    crate::jq::run(expr, checked.text(), |result| {
        documents.next(settings)?;
        print_result(&result, settings)
    })
}

/// The most rows laid out as one table, and the most bytes of their text: a table is printed
/// once all its rows are in, sized by every row, so a program that never ends (`repeat(.)`,
/// each result a whole answer) would fill memory before printing anything.
const MAX_TABLE_ROWS: usize = 100_000;
const MAX_TABLE_BYTES: usize = 16 * 1024 * 1024;

/// The rows of one `-o table` (the lines of an NDJSON answer, the results of `--jq`), the
/// results held within [`MAX_TABLE_ROWS`] and [`MAX_TABLE_BYTES`]; past them nothing is
/// printed, as a table cut short would pass for the whole.
#[derive(Default)]
struct TableRows {
    rows: Vec<crate::ordered::Ordered>,
    bytes: usize,
    /// Whether a row was refused for the bounds.
    full: bool,
}

impl TableRows {
    fn push(&mut self, text: &str) -> Outcome {
        self.bytes = self.bytes.saturating_add(text.len());
        if self.rows.len() >= MAX_TABLE_ROWS || self.bytes > MAX_TABLE_BYTES {
            self.full = true;
            return Err(Failure::other(format!(
                "more than {MAX_TABLE_ROWS} rows or {} MiB of them, more than -o table lays out; \
                 nothing was printed: print them with -o ndjson",
                MAX_TABLE_BYTES / (1024 * 1024)
            )));
        }
        self.rows.push(table_row(text)?);
        Ok(())
    }

    /// A line of an answer already held, within the answer's own cap: no bound refuses it, so
    /// a stream as long as the cap allows is a table, as it was.
    fn push_line(&mut self, text: &str) -> Outcome {
        self.rows.push(table_row(text)?);
        Ok(())
    }

    fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Prints the table, when it has rows.
    fn print(self) -> Outcome {
        if self.rows.is_empty() {
            return Ok(());
        }
        let list = crate::ordered::Ordered::Array(self.rows);
        print(&crate::table::table(&list, crate::paint::stdout()))
    }
}

/// Prints one result of `--jq` as `--output` asks.
fn print_result(result: &str, settings: &Settings) -> Outcome {
    match json::Checked::new(result) {
        Ok(result) => print_one(result, settings),
        // A value the printers cannot take (an object with keys that are not strings, a byte
        // string: jaq has both, JSON neither): on one line, as jaq wrote it, where it can be
        // shown at all, with the server's text in it still unable to steer the terminal.
        Err(_) if matches!(settings.output, Output::Json | Output::Ndjson) => {
            print(&json::escape_controls(result))
        }
        Err(Unfit::TooDeep) => Err(too_deep("a result of --jq")),
        Err(Unfit::NotJson(error)) => Err(Failure::other(format!(
            "a result of --jq is not JSON ({error}; a key that is not a string, or a byte \
             string?), which -o table and -o yaml cannot lay out"
        ))),
    }
}

/// Prints one document as `--output` asks.
fn print_one(checked: json::Checked<'_>, settings: &Settings) -> Outcome {
    let formatted = match settings.output {
        Output::Json => {
            checked.indent_into(crate::paint::stdout(), print_piece)?;
            return print_piece("\n");
        }
        Output::Ndjson => checked.compact(),
        Output::Table | Output::Yaml => {
            let (value, repeated) = crate::ordered::Ordered::parse(checked.text())
                .map_err(|e| Failure::other(format!("cannot read the answer: {e}")))?;
            warn_repeated(&repeated, SHOWN);
            if settings.output == Output::Table {
                let table = crate::table::table(&value, crate::paint::stdout());
                // An empty list of unknown columns is no table: not even an empty line.
                if table.is_empty() {
                    return Ok(());
                }
                table
            } else {
                crate::yaml::yaml(&value)
            }
        }
    };
    print(&formatted)
}

/// The most repeated keys of one document named one per line; past them, a line says how
/// many more.
const MAX_REPEATED_WARNINGS: usize = 10;

/// The most repeated keys named in one run, over all its documents (the items of an `--all`
/// walk, the lines of an NDJSON answer); past them, one line says the rest go unnamed.
const MAX_REPEATED_WARNINGS_IN_A_RUN: usize = 100;

/// What becomes of a repeated key's values in `-o table` and `-o yaml`.
const SHOWN: &str = "only its last value is shown";

/// What becomes of them under `--jq`.
const READ_BY_JQ: &str = "only its last value reaches --jq";

/// The warnings given so far in this run, so that documents repeating the same key at the
/// same place (every item of a page, say) name it once rather than once per document.
static NAMED: std::sync::Mutex<std::collections::BTreeSet<String>> =
    std::sync::Mutex::new(std::collections::BTreeSet::new());

/// Whether the line saying that repeated keys past [`MAX_REPEATED_WARNINGS_IN_A_RUN`] go
/// unnamed has been given.
static UNNAMED_SAID: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Names on stderr each key the answer repeats, of which `-o table` and `-o yaml` show only
/// the last value (see [`crate::ordered::Ordered::parse`]) and `--jq` reads only the last;
/// `fate` says which. A warning given earlier in the run is not given again; past
/// [`MAX_REPEATED_WARNINGS_IN_A_RUN`], one last line says that the rest are not named.
fn warn_repeated(repeated: &[crate::ordered::Repeated], fate: &str) {
    if repeated.is_empty() {
        return;
    }
    let mut named = NAMED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let (mut here, mut more) = (0, 0);
    for one in repeated {
        let quoted = serde_json::to_string(&one.key).unwrap_or_default();
        let at = if one.at.is_empty() { "/" } else { &one.at };
        let line = format!("the answer repeats the key {quoted} at {at}; {fate}");
        if named.contains(&line) {
            continue;
        }
        if here < MAX_REPEATED_WARNINGS && named.len() < MAX_REPEATED_WARNINGS_IN_A_RUN {
            crate::paint::warning(&line);
            named.insert(line);
            here += 1;
        } else {
            more += 1;
        }
    }
    if more == 0 {
        return;
    }
    if named.len() < MAX_REPEATED_WARNINGS_IN_A_RUN {
        crate::paint::warning(&format!("... and {more} more repeated keys"));
    } else if !UNNAMED_SAID.swap(true, std::sync::atomic::Ordering::Relaxed) {
        crate::paint::warning("... and more repeated keys, which are not named");
    }
}

/// Names each key `text` repeats before `--jq` reads it: jq, like the tables, keeps a
/// repeated key's last value, while `-o json` prints every one as the server sent it, so what
/// a program sees must not differ from the answer without a word. Text with no object in it
/// has no key to repeat, and is not read twice; text that is not JSON is left to jq to refuse.
pub(crate) fn warn_repeated_before_jq(text: &str) {
    if !text.contains('{') {
        return;
    }
    if let Ok((_, repeated)) = crate::ordered::Ordered::parse(text) {
        warn_repeated(&repeated, READ_BY_JQ);
    }
}

/// The line a dry run shows in place of the credential the real run would fail without.
pub(crate) fn no_credentials(target: &Target) -> String {
    format!(
        "# no credentials: run '{}' or set GEOPERA_API_TOKEN",
        inert(&target.login_command())
    )
}

/// Prints an NDJSON answer one document at a time: as compact lines by default, through
/// `--jq` and `--output` when asked, YAML documents apart. A line that is not JSON, or not
/// UTF-8 text (printed, its bad bytes would become replacement characters: a changed item that
/// reads as the real one), is an error after the lines before it are printed.
///
/// `-o table` is one table of every item (or `--jq` result), printed once the lines are read
/// (or one fails), as its columns are sized by every row: a table per line would repeat the
/// header above each row.
fn print_ndjson(content: &[u8], settings: &Settings) -> Outcome {
    let plain = settings.jq.is_none() && matches!(settings.output, Output::Json | Output::Ndjson);
    let mut documents = Documents::default();
    let mut rows = (settings.output == Output::Table).then(TableRows::default);
    let read = ndjson_lines(content, |checked| match (&mut rows, &settings.jq) {
        (Some(rows), Some(expr)) => {
            warn_repeated_before_jq(checked.text());
            crate::jq::run(expr, checked.text(), |result| rows.push(&result))
        }
        (Some(rows), None) => rows.push_line(checked.text()),
        (None, _) if plain => print(&json::escape_controls(&checked.compact())),
        (None, _) => print_checked(checked, settings, &mut documents),
    });
    match rows.filter(|rows| !rows.full) {
        Some(rows) => Failure::known_after_printing(rows.print(), read),
        None => read,
    }
}

/// Calls `each` with every line of an NDJSON answer, checked, in order; the first line that
/// is not UTF-8, not JSON or nested too deep ends it with an error naming the line.
fn ndjson_lines(content: &[u8], mut each: impl FnMut(json::Checked<'_>) -> Outcome) -> Outcome {
    for (number, line) in content.split(|&b| b == b'\n').enumerate() {
        let line = std::str::from_utf8(line)
            .map_err(|e| not_utf8(&format!("line {} of the answer", number + 1), &e))?;
        let line = line.trim();
        if line.is_empty() {
            continue;
        }
        let checked = match json::Checked::new(line) {
            Ok(checked) => checked,
            Err(Unfit::TooDeep) => {
                return Err(too_deep(&format!("line {} of the answer", number + 1)))
            }
            Err(Unfit::NotJson(_)) => {
                return Err(Failure::other(format!(
                    "line {} of the answer is not JSON",
                    number + 1
                )))
            }
        };
        each(checked)?;
    }
    Ok(())
}

/// One row of an NDJSON answer's table: a line, or a `--jq` result, read with its member order
/// and numbers as written, each key it repeats named as `-o table` names them.
fn table_row(text: &str) -> Result<crate::ordered::Ordered, Failure> {
    if json::too_deep(text) {
        return Err(too_deep("a result of --jq"));
    }
    let (row, repeated) = crate::ordered::Ordered::parse(text).map_err(|error| {
        Failure::other(format!(
            "a result of --jq is not JSON ({error}; a key that is not a string, or a byte \
             string?), which -o table cannot lay out"
        ))
    })?;
    warn_repeated(&repeated, SHOWN);
    Ok(row)
}

fn is_ndjson(response: &Answer) -> bool {
    response
        .headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("ndjson") || v.contains("jsonl"))
}

/// Writes `text` and a newline to stdout. A closed pipe (`| head`) ends the command quietly
/// ([`Failure::stdout_closed`]), so callers that print in a loop stop there.
pub(crate) fn print(text: &str) -> Outcome {
    written(write_stdout(&[text.as_bytes(), b"\n"]))
}

/// Prints a piece of a document laid out a piece at a time, without a line break of its own.
fn print_piece(piece: &str) -> Outcome {
    written(write_stdout(&[piece.as_bytes()]))
}

/// What a write to stdout comes to: a reader that left is a quiet stop.
fn written(result: std::io::Result<()>) -> Outcome {
    match result {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Err(Failure::stdout_closed()),
        Err(e) => Err(Failure::other(format!("cannot write the answer: {e}"))),
    }
}

/// Whether a write to stdout is under way, and how many have ended: what tells a command
/// blocked in a write to a pipe nobody reads, which Ctrl-C cannot reach (the write restarts
/// after the signal), from one that is printing.
pub(crate) static STDOUT_WRITING: AtomicBool = AtomicBool::new(false);
/// See [`STDOUT_WRITING`].
pub(crate) static STDOUT_WRITES_ENDED: AtomicU64 = AtomicU64::new(0);

/// Marks a write to stdout under way until dropped.
struct StdoutWrite;

impl StdoutWrite {
    fn begin() -> Self {
        STDOUT_WRITING.store(true, Ordering::SeqCst);
        StdoutWrite
    }
}

impl Drop for StdoutWrite {
    fn drop(&mut self) {
        STDOUT_WRITES_ENDED.fetch_add(1, Ordering::SeqCst);
        STDOUT_WRITING.store(false, Ordering::SeqCst);
    }
}

/// Writes `parts` to stdout, one after the other, each whole, and reports every failure.
///
/// Not through `std::io::stdout()` alone on Unix: it takes a write refused with `EBADF` for
/// one that succeeded (a stdout opened for reading only, `1< file`), so the answer would be
/// lost while the command exits 0 as if it had been printed. The
/// descriptor is duplicated into a `File` of our own, whose writes report what the system
/// says; std's lock is held meanwhile so that nothing else written to stdout lands in between.
/// Elsewhere std's handle is used, which on Windows also writes to a console as text.
///
/// A stdout that was closed before the program started (`>&-`) cannot be told from
/// `> /dev/null`: the standard library opens `/dev/null` in its place before `main` runs.
pub(crate) fn write_stdout(parts: &[&[u8]]) -> std::io::Result<()> {
    let _writing = StdoutWrite::begin();
    let lock = std::io::stdout().lock();
    #[cfg(unix)]
    let mut out = std::fs::File::from(std::os::fd::AsFd::as_fd(&lock).try_clone_to_owned()?);
    #[cfg(not(unix))]
    let mut out = lock;
    for part in parts {
        out.write_all(part)?;
    }
    out.flush()
}

/// The most validation failures printed one per line; past them, a line says how many more.
const MAX_VALIDATION_LINES: usize = 50;

/// The message of an error answer, in the official CLI's order of preference: `detail`,
/// `title`, `message`, `error_description`, `error`; a validation list prints one line per
/// item, up to [`MAX_VALIDATION_LINES`]. Each line is printed after `Error: [<status>] `.
///
/// The server's text is made [`inert`] where it enters a line, not when the lines are
/// printed: a line break inside one message would otherwise become a line of its own, which
/// could pass for another `Error:` of ours, while the list's own line breaks must stay.
///
/// An answer longer than [`geopera::MAX_PROBLEM_BYTES`] is not read: no error message is that
/// long, and read into a tree it would take many times its size in memory.
pub(crate) fn api_message(operation_id: &str, status: StatusCode, content: &[u8]) -> Vec<String> {
    let code = status.as_u16();
    if content.len() > geopera::MAX_PROBLEM_BYTES {
        return vec![format!(
            "[{code}] {operation_id} failed with HTTP {code}; its answer of {} bytes is too \
             long to be an error message and is not shown",
            content.len()
        )];
    }
    let body = crate::json::tree_of(content);
    // A list of the contract's `{loc, msg}` items; one of plain strings, or of items with a
    // `message`, is said as it is rather than as items without a message.
    let items = match body.get("detail") {
        Some(Value::Array(items)) if items.iter().any(|item| item_message(item).is_some()) => {
            Some(items)
        }
        _ => None,
    };
    if let Some(items) = items {
        let mut lines: Vec<String> = items
            .iter()
            .take(MAX_VALIDATION_LINES)
            .map(|item| {
                let loc = item
                    .get("loc")
                    .and_then(Value::as_array)
                    .map(|parts| {
                        parts
                            .iter()
                            .map(|p| match p {
                                Value::String(s) => inert(s).into_owned(),
                                other => inert(&other.to_string()).into_owned(),
                            })
                            .collect::<Vec<_>>()
                            .join(".")
                    })
                    .unwrap_or_default();
                let msg = match item_message(item) {
                    Some(message) => inert(message).into_owned(),
                    None => inert(&cut_chars(&item.to_string(), MAX_ITEM_CHARS)).into_owned(),
                };
                if loc.is_empty() {
                    format!("[{code}] {msg}")
                } else {
                    format!("[{code}] {loc}: {msg}")
                }
            })
            .collect();
        if items.len() > MAX_VALIDATION_LINES {
            lines.push(format!(
                "[{code}] ... and {} more",
                items.len() - MAX_VALIDATION_LINES
            ));
        }
        if !lines.is_empty() {
            return lines;
        }
    }
    let message = ["detail", "title", "message", "error_description", "error"]
        .iter()
        .find_map(|key| {
            body.get(*key)
                .and_then(Value::as_str)
                .map(str::trim)
                .filter(|s| !s.is_empty())
        })
        .map_or_else(
            || format!("{operation_id} failed with HTTP {code}"),
            |m| inert(m).into_owned(),
        );
    vec![format!("[{code}] {message}")]
}

/// What one item of an error's `detail` list says: the contract's `msg`, a `message`, or the
/// item itself when it is text.
fn item_message(item: &Value) -> Option<&str> {
    match item {
        Value::String(text) => Some(text.as_str()),
        _ => ["msg", "message"]
            .iter()
            .find_map(|key| item.get(*key).and_then(Value::as_str)),
    }
    .map(str::trim)
    .filter(|text| !text.is_empty())
}

/// The most characters of an item of `detail` that says no message, shown as JSON.
const MAX_ITEM_CHARS: usize = 200;

/// `text`'s first `most` characters, `…` marking a cut.
fn cut_chars(text: &str, most: usize) -> String {
    match text.char_indices().nth(most) {
        Some((at, _)) => format!("{}…", crate::hidden::redacted_cut(&text[..at])),
        None => text.to_owned(),
    }
}

pub(crate) fn api_failure(operation_id: &str, response: &Answer) -> Failure {
    let mut lines = api_message(operation_id, response.status, &response.content);
    if response.status == StatusCode::TOO_MANY_REQUESTS {
        if let Some(wait) = response
            .headers
            .get("retry-after")
            .and_then(|v| v.to_str().ok())
        {
            // Seconds read as such; anything else (an HTTP date, a malformed value) is quoted
            // as it came, since "retry after <date> s" would misread it.
            let wait = match wait.trim().parse::<u64>() {
                Ok(seconds) => format!("retry after {seconds} s"),
                Err(_) => format!("Retry-After: {}", wait.trim()),
            };
            if let Some(first) = lines.first_mut() {
                first.push_str(&format!(" ({wait})"));
            }
        }
    }
    Failure::api(lines.join("\n"))
}

/// A failure the SDK reported instead of an answer.
/// `api_url` as a connection failure names it: with the proxy the environment sends calls to
/// it through, when one does, since that proxy is then what could not be reached. The proxy
/// is found as the SDK's HTTP client finds it (`HTTP_PROXY`, `HTTPS_PROXY`, `ALL_PROXY`,
/// `NO_PROXY`) and named by its scheme, host and port only: its URL may carry a password.
pub(crate) fn reached(api_url: &str) -> String {
    let proxy = api_url
        .parse::<http::Uri>()
        .ok()
        .and_then(|uri| hyper_util::client::proxy::matcher::Matcher::from_env().intercept(&uri));
    let Some(proxy) = proxy else {
        return api_url.to_owned();
    };
    let uri = proxy.uri();
    let scheme = uri.scheme_str().unwrap_or("http");
    let host = uri.host().unwrap_or("?");
    let port = uri
        .port_u16()
        .map(|port| format!(":{port}"))
        .unwrap_or_default();
    format!(
        "{api_url} through the proxy {scheme}://{host}{port} (from HTTP_PROXY, HTTPS_PROXY or \
         ALL_PROXY)"
    )
}

pub(crate) fn sdk_failure(
    operation_id: &str,
    api_url: &str,
    settings: &Settings,
    error: &geopera::Error,
) -> Failure {
    use geopera::{Error, TimeoutLimit};
    if let Some(failure) = auth::renewal_failure(error) {
        return failure;
    }
    match error {
        Error::InvalidInput { error, .. } => invalid_input(&error.detail),
        // One line per failed field, as for the answer of a call this program makes itself
        // ([`api_failure`]), rather than the SDK's one line that names the status twice.
        Error::Validation { error: detail, .. } => match serde_json::to_vec(detail) {
            Ok(content) => Failure::api(
                api_message(operation_id, StatusCode::UNPROCESSABLE_ENTITY, &content).join("\n"),
            ),
            Err(_) => Failure::api(format!("[422] {}", chain(error))),
        },
        Error::InvalidRequest { message, .. } => {
            Failure::usage(format!("invalid request for {operation_id}: {message}"))
        }
        Error::RateLimited { retry_after, .. } => Failure::api(format!(
            "[429] rate limited on {operation_id}; retry after {} s",
            retry_after.as_secs()
        )),
        Error::Timeout {
            limit: TimeoutLimit::Attempt,
            attempts,
            ..
        } if *attempts > 1 => Failure::other(format!(
            "{operation_id} timed out: {attempts} attempts of up to {} s each (--timeout)",
            settings.timeout.as_secs_f64()
        )),
        Error::Timeout {
            limit: TimeoutLimit::Attempt,
            ..
        } => Failure::other(format!(
            "{operation_id} timed out after {} s (--timeout)",
            settings.timeout.as_secs_f64()
        )),
        // The SDK names the builder setting that moves the cap, which a user of this
        // program cannot reach: this program keeps the SDK's default. Any other cap (an
        // identity provider's answer has a fixed one) the SDK's message words already.
        Error::TooLarge {
            operation_id: answered,
            limit,
            ..
        } if *limit == geopera::DEFAULT_MAX_RESPONSE_BYTES => Failure::other(format!(
            "the answer to {answered} is larger than {}, the most this program reads of one \
             answer; no option raises that cap (a list can be asked for in smaller pages)",
            crate::tree::size_text(*limit)
        )),
        // Another bound (the answer went quiet, or connecting took too long): the SDK's
        // message names it; `--timeout` would not have helped.
        Error::Timeout { .. } => Failure::other(error.to_string()),
        Error::Transport { .. } => {
            let cause = cause_only(error);
            if error.is_connect() {
                Failure::other(format!("could not reach {}: {cause}", reached(api_url)))
            } else {
                Failure::other(format!("the exchange with {api_url} failed: {cause}"))
            }
        }
        other if other.problem().is_some() => {
            let code = other.status().map_or(0, |s| s.as_u16());
            let message = other
                .problem()
                .map(|p| {
                    [p.detail.trim(), p.title.trim()]
                        .into_iter()
                        .find(|m| !m.is_empty())
                        .map_or_else(
                            || format!("{operation_id} failed with HTTP {code}"),
                            |m| inert(m).into_owned(),
                        )
                })
                .unwrap_or_default();
            Failure::api(format!("[{code}] {message}"))
        }
        other => match other.status() {
            // A success that cannot be read (a 200 whose body is not the operation's model)
            // is no refusal by the API: exit 1, as for an answer that is not JSON at all.
            Some(status) if !status.is_success() => {
                Failure::api(format!("[{}] {}", status.as_u16(), chain(other)))
            }
            _ => Failure::other(chain(other)),
        },
    }
}

/// The failure for a body that breaks the operation's contract, one line per check it fails.
fn invalid_input(failures: &[geopera_types::ValidationError]) -> Failure {
    Failure::usage(
        failures
            .iter()
            .map(|item| format!("invalid input: {item}"))
            .collect::<Vec<_>>()
            .join("\n"),
    )
}

/// The innermost causes of an error, which say what went wrong on the network.
fn cause_only(error: &geopera::Error) -> String {
    match std::error::Error::source(error) {
        Some(source) => chain(source),
        None => error.to_string(),
    }
}

#[cfg(test)]
#[path = "call_tests.rs"]
mod tests;
