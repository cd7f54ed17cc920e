//! Showing a server's words on a terminal without letting them act on it.
//!
//! An error's message quotes the server (a problem's detail, a 422's failures, an excerpt of
//! an answer), and messages are printed by programs that cannot know that. So every message
//! the SDK builds writes the characters that would steer a terminal as `\u{..}` escapes;
//! the error's fields keep the words as they came. A program that prints other server text
//! (an order's name, a job's `error_message`) can make it safe the same way with [`inert`].
//!
//! ```
//! assert_eq!(geopera::terminal::inert("ok\u{1b}[2J"), "ok\\u{1b}[2J");
//! assert_eq!(geopera::terminal::inert("plain"), "plain");
//! assert!(geopera::terminal::steers('\u{202e}'));
//! ```

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` instructs a terminal rather than shows on it: a control character (C0, DEL and
/// C1, among them ESC and CSI, which start escape sequences, and the line breaks LF, CR and
/// NEL), Unicode's line and paragraph separators, or one of Unicode's bidirectional
/// formatting characters (the embeddings, overrides and isolates, and the marks), which
/// reorder the text around them so that what is read is not what was sent.
pub fn steers(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

/// `text` with every character that [`steers`] a terminal written as `\u{..}`: it can then
/// neither recolour, retitle nor clear the terminal, nor hide text behind a carriage return,
/// nor reverse what it says. Borrowed when there is nothing to replace, which is nearly always.
pub fn inert(text: &str) -> Cow<'_, str> {
    if !text.chars().any(steers) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        if steers(c) {
            // Writing to a `String` cannot fail.
            let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
        } else {
            out.push(c);
        }
    }
    Cow::Owned(out)
}
