//! Answers that hand out download links.
//!
//! A download link is a short-lived signed URL: whoever holds it can fetch the file until it
//! expires, with no credential of their own. The contract gives these answers no shape, so they
//! stay JSON, but wrapped: logging an answer with `{:?}` must not hand its links to whoever
//! reads the log, as the signed URL of an upload is kept out of them
//! ([`SecretString`](crate::secret::SecretString)).

use std::fmt;
use std::ops::Deref;

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// What replaces the hidden part of a link, or a credential-looking member, in `Debug`.
const HIDDEN: &str = "<redacted>";

/// Member names whose values are credentials wherever they appear in such an answer (matched
/// in any case, anywhere in the name): a signature or token sent beside the URL instead of in
/// it, or headers the download must carry.
const CREDENTIAL_WORDS: [&str; 7] = [
    "authorization",
    "cookie",
    "credential",
    "password",
    "secret",
    "signature",
    "token",
];

/// The JSON answer of a download operation (`clip.job.download`, `items.asset.download`, ...):
/// read it as the [`Value`] it dereferences to, as in `links["url"]`.
///
/// `Debug` prints the answer with every URL cut after its path — the query, where a signed
/// link carries its signature and expiry, the fragment and any user name and password become
/// `<redacted>` — and with the values of members named like credentials (`signature`, `token`,
/// `authorization`, ...) hidden the same way. Serializing it writes the answer unchanged: that
/// is the code asking for the links, not a log. There is deliberately no `Display`.
#[derive(Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DownloadLinks(Value);

impl DownloadLinks {
    /// The answer as JSON.
    pub fn as_value(&self) -> &Value {
        &self.0
    }

    /// The answer as owned JSON, links and all.
    pub fn into_value(self) -> Value {
        self.0
    }
}

impl Deref for DownloadLinks {
    type Target = Value;

    fn deref(&self) -> &Value {
        &self.0
    }
}

impl AsRef<Value> for DownloadLinks {
    fn as_ref(&self) -> &Value {
        &self.0
    }
}

impl From<Value> for DownloadLinks {
    fn from(value: Value) -> Self {
        DownloadLinks(value)
    }
}

impl From<DownloadLinks> for Value {
    fn from(links: DownloadLinks) -> Self {
        links.0
    }
}

impl fmt::Debug for DownloadLinks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("DownloadLinks")
            .field(&without_links(&self.0))
            .finish()
    }
}

/// A copy of `value` fit to print: links cut after their path, credential members hidden.
fn without_links(value: &Value) -> Value {
    match value {
        Value::String(text) => Value::String(
            text.split_inclusive(char::is_whitespace)
                .map(cut_link)
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_links).collect()),
        Value::Object(members) => Value::Object(
            members
                .iter()
                .map(|(name, member)| {
                    let shown = if names_a_credential(name) {
                        Value::String(HIDDEN.to_owned())
                    } else {
                        without_links(member)
                    };
                    (name.clone(), shown)
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

fn names_a_credential(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    CREDENTIAL_WORDS.iter().any(|word| name.contains(word))
}

/// One word of a string with what follows a URL's path, and its user information, hidden; a
/// word that is no URL (`scheme://...`) unchanged. Written by hand rather than with a URL parser: printing must
/// hide a link's secrets even when the link is not one a parser would accept.
fn cut_link(word: &str) -> String {
    let text = word.trim_end();
    let spacing = &word[text.len()..];
    let Some(scheme_end) = text.find("://") else {
        return word.to_owned();
    };
    let rest_start = scheme_end + "://".len();
    let rest = &text[rest_start..];
    let authority_len = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, after) = rest.split_at(authority_len);
    let host = match authority.rfind('@') {
        Some(at) => format!("{HIDDEN}@{}", &authority[at + 1..]),
        None => authority.to_owned(),
    };
    let path_len = after.find(['?', '#']).unwrap_or(after.len());
    let (path, tail) = after.split_at(path_len);
    let mut cut = format!("{}{host}{path}", &text[..rest_start]);
    if !tail.is_empty() {
        cut.push('?');
        cut.push_str(HIDDEN);
    }
    cut.push_str(spacing);
    cut
}

#[cfg(test)]
#[path = "downloads_tests.rs"]
mod tests;
