//! Unit tests of `uploads.rs`.
use super::*;

#[test]
fn an_upload_can_be_spawned_onto_a_multi_thread_runtime() {
    fn spawnable<T: Send + 'static>(_: &T) {}
    let Ok(client) = crate::Client::new("http://127.0.0.1:9") else {
        return;
    };
    let upload = async move { Upload::from_path("p", "f").send(&client).await };
    spawnable(&upload);
}

#[test]
fn only_http_and_https_urls_with_a_host_take_the_bytes() {
    let api = "https://api.geopera.com";
    assert!(usable_url("https://storage.example/u/1?sig=x", api).is_ok());
    assert!(usable_url("http://127.0.0.1:9/u", "http://127.0.0.1:8").is_ok());
    for bad in [
        "file:///etc/passwd",
        "ftp://host/x",
        "not a url",
        "data:,x",
        "http://storage.example/u/1?sig=x",
        "https://user:pw@storage.example/u/1",
    ] {
        assert!(usable_url(bad, api).is_err(), "{bad}");
    }
}

#[test]
fn the_fail_message_is_short_and_names_the_cause() {
    let cause = UploadCause::Io(io::Error::other("x".repeat(2000)));
    let message = fail_message(&cause);
    assert!(message.starts_with("the source could not be read: x"));
    assert_eq!(message.chars().count(), MAX_FAIL_MESSAGE_CHARS);
}

#[test]
fn a_mismatch_says_which_way() {
    let short = UploadCause::LengthMismatch {
        declared: 10,
        seen: 4,
    };
    assert_eq!(short.to_string(), "the source declared 10 bytes but held 4");
    let long = UploadCause::LengthMismatch {
        declared: 10,
        seen: 14,
    };
    assert_eq!(
        long.to_string(),
        "the source declared 10 bytes but held more than 10"
    );
}
