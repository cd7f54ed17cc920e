//! Unit tests of `webhooks.rs`.
use super::*;

#[test]
fn the_ssrf_guard_refuses_internal_hosts_and_plain_http() {
    for url in [
        "http://example.com/hook",
        "https://127.0.0.1/hook",
        "https://localhost:8443/hook",
        "https://10.1.2.3/",
        "https://172.16.0.1/",
        "https://192.168.1.1/",
        "https://169.254.169.254/latest",
        "https://[::1]/",
        "https://[fe80::1]/",
        "https://[::ffff:127.0.0.1]/",
        "https://2130706433/",
        "https://metadata.google.internal/",
        "https://printer.local/",
        "https://intranet/",
        "https://[64:ff9b::7f00:1]/",
        "https://[64:ff9b::a00:1]/",
        "https://[64:ff9b:1::1]/",
        "https://[2002:7f00:1::1]/",
        "https://[2002:c0a8:101::1]/",
        "https://[2001:0:4136:e378:8000:63bf:3fff:fdd2]/",
        "https://kubernetes.default.svc/",
        "https://nas.lan/",
        "https://user:pw@example.com/",
        "https://[fec0::1]/",
        "https://[::ffff:0:7f00:1]/",
        "https://[100::1]/",
        "https://[2001:2::1]/",
        "https://[2001:10::1]/",
        "https://[3fff::1]/",
        "https://[5f00::1]/",
        "https://example.com:0/",
        "ftp://example.com/",
        "not a url",
    ] {
        let problem = endpoint_problem(url, false);
        assert!(
            problem
                .as_deref()
                .is_some_and(|p| p.contains("endpoint_url")),
            "{url} was accepted"
        );
    }
    assert_eq!(endpoint_problem("https://hooks.example.com/x", false), None);
    assert_eq!(endpoint_problem("https://8.8.8.8/x", false), None);
    assert_eq!(
        endpoint_problem("https://[64:ff9b::808:808]/x", false),
        None
    );
    assert_eq!(
        endpoint_problem("https://[2606:4700:4700::1111]/x", false),
        None
    );
    // Beside the ranges refused, not in them: global unicast.
    for url in [
        "https://[2001:3::1]/",
        "https://[2001:20::1]/",
        "https://[3fff:1000::1]/",
        "https://[5f01::1]/",
        "https://[::ffff:0:808:808]/",
        "https://example.com:8443/",
    ] {
        assert_eq!(endpoint_problem(url, false), None, "{url}");
    }
    assert_eq!(endpoint_problem("http://127.0.0.1:9/x", true), None);
}

#[test]
fn backoff_doubles_from_ten_seconds() {
    assert_eq!(backoff_ms(1), 10_000);
    assert_eq!(backoff_ms(2), 20_000);
    assert_eq!(backoff_ms(7), 640_000);
}

#[test]
fn filters_match_dotted_paths() {
    let body = json!({"entity_type": "order", "data": {"project_id": "p1"}});
    assert_eq!(lookup(&body, "data.project_id"), Some(&json!("p1")));
    assert_eq!(lookup(&body, "data.missing"), None);
    assert_eq!(lookup(&body, "entity_type"), Some(&json!("order")));
}

fn subscription(id: &str, org: &str) -> Subscription {
    Subscription {
        id: id.to_owned(),
        org: org.to_owned(),
        event_type: "order.cancelled".to_owned(),
        endpoint_url: "https://receiver.example/hook".to_owned(),
        filter_config: serde_json::Map::new(),
        headers: DeliveryHeaders::default(),
        description: None,
        active: true,
        created_at: 0,
        updated_at: 0,
        secret: SigningSecret::generate().expect("randomness"),
    }
}

fn delivery(event: usize, subscription: &str) -> Pending {
    Pending {
        seq: 0,
        event_id: format!("evt_{event}"),
        event_type: "order.cancelled".to_owned(),
        subscription_id: subscription.to_owned(),
        body: "{}".to_owned(),
        attempts: 1,
        due_ms: 0,
        last_error: None,
    }
}

#[test]
fn a_full_outbox_drops_the_oldest_of_the_organization_with_the_most_waiting() {
    let mut webhooks = Webhooks::default();
    for (id, org) in [("sub_quiet", "org_quiet"), ("sub_loud", "org_loud")] {
        webhooks
            .subscriptions
            .insert(id.to_owned(), subscription(id, org));
    }
    // The quiet organization's retry is the oldest delivery waiting.
    webhooks.enqueue(delivery(0, "sub_quiet"));
    for event in 1..MAX_PENDING_DELIVERIES + 50 {
        webhooks.enqueue(delivery(event, "sub_loud"));
    }
    assert_eq!(webhooks.outbox.len(), MAX_PENDING_DELIVERIES);
    assert_eq!(webhooks.dropped, 50);
    assert_eq!(
        webhooks.outbox[0].event_id, "evt_0",
        "the quiet one's retry is kept"
    );
    assert_eq!(
        webhooks.outbox[1].event_id, "evt_51",
        "the loud one's oldest went"
    );
    // Once the quiet organization is the larger one, its own oldest goes first.
    let mut even = Webhooks {
        subscriptions: webhooks.subscriptions.clone(),
        ..Webhooks::default()
    };
    for event in 0..MAX_PENDING_DELIVERIES {
        let id = if event % 2 == 0 {
            "sub_quiet"
        } else {
            "sub_loud"
        };
        even.enqueue(delivery(event, id));
    }
    even.enqueue(delivery(MAX_PENDING_DELIVERIES, "sub_quiet"));
    assert_eq!(even.outbox[0].event_id, "evt_1", "{:?}", even.outbox[0]);
}

