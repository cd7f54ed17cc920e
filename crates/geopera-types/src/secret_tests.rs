//! Unit tests of `secret.rs`.
use crate::models::{ApiKeyCreateOutput, ShareLinkValidateInput, SignedUrlOutput};

#[test]
fn credentials_in_models_never_print_and_stay_plain_strings_on_the_wire() {
    let answer = serde_json::json!({
        "id": "key_1", "key": "gpra_live_9f8e7d", "prefix": "gpra_liv", "name": "ci",
        "permissions": [], "created_at": "2026-12-02T00:00:00Z",
    });
    let created: ApiKeyCreateOutput = serde_json::from_value(answer).expect("decodes");
    let key = created.key.as_ref().expect("the key, shown once");
    assert_eq!(key.expose(), "gpra_live_9f8e7d");
    for printed in [
        format!("{created:?}"),
        format!("{created:#?}"),
        key.to_string(),
    ] {
        assert!(!printed.contains("gpra_live"), "{printed}");
    }
    let json = serde_json::to_value(&created).expect("serializes");
    assert_eq!(json["key"], "gpra_live_9f8e7d");

    let input = ShareLinkValidateInput::new("shr_token_1").password("hunter2hunter2");
    let printed = format!("{input:?}");
    assert!(
        !printed.contains("shr_token_1") && !printed.contains("hunter2"),
        "{printed}"
    );
    let json = serde_json::to_value(&input).expect("serializes");
    assert_eq!(json["token"], "shr_token_1");
    assert_eq!(json["password"], "hunter2hunter2");
    // The contract's default for an absent password.
    let bare: ShareLinkValidateInput =
        serde_json::from_value(serde_json::json!({"token": "t"})).expect("decodes");
    assert!(bare.password.is_empty());
}

#[test]
fn a_signed_upload_url_never_prints_and_stays_a_plain_string_on_the_wire() {
    let url = "https://storage.example/up/u_1/a.tif?expires=9&signature=c0ffee";
    let answer = serde_json::json!({"upload_url": url, "object_path": "p/u_1/a.tif"});
    let signed: SignedUrlOutput = serde_json::from_value(answer.clone()).expect("decodes");
    assert_eq!(signed.upload_url.expose(), url);
    let printed = format!("{signed:?}");
    assert!(
        !printed.contains("c0ffee") && !printed.contains("storage.example"),
        "{printed}"
    );
    assert!(
        printed.contains("p/u_1/a.tif"),
        "the object path still prints: {printed}"
    );
    assert_eq!(serde_json::to_value(&signed).expect("serializes"), answer);
}
