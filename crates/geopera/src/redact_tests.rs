//! Unit tests of `redact.rs`.
use super::*;

fn redactor() -> Redactor {
    Redactor {
        secrets: [Some(Secret::new("gpra_abc".into())), None],
        body: None,
    }
}

#[test]
fn every_occurrence_is_replaced_in_text_bytes_and_json() {
    let r = redactor();
    assert_eq!(
        r.text("a gpra_abc b gpra_abc".into()),
        "a [redacted] b [redacted]"
    );
    assert_eq!(
        &r.bytes(Bytes::from_static(b"xgpra_abcx"))[..],
        b"x[redacted]x"
    );
    let mut value = serde_json::json!({"gpra_abc": ["Bearer gpra_abc", 1]});
    r.json(&mut value);
    assert_eq!(
        value,
        serde_json::json!({"[redacted]": ["Bearer [redacted]", 1]})
    );
}

#[test]
fn a_decoder_message_quoting_a_credential_is_rewritten() {
    let source = serde_json::from_str::<u64>("\"gpra_abc\"").expect_err("a string");
    assert!(source.to_string().contains("gpra_abc"));
    let error = redactor().error(Error::Decode {
        operation_id: "catalog.search",
        status: http::StatusCode::OK,
        excerpt: "\"gpra_abc\"".into(),
        source,
        request_id: None,
    });
    let shown = format!("{error} {error:?} {:?}", std::error::Error::source(&error));
    assert!(!shown.contains("gpra_abc"), "{shown}");
}
