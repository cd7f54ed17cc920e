//! Keeping a call's credentials out of what it reports, even when the server repeats them.
//!
//! A misbehaving or hostile server may echo the request's `Authorization` or `x-api-key` in
//! its answer — in a problem's detail, a validation message, or a body that fails to decode.
//! Errors quote such answers, so before an error leaves the SDK every credential of the call
//! — and every credential its body carried (the operation's `secret_fields`, such as a share
//! link's password) — is replaced by `[redacted]` in the text it carries: problem members,
//! validation messages and inputs, body excerpts, raw bodies and decoder messages, in the
//! escaped spellings a JSON encoder or a terminal-safe message may give it as well as
//! verbatim. The raw bytes of a [`Response`](crate::Response) from `send_detailed` are left as
//! the server sent them: they are data the caller asked for, not a message.

use std::borrow::Cow;
use std::sync::Arc;

use bytes::Bytes;
use geopera_types::{HttpValidationError, Problem};
use serde_json::Value;

use crate::client::Client;
use crate::request::CallOptions;
use crate::secret::Secret;
use crate::Error;

/// What stands in for a credential wherever the SDK would otherwise show one: errors, `Debug`,
/// quoted URLs. Public so that a program cleaning its own messages (a command-line tool
/// quoting a server's words) writes the same mark.
pub const REDACTED: &str = "[redacted]";

/// The shortest start of a credential (in bytes) redacted at the end of a cut excerpt: fewer
/// tell nothing of a credential, and would make ordinary text at the cut vanish.
const CUT_TAIL_BYTES: usize = 4;

/// The credentials one call sends: the client's token and the call's `x-api-key`.
#[derive(Clone, Default)]
pub(crate) struct Redactor {
    secrets: [Option<Secret>; 2],
    /// The credentials the request body carried (a share link's password, delivery headers).
    body: Option<Arc<[Secret]>>,
    /// The credentials sent as headers added by hand, the client's and the call's
    /// ([`header_secrets`]).
    headers: Option<Arc<[Secret]>>,
}

/// Headers whose value is a credential whoever adds them: kept out of errors like the
/// client's own token, and marked sensitive on the wire.
const CREDENTIAL_HEADERS: [&str; 4] = [
    "authorization",
    "proxy-authorization",
    geopera_types::headers::API_KEY,
    "cookie",
];

/// Cookie values shorter than this are not redacted one by one: a cookie such as `lang=en`
/// is no credential, and redacting `en` would mangle every word of a message holding it.
/// Session cookies are far longer. (The whole `Cookie` header a caller set is redacted too.)
const MIN_COOKIE_SECRET_BYTES: usize = 16;

/// Whether a header of this name carries a credential.
pub(crate) fn is_credential_header(name: &str) -> bool {
    CREDENTIAL_HEADERS
        .iter()
        .any(|credential| name.eq_ignore_ascii_case(credential))
}

/// The credentials in headers added by hand (`(name, value)` pairs) and in cookie values:
/// each credential header's value, for an `Authorization` the credentials after its scheme
/// too, and for a `Cookie` each long cookie's value, which is what a server that echoes them
/// usually repeats. `None` when there are none, as for most clients and calls.
///
/// Why a `Cookie` header's values one by one: a session cookie sent in a header of the
/// caller's is as much a credential as one given as a cookie, and a server that says which
/// session it refused quotes the value alone, not the whole header.
pub(crate) fn header_secrets<'a>(
    headers: impl IntoIterator<Item = (&'a str, &'a str)>,
    cookies: impl IntoIterator<Item = &'a str>,
) -> Option<Arc<[Secret]>> {
    let mut found = Vec::new();
    let mut cookie_values = Vec::new();
    for (name, value) in headers {
        if !is_credential_header(name) {
            continue;
        }
        let value = value.trim();
        // Only an authorization header names a scheme before its credentials; a `Cookie`
        // header's second half ("b=2") is no credential.
        let has_scheme = name.eq_ignore_ascii_case("authorization")
            || name.eq_ignore_ascii_case("proxy-authorization");
        if let (true, Some((_scheme, credentials))) = (has_scheme, value.split_once(' ')) {
            found.push(credentials.trim());
        }
        if name.eq_ignore_ascii_case("cookie") {
            cookie_values.extend(value.split(';').filter_map(|pair| {
                let (_name, value) = pair.split_once('=')?;
                Some(value.trim().trim_matches('"'))
            }));
        }
        found.push(value);
    }
    found.extend(
        cookies
            .into_iter()
            .chain(cookie_values)
            .filter(|value| value.len() >= MIN_COOKIE_SECRET_BYTES),
    );
    found.retain(|secret| !secret.is_empty());
    (!found.is_empty()).then(|| {
        found
            .into_iter()
            .map(|secret| Secret::new(secret.to_owned()))
            .collect()
    })
}

impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Redactor")
    }
}

/// `text` with every occurrence of any of `needles` replaced by [`REDACTED`], in one pass from
/// start to end; `None` when none occurs.
///
/// Why one pass: replacing one credential after another would search the marks the earlier
/// ones left, so a second credential of a letter or two (`e`, `re`) would cut into
/// `[redacted]` itself and garble the message. At each point the leftmost occurrence wins, and
/// of those starting there the longest (`Bearer gpra_…` over `gpra_…`). Why not in place: a
/// body of up to the response cap that a hostile server fills with the credential would move
/// everything after each occurrence once per occurrence (quadratic: hours of CPU for 64 MiB,
/// on the error path where no timeout applies). Each needle's text is searched once, so the
/// work is linear in the text for each needle. Why by hand: a call has a handful of needles,
/// and a multi-pattern automaton crate would add to every user's build for that.
fn redact_all(text: &[u8], needles: &[impl AsRef<str>]) -> Option<Vec<u8>> {
    let find = |needle: &str, from: usize| {
        memchr::memmem::find(&text[from..], needle.as_bytes()).map(|at| from + at)
    };
    let needles: Vec<&str> = needles.iter().map(AsRef::as_ref).collect();
    // Where each needle next occurs at or after `done`.
    let mut next: Vec<Option<usize>> = needles
        .iter()
        .map(|needle| (!needle.is_empty()).then(|| find(needle, 0)).flatten())
        .collect();
    let mut out: Option<Vec<u8>> = None;
    let mut done = 0;
    loop {
        let first = next
            .iter()
            .zip(&needles)
            .filter_map(|(at, needle)| at.map(|at| (at, needle.len())))
            .min_by_key(|&(at, len)| (at, std::cmp::Reverse(len)));
        let Some((at, len)) = first else { break };
        let out = out.get_or_insert_with(|| Vec::with_capacity(text.len()));
        out.extend_from_slice(&text[done..at]);
        out.extend_from_slice(REDACTED.as_bytes());
        done = at + len;
        for (at, needle) in next.iter_mut().zip(&needles) {
            if at.is_some_and(|at| at < done) {
                *at = find(needle, done);
            }
        }
    }
    let mut out = out?;
    out.extend_from_slice(&text[done..]);
    Some(out)
}

/// `text` with every occurrence of any of `needles` replaced by [`REDACTED`], in one pass (see
/// [`redact_all`]).
pub(crate) fn redact_text(text: String, needles: &[impl AsRef<str>]) -> String {
    match redact_all(text.as_bytes(), needles) {
        // Each needle is whole UTF-8 and so is the text, so a match starts and ends on a
        // character boundary and the result is UTF-8 too; the lossy path never runs.
        Some(out) => String::from_utf8(out)
            .unwrap_or_else(|out| String::from_utf8_lossy(out.as_bytes()).into_owned()),
        None => text,
    }
}

