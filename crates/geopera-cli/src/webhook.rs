//! `geopera webhooks verify`: check a saved webhook delivery the way a receiver must, to debug
//! a receiver or audit a captured request without writing code.
//!
//! The body file is read as raw bytes and handed to the SDK's `Verifier` untouched: the
//! signature covers the exact bytes, so any re-encoding would make a genuine delivery fail.

use std::path::PathBuf;

use clap::{value_parser, Arg, ArgGroup, ArgMatches, Command};
use geopera::webhooks::{self, Event, Verifier, WebhookError};
use geopera::HeaderMap;
use serde::Serialize;
use serde_json::value::RawValue;

use crate::call::{self, Settings};
use crate::failure::{Failure, Outcome};
use crate::tree::{read_input, size_text, Input};

/// The most bytes of `--headers` read: a delivery's header section is a few hundred bytes,
/// and servers refuse one past some tens of KiB.
const MAX_HEADERS_BYTES: u64 = 64 * 1024;

/// The `webhooks` group. The API has no `webhooks.*` operation outside the admin scope, so the
/// generated tree has no group of this name to merge with.
pub(crate) fn command() -> Command {
    Command::new("webhooks")
        .about("Work with webhook deliveries")
        .subcommand(
            Command::new("verify")
                .about("Check a saved delivery's signature and print its event (exit 0), or say why it is refused (exit 1)")
                .arg(
                    Arg::new("secret")
                        .long("secret")
                        .value_name("SECRET")
                        .help("The subscription's signing secret (whsec_...); prefer --secret-env, which keeps it out of shell history"),
                )
                .arg(
                    Arg::new("secret-env")
                        .long("secret-env")
                        .value_name("VAR")
                        .help("Read the signing secret from this environment variable"),
                )
                .group(
                    ArgGroup::new("signing-secret")
                        .args(["secret", "secret-env"])
                        .required(true),
                )
                .arg(
                    Arg::new("headers")
                        .long("headers")
                        .value_name("FILE")
                        .required(true)
                        .value_parser(value_parser!(PathBuf))
                        .help("The delivery's headers, one 'Name: value' per line; - reads stdin"),
                )
                .arg(
                    Arg::new("body")
                        .long("body")
                        .value_name("FILE")
                        .required(true)
                        .value_parser(value_parser!(PathBuf))
                        .help("The delivery's body, byte for byte as received; - reads stdin"),
                ),
        )
}

/// Parses `Name: value` lines. Blank lines, `#` comments and a leading request or status line
/// (`POST /hook HTTP/1.1`, as a capture tool may save it) are skipped.
///
/// The signature, and each header the event is identified by, may repeat only with the same
/// value: a receiver or a proxy may read either copy, so two that disagree make the delivery
/// mean two things. The SDK's verifier refuses them too; here the line is named.
pub(crate) fn parse_headers(text: &str) -> Result<HeaderMap, String> {
    const SINGLE: [&str; 4] = [
        webhooks::SIGNATURE_HEADER,
        webhooks::EVENT_HEADER,
        webhooks::EVENT_ID_HEADER,
        webhooks::DELIVERY_ID_HEADER,
    ];
    let mut headers = HeaderMap::new();
    let mut first_line = std::collections::HashMap::new();
    for (number, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() || line.starts_with('#') {
            continue;
        }
        if number == 0 && line.contains(" HTTP/") || line.starts_with("HTTP/") {
            continue;
        }
        let Some((name, value)) = line.split_once(':') else {
            return Err(format!("line {}: expected 'Name: value'", number + 1));
        };
        let name = http::HeaderName::from_bytes(name.trim().as_bytes())
            .map_err(|_| format!("line {}: not a header name", number + 1))?;
        let value = http::HeaderValue::from_str(value.trim())
            .map_err(|_| format!("line {}: not a header value", number + 1))?;
        if SINGLE.contains(&name.as_str()) {
            if let Some(earlier) = headers.get(&name).filter(|earlier| **earlier != value) {
                let on = first_line.get(name.as_str()).copied().unwrap_or(0);
                return Err(format!(
                    "line {}: a second {} header ({}) contradicts the one on line {on} ({})",
                    number + 1,
                    canonical(name.as_str()),
                    String::from_utf8_lossy(value.as_bytes()),
                    String::from_utf8_lossy(earlier.as_bytes())
                ));
            }
            first_line
                .entry(name.as_str().to_owned())
                .or_insert(number + 1);
        }
        headers.append(name, value);
    }
    Ok(headers)
}

