//! Unit tests of `hidden.rs`.
use super::*;

#[test]
fn noted_credentials_are_replaced_and_short_ones_are_not_looked_for() {
    hide("gpra_0123456789abcdef");
    hide("gpra_0123456789abcdef-longer");
    hide("short");
    assert_eq!(
        redacted("bad key gpra_0123456789abcdef-longer, was gpra_0123456789abcdef"),
        "bad key [redacted], was [redacted]"
    );
    assert_eq!(redacted("a short word"), "a short word");
    assert!(matches!(redacted("nothing here"), Cow::Borrowed(_)));
}

#[test]
fn words_shaped_like_an_api_key_are_hidden_though_never_noted() {
    assert_eq!(
        redacted("unexpected argument 'gpra_Never-Noted_0123456789' found; gpra_ is the prefix"),
        "unexpected argument '[redacted]' found; gpra_ is the prefix"
    );
    // Too short to be a key, or the tail of a longer word: left as written.
    assert_eq!(
        redacted("gpra_short, xgpra_99887766554433, x-gpra_99887766554433"),
        "gpra_short, xgpra_99887766554433, x-gpra_99887766554433"
    );
    // After dashes alone, as a key typed where an option's name belongs: a key.
    assert_eq!(
        redacted("unexpected argument '--gpra_99887766554433' found"),
        "unexpected argument '--[redacted]' found"
    );
    assert_eq!(
        redacted("a: gpra_aabbccddeeff0011XYZ\nb: gpra_fedcba9876543210"),
        "a: [redacted]\nb: [redacted]"
    );
    assert!(matches!(redacted("gpra_ alone"), Cow::Borrowed(_)));
}

#[test]
fn words_shaped_like_a_webhook_signing_secret_are_hidden_though_never_noted() {
    assert_eq!(
        redacted("the environment variable whsec_Never-Noted_0123 is not set"),
        "the environment variable [redacted] is not set"
    );
    assert_eq!(
        redacted("whsec_short, xwhsec_99887766554433, whsec_ alone"),
        "whsec_short, xwhsec_99887766554433, whsec_ alone"
    );
}

/// A credential noted here that is part of a key-shaped word, or that overlaps another, is
/// hidden with it as one stretch: replaced first, it cut the word below a key's length and
/// left the word's tail (`whsec_[redacted]ijkl`).
#[test]
fn overlapping_credentials_and_key_words_are_hidden_whole() {
    hide("abcdefgh-inside");
    hide("mnopqrst-overlap");
    hide("overlap-tail-uvwxyz");
    assert_eq!(
        redacted("secret whsec_abcdefgh-inside-ijkl, key Bearer abcdefgh-inside!"),
        "secret [redacted], key Bearer [redacted]!"
    );
    assert_eq!(
        redacted("x mnopqrst-overlap-tail-uvwxyz y"),
        "x [redacted] y"
    );
    assert_eq!(
        redacted("ü gpra_0011223344556677 ü"),
        "ü [redacted] ü",
        "around characters of more than one byte"
    );
}

#[test]
fn the_start_of_a_credential_a_cut_went_through_is_hidden() {
    hide("eyJhbGciOiJSUzI1NiJ9.cut-credential-payload.signature");
    let kept = "bad value: \"Bearer eyJhbGciOiJSUzI1NiJ9.cut-cred";
    assert_eq!(
        redacted_cut(kept),
        format!("bad value: \"Bearer {REDACTED}")
    );
    // Fewer characters than a credential is looked for by stay: they are ordinary words.
    assert_eq!(redacted_cut("a value eyJhbGc"), "a value eyJhbGc");
    // The whole credential, and text after it, as `redacted` does.
    assert_eq!(
        redacted_cut("x eyJhbGciOiJSUzI1NiJ9.cut-credential-payload.signature y"),
        format!("x {REDACTED} y")
    );
}

/// A hidden credential is hidden as a JSON string spells it (escaped quotes and slashes, `\u`
/// escapes in either case) and as a message shows it made inert (a tab as `\u{9}`).
#[test]
fn a_credential_is_hidden_in_its_json_and_inert_spellings() {
    hide("pässword/\"x\"\tend");
    for shown in [
        "p\\u00e4ssword/\\\"x\\\"\\tend",
        "p\\u00E4ssword/\\\"x\\\"\\tend",
        "pässword\\/\\\"x\\\"\\tend",
        "pässword/\"x\"\\u{9}end",
    ] {
        let text = format!("echoed: {shown}!");
        assert_eq!(redacted(&text), format!("echoed: {REDACTED}!"), "{shown}");
    }
}