impl Redactor {
    /// The credentials of a call made with `options` by `client`: its fixed credential, if
    /// it has one, and those of the headers it and the call add.
    pub(crate) fn for_call(client: &Client, options: &CallOptions) -> Self {
        let headers = if options.headers.is_empty() {
            client.settings.header_secrets.clone()
        } else {
            let client_secrets = client.settings.header_secrets.iter().flat_map(|s| s.iter());
            let call_secrets = header_secrets(
                options
                    .headers
                    .iter()
                    .map(|(k, v)| (k.as_str(), v.as_str())),
                [],
            );
            let all: Vec<Secret> = client_secrets
                .chain(call_secrets.iter().flat_map(|s| s.iter()))
                .cloned()
                .collect();
            (!all.is_empty()).then(|| all.into())
        };
        Redactor {
            secrets: [client.fixed_secret().cloned(), options.api_key.clone()],
            body: options.body_secrets.clone(),
            headers,
        }
    }

    /// The credentials of a request body alone, for what is reported before the call has a
    /// client's credentials to add: its input checks.
    #[cfg(feature = "validate")]
    pub(crate) fn for_body(secrets: Arc<[Secret]>) -> Self {
        Redactor {
            body: Some(secrets),
            ..Redactor::default()
        }
    }

    /// These credentials with the one an attempt fetched from the client's provider in place
    /// of the client's fixed one (a client has one or the other).
    pub(crate) fn with_credential(&self, secret: &Secret) -> Self {
        Redactor {
            secrets: [Some(secret.clone()), self.secrets[1].clone()],
            ..self.clone()
        }
    }

