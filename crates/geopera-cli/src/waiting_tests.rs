//! Unit tests of `waiting.rs`.
use super::*;

#[test]
fn resuming_repeats_the_options_that_reach_the_api_that_made_it() {
    let options = " --profile work --api-url http://127.0.0.1:9";
    assert_eq!(
        Kind::Order.resume("ord_1", options),
        "resume with: geopera --profile work --api-url http://127.0.0.1:9 orders wait ord_1"
    );
    assert_eq!(
        Kind::ProcessingJob.resume("job 1", options),
        "see it with: geopera --profile work --api-url http://127.0.0.1:9 processing job get \
         --job-id='job 1'"
    );
    assert_eq!(
        Kind::ClipJob.listing(""),
        "geopera clip jobs list --organization-id ORG_ID",
        "no options for the default profile and API"
    );
}

#[test]
fn an_id_that_reads_as_an_option_or_steers_a_terminal_is_not_put_in_a_command_as_it_is() {
    // A positional id starting with `-` follows `--`, which ends the options.
    assert_eq!(
        Kind::Order.resume("-rf", ""),
        "resume with: geopera orders wait -- -rf"
    );
    // An option's value is joined by `=` once quoted.
    assert!(
        Kind::ClipJob.resume("-x", "").ends_with("--job-id='-x'"),
        "{}",
        Kind::ClipJob.resume("-x", "")
    );
    for kind in [Kind::Order, Kind::ProcessingJob, Kind::ClipJob] {
        let advice = kind.resume("a\rError: forged", "");
        assert!(!advice.contains('\r'), "{advice}");
        assert!(!advice.contains("forged"), "{advice}");
        assert!(advice.ends_with("_ID"), "{advice}");
    }
}

#[test]
fn an_answer_without_an_id_says_what_was_made_and_how_not_to_make_it_twice() {
    let failure = nothing_to_wait_for(
        Kind::Order,
        "orders.archive.place",
        Some("k-1"),
        " --profile work",
    );
    let message = failure.message;
    assert!(message.contains("the order was placed"), "{message}");
    assert!(
        message.contains("'geopera --profile work orders list'"),
        "{message}"
    );
    assert!(message.contains("--idempotency-key k-1"), "{message}");
    let message = nothing_to_wait_for(Kind::ProcessingJob, "processing.execute", None, "").message;
    assert!(
        message.contains("the processing job was started"),
        "{message}"
    );
    assert!(!message.contains("Idempotency-Key"), "{message}");
}
