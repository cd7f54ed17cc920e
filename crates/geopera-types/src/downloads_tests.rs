//! Unit tests of `downloads.rs`.
use super::*;
use serde_json::json;

#[test]
fn debug_hides_queries_user_information_and_credential_members() {
    let links = DownloadLinks::from(json!({
        "downloads": [{
            "url": "https://files.example/a/b.tif?expires=9&signature=s3cr3t#frag",
            "mirror": "https://user:pa55@files.example/b.tif",
            "both": "see https://h/a?sig1 or ftp://u:pw2@h/b",
            "headers": {"Authorization": "Bearer t0ken"},
            "x_signature": "abc123",
            "asset_key": "data",
            "size": 12,
        }],
        "note": "no link here ? really",
    }));
    let printed = format!("{links:?}");
    for secret in [
        "s3cr3t",
        "expires=9",
        "frag",
        "pa55",
        "user",
        "t0ken",
        "abc123",
        "sig1",
        "pw2",
    ] {
        assert!(!printed.contains(secret), "{secret} in {printed}");
    }
    for kept in [
        "https://files.example/a/b.tif?<redacted>",
        "https://<redacted>@files.example/b.tif",
        "\"asset_key\": String(\"data\")",
        "no link here ? really",
        "see https://h/a?<redacted> or ftp://<redacted>@h/b",
    ] {
        assert!(printed.contains(kept), "{kept} not in {printed}");
    }
}

#[test]
fn the_answer_itself_is_unchanged() {
    let answer = json!({"url": "https://files.example/x?signature=s"});
    let links: DownloadLinks = serde_json::from_value(answer.clone()).expect("any JSON");
    assert_eq!(links["url"], answer["url"]);
    assert_eq!(serde_json::to_value(&links).expect("JSON"), answer);
    assert_eq!(links.into_value(), answer);
}

// A link is one word: what a server writes is a URL, which has no spaces.
proptest::proptest! {
    #[test]
    fn no_query_of_any_link_is_printed(
        before in "\\PC*",
        host in "[a-z0-9.:@-]{0,20}",
        path in "[^?#\\s]{0,20}",
        query in "\\S{0,30}",
    ) {
        let text = format!("{before} https://{host}{path}?SIG={query}");
        let printed = format!("{:?}", DownloadLinks::from(Value::String(text)));
        proptest::prop_assert!(!printed.contains("SIG="), "{}", printed);
    }
}

#[test]
fn odd_text_never_panics_and_loses_no_plain_text() {
    for text in ["://", "a://?", "x://@", "x://@/?#", "é://ü@ß/ñ?ç", "plain"] {
        let cut = cut_link(text);
        assert!(!cut.is_empty());
    }
    assert_eq!(cut_link("plain text"), "plain text");
    assert_eq!(cut_link("s://h/p"), "s://h/p");
}