/// The `--headers` file as text, refused when it is not UTF-8: read with replacement
/// characters, two event ids that differ only in bytes that are not UTF-8 would read as the
/// same id, and the event printed under an id the delivery does not carry. The message names
/// the file and the line of the first such byte.
fn headers_text<'a>(bytes: &'a [u8], matches: &ArgMatches) -> Result<&'a str, Failure> {
    std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|&&b| b == b'\n')
            .count()
            + 1;
        let path = matches
            .get_one::<PathBuf>("headers")
            .map(|path| crate::paint::path(path))
            .unwrap_or_default();
        Failure::other(format!(
            "cannot read --headers {path}: line {line} is not UTF-8 text; give the headers as \
             received, in UTF-8"
        ))
    })
}

/// A header's name as the API writes it, for messages.
fn canonical(name: &str) -> &str {
    match name {
        webhooks::EVENT_HEADER => "X-Geopera-Event",
        webhooks::EVENT_ID_HEADER => "X-Geopera-Event-ID",
        webhooks::DELIVERY_ID_HEADER => "X-Geopera-Delivery-ID",
        webhooks::SIGNATURE_HEADER => "X-Geopera-Signature",
        other => other,
    }
}

/// What a verified delivery prints: the typed reading first, then the body as sent.
#[derive(Serialize)]
struct Verified<'a> {
    verified: bool,
    event: &'static str,
    event_type: &'a str,
    event_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    delivery_id: Option<&'a str>,
    entity_type: &'a str,
    entity_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    order_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    job_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    upload_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<&'a str>,
    body: &'a RawValue,
}

/// The event's kind, named as the SDK's `Event` variant.
fn kind(event: &Event) -> &'static str {
    match event {
        Event::OrderFulfilled(_) => "OrderFulfilled",
        Event::OrderCancelled(_) => "OrderCancelled",
        Event::ProcessingJobCompleted(_) => "ProcessingJobCompleted",
        Event::ProcessingJobFailed(_) => "ProcessingJobFailed",
        Event::ClipJobCompleted(_) => "ClipJobCompleted",
        Event::ClipJobFailed(_) => "ClipJobFailed",
        Event::UploadCompleted(_) => "UploadCompleted",
        Event::UploadFailed(_) => "UploadFailed",
        Event::Test(_) => "Test",
        _ => "Other",
    }
}

/// Whether `body` less its final line break (`\n` or `\r\n`) is what was signed: the commonest
/// way a genuine delivery saved to a file stops matching its signature, which the verifier's
/// plain "does not match" leaves a user to guess among a wrong secret and a forged body.
fn signed_without_final_break(verifier: &Verifier, headers: &HeaderMap, body: &[u8]) -> bool {
    let Some(trimmed) = body.strip_suffix(b"\n") else {
        return false;
    };
    let trimmed = trimmed.strip_suffix(b"\r").unwrap_or(trimmed);
    verifier.verify(headers, trimmed).is_ok()
}

