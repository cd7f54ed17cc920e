//! Unit tests of `problem.rs`.
use super::*;

#[test]
fn problem_defaults_type_and_keeps_extensions() {
    let raw = r#"{"title":"Forbidden","status":403,"detail":"no","trace":"abc"}"#;
    let problem: Problem = serde_json::from_str(raw).expect("valid problem");
    assert_eq!(problem.r#type, "about:blank");
    assert_eq!(problem.extensions["trace"], "abc");
    let back = serde_json::to_value(&problem).expect("serializable");
    assert_eq!(back["trace"], "abc");
    assert_eq!(problem.to_string(), "Forbidden: no");
}

#[test]
fn validation_loc_mixes_keys_and_indices() {
    let raw = r#"{"detail":[{"loc":["body","bbox",2],"msg":"bad","type":"float_type"}]}"#;
    let err: HttpValidationError = serde_json::from_str(raw).expect("valid body");
    assert_eq!(err.detail[0].loc[2], LocItem::Index(2));
    assert_eq!(err.to_string(), "body.bbox.2: bad");
}

#[test]
fn a_sloppy_problem_is_still_read() {
    let problem: Problem = serde_json::from_value(serde_json::json!({
        "type": null, "title": 5, "detail": null, "status": "404", "extra": [1]
    }))
    .expect("read leniently");
    assert_eq!(problem.r#type, "about:blank");
    assert_eq!(problem.title, "5");
    assert_eq!(problem.detail, "");
    assert_eq!(problem.status, 404);
    assert_eq!(problem.extensions["extra"], serde_json::json!([1]));
    for status in [
        serde_json::json!(70000),
        serde_json::json!(-1),
        serde_json::json!("x"),
    ] {
        let problem: Problem =
            serde_json::from_value(serde_json::json!({"status": status})).expect("read");
        assert_eq!(problem.status, 0);
    }
}
