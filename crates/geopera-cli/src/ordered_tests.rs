//! Unit tests of `ordered.rs`.
use super::*;

#[test]
fn members_keep_their_order_through_a_round_trip() {
    let text = r#"{"z":1,"a":[true,null,"x"],"m":{"b":2.5,"a":-1}}"#;
    let value = Ordered::parse(text).expect("parsed");
    assert_eq!(serde_json::to_string(&value).expect("printed"), text);
    assert_eq!(
        value
            .get("m")
            .and_then(|m| m.get("b"))
            .map(Ordered::cell)
            .as_deref(),
        Some("2.5")
    );
}
