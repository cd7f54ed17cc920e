//! Credentials that never show up in `Debug`, logs or errors.

use std::fmt;
use std::sync::Arc;

/// A credential (API key or session token). `Debug` prints a placeholder, never the value.
/// Shared, so that every call can carry its credentials to the error reporting cheaply.
#[derive(Clone, PartialEq, Eq)]
pub(crate) struct Secret(Arc<str>);

impl Secret {
    pub(crate) fn new(value: String) -> Self {
        Secret(value.into())
    }

    pub(crate) fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
#[path = "secret_tests.rs"]
mod tests;
