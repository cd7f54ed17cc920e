//! Receiving Geopera's webhooks: check that a delivery was signed with your subscription's
//! secret, then read it as a typed [`Event`].
//!
//! Geopera POSTs each event to the subscription's `endpoint_url` with the JSON body
//! `{event_id, event_type, timestamp, organization_id, entity_type, entity_id, data}` and
//! these headers:
//!
//! | header | holds |
//! |---|---|
//! | `X-Geopera-Signature` | `sha256=<hex>`: HMAC-SHA256 of the raw body, keyed by the `whsec_…` secret |
//! | `X-Geopera-Event` | the event type, as in the body |
//! | `X-Geopera-Event-ID` | the event's id: the same on every attempt to deliver it |
//! | `X-Geopera-Delivery-ID` | this attempt's id |
//!
//! [`Verifier::verify`] recomputes the HMAC over the bytes exactly as they arrived and compares
//! it in constant time, so verify *before* parsing or re-serializing anything: a body that was
//! decoded and encoded again is a different body.
//!
//! # Duplicates and replays
//!
//! A delivery that was not answered with a 2xx in time is sent again, with the same event id
//! and a new delivery id, so the same event can arrive more than once. The signature covers
//! the body only — no timestamp — so a captured delivery stays valid if someone replays it.
//! Both are the receiver's to handle, in the same way: remember the event ids you have
//! processed (for as long as you care about replays) and acknowledge a repeat with 2xx without
//! acting on it again. [`Delivery::event_id`] is the key.
//!
//! ```
//! use geopera::webhooks::{Event, Verifier};
//! # fn sign(secret: &str, body: &[u8]) -> String {
//! #     use hmac::{Hmac, KeyInit, Mac};
//! #     let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).unwrap();
//! #     mac.update(body);
//! #     let bytes = mac.finalize().into_bytes();
//! #     format!("sha256={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
//! # }
//!
//! let secret = "whsec_0123456789abcdef";
//! let body = br#"{"event_id":"evt_1","event_type":"order.fulfilled","timestamp":"2025-01-01T00:05:00Z","organization_id":"org_demo","entity_type":"order","entity_id":"ord_1","data":{"order_id":"ord_1","status":"fulfilled"}}"#;
//! let mut headers = http::HeaderMap::new();
//! headers.insert("x-geopera-signature", sign(secret, body).parse()?);
//! headers.insert("x-geopera-event-id", "evt_1".parse()?);
//!
//! let verifier = Verifier::new(secret)?;
//! let delivery = verifier.verify(&headers, body)?;
//! assert_eq!(delivery.event_id, "evt_1");
//! match &delivery.event {
//!     Event::OrderFulfilled(order) => assert_eq!(order.envelope.entity_id, "ord_1"),
//!     other => panic!("unexpected {other:?}"),
//! }
//!
//! // One byte changed after signing, and the delivery is refused.
//! let mut tampered = body.to_vec();
//! tampered[10] ^= 1;
//! assert!(verifier.verify(&headers, &tampered).is_err());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use hmac::{Hmac, KeyInit, Mac};
use http::HeaderMap;
use serde::Deserialize;
use serde_json::{Map, Value};
use sha2::Sha256;

use crate::secret::Secret;
use geopera_types::subscriptions::{
    self, CLIP_JOB_COMPLETED, CLIP_JOB_FAILED, ORDER_CANCELLED, ORDER_FULFILLED,
    PROCESSING_JOB_COMPLETED, PROCESSING_JOB_FAILED, UPLOAD_COMPLETED, UPLOAD_FAILED, WEBHOOK_TEST,
};

pub use geopera_types::subscriptions::{
    DELIVERY_ID_HEADER, EVENT_HEADER, EVENT_ID_HEADER, SIGNATURE_HEADER, SIGNATURE_PREFIX,
};