/// Runs `geopera webhooks verify`.
pub(crate) fn verify(matches: &ArgMatches, settings: &Settings) -> Outcome {
    let secret = match (
        matches.get_one::<String>("secret"),
        matches.get_one::<String>("secret-env"),
    ) {
        (Some(secret), _) => secret.clone(),
        (None, Some(var)) => std::env::var(var).map_err(|e| match e {
            // A secret given where its variable's name belongs is hidden from the message
            // ([`crate::hidden`]), which then says what was expected instead.
            std::env::VarError::NotPresent
                if var.starts_with(crate::hidden::WEBHOOK_SECRET_PREFIX) =>
            {
                Failure::other(format!(
                    "the environment variable {var} is not set: --secret-env takes the name of \
                     the variable that holds the secret, not the secret itself"
                ))
            }
            std::env::VarError::NotPresent => {
                Failure::other(format!("the environment variable {var} is not set"))
            }
            std::env::VarError::NotUnicode(_) => {
                Failure::usage(format!("the environment variable {var} is not valid UTF-8"))
            }
        })?,
        (None, None) => return Err(Failure::usage("give --secret or --secret-env")),
    };
    crate::hidden::hide(&secret);
    if let Some(var) = matches.get_one::<String>("secret-env") {
        crate::hidden::hide_variable(var);
    }
    // Both files are read within a cap, so that `/dev/zero` or a runaway capture is refused
    // rather than read into memory without end; the body's is the most a delivery may have.
    let stdin = |name: &str| matches!(matches.get_one::<PathBuf>(name), Some(path) if path.as_os_str() == "-");
    if stdin("headers") && stdin("body") {
        return Err(Failure::usage(
            "--headers - and --body - cannot both read stdin: give one of them as a file",
        ));
    }
    let read = |name: &str, limit: u64, what: &str| -> Result<Vec<u8>, Failure> {
        let path = matches
            .get_one::<PathBuf>(name)
            .ok_or_else(|| Failure::usage(format!("--{name} is required")))?;
        let cannot = |why: &dyn std::fmt::Display| {
            Failure::other(format!(
                "cannot read --{name} {}: {why}",
                crate::paint::path(path)
            ))
        };
        let input = if stdin(name) {
            Input::Stdin
        } else {
            Input::File(path)
        };
        read_input(input, limit)
            .map_err(|e| cannot(&e))?
            .ok_or_else(|| cannot(&format!("it is larger than {}, {what}", size_text(limit))))
    };
    let header_bytes = read(
        "headers",
        MAX_HEADERS_BYTES,
        "more than any delivery's headers",
    )?;
    let headers = parse_headers(headers_text(&header_bytes, matches)?)
        .map_err(|e| Failure::other(format!("--headers: {e}")))?;
    let body = read(
        "body",
        geopera::webhooks::MAX_BODY_BYTES as u64,
        "the most a delivery may have",
    )?;
    let refused = |e: &dyn std::fmt::Display| Failure::other(format!("delivery refused: {e}"));
    let verifier = Verifier::new(secret).map_err(|e| refused(&e))?;
    let delivery = verifier.verify(&headers, &body).map_err(|e| {
        let mut failure = refused(&e);
        if matches!(e, WebhookError::SignatureMismatch)
            && signed_without_final_break(&verifier, &headers, &body)
        {
            failure.message.push_str(
                "; it matches the body without its final line break: one was probably added when \
                 the body was saved (by an editor, or 'echo'); give the bytes exactly as received",
            );
        }
        failure
    })?;
    // The verifier parsed the body as JSON already, so it is UTF-8 and one JSON value.
    let raw: &RawValue = serde_json::from_slice(&body).map_err(|e| refused(&e))?;
    let envelope = delivery.event.envelope();
    let (mut order_id, mut job_id, mut upload_id, mut status) = (None, None, None, None);
    match &delivery.event {
        Event::OrderFulfilled(e) | Event::OrderCancelled(e) => {
            order_id = e.order_id.as_deref();
            status = e.status.as_deref();
        }
        Event::ProcessingJobCompleted(e)
        | Event::ProcessingJobFailed(e)
        | Event::ClipJobCompleted(e)
        | Event::ClipJobFailed(e) => {
            job_id = e.job_id.as_deref();
            status = e.status.as_deref();
        }
        Event::UploadCompleted(e) | Event::UploadFailed(e) => upload_id = e.upload_id.as_deref(),
        _ => {}
    }
    let verified = Verified {
        verified: true,
        event: kind(&delivery.event),
        event_type: &envelope.event_type,
        event_id: &delivery.event_id,
        delivery_id: delivery.delivery_id.as_deref(),
        entity_type: &envelope.entity_type,
        entity_id: &envelope.entity_id,
        order_id,
        job_id,
        upload_id,
        status,
        body: raw,
    };
    let text = serde_json::to_string(&verified)
        .map_err(|e| Failure::other(format!("cannot print the event: {e}")))?;
    call::print_json(&text, settings)
}

#[cfg(test)]
#[path = "webhook_tests.rs"]
mod tests;
