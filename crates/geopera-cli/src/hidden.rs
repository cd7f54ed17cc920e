//! The credentials this process holds, kept out of every message it prints.
//!
//! Messages quote what servers answer (a problem's `detail`, a validation message, the start
//! of an answer that is not JSON, a redirect's `Location`), and a server may quote the
//! credential it was sent: a proxy's error page, a misconfigured gateway, a hostile host
//! behind a wrong `--api-url`. Those answers reach the message as they came, so each
//! credential is noted here when the process takes it up (from the environment, the
//! credentials file, a sign-in or a refresh), and `Error:` and `Warning:` lines are cleaned
//! on their way out, whatever path built them.

use std::borrow::Cow;
use std::ops::Range;
use std::sync::Mutex;

/// What replaces a credential in a message: the SDK's mark, so that both read alike.
pub(crate) use geopera::REDACTED;

use crate::auth::API_KEY_PREFIX;

pub(crate) use geopera_types::WEBHOOK_SECRET_PREFIX;

/// The prefixes of the credentials hidden by their shape alone: a key or a signing secret
/// typed where a variable's name or another argument belongs (`--secret-env whsec_...`, a
/// secret pasted as a stray argument) would be quoted back by the error about that word.
const SECRET_PREFIXES: [&str; 2] = [API_KEY_PREFIX, WEBHOOK_SECRET_PREFIX];

/// Credentials shorter than this are not looked for: a short value would blank out ordinary
/// words of every message. No credential the API issues is that short.
const MIN_CHARS: usize = 8;

static HIDDEN: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The environment variables this process reads a credential from: `GEOPERA_API_TOKEN`
/// always, whether or not this command reads it, and a `--secret-env` variable once named.
static VARIABLES: Mutex<Vec<String>> = Mutex::new(Vec::new());

/// The variable every command may take its credential from.
const TOKEN_VARIABLE: &str = "GEOPERA_API_TOKEN";

/// Notes that the environment variable `name` holds a credential, so that [`environment`]
/// does not show its value.
pub(crate) fn hide_variable(name: &str) {
    let mut variables = VARIABLES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if !variables.iter().any(|known| known == name) {
        variables.push(name.to_owned());
    }
}

/// The environment as a program this process runs on its answers (`--jq`'s `env`) sees it:
/// every variable, with the value of each that holds a credential replaced by [`REDACTED`].
/// That is the value of a variable noted by [`hide_variable`] or of `GEOPERA_API_TOKEN`, a
/// URL that carries a password (a proxy's, Redis's), and in any other value each credential
/// noted so far and each word shaped like one ([`redacted`]).
///
/// Replaced rather than left out: a program that asks whether a variable is set
/// (`env | has("GEOPERA_API_TOKEN")`) still gets the truth, and one that prints it shows the
/// same mark as every message of this program, where a missing variable would send its user
/// looking for why the token is not set. The value is what a `--jq` program could otherwise
/// print into a terminal, a log or a file that outlives the command.
///
/// Names and values that are not UTF-8 are read with replacement characters, as jq reads them.
pub(crate) fn environment() -> Vec<(String, String)> {
    let variables = VARIABLES
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone();
    std::env::vars_os()
        .map(|(name, value)| {
            let name = name.to_string_lossy().into_owned();
            let value = value.to_string_lossy();
            let secret = name == TOKEN_VARIABLE
                || variables.contains(&name)
                || url::Url::parse(&value).is_ok_and(|url| url.password().is_some());
            let value = if secret {
                REDACTED.to_owned()
            } else {
                redacted(&value).into_owned()
            };
            (name, value)
        })
        .collect()
}

/// Notes `secret`, so that no message printed from now on shows it: as written, and as a JSON
/// string spells it, since a server quoting the body it was sent quotes it inside one
/// (`hunter2"x` as `hunter2\"x`, `é` as `\u00e9`, `/` as `\/`).
pub(crate) fn hide(secret: &str) {
    let secret = secret.trim();
    if secret.chars().count() < MIN_CHARS {
        return;
    }
    let mut hidden = HIDDEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    for spelling in json_spellings(secret) {
        if !hidden.contains(&spelling) {
            hidden.push(spelling);
        }
    }
}