/// The largest body [`Verifier::verify`] reads. Geopera's events are a few kilobytes; a
/// receiver should refuse bigger bodies before buffering them (axum's `DefaultBodyLimit`,
/// for instance), and this bound holds even when it does not.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// Checks deliveries against one subscription's signing secret. `Debug` never shows the
/// secret.
#[derive(Clone)]
pub struct Verifier {
    secret: Secret,
}

impl fmt::Debug for Verifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Verifier").finish_non_exhaustive()
    }
}

/// Why a delivery was refused. None of these messages contains the secret or the body.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WebhookError {
    /// The secret given to [`Verifier::new`] is empty.
    #[error("the webhook signing secret is empty")]
    EmptySecret,
    /// The secret given to [`Verifier::new`] starts or ends with a space, a tab or a line
    /// break, as one read from a file or pasted often does. A secret never does, and keyed
    /// with it the HMAC would refuse every delivery as a signature mismatch.
    #[error(
        "the webhook signing secret starts or ends with whitespace (a line break read with \
         it?); give the secret alone"
    )]
    SecretWhitespace,
    /// The delivery has no `X-Geopera-Signature` header.
    #[error("the delivery has no {SIGNATURE_HEADER} header")]
    MissingSignature,
    /// The signature header is not `sha256=` and 64 hex digits.
    #[error("the {SIGNATURE_HEADER} header is not sha256=<64 hex digits>")]
    MalformedSignature,
    /// The body was not signed with this secret, or was changed after signing.
    #[error("the signature does not match the body and secret")]
    SignatureMismatch,
    /// The body is larger than [`MAX_BODY_BYTES`].
    #[error("the body has {0} bytes, more than the {MAX_BODY_BYTES} a delivery may have")]
    TooLarge(usize),
    /// The signed body is not a Geopera event.
    #[error("the signed body is not a Geopera event: {0}")]
    Body(#[source] serde_json::Error),
    /// The `X-Geopera-Event` or `X-Geopera-Event-ID` header disagrees with the signed body.
    #[error("the {header} header says {header_value:?}, the signed body {body_value:?}")]
    HeaderMismatch {
        /// The header that disagrees.
        header: &'static str,
        /// What the header says.
        header_value: String,
        /// What the signed body says.
        body_value: String,
    },
    /// The `X-Geopera-Event`, `X-Geopera-Event-ID` or `X-Geopera-Delivery-ID` header is not
    /// UTF-8, or comes more than once with different values, so it has no one value to read.
    #[error("the {header} header {reason}")]
    BadHeader {
        /// The header.
        header: &'static str,
        /// What is wrong with it.
        reason: &'static str,
    },
}

impl Verifier {
    /// A verifier for the secret `event_subscriptions.create` answered (`whsec_…`).
    ///
    /// # Errors
    /// [`WebhookError::EmptySecret`] for an empty secret, which would accept anyone's HMAC;
    /// [`WebhookError::SecretWhitespace`] for one with whitespace around it.
    pub fn new(secret: impl Into<String>) -> Result<Self, WebhookError> {
        let secret = secret.into();
        if secret.is_empty() {
            return Err(WebhookError::EmptySecret);
        }
        if secret.trim() != secret {
            return Err(WebhookError::SecretWhitespace);
        }
        Ok(Verifier {
            secret: Secret::new(secret),
        })
    }

