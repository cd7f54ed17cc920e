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
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn debug_hides_queries_user_information_and_credential_members() {
        let links = DownloadLinks::from(json!({
            "downloads": [{
                "url": "https://files.example/a/b.tif?expires=9&signature=s3cr3t#frag",
                "mirror": "https://user:pa55@files.example/b.tif",
                "both": "see https://h/a?sig1 or ftp://u:pw2@h/b",
                "headers": {"Authorization": "Bearer t0ken"},
                "x_signature": "abc123",
                "asset_key": "data",
                "size": 12,
            }],
            "note": "no link here ? really",
        }));
        let printed = format!("{links:?}");
        for secret in [
            "s3cr3t",
            "expires=9",
            "frag",
            "pa55",
            "user",
            "t0ken",
            "abc123",
            "sig1",
            "pw2",
        ] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        for kept in [
            "https://files.example/a/b.tif?<redacted>",
            "https://<redacted>@files.example/b.tif",
            "\"asset_key\": String(\"data\")",
            "no link here ? really",
            "see https://h/a?<redacted> or ftp://<redacted>@h/b",
        ] {
            assert!(printed.contains(kept), "{kept} not in {printed}");
        }
    }

    #[test]
    fn the_answer_itself_is_unchanged() {
        let answer = json!({"url": "https://files.example/x?signature=s"});
        let links: DownloadLinks = serde_json::from_value(answer.clone()).expect("any JSON");
        assert_eq!(links["url"], answer["url"]);
        assert_eq!(serde_json::to_value(&links).expect("JSON"), answer);
        assert_eq!(links.into_value(), answer);
    }

    // A link is one word: what a server writes is a URL, which has no spaces.
    proptest::proptest! {
        #[test]
        fn no_query_of_any_link_is_printed(
            before in "\\PC*",
            host in "[a-z0-9.:@-]{0,20}",
            path in "[^?#\\s]{0,20}",
            query in "\\S{0,30}",
        ) {
            let text = format!("{before} https://{host}{path}?SIG={query}");
            let printed = format!("{:?}", DownloadLinks::from(Value::String(text)));
            proptest::prop_assert!(!printed.contains("SIG="), "{}", printed);
        }
    }

    #[test]
    fn odd_text_never_panics_and_loses_no_plain_text() {
        for text in ["://", "a://?", "x://@", "x://@/?#", "é://ü@ß/ñ?ç", "plain"] {
            let cut = cut_link(text);
            assert!(!cut.is_empty());
        }
        assert_eq!(cut_link("plain text"), "plain text");
        assert_eq!(cut_link("s://h/p"), "s://h/p");
    }
}
