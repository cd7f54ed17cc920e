//! Unit tests of `webhooks.rs`.
use super::*;
use http::HeaderValue;

fn sign(secret: &str, body: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("any key");
    mac.update(body);
    let bytes = mac.finalize().into_bytes();
    format!(
        "sha256={}",
        bytes.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

fn headers(signature: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(SIGNATURE_HEADER, signature.parse().expect("header"));
    headers
}

const BODY: &[u8] = br#"{"event_id":"evt_9","event_type":"something.new","timestamp":"2025-01-01T00:00:00Z","organization_id":"org_a","entity_type":"thing","entity_id":"t_1","data":{},"added_later":1}"#;

#[test]
fn an_unknown_event_type_is_kept_whole() {
    let verifier = Verifier::new("whsec_k").expect("secret");
    let delivery = verifier
        .verify(&headers(&sign("whsec_k", BODY)), BODY)
        .expect("valid");
    match delivery.event {
        Event::Other(envelope) => {
            assert_eq!(envelope.event_type, "something.new");
            assert_eq!(envelope.extra.get("added_later"), Some(&Value::from(1)));
        }
        other => panic!("{other:?}"),
    }
}

#[test]
fn bad_signatures_are_refused_by_kind() {
    let verifier = Verifier::new("whsec_k").expect("secret");
    let wrong_key = verifier.verify(&headers(&sign("whsec_other", BODY)), BODY);
    assert!(matches!(wrong_key, Err(WebhookError::SignatureMismatch)));
    let missing = verifier.verify(&HeaderMap::new(), BODY);
    assert!(matches!(missing, Err(WebhookError::MissingSignature)));
    for malformed in ["sha256=zz", "md5=00", "sha256=", &"sha256=".repeat(20)] {
        let result = verifier.verify(&headers(malformed), BODY);
        assert!(
            matches!(result, Err(WebhookError::MalformedSignature)),
            "{malformed}"
        );
    }
    let uppercase = sign("whsec_k", BODY)
        .to_uppercase()
        .replace("SHA256=", "sha256=");
    assert!(verifier.verify(&headers(&uppercase), BODY).is_ok());
    assert!(matches!(Verifier::new(""), Err(WebhookError::EmptySecret)));
}

#[test]
fn headers_must_agree_with_the_signed_body() {
    let verifier = Verifier::new("whsec_k").expect("secret");
    let mut headers = headers(&sign("whsec_k", BODY));
    headers.insert(EVENT_ID_HEADER, "evt_other".parse().expect("header"));
    let result = verifier.verify(&headers, BODY);
    assert!(matches!(
        result,
        Err(WebhookError::HeaderMismatch {
            header: EVENT_ID_HEADER,
            ..
        })
    ));
}

#[test]
fn identifying_headers_have_one_readable_value_or_are_refused() {
    // Once, a header that was not UTF-8 was compared lossily (so `evt_9` followed by a byte
    // that is no text matched a body saying `evt_9\u{fffd}`) or, for the delivery id, dropped
    // without a word; and only the first of two disagreeing copies was read.
    let body = br#"{"event_id":"evt_9\ufffd","event_type":"something.new","timestamp":"2025-01-01T00:00:00Z","organization_id":"org_a","entity_type":"thing","entity_id":"t_1"}"#;
    let verifier = Verifier::new("whsec_k").expect("secret");
    let signed = || headers(&sign("whsec_k", body));
    let not_text = HeaderValue::from_bytes(b"evt_9\xff").expect("header");
    for header in [EVENT_ID_HEADER, DELIVERY_ID_HEADER] {
        let mut headers = signed();
        headers.insert(header, not_text.clone());
        let refused = verifier.verify(&headers, body);
        assert!(
            matches!(refused, Err(WebhookError::BadHeader { header: h, .. }) if h == header),
            "{header}: {refused:?}"
        );
    }
    for header in [EVENT_HEADER, EVENT_ID_HEADER, DELIVERY_ID_HEADER] {
        let mut headers = signed();
        let (first, second) = if header == EVENT_HEADER {
            ("something.new", "order.fulfilled")
        } else {
            ("evt_9\u{fffd}", "evt_1")
        };
        headers.append(header, HeaderValue::from_str(first).expect("header"));
        headers.append(header, HeaderValue::from_str(second).expect("header"));
        let refused = verifier.verify(&headers, body);
        assert!(
            matches!(refused, Err(WebhookError::BadHeader { header: h, .. }) if h == header),
            "{header}: {refused:?}"
        );
        // The same value twice says one thing.
        let mut headers = signed();
        headers.append(header, HeaderValue::from_str(first).expect("header"));
        headers.append(header, HeaderValue::from_str(first).expect("header"));
        assert!(verifier.verify(&headers, body).is_ok(), "{header}");
    }
    let mut headers = signed();
    headers.insert(DELIVERY_ID_HEADER, HeaderValue::from_static("dlv_1"));
    let delivery = verifier.verify(&headers, body).expect("valid");
    assert_eq!(delivery.delivery_id.as_deref(), Some("dlv_1"));
    assert_eq!(delivery.event_id, "evt_9\u{fffd}");
}

/// Two different signatures are refused whichever comes first, the right one included: a
/// receiver would check the first while a proxy or a log took the other. The same signature
/// twice says one thing, and one that is not text is malformed, as alone.
#[test]
fn a_second_different_signature_is_refused_whichever_comes_first() {
    let verifier = Verifier::new("whsec_k").expect("secret");
    let right = sign("whsec_k", BODY);
    let junk = format!("sha256={}", "0".repeat(64));
    for (first, second) in [(&right, &junk), (&junk, &right)] {
        let mut headers = headers(first);
        headers.append(
            SIGNATURE_HEADER,
            HeaderValue::from_str(second).expect("header"),
        );
        let refused = verifier.verify(&headers, BODY);
        assert!(
            matches!(refused, Err(WebhookError::BadHeader { header, .. }) if header == SIGNATURE_HEADER),
            "{refused:?}"
        );
    }
    let mut twice = headers(&right);
    twice.append(
        SIGNATURE_HEADER,
        HeaderValue::from_str(&right).expect("header"),
    );
    assert!(verifier.verify(&twice, BODY).is_ok());
    let mut not_text = HeaderMap::new();
    not_text.insert(
        SIGNATURE_HEADER,
        HeaderValue::from_bytes(b"sha256=\xff").expect("header"),
    );
    assert!(matches!(
        verifier.verify(&not_text, BODY),
        Err(WebhookError::MalformedSignature)
    ));
}

#[test]
fn neither_debug_nor_errors_show_the_secret() {
    let verifier = Verifier::new("whsec_very_secret").expect("secret");
    assert!(!format!("{verifier:?}").contains("very_secret"));
    let error = verifier
        .verify(&headers(&sign("whsec_x", BODY)), BODY)
        .expect_err("mismatch");
    assert!(!error.to_string().contains("very_secret"));
}

#[test]
fn oversized_bodies_are_refused_before_hashing() {
    let verifier = Verifier::new("whsec_k").expect("secret");
    let big = vec![b' '; MAX_BODY_BYTES + 1];
    let result = verifier.verify(&headers(&sign("whsec_k", &big)), &big);
    assert!(matches!(result, Err(WebhookError::TooLarge(_))));
}

#[test]
fn a_secret_with_whitespace_around_it_is_refused_without_showing_it() {
    for secret in ["whsec_k\n", "whsec_k\r\n", " whsec_k", "whsec_k\t"] {
        let error = Verifier::new(secret).expect_err("refused");
        assert!(
            matches!(error, WebhookError::SecretWhitespace),
            "{secret:?}: {error:?}"
        );
        assert!(!format!("{error} {error:?}").contains("whsec_k"), "{error}");
    }
    // Whitespace inside is the secret's own business; only its ends are a reading mistake.
    let verifier = Verifier::new("whsec_k k").expect("a secret");
    assert!(verifier
        .verify(&headers(&sign("whsec_k k", BODY)), BODY)
        .is_ok());
}