    /// Checks that `body` — the raw bytes as received — was signed with this secret, then
    /// reads it. The signature is checked first and in constant time; the headers that
    /// repeat the event type and id must agree with the signed body, which is what counts, and
    /// the signature and each identifying header (those two and the delivery id) must have one
    /// UTF-8 value, however many times it is sent.
    ///
    /// # Errors
    /// [`WebhookError`] naming what is wrong; answer such a delivery with 4xx, and never act
    /// on its body.
    pub fn verify(&self, headers: &HeaderMap, body: &[u8]) -> Result<Delivery, WebhookError> {
        if body.len() > MAX_BODY_BYTES {
            return Err(WebhookError::TooLarge(body.len()));
        }
        // One signature, however many times it is sent: the first of two that differ would
        // be checked here while a proxy or a log took the other for the delivery's.
        let signature = match single_text(headers, SIGNATURE_HEADER) {
            Ok(Some(signature)) => signature,
            Ok(None) => return Err(WebhookError::MissingSignature),
            Err(WebhookError::BadHeader {
                reason: NOT_TEXT, ..
            }) => return Err(WebhookError::MalformedSignature),
            Err(error) => return Err(error),
        };
        let expected = signature
            .trim()
            .strip_prefix(SIGNATURE_PREFIX)
            .and_then(decode_hex)
            .ok_or(WebhookError::MalformedSignature)?;
        // HMAC takes a key of any length, so this fails only if that ever changes.
        let mut mac = Hmac::<Sha256>::new_from_slice(self.secret.expose().as_bytes())
            .map_err(|_| WebhookError::SignatureMismatch)?;
        mac.update(body);
        mac.verify_slice(&expected)
            .map_err(|_| WebhookError::SignatureMismatch)?;

        let envelope: Envelope =
            geopera_types::json::from_slice(body).map_err(WebhookError::Body)?;
        for (header, value) in [
            (EVENT_HEADER, &envelope.event_type),
            (EVENT_ID_HEADER, &envelope.event_id),
        ] {
            if let Some(given) = single_text(headers, header)? {
                if given != value.as_str() {
                    return Err(WebhookError::HeaderMismatch {
                        header,
                        header_value: given.to_owned(),
                        body_value: value.clone(),
                    });
                }
            }
        }
        let delivery_id = single_text(headers, DELIVERY_ID_HEADER)?.map(str::to_owned);
        Ok(Delivery {
            event_id: envelope.event_id.clone(),
            delivery_id,
            event: Event::from_envelope(envelope),
        })
    }
}

/// A verified delivery.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Delivery {
    /// The event's id, the same on every attempt: de-duplicate on it.
    pub event_id: String,
    /// This attempt's id, when the header was sent.
    pub delivery_id: Option<String>,
    /// The event.
    pub event: Event,
}

/// Why a header value that is not UTF-8 is refused.
const NOT_TEXT: &str = "is not UTF-8 text";

/// The text of `header`, the same in every copy of it; `None` when it was not sent.
///
/// Why every copy: a receiver, a proxy in front of it and a log may each read a different one
/// of a repeated header, and a value that is not UTF-8 has no text to compare with the body's,
/// so either would let the delivery say two things at once.
fn single_text<'h>(
    headers: &'h HeaderMap,
    header: &'static str,
) -> Result<Option<&'h str>, WebhookError> {
    let mut text = None;
    for value in headers.get_all(header) {
        let this = std::str::from_utf8(value.as_bytes()).map_err(|_| WebhookError::BadHeader {
            header,
            reason: NOT_TEXT,
        })?;
        match text {
            Some(earlier) if earlier != this => {
                return Err(WebhookError::BadHeader {
                    header,
                    reason: "is sent more than once with different values",
                })
            }
            _ => text = Some(this),
        }
    }
    Ok(text)
}

/// The body every event shares. Members Geopera adds later are kept in `extra`.
#[derive(Clone, Debug, Deserialize)]
#[non_exhaustive]
pub struct Envelope {
    /// The event's id.
    pub event_id: String,
    /// Its type, such as `order.fulfilled`.
    pub event_type: String,
    /// When it happened (RFC 3339).
    pub timestamp: String,
    /// The organization it happened in.
    pub organization_id: String,
    /// What kind of thing it is about (`order`, `processing_job`, `upload`, …).
    pub entity_type: String,
    /// The id of that thing.
    pub entity_id: String,
    /// The event's own fields.
    #[serde(default)]
    pub data: Value,
    /// Members this version does not know.
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// An order's event, with the fields its `data` documents.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct OrderEvent {
    /// The order's id.
    pub order_id: Option<String>,
    /// Its status when the event happened.
    pub status: Option<String>,
    /// The whole event.
    pub envelope: Envelope,
}

