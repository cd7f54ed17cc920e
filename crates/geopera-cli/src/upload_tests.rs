//! Unit tests of `upload.rs`.
use super::*;

#[test]
fn an_id_a_terminal_would_act_on_is_not_put_in_a_command() {
    let advice = release_advice(Some("u\n1"), "");
    assert!(advice.contains("unusual"), "{advice}");
    assert!(!advice.contains('\n'), "{advice}");
    // `=` keeps an id that starts with `-` a value, not a flag.
    let advice = release_advice(Some("-u"), "");
    assert!(advice.contains("--upload-id=-u "), "{advice}");
    let advice = release_advice(Some("u 1"), "");
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

#[test]
fn advice_repeats_the_options_that_reach_the_upload_s_api() {
    let options = " --profile work --api-url http://127.0.0.1:9";
    let advice = release_advice(Some("u1"), options);
    assert!(
        advice.contains(
            "'geopera --profile work --api-url http://127.0.0.1:9 uploads fail --upload-id=u1 "
        ),
        "{advice}"
    );
    let advice = state_advice(None, options);
    assert!(
        advice.contains(
            "'geopera --profile work --api-url http://127.0.0.1:9 uploads progress --upload-id=ID'"
        ),
        "{advice}"
    );
}
