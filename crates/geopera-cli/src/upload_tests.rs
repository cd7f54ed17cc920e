//! Unit tests of `upload.rs`.
use super::*;

#[test]
fn an_id_a_terminal_would_act_on_is_not_put_in_a_command() {
    let advice = release_advice(Some("u\n1"));
    assert!(advice.contains("unusual"), "{advice}");
    assert!(!advice.contains('\n'), "{advice}");
    // `=` keeps an id that starts with `-` a value, not a flag.
    let advice = release_advice(Some("-u"));
    assert!(advice.contains("--upload-id=-u "), "{advice}");
    let advice = release_advice(Some("u 1"));
    assert!(advice.contains("--upload-id='u 1' "), "{advice}");
}

#[test]
fn advice_to_programs_is_left_out() {
    assert_eq!(
        without_sdk_advice(
            "d is not a regular file, so its size is unknown before it is read; send such data \
             with Upload::from_stream and its length"
        ),
        "d is not a regular file, so its size is unknown before it is read"
    );
    assert_eq!(without_sdk_advice("a; b"), "a; b");
}