/// A processing or clip job's event.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct JobEvent {
    /// The job's id.
    pub job_id: Option<String>,
    /// Its final status (`succeeded` or `failed`).
    pub status: Option<String>,
    /// The whole event.
    pub envelope: Envelope,
}

/// An upload's event.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct UploadEvent {
    /// The upload's id.
    pub upload_id: Option<String>,
    /// The whole event.
    pub envelope: Envelope,
}

/// What happened. Event types this version does not know arrive as [`Event::Other`], whole.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub enum Event {
    /// `order.fulfilled`
    OrderFulfilled(OrderEvent),
    /// `order.cancelled`
    OrderCancelled(OrderEvent),
    /// `processing.job.completed`
    ProcessingJobCompleted(JobEvent),
    /// `processing.job.failed`
    ProcessingJobFailed(JobEvent),
    /// `clip.job.completed`
    ClipJobCompleted(JobEvent),
    /// `clip.job.failed`
    ClipJobFailed(JobEvent),
    /// `upload.completed`
    UploadCompleted(UploadEvent),
    /// `upload.failed`
    UploadFailed(UploadEvent),
    /// `webhook.test`, sent by `event_subscriptions.test`.
    Test(Envelope),
    /// Any other event type.
    Other(Envelope),
}

impl Event {
    /// The envelope every event carries.
    pub fn envelope(&self) -> &Envelope {
        match self {
            Event::OrderFulfilled(e) | Event::OrderCancelled(e) => &e.envelope,
            Event::ProcessingJobCompleted(e)
            | Event::ProcessingJobFailed(e)
            | Event::ClipJobCompleted(e)
            | Event::ClipJobFailed(e) => &e.envelope,
            Event::UploadCompleted(e) | Event::UploadFailed(e) => &e.envelope,
            Event::Test(e) | Event::Other(e) => e,
        }
    }

    fn from_envelope(envelope: Envelope) -> Event {
        let text = |name: &str| {
            envelope
                .data
                .get(name)
                .and_then(Value::as_str)
                .map(str::to_owned)
        };
        let (status, order_id, job_id, upload_id) = (
            text(subscriptions::DATA_STATUS),
            text(subscriptions::DATA_ORDER_ID),
            text(subscriptions::DATA_JOB_ID),
            text(subscriptions::DATA_UPLOAD_ID),
        );
        let order = |envelope| OrderEvent {
            order_id,
            status: status.clone(),
            envelope,
        };
        let job = |envelope| JobEvent {
            job_id,
            status: status.clone(),
            envelope,
        };
        let upload = |envelope| UploadEvent {
            upload_id,
            envelope,
        };
        match envelope.event_type.as_str() {
            ORDER_FULFILLED => Event::OrderFulfilled(order(envelope)),
            ORDER_CANCELLED => Event::OrderCancelled(order(envelope)),
            PROCESSING_JOB_COMPLETED => Event::ProcessingJobCompleted(job(envelope)),
            PROCESSING_JOB_FAILED => Event::ProcessingJobFailed(job(envelope)),
            CLIP_JOB_COMPLETED => Event::ClipJobCompleted(job(envelope)),
            CLIP_JOB_FAILED => Event::ClipJobFailed(job(envelope)),
            UPLOAD_COMPLETED => Event::UploadCompleted(upload(envelope)),
            UPLOAD_FAILED => Event::UploadFailed(upload(envelope)),
            WEBHOOK_TEST => Event::Test(envelope),
            _ => Event::Other(envelope),
        }
    }
}

/// 32 bytes from 64 hex digits. Written here rather than taken from a crate: it is the only
/// hex the SDK reads, and eight lines.
fn decode_hex(text: &str) -> Option<[u8; 32]> {
    let digits = text.as_bytes();
    if digits.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (byte, pair) in out.iter_mut().zip(digits.chunks_exact(2)) {
        let value = |d: u8| (d as char).to_digit(16);
        *byte = u8::try_from(value(pair[0])? * 16 + value(pair[1])?).ok()?;
    }
    Some(out)
}

#[cfg(test)]
#[path = "webhooks_tests.rs"]
mod tests;
