use super::*;
use crate::models::ShareLinkValidateInput;

const PASSWORD: &str = "correct-horse-battery";
const TOKEN: &str = "shr_0123456789abcdef";

/// Every way a request can hold a body: JSON given to `Request::new`, JSON converted for a
/// typed operation, and the typed input itself.
#[test]
fn debug_of_a_request_hides_the_credentials_its_body_carries() {
    let json = serde_json::json!({"token": TOKEN, "password": PASSWORD, "note": "kept"});
    let shown = [
        format!("{:?}", Request::new(json.clone()).retries(1)),
        format!(
            "{:?}",
            IntoRequest::<ShareLinkValidateInput>::into_request(Request::new(json.clone()))
        ),
        format!(
            "{:?}",
            IntoRequest::<ShareLinkValidateInput>::into_request(json)
        ),
        format!(
            "{:?}",
            Request::new(ShareLinkValidateInput::new(TOKEN).password(PASSWORD))
        ),
    ];
    for shown in &shown {
        assert!(!shown.contains(PASSWORD), "{shown}");
        assert!(!shown.contains(TOKEN), "{shown}");
        assert!(shown.contains("redacted"), "{shown}");
    }
    // What is no credential is still there to read.
    for shown in &shown[..3] {
        assert!(shown.contains(r#""note": String("kept")"#), "{shown}");
    }
    assert!(shown[0].contains("retries: Some(1)"), "{}", shown[0]);
}

/// A body that is not an object (an operation's input always is; a careless one may not be)
/// is shown as it is.
#[test]
fn debug_of_a_request_with_a_body_that_is_no_object_shows_it() {
    let shown = format!("{:?}", Request::new(serde_json::json!(["a", 1])));
    assert!(shown.contains(r#"String("a")"#), "{shown}");
}