/// Each delivery queued gets the next `seq`, the outbox stays in `seq` order, and the state
/// file is told of every delivery queued or dropped (and of nothing else).
#[test]
fn queued_deliveries_are_numbered_in_order_and_their_changes_noted() {
    let mut webhooks = Webhooks::default();
    webhooks.outbox_changes.track();
    webhooks
        .subscriptions
        .insert("sub_a".to_owned(), subscription("sub_a", "org_a"));
    for event in 0..3 {
        webhooks.enqueue(delivery(event, "sub_a"));
    }
    let seqs: Vec<u64> = webhooks.outbox.iter().map(|p| p.seq).collect();
    assert_eq!(seqs, [0, 1, 2]);
    let mut noted: Vec<u64> = webhooks.outbox_changes.take().into_iter().collect();
    noted.sort_unstable();
    assert_eq!(noted, [0, 1, 2]);
    assert_eq!(
        webhooks.queued(1).map(|p| p.event_id.as_str()),
        Some("evt_1")
    );
    assert!(webhooks.queued(3).is_none());

    // Restored from a file, numbering goes on after its last delivery.
    let outbox = webhooks.outbox.clone();
    let mut restored = Webhooks::default();
    restored.restore_outbox(outbox.clone(), 0);
    restored
        .subscriptions
        .insert("sub_a".to_owned(), subscription("sub_a", "org_a"));
    restored.enqueue(delivery(3, "sub_a"));
    assert_eq!(restored.outbox.back().map(|p| p.seq), Some(3));
    // Past a row of the file that was passed over as unreadable, not onto it.
    let mut past_unread = Webhooks::default();
    past_unread.restore_outbox(outbox, 9);
    past_unread
        .subscriptions
        .insert("sub_a".to_owned(), subscription("sub_a", "org_a"));
    past_unread.enqueue(delivery(3, "sub_a"));
    assert_eq!(past_unread.outbox.back().map(|p| p.seq), Some(9));
    assert_eq!(
        restored
            .outbox_changes
            .take()
            .into_iter()
            .collect::<Vec<_>>(),
        [3]
    );
}

/// A receiver on loopback that answers every request 204 and counts the connections it got.
fn counting_receiver() -> (u16, Arc<std::sync::atomic::AtomicUsize>) {
    use std::io::{Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind a receiver");
    let port = listener.local_addr().expect("its address").port();
    let accepted = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = accepted.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let mut seen = Vec::new();
            let mut buf = [0u8; 4096];
            // The head and the short body arrive together or shortly after; read until both.
            while !seen.windows(4).any(|w| w == b"\r\n\r\n") || !seen.ends_with(b"}") {
                match stream.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => seen.extend_from_slice(&buf[..n]),
                }
            }
            let _ = stream.write_all(b"HTTP/1.1 204 No Content\r\nconnection: close\r\n\r\n");
        }
    });
    (port, accepted)
}

fn attempt_to(url: String) -> Attempt {
    Attempt {
        pending: Pending {
            seq: 0,
            event_id: "evt_1".into(),
            event_type: WEBHOOK_TEST.into(),
            subscription_id: "sub_1".into(),
            body: r#"{"event":"webhook.test"}"#.into(),
            attempts: 0,
            due_ms: 0,
            last_error: None,
        },
        delivery_id: "dlv_1".into(),
        url,
        headers: DeliveryHeaders::default(),
        secret: SigningSecret::generate().expect("a secret"),
        allowed: None,
    }
}

#[tokio::test]
async fn a_name_that_resolves_to_a_private_address_is_not_connected_to() {
    let (port, accepted) = counting_receiver();
    // `localhost` stands for any public-looking name whose owner points it at an internal
    // address, possibly after the subscription was accepted: the name check has passed
    // (`allowed: None`), so only the addresses the name resolves to can stop the delivery.
    let attempt = attempt_to(format!("http://localhost:{port}/hook"));

    let guarded = post(&client(false).expect("a client"), &attempt).await;
    assert_eq!(guarded.http_status, None);
    let error = guarded.error.expect("the delivery is refused");
    assert!(
        error.contains("'localhost' resolves to no public address"),
        "{error}"
    );
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 0);

    // The same attempt with local webhooks allowed reaches the receiver: the refusal above
    // came from the address check, not from a receiver that could not be reached.
    let local = post(&client(true).expect("a client"), &attempt).await;
    assert_eq!(local.http_status, Some(204), "{:?}", local.error);
    assert_eq!(accepted.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// A drain that names no `limit` delivers as many as one that names the most the contract
/// allows; the clamp in `ops::webhooks::drain` relies on it.
#[test]
fn the_default_drain_limit_is_the_contracts_largest() {
    let bounds = geopera_types::schemas::DRAIN_INPUT
        .number_bounds("limit")
        .expect("the contract bounds a drain's limit");
    assert_eq!(bounds.maximum, Some(DEFAULT_DRAIN_LIMIT as f64));
    assert_eq!(bounds.minimum, Some(1.0));
}
