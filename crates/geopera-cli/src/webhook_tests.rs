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