    /// Every spelling of every credential: each as sent, each as a JSON encoder may have
    /// written it in an answer's raw bytes (see [`json_spellings`]), and each as an error
    /// message shows it, with the characters that steer a terminal escaped
    /// ([`inert`](crate::terminal::inert)): a decoder's message is escaped when the error is
    /// made, before it is redacted.
    fn secrets(&self) -> impl Iterator<Item = Cow<'_, str>> {
        self.secrets
            .iter()
            .flatten()
            .chain(self.body.iter().flat_map(|body| body.iter()))
            .chain(self.headers.iter().flat_map(|headers| headers.iter()))
            .map(Secret::expose)
            // Trimmed, as a server reads a header's value (RFC 9110): a key given with an edge
            // space is echoed without it, and the trimmed form is inside the untrimmed one.
            .map(str::trim)
            .filter(|secret| !secret.is_empty())
            .flat_map(|secret| {
                let shown = match crate::terminal::inert(secret) {
                    Cow::Owned(shown) => Some(Cow::Owned(shown)),
                    Cow::Borrowed(_) => None,
                };
                std::iter::once(Cow::Borrowed(secret))
                    .chain(json_spellings(secret).into_iter().map(Cow::Owned))
                    .chain(shown)
            })
    }

    /// `text` with every credential replaced.
    pub(crate) fn text(&self, text: String) -> String {
        let needles: Vec<_> = self.secrets().collect();
        redact_text(text, &needles)
    }

    fn text_in_place(&self, text: &mut String) {
        *text = self.text(std::mem::take(text));
    }

    fn bytes(&self, bytes: Bytes) -> Bytes {
        let needles: Vec<_> = self.secrets().collect();
        redact_all(&bytes, &needles).map_or(bytes, Bytes::from)
    }

    fn json(&self, value: &mut Value) {
        match value {
            Value::String(text) => self.text_in_place(text),
            Value::Array(items) => items.iter_mut().for_each(|item| self.json(item)),
            Value::Object(members) => {
                let keys: Vec<String> = members.keys().cloned().collect();
                for key in keys {
                    if let Some(mut member) = members.remove(&key) {
                        self.json(&mut member);
                        members.insert(self.text(key), member);
                    }
                }
            }
            _ => {}
        }
    }

    /// Redacts the members of an object a server sent, names too: a server may echo a
    /// credential as a key.
    fn members(&self, members: &mut serde_json::Map<String, serde_json::Value>) {
        *members = std::mem::take(members)
            .into_iter()
            .map(|(key, mut value)| {
                self.json(&mut value);
                (self.text(key), value)
            })
            .collect();
    }

    fn problem(&self, problem: &mut Problem) {
        self.text_in_place(&mut problem.r#type);
        self.text_in_place(&mut problem.title);
        self.text_in_place(&mut problem.detail);
        self.members(&mut problem.extensions);
    }

    /// Redacts the end of an excerpt cut short (it ends in `…`) where the cut fell inside a
    /// credential, which a search for whole credentials does not find: a tail of at least
    /// [`CUT_TAIL_BYTES`] bytes that begins a credential.
    fn cut_tail(&self, excerpt: &mut String) {
        let Some(kept) = excerpt.strip_suffix('…') else {
            return;
        };
        let tail = self.secrets().find_map(|secret| {
            (CUT_TAIL_BYTES..secret.len())
                .rev()
                .filter(|len| secret.is_char_boundary(*len))
                .map(|len| &secret[..len])
                .find(|start| kept.ends_with(start))
                .map(str::len)
        });
        if let Some(len) = tail {
            let cut = kept.len() - len;
            *excerpt = format!("{}{REDACTED}…", &kept[..cut]);
        }
    }

    fn validation(&self, error: &mut HttpValidationError) {
        for failure in &mut error.detail {
            self.text_in_place(&mut failure.msg);
            self.text_in_place(&mut failure.r#type);
            for step in &mut failure.loc {
                if let geopera_types::LocItem::Key(key) = step {
                    self.text_in_place(key);
                }
            }
            self.members(&mut failure.extra);
        }
    }

    /// `error` with every credential replaced in the server's words it quotes.
    pub(crate) fn error(&self, mut error: Error) -> Error {
        if self.secrets().next().is_none() {
            return error;
        }
        match &mut error {
            Error::Api { problem, .. } => self.problem(problem),
            Error::RateLimited {
                problem: Some(problem),
                ..
            } => self.problem(problem),
            Error::Validation { error, .. } | Error::InvalidInput { error, .. } => {
                self.validation(error);
            }
            Error::UnexpectedStatus { body, .. } => *body = self.bytes(std::mem::take(body)),
            Error::Decode {
                excerpt, source, ..
            } => {
                self.text_in_place(excerpt);
                self.cut_tail(excerpt);
                let message = source.to_string();
                if self.secrets().any(|secret| message.contains(&*secret)) {
                    *source = serde::de::Error::custom(self.text(message));
                }
            }
            _ => {}
        }
        error
    }
}

/// The other ways a JSON encoder may write `secret` inside a string, distinct from it and from
/// each other: escaped as `serde_json` escapes (quotes, backslashes, control characters), then
/// with every non-ASCII character as `\uXXXX` in lower and in upper case (Python's `json`
/// writes ASCII only by default), and with `/` as `\/` (PHP does). A server that repeats the
/// request's credential inside a JSON string echoes one of these, not the credential's own
/// bytes, so a search of the raw body for the credential alone would miss it.
fn json_spellings(secret: &str) -> Vec<String> {
    let escaped = match serde_json::to_string(secret) {
        Ok(quoted) => quoted[1..quoted.len() - 1].to_owned(),
        Err(_) => return Vec::new(),
    };
    let ascii = |upper: bool| {
        let mut out = String::with_capacity(escaped.len());
        for c in escaped.chars() {
            if c.is_ascii() {
                out.push(c);
            } else {
                for unit in c.encode_utf16(&mut [0; 2]) {
                    if upper {
                        out.push_str(&format!("\\u{unit:04X}"));
                    } else {
                        out.push_str(&format!("\\u{unit:04x}"));
                    }
                }
            }
        }
        out
    };
    let slashes = escaped.replace('/', "\\/");
    let mut spellings: Vec<String> = Vec::with_capacity(4);
    for spelling in [escaped.clone(), ascii(false), ascii(true), slashes] {
        if spelling != secret && !spellings.contains(&spelling) {
            spellings.push(spelling);
        }
    }
    spellings
}

#[cfg(test)]
#[path = "redact_tests.rs"]
mod tests;
