//! Unit tests of `redact.rs`.
use super::*;

fn redactor() -> Redactor {
    Redactor {
        secrets: [Some(Secret::new("gpra_abc".into())), None],
        body: None,
        headers: None,
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

#[test]
fn an_excerpt_cut_inside_a_credential_loses_the_part_it_kept() {
    let secret = "gpra_0123456789abcdefghijklmnopqrstuvwxyz";
    let r = Redactor {
        secrets: [Some(Secret::new(secret.into())), None],
        body: None,
        headers: None,
    };
    let body = format!("{{\"features\":\"{}{secret}\"}}", "x".repeat(160));
    let source = serde_json::from_str::<u64>("true").expect_err("not a number");
    let error = r.error(Error::decode(
        "catalog.search",
        http::StatusCode::OK,
        body.as_bytes(),
        source,
    ));
    let shown = format!("{error} {error:?}");
    assert!(!shown.contains("gpra_0123"), "{shown}");
    assert!(shown.contains("[redacted]…"), "{shown}");

    // Ordinary text at the cut stays as it is.
    let mut plain = format!("{}xyz…", "a".repeat(10));
    r.cut_tail(&mut plain);
    assert_eq!(plain, format!("{}xyz…", "a".repeat(10)));
}

#[test]
fn a_problem_member_named_after_a_credential_is_renamed() {
    let mut problem: Problem =
        serde_json::from_value(serde_json::json!({"title": "bad", "gpra_abc": "k"}))
            .expect("a problem");
    redactor().problem(&mut problem);
    let shown = format!("{problem:?}");
    assert!(!shown.contains("gpra_abc"), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

/// A member of a validation failure named after a credential is renamed as a problem's is.
#[test]
fn a_validation_member_named_after_a_credential_is_renamed() {
    let mut error: HttpValidationError = serde_json::from_value(serde_json::json!({
        "detail": [{"loc": ["body"], "msg": "x", "type": "t", "gpra_abc": 1}]
    }))
    .expect("a validation error");
    redactor().validation(&mut error);
    let shown = format!("{error:?}");
    assert!(!shown.contains("gpra_abc"), "{shown}");
    assert!(shown.contains("[redacted]"), "{shown}");
}

#[test]
fn a_credential_json_writes_as_it_is_has_no_other_spelling() {
    assert!(json_spellings("gpra_0123456789abcdef").is_empty());
    assert_eq!(
        json_spellings("a\"/é"),
        [r#"a\"/é"#, r#"a\"/\u00e9"#, r#"a\"/\u00E9"#, r#"a\"\/é"#]
    );
    // Outside the basic plane, a character is two escapes (a surrogate pair).
    assert!(json_spellings("k🔑").contains(&r"k\ud83d\udd11".to_owned()));
}

#[test]
fn only_an_authorization_header_is_split_at_its_scheme() {
    let secrets = header_secrets(
        [
            ("Authorization", "Bearer gpra_token"),
            ("Cookie", "a=1; session=z"),
        ],
        [],
    )
    .expect("secrets");
    let found: Vec<&str> = secrets.iter().map(Secret::expose).collect();
    assert_eq!(found, ["gpra_token", "Bearer gpra_token", "a=1; session=z"]);
}

#[test]
fn a_body_full_of_the_credential_is_redacted_whole() {
    // Each occurrence followed by one byte, also back to back, at both ends: 8 MiB of them,
    // the kind of body a hostile server can send up to the response cap.
    let unit = b"gpra_abc,";
    let count = 8 * 1024 * 1024 / unit.len();
    let body: Vec<u8> = unit.repeat(count);
    let mut body = [b"gpra_abc".as_slice(), &body, b"gpra_abcgpra_abc"].concat();
    body.extend_from_slice(b"gpra_ab");
    let out = redactor().bytes(Bytes::from(body));
    let expected = [
        b"[redacted]".as_slice(),
        &b"[redacted],".repeat(count),
        b"[redacted][redacted]gpra_ab",
    ]
    .concat();
    assert_eq!(out.len(), expected.len());
    assert!(
        out[..] == expected[..],
        "every whole occurrence, and only those"
    );
}

#[test]
fn a_credential_quoted_in_an_escaped_decoder_message_is_redacted() {
    // A body credential may hold a character a message escapes, as a tab; the decoder's
    // message is escaped when the error is made, so the credential must be found so spelled.
    let secret = "pass\tword";
    #[derive(Debug, serde::Deserialize)]
    enum Choice {
        #[serde(rename = "a")]
        A,
    }
    let source = serde_json::from_str::<Choice>("\"pass\\tword\"").expect_err("unknown");
    let error = Error::decode("catalog.search", http::StatusCode::OK, b"{}", source);
    let r = Redactor {
        secrets: [None, None],
        body: Some(vec![Secret::new(secret.into())].into()),
        headers: None,
    };
    let error = r.error(error);
    let cause = std::error::Error::source(&error).map(ToString::to_string);
    let cause = cause.expect("the decoder's error");
    assert!(cause.contains(REDACTED), "{cause}");
    assert!(
        !cause.contains("pass") && !cause.contains("word"),
        "{cause}"
    );
}

#[test]
fn the_longest_credential_starting_at_a_point_is_the_one_replaced() {
    let r = Redactor {
        headers: header_secrets([("Authorization", "Bearer gpra_abc")], []),
        ..Redactor::default()
    };
    assert_eq!(
        r.text("got Bearer gpra_abc, then gpra_abc".into()),
        "got [redacted], then [redacted]"
    );
    assert_eq!(
        &r.bytes(Bytes::from_static(b"Bearer gpra_abcgpra_abc!"))[..],
        b"[redacted][redacted]!"
    );
    assert_eq!(r.text("nothing to hide".into()), "nothing to hide");
}
