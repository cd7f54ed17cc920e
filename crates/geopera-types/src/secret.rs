//! Text that is a credential: an API key shown once, a payment client secret, a share link's
//! token or password, a signed upload URL.

use std::fmt;

/// How every API key begins (`gpra_` and then its random part): what tells an API key from a
/// session token where both are accepted, and what marks a word as a key where one must not
/// be shown. The emulator issues its keys with it.
pub const API_KEY_PREFIX: &str = "gpra_";

/// How every webhook subscription's signing secret begins, as the API issues them (and the
/// emulator with it): what marks a word as such a secret where one must not be shown.
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";

use serde::{Deserialize, Serialize};

/// A string field that holds a credential. `Debug` and `Display` print a placeholder, so a
/// model that carries one can be logged; [`expose`](Self::expose) gives the text to the code
/// that must send or store it. On the wire it is a plain JSON string.
///
/// Written here rather than taken from `secrecy`: its `SecretString` is neither `PartialEq`
/// nor `Serialize`, which every model is.
#[derive(Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SecretString(String);

impl SecretString {
    /// The text itself.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// The text itself, owned.
    pub fn into_exposed(self) -> String {
        self.0
    }

    /// Whether the text is empty (a share link without a password).
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl From<String> for SecretString {
    fn from(text: String) -> Self {
        SecretString(text)
    }
}

impl From<&str> for SecretString {
    fn from(text: &str) -> Self {
        SecretString(text.to_owned())
    }
}

impl fmt::Debug for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretString(<redacted>)")
    }
}

impl fmt::Display for SecretString {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
#[path = "secret_tests.rs"]
mod tests;
