//! Unit tests of `subscriptions.rs`.
use super::*;
use crate::models::{CreateSubscriptionInput, UpdateSubscriptionInput};

const TOKEN: &str = "Bearer receiver-token-5f2a";

#[test]
fn delivery_headers_show_their_names_and_hide_their_values() {
    let headers = DeliveryHeaders::new()
        .with("Authorization", TOKEN)
        .with("X-Team", "geo");
    let shown = format!("{headers:?}");
    assert_eq!(
        shown,
        r#"DeliveryHeaders{"Authorization": <redacted>, "X-Team": <redacted>}"#
    );
    let input = CreateSubscriptionInput::new("order.fulfilled", "https://example.com/hooks")
        .headers(headers.clone());
    let update = UpdateSubscriptionInput::new("sub_1").headers(headers.clone());
    for printed in [
        format!("{input:?}"),
        format!("{input:#?}"),
        format!("{update:?}"),
    ] {
        assert!(
            !printed.contains(TOKEN) && !printed.contains("geo\""),
            "{printed}"
        );
        assert!(printed.contains("Authorization"), "{printed}");
    }
    assert_eq!(headers.expose()["Authorization"], TOKEN);
    assert_eq!(
        headers.names().collect::<Vec<_>>(),
        ["Authorization", "X-Team"]
    );
}

#[test]
fn delivery_headers_are_a_plain_object_on_the_wire() {
    let input =
        CreateSubscriptionInput::new("order.fulfilled", "https://example.com/hooks").headers(
            BTreeMap::from([("Authorization".to_owned(), TOKEN.to_owned())]),
        );
    let json = serde_json::to_value(&input).expect("serializes");
    assert_eq!(
        json["headers"],
        serde_json::json!({ "Authorization": TOKEN })
    );

    let answer = serde_json::json!({"id": "sub_1", "headers": {"Authorization": TOKEN}});
    let output: SubscriptionOutput = serde_json::from_value(answer.clone()).expect("decodes");
    let headers = output.headers.as_ref().expect("typed, not left in extra");
    assert_eq!(headers.expose()["Authorization"], TOKEN);
    assert!(output.extra.is_empty(), "{:?}", output.extra.keys());
    assert!(!format!("{output:?}").contains(TOKEN));
    assert_eq!(serde_json::to_value(&output).expect("serializes"), answer);

    let wrong = serde_json::json!({"id": "sub_1", "headers": {"Authorization": 7}});
    assert!(serde_json::from_value::<SubscriptionOutput>(wrong).is_err());
}
