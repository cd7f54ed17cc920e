//! Webhook subscriptions, typed where the contract leaves them open.
//!
//! A subscription's signing secret is shown once, at creation; it is kept in a
//! [`SigningSecret`], which never prints, so logging a subscription cannot leak it.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::open::{never, open_model};
use crate::JsonObject;

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
