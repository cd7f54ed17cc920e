//! Unit tests of `webhook.rs`.
use super::*;

#[test]
fn header_lines_skip_the_request_line_comments_and_blanks() {
    let headers = parse_headers(
            "POST /hook HTTP/1.1\r\nX-Geopera-Signature: sha256=ab\r\n\r\n# saved\nX-Geopera-Event:  order.fulfilled \n",
        )
        .expect("parsed");
    assert_eq!(headers.len(), 2);
    assert_eq!(
        headers.get("x-geopera-event").map(|v| v.as_bytes()),
        Some(&b"order.fulfilled"[..])
    );
    assert!(parse_headers("no colon here").is_err());
}

#[test]
fn an_event_header_that_contradicts_an_earlier_one_is_refused() {
    let refused =
        parse_headers("X-Geopera-Event: order.fulfilled\nx-geopera-event: order.cancelled\n")
            .expect_err("contradicting");
    assert_eq!(
        refused,
        "line 2: a second X-Geopera-Event header (order.cancelled) contradicts the one on line 1 \
         (order.fulfilled)"
    );
    assert!(parse_headers("X-Geopera-Event-ID: a\n\nX-Geopera-Event-ID: b").is_err());
    // A second signature is refused by line, whichever of the two is the right one.
    let refused = parse_headers("X-Geopera-Signature: sha256=00\nX-Geopera-Signature: sha256=11")
        .expect_err("two signatures");
    assert!(
        refused.starts_with("line 2: a second X-Geopera-Signature header (sha256=11)"),
        "{refused}"
    );
    // The same value twice says one thing.
    let same = parse_headers("X-Geopera-Event-ID: a\nX-Geopera-Event-ID: a").expect("same");
    assert_eq!(same.get_all("x-geopera-event-id").iter().count(), 2);
}
