//! Unit tests of `ordered.rs`.
use super::*;

#[test]
fn members_keep_their_order_through_a_round_trip() {
    let text = r#"{"z":1,"a":[true,null,"x"],"m":{"b":2.5,"a":-1}}"#;
    let (value, repeated) = Ordered::parse(text).expect("parsed");
    assert_eq!(repeated, []);
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

#[test]
fn a_repeated_key_keeps_its_last_value_in_its_first_place_and_is_named() {
    let text = r#"{"a":1,"b":{"x/~":1,"y":2,"x/~":3},"a":[{"c":1,"c":2}],"z":0,"a":"last","z":9}"#;
    let (value, repeated) = Ordered::parse(text).expect("parsed");
    assert_eq!(
        serde_json::to_string(&value).expect("printed"),
        r#"{"a":"last","b":{"x/~":3,"y":2},"z":9}"#
    );
    let named: Vec<(&str, &str)> = repeated
        .iter()
        .map(|r| (r.key.as_str(), r.at.as_str()))
        .collect();
    // Inside a value that was dropped nothing is named again: its key was.
    assert_eq!(named, [("a", ""), ("z", ""), ("x/~", "/b")]);
}