/// `secret` as written, and the ways a JSON string may spell it: escaped as JSON writers
/// escape (quotes, backslashes, controls), with `/` escaped too, and with every character
/// beyond ASCII as `\u` escapes (UTF-16, as JSON writes them).
fn json_spellings(secret: &str) -> Vec<String> {
    let escaped = serde_json::to_string(secret)
        .map(|quoted| quoted[1..quoted.len() - 1].to_owned())
        .unwrap_or_else(|_| secret.to_owned());
    let ascii: String = escaped
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                let mut units = [0u16; 2];
                c.encode_utf16(&mut units)
                    .iter()
                    .map(|unit| format!("\\u{unit:04x}"))
                    .collect()
            }
        })
        .collect();
    // Upper-case hex too, as some writers escape (.NET's), and the terminal-safe form the
    // messages are made of before they are redacted (a tab as `\u{9}`).
    let upper = ascii_upper_escapes(&ascii);
    let inert = crate::paint::inert(secret).into_owned();
    let mut spellings = vec![secret.to_owned()];
    for spelling in [
        escaped.clone(),
        escaped.replace('/', "\\/"),
        ascii,
        upper,
        inert,
    ] {
        if !spellings.contains(&spelling) {
            spellings.push(spelling);
        }
    }
    spellings
}

/// `text` with the hex digits of its `\uXXXX` escapes in upper case.
fn ascii_upper_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("\\u") {
        out.push_str(&rest[..at + 2]);
        let digits = rest[at + 2..].chars().take(4).collect::<String>();
        out.push_str(&digits.to_ascii_uppercase());
        rest = &rest[at + 2 + digits.len()..];
    }
    out.push_str(rest);
    out
}

/// [`redacted`] for the start of a message that was cut (`kept`): a credential the cut went
/// through shows only its start there, which [`redacted`] cannot know for one, so a tail of
/// `kept` that begins a credential noted so far, [`MIN_CHARS`] characters or more, is
/// replaced too.
pub(crate) fn redacted_cut(kept: &str) -> String {
    let mut out = redacted(kept).into_owned();
    let hidden = HIDDEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let begun = hidden.iter().find_map(|secret| {
        secret
            .char_indices()
            .map(|(at, c)| at + c.len_utf8())
            .filter(|&end| secret[..end].chars().count() >= MIN_CHARS)
            .filter(|&end| out.ends_with(&secret[..end]))
            .max()
    });
    drop(hidden);
    if let Some(length) = begun {
        out.truncate(out.len() - length);
        out.push_str(REDACTED);
    }
    out
}

/// `text` with every credential noted so far, and every word shaped like an API key or a
/// webhook signing secret, replaced by [`REDACTED`].
///
/// Every stretch to hide is found in the text as given, and stretches that overlap or touch
/// are hidden as one. Replaced one after another, a short credential inside a key-shaped
/// word (a token that is part of a signing secret a server quotes) would cut the word below a
/// key's length and leave the rest of it shown, and two credentials that overlap would leave
/// the second's tail.
pub(crate) fn redacted(text: &str) -> Cow<'_, str> {
    let hidden = HIDDEN
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    let mut spans: Vec<Range<usize>> = hidden
        .iter()
        .flat_map(|secret| {
            text.match_indices(secret.as_str())
                .map(|(at, found)| at..at + found.len())
        })
        .collect();
    drop(hidden);
    for prefix in SECRET_PREFIXES {
        spans.extend(key_words(text, prefix));
    }
    if spans.is_empty() {
        return Cow::Borrowed(text);
    }
    spans.sort_by_key(|span| span.start);
    let mut out = String::with_capacity(text.len());
    let mut done = 0;
    let mut spans = spans.into_iter().peekable();
    while let Some(mut span) = spans.next() {
        while let Some(next) = spans.next_if(|next| next.start <= span.end) {
            span.end = span.end.max(next.end);
        }
        // Sorted and merged, each span starts after the last one's end. Every span starts and
        // ends on a character boundary: it is a whole credential or a word of ASCII.
        out.push_str(text.get(done..span.start).unwrap_or_default());
        out.push_str(REDACTED);
        done = span.end;
    }
    out.push_str(text.get(done..).unwrap_or_default());
    Cow::Owned(out)
}

/// Where `text` has a word that begins with `prefix` and goes on for at least [`MIN_CHARS`]
/// more characters of a key. A key this process never took up still reaches its messages:
/// one typed where another argument belongs (`geopera login gpra_...`), which a usage error
/// quotes back, or one a server quotes. Printed, it would sit in a terminal's scroll-back or
/// a CI job's log.
fn key_words<'a>(text: &'a str, prefix: &'a str) -> impl Iterator<Item = Range<usize>> + 'a {
    let is_key_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '-';
    text.match_indices(prefix).filter_map(move |(at, _)| {
        let after = &text[at + prefix.len()..];
        let body = after.find(|c: char| !is_key_char(c)).unwrap_or(after.len());
        // A prefix inside a longer word (`xgpra_...`) starts no key; one after dashes alone
        // does (`--gpra_...`, a key typed where an option's name belongs).
        let starts_word = !text[..at].trim_end_matches('-').ends_with(is_key_char);
        (starts_word && body >= MIN_CHARS).then(|| at..at + prefix.len() + body)
    })
}

#[cfg(test)]
#[path = "hidden_tests.rs"]
mod tests;
