//! Webhook subscriptions, typed where the contract leaves them open.
//!
//! A subscription's signing secret is shown once, at creation; it is kept in a
//! [`SigningSecret`], which never prints, so logging a subscription cannot leak it. The
//! headers a subscription adds to its deliveries often carry the receiver's own credentials;
//! they are kept in [`DeliveryHeaders`], whose `Debug` shows the names only.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::open::{never, open_model};
use crate::JsonObject;

/// The delivery header carrying [`SIGNATURE_PREFIX`] and the hex HMAC-SHA256 of the body.
pub const SIGNATURE_HEADER: &str = "x-geopera-signature";
/// The delivery header carrying the event type.
pub const EVENT_HEADER: &str = "x-geopera-event";
/// The delivery header carrying the event id, the same on every attempt: the de-duplication
/// key.
pub const EVENT_ID_HEADER: &str = "x-geopera-event-id";
/// The delivery header carrying this attempt's id.
pub const DELIVERY_ID_HEADER: &str = "x-geopera-delivery-id";
/// What every delivery header of the API's own begins with; a subscription cannot set one.
pub const DELIVERY_HEADER_PREFIX: &str = "x-geopera-";
/// What the signature header's value begins with, before the hex digest.
pub const SIGNATURE_PREFIX: &str = "sha256=";

/// The event type of an order that reached `fulfilled`.
pub const ORDER_FULFILLED: &str = "order.fulfilled";
/// The event type of a cancelled order.
pub const ORDER_CANCELLED: &str = "order.cancelled";
/// The event type `event_subscriptions.test` sends.
pub const WEBHOOK_TEST: &str = "webhook.test";
/// The event type of a processing job that reached `succeeded`.
pub const PROCESSING_JOB_COMPLETED: &str = "processing.job.completed";
/// The event type of a processing job that reached `failed`.
pub const PROCESSING_JOB_FAILED: &str = "processing.job.failed";
/// The event type of a clip job that reached `succeeded`.
pub const CLIP_JOB_COMPLETED: &str = "clip.job.completed";
/// The event type of a clip job that reached `failed`.
pub const CLIP_JOB_FAILED: &str = "clip.job.failed";
/// The event type of an upload marked complete by `uploads.complete`.
pub const UPLOAD_COMPLETED: &str = "upload.completed";
/// The event type of an upload marked failed by `uploads.fail`.
pub const UPLOAD_FAILED: &str = "upload.failed";

/// The member of an event's `data` that holds its entity's status after the event.
pub const DATA_STATUS: &str = "status";
/// The member of an order event's `data` that names the order.
pub const DATA_ORDER_ID: &str = "order_id";
/// The member of a job event's `data` that names the job.
pub const DATA_JOB_ID: &str = "job_id";
/// The member of an upload event's `data` that names the upload.
pub const DATA_UPLOAD_ID: &str = "upload_id";

/// The secret a subscription's deliveries are signed with (`whsec_…`). `Debug` and `Display`
/// print a placeholder; [`expose`](Self::expose) gives the text to a verifier.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SigningSecret(String);

impl SigningSecret {
    /// The secret's text, for a webhook verifier.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<String> for SigningSecret {
    fn from(text: String) -> Self {
        SigningSecret(text)
    }
}

impl fmt::Debug for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecret(<redacted>)")
    }
}

impl fmt::Display for SigningSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// The headers a subscription sends with each delivery, by name: typically the receiver's
/// own credentials (`Authorization`, an API key). `Debug` lists the names and hides the
/// values, so printing a subscription or its input cannot leak them; [`expose`](Self::expose)
/// gives the values to code that needs them. On the wire it is a plain JSON object of strings.
#[derive(Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DeliveryHeaders(BTreeMap<String, String>);

impl DeliveryHeaders {
    /// No headers.
    pub fn new() -> Self {
        DeliveryHeaders::default()
    }

    /// These headers and `name: value`, replacing an earlier value of `name`.
    #[must_use]
    pub fn with(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.0.insert(name.into(), value.into());
        self
    }

    /// The headers with their values, for code that sends or checks them.
    pub fn expose(&self) -> &BTreeMap<String, String> {
        &self.0
    }

    /// The header names, which are safe to show.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.0.keys().map(String::as_str)
    }

    /// How many headers there are.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<BTreeMap<String, String>> for DeliveryHeaders {
    fn from(headers: BTreeMap<String, String>) -> Self {
        DeliveryHeaders(headers)
    }
}

impl From<DeliveryHeaders> for BTreeMap<String, String> {
    fn from(headers: DeliveryHeaders) -> Self {
        headers.0
    }
}

impl<K: Into<String>, V: Into<String>> FromIterator<(K, V)> for DeliveryHeaders {
    fn from_iter<I: IntoIterator<Item = (K, V)>>(headers: I) -> Self {
        DeliveryHeaders(
            headers
                .into_iter()
                .map(|(name, value)| (name.into(), value.into()))
                .collect(),
        )
    }
}

/// Stands for a hidden value in `Debug` output.
struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

impl fmt::Debug for DeliveryHeaders {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("DeliveryHeaders")?;
        f.debug_map()
            .entries(self.0.keys().map(|name| (name, Redacted)))
            .finish()
    }
}

open_model! {
    /// A webhook subscription.
    pub struct SubscriptionOutput {
        /// `id` of the subscription.
        id: String = "id", skip_if "never";
        /// `event_type` it delivers, e.g. `order.fulfilled`.
        event_type: Option<String> = "event_type", skip_if "Option::is_none";
        /// `endpoint_url` deliveries are posted to.
        endpoint_url: Option<String> = "endpoint_url", skip_if "Option::is_none";
        /// `filter_config`: which events of the type it delivers.
        filter_config: Option<JsonObject> = "filter_config", skip_if "Option::is_none";
        /// `headers` sent with each delivery; their values never print.
        headers: Option<DeliveryHeaders> = "headers", skip_if "Option::is_none";
        /// `description` the caller gave it.
        description: Option<String> = "description", skip_if "Option::is_none";
        /// `active`: whether deliveries are made.
        active: Option<bool> = "active", skip_if "Option::is_none";
        /// `created_at` (RFC 3339).
        created_at: Option<String> = "created_at", skip_if "Option::is_none";
        /// `secret`: only in the answer that created it.
        secret: Option<SigningSecret> = "secret", skip_if "Option::is_none";
    }
}

open_model! {
    /// The organization's subscriptions (`event_subscriptions.list`).
    pub struct SubscriptionList {
        /// `subscriptions`, secrets left out.
        subscriptions: Vec<SubscriptionOutput> = "subscriptions", skip_if "never";
        /// `total` count.
        total: Option<u64> = "total", skip_if "Option::is_none";
    }
}

#[cfg(test)]
#[path = "subscriptions_tests.rs"]
mod tests;
