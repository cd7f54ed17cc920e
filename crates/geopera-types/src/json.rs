//! Reading the API's JSON when it holds text Rust strings cannot: lone UTF-16 surrogates.
//!
//! RFC 8259's grammar allows a `\u` escape of half a surrogate pair without the other half,
//! and a server that writes text it decoded leniently sends one (Python's `json.dumps` of a
//! name a client sent with such an escape, or of a file name read with `surrogateescape`).
//! Python reads it back into a `str`; `serde_json` refuses it, since a Rust `String` is UTF-8
//! and has no way to hold half a character. One such name in a listing would make the whole
//! page unreadable, and every page walk and waiter that meets it fail. [`from_slice`] reads
//! the answer as `serde_json` does, and only when that fails and the body holds a lone
//! surrogate reads it again with each one as U+FFFD, the replacement character: the one
//! character is changed, not the answer lost.
//!
//! ```
//! let name: String = geopera_types::json::from_slice(br#""scene \ud800 one""#)?;
//! assert_eq!(name, "scene \u{fffd} one");
//! # Ok::<(), serde_json::Error>(())
//! ```

use std::borrow::Cow;

use serde::de::DeserializeOwned;

/// Reads `body` as `T`, as `serde_json::from_slice` does, with each lone surrogate escape
/// read as U+FFFD (see the [module](self) docs).
///
/// The second reading happens only after the first failed, so an answer without lone
/// surrogates costs what `serde_json` alone costs.
///
/// # Errors
/// When the body does not fit `T`: the error of the reading with lone surrogates replaced
/// when it holds one, which names what is wrong besides them (at the same offsets, the
/// replacement being as long as what it replaced), else `serde_json`'s own.
pub fn from_slice<T: DeserializeOwned>(body: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice(body).or_else(|error| match lone_surrogates_replaced(body) {
        Cow::Borrowed(_) => Err(error),
        Cow::Owned(readable) => serde_json::from_slice(&readable),
    })
}

/// `text` with each `\u` escape of a lone UTF-16 surrogate (half of a pair, without the other
/// half beside it) inside a JSON string written as `\ufffd`, or `text` itself when it holds
/// none. The escape written is as long as the one it replaces, so every offset into the text
/// stays true (a program that cuts pieces out of the original by the offsets of a parse of
/// the replaced text cuts the same pieces).
///
/// Only the text of strings is looked at, and text that is no JSON is left for the parser to
/// refuse.
pub fn lone_surrogates_replaced(text: &[u8]) -> Cow<'_, [u8]> {
    const HIGH: std::ops::Range<u32> = 0xD800..0xDC00;
    const LOW: std::ops::Range<u32> = 0xDC00..0xE000;
    // A backslash is looked for as memchr does, fast; most answers have none.
    if !text.contains(&b'\\') {
        return Cow::Borrowed(text);
    }
    let escape_at = |at: usize| -> Option<u32> {
        let escape = text.get(at..at.checked_add(6)?)?;
        let hex = escape.strip_prefix(b"\\u")?;
        u32::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()
    };
    let mut lone = Vec::new();
    let (mut at, mut in_string) = (0, false);
    while let Some(&byte) = text.get(at) {
        if !in_string {
            in_string = byte == b'"';
            at += 1;
            continue;
        }
        match byte {
            b'"' => {
                in_string = false;
                at += 1;
            }
            b'\\' => match escape_at(at) {
                Some(unit) if HIGH.contains(&unit) => {
                    if escape_at(at + 6).is_some_and(|next| LOW.contains(&next)) {
                        at += 12;
                    } else {
                        lone.push(at);
                        at += 6;
                    }
                }
                Some(unit) if LOW.contains(&unit) => {
                    lone.push(at);
                    at += 6;
                }
                // Any other escape: the character after the backslash is part of it.
                _ => at += 2,
            },
            _ => at += 1,
        }
    }
    if lone.is_empty() {
        return Cow::Borrowed(text);
    }
    let mut fixed = text.to_vec();
    for at in lone {
        if let Some(escape) = fixed.get_mut(at..at + 6) {
            escape.copy_from_slice(b"\\ufffd");
        }
    }
    Cow::Owned(fixed)
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
