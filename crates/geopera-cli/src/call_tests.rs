//! Unit tests of `call.rs`.
use super::*;

fn said(body: &str) -> Vec<String> {
    api_message("orders.cancel", StatusCode::CONFLICT, body.as_bytes())
}

#[test]
fn a_detail_list_is_said_item_by_item_whatever_its_items_are() {
    assert_eq!(
        said(r#"{"detail":[{"loc":["body","limit"],"msg":"too big","type":"x"}]}"#),
        ["[409] body.limit: too big"]
    );
    // Plain strings and `message` members are the server's words, not items without one.
    assert_eq!(
        said(r#"{"detail":["order is locked by another user"]}"#),
        ["[409] order is locked by another user"]
    );
    assert_eq!(
        said(r#"{"detail":[{"message":"locked"},{"code":7}]}"#),
        ["[409] locked", r#"[409] {"code":7}"#]
    );
    // A list that says nothing gives way to the other members.
    assert_eq!(
        said(r#"{"title":"Conflict","detail":[{"code":7}]}"#),
        ["[409] Conflict"]
    );
    assert_eq!(
        said(r#"{"detail":[]}"#),
        ["[409] orders.cancel failed with HTTP 409"]
    );
}

#[test]
fn an_item_without_a_message_is_shown_cut_and_inert() {
    let long = format!(
        r#"{{"detail":["x",{{"why":"{}\u001b[2J"}}]}}"#,
        "a".repeat(500)
    );
    let lines = said(&long);
    assert_eq!(lines.len(), 2);
    assert!(lines[1].ends_with('…'), "{}", lines[1]);
    assert!(lines[1].chars().count() < 220, "{}", lines[1]);
    let steering = said(r#"{"detail":["x",{"why":"\u001b[2J"}]}"#);
    assert!(!steering[1].contains('\u{1b}'), "{}", steering[1]);
}

/// The retry advice names the key as it can be pasted back: one starting with `-` is joined
/// with `=`, where `--idempotency-key -k1` was read as the short flags `-k`, `-1`.
#[test]
fn retry_advice_names_a_key_starting_with_a_dash_so_it_parses() {
    let advice = retry_advice("orders.archive.place", "-k1", false);
    assert!(advice.ends_with("--idempotency-key=-k1"), "{advice}");
    let advice = retry_advice("orders.archive.place", "k-1", false);
    assert!(advice.ends_with("--idempotency-key k-1"), "{advice}");
    // Quoted for the shell, which takes the quotes off before the parser sees the dash.
    let advice = retry_advice("orders.archive.place", "-job:42", false);
    assert!(advice.ends_with("--idempotency-key='-job:42'"), "{advice}");
}
