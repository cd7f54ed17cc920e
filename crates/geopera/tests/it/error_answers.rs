//! Error answers as a hostile server writes them, over loopback HTTP to a server of the tests'
//! own (`hostile.rs`): what an error's message shows of the server's words, and how a problem
//! is recognised.

use geopera::models::CatalogSearchInput;
use geopera::operations::catalog_search;
use geopera::{Client, ErrorKind, StatusCode};

use crate::hostile::{Hostile, Reply};

/// A complete answer with `status`, `content_type` (none when `None`) and `body`.
fn answer(status: u16, content_type: Option<&str>, body: &[u8]) -> Reply {
    let mut head = format!(
        "HTTP/1.1 {status} X\r\ncontent-length: {}\r\nconnection: close\r\n",
        body.len()
    );
    if let Some(content_type) = content_type {
        head.push_str(&format!("content-type: {content_type}\r\n"));
    }
    let mut bytes = format!("{head}\r\n").into_bytes();
    bytes.extend_from_slice(body);
    Reply::Raw(bytes)
}

/// A client of `server` that sends each call once.
fn once(server: &Hostile) -> Client {
    Client::builder()
        .base_url(server.url())
        .retries(0)
        .build()
        .expect("valid")
}

/// A search whose `host_name` tells the server which answer to give.
fn asking(marker: &str) -> CatalogSearchInput {
    CatalogSearchInput::new(marker)
}

/// Whether `c` would act on a terminal instead of being shown: a control character (every
/// escape sequence starts with one), or a mark that reorders or breaks the line.
fn steers(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061c}'
                | '\u{200e}'
                | '\u{200f}'
                | '\u{2028}'
                | '\u{2029}'
                | '\u{202a}'..='\u{202e}'
                | '\u{2066}'..='\u{2069}'
        )
}

const HOSTILE_WORDS: &str = r"\u001b]0;owned\u0007\u001b[2J\rforged\u009b31m\u202eevil\u2028";

/// A problem's title and detail, a 422's failures, an undocumented status's body, a success
/// answer that does not decode all quote the server; none of them may
/// carry an escape sequence, a carriage return or a bidirectional override to the terminal
/// that prints the error. They are shown as `\u{..}` escapes; the fields keep the words whole.
#[tokio::test]
async fn server_words_in_an_error_message_cannot_steer_a_terminal() {
    let server = Hostile::serve("127.0.0.1", |seen| {
        let body = String::from_utf8_lossy(&seen.body).into_owned();
        if body.contains("problem") {
            let problem = format!(
                r#"{{"title":"t{HOSTILE_WORDS}","status":404,"detail":"d{HOSTILE_WORDS}"}}"#
            );
            answer(404, Some("application/problem+json"), problem.as_bytes())
        } else if body.contains("validation") {
            let failures = format!(
                r#"{{"detail":[{{"loc":["body","k{HOSTILE_WORDS}"],"msg":"m{HOSTILE_WORDS}","type":"x"}}]}}"#
            );
            answer(422, Some("application/json"), failures.as_bytes())
        } else if body.contains("teapot") {
            answer(
                418,
                Some("text/plain"),
                b"tea\x1b]0;owned\x07\x1b[2J\rforged",
            )
        } else {
            answer(
                200,
                Some("application/json"),
                b"{\"features\": \"\x1b[2J\rforged",
            )
        }
    });
    let client = once(&server);
    for marker in ["problem", "validation", "teapot", "undecodable"] {
        let error = catalog_search::send(&client, asking(marker))
            .await
            .expect_err("an error answer");
        let shown = error.to_string();
        assert!(!shown.contains(steers), "{marker}: {shown:?}");
        assert!(
            shown.contains(r"\u{1b}"),
            "{marker}: shown escaped: {shown:?}"
        );
        assert!(shown.contains("forged"), "{marker}: {shown:?}");
    }
    let error = catalog_search::send(&client, asking("problem"))
        .await
        .expect_err("a problem");
    let problem = error.problem().expect("the problem");
    assert!(
        problem.detail.contains('\u{1b}'),
        "the field keeps the words whole"
    );
    assert_eq!(error.status(), Some(StatusCode::NOT_FOUND));
    assert_eq!(error.kind(), ErrorKind::NotFound);
}

/// A media type is case-insensitive (RFC 9110, section 8.3.1): an undocumented status (409
/// here) answered as `Application/Problem+JSON; charset=utf-8` is the server's problem, typed
/// as one, exactly as when the type is written in lower case.
#[tokio::test]
async fn a_problem_is_recognised_whatever_the_case_of_its_media_type() {
    const CONFLICT: &str = r#"{"title":"Conflict","status":409,"detail":"the order is placed"}"#;
    let server = Hostile::serve("127.0.0.1", |seen| {
        let body = String::from_utf8_lossy(&seen.body).into_owned();
        let content_type = if body.contains("shouting") {
            " Application/Problem+JSON; charset=utf-8"
        } else {
            "application/problem+json"
        };
        answer(409, Some(content_type), CONFLICT.as_bytes())
    });
    let client = once(&server);
    for marker in ["quiet", "shouting"] {
        let error = catalog_search::send(&client, asking(marker))
            .await
            .expect_err("a conflict");
        assert!(
            matches!(error, geopera::Error::Api { .. }),
            "{marker}: {error:?}"
        );
        assert_eq!(error.kind(), ErrorKind::Conflict, "{marker}");
        assert_eq!(error.status(), Some(StatusCode::CONFLICT), "{marker}");
        assert_eq!(
            error.problem().map(|p| p.detail.as_str()),
            Some("the order is placed"),
            "{marker}"
        );
        let detailed = catalog_search::send_detailed(&client, asking(marker))
            .await
            .expect("an answer");
        assert!(
            matches!(&detailed.parsed, geopera::Parsed::Problem(p) if p.status == 409),
            "{marker}: {:?}",
            detailed.parsed
        );
    }
}

/// `invoke` takes its id from wherever the caller got it (a command line, a proxy's path). An
/// id that names no operation, with path segments, escapes or a megabyte of text, is refused
/// before anything is sent, and its message quotes the id only in part, and inert.
#[tokio::test]
async fn an_unknown_operation_id_is_refused_before_sending_and_quoted_inert_and_in_part() {
    let server = Hostile::serve("127.0.0.1", |_| {
        answer(200, Some("application/json"), b"{}")
    });
    let geopera = geopera::Geopera::builder("gpra_invoker")
        .base_url(server.url())
        .retries(0)
        .build()
        .expect("valid");
    let huge = format!("catalog.search{}", "x".repeat(1 << 20));
    let ids = [
        "../catalog.search".to_owned(),
        "catalog.search/../billing.topup".to_owned(),
        "catalog%2Fsearch".to_owned(),
        "catalog search".to_owned(),
        "catalog.search\u{1b}]0;owned\u{7}\r\u{202e}".to_owned(),
        huge,
    ];
    for id in &ids {
        let error = geopera
            .invoke(id, serde_json::json!({"host_name": "x"}))
            .await
            .expect_err("no such operation");
        assert!(
            matches!(error, geopera::Error::InvalidRequest { .. }),
            "{error:?}"
        );
        assert_eq!(error.kind(), ErrorKind::InvalidRequest);
        assert_eq!(
            error.operation_id(),
            Some(id.as_str()),
            "the field keeps it whole"
        );
        let shown = error.to_string();
        assert!(!shown.contains(steers), "{shown:?}");
        assert!(shown.len() < 2_000, "quoted in part: {} bytes", shown.len());
    }
    assert!(server.seen().is_empty(), "nothing was sent");
}

/// A 422's list of failures is what says what was wrong: a step of a location that is neither
/// a key nor an index, or a failure without `loc` or `type`, does not cost the whole list; and
/// a 422 answered as a problem without a list keeps its title.
#[tokio::test]
async fn a_422_is_read_for_what_it_says_however_odd_its_failures() {
    const ODD_STEPS: &str = r#"{"detail":[{"loc":["body",null,1.5,true,["x"],3],"msg":"odd","type":"t"},{"loc":["body","limit"],"msg":"too big","type":"le"}]}"#;
    const BARE: &str = r#"{"detail":[{"msg":"nothing else said"}]}"#;
    const TITLED: &str = r#"{"title":"Quota used up","status":422}"#;
    let server = Hostile::serve("127.0.0.1", |seen| {
        let body = String::from_utf8_lossy(&seen.body).into_owned();
        let answered = if body.contains("odd") {
            ODD_STEPS
        } else if body.contains("bare") {
            BARE
        } else {
            TITLED
        };
        answer(422, Some("application/json"), answered.as_bytes())
    });
    let client = once(&server);

    let error = catalog_search::send(&client, asking("odd"))
        .await
        .expect_err("a 422");
    let failures = error.validation().expect("the list of failures");
    assert_eq!(failures.detail.len(), 2, "{error}");
    assert_eq!(
        failures.detail[0].to_string(),
        r#"body.null.1.5.true.["x"].3: odd"#
    );
    assert_eq!(failures.detail[1].to_string(), "body.limit: too big");

    let error = catalog_search::send(&client, asking("bare"))
        .await
        .expect_err("a 422");
    let failures = error.validation().expect("the list of failures");
    assert_eq!(failures.detail.len(), 1, "{error}");
    assert_eq!(failures.detail[0].to_string(), "nothing else said");
    assert!(error.to_string().contains("nothing else said"), "{error}");

    let error = catalog_search::send(&client, asking("titled"))
        .await
        .expect_err("a 422");
    assert_eq!(error.kind(), ErrorKind::Validation, "{error:?}");
    assert_eq!(
        error.problem().map(|p| p.title.as_str()),
        Some("Quota used up"),
        "{error:?}"
    );
    assert!(error.to_string().contains("Quota used up"), "{error}");
}

/// Every message of an error and its causes, one after the other, as a program reporting the
/// whole chain prints them.
fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut shown = error.to_string();
    let mut cause = error.source();
    while let Some(next) = cause {
        shown.push_str(": ");
        shown.push_str(&next.to_string());
        cause = next.source();
    }
    shown
}

/// A model of the caller's own (`invoke_request_as`) may not know a value the server sends:
/// serde's message names the unknown variant or member as it came. That message is the decode
/// error's cause, which a program reporting the chain prints, so it reaches the terminal as
/// `\u{..}` escapes too; the excerpt field keeps the answer as sent.
#[tokio::test]
async fn a_decoder_message_quoting_the_answer_cannot_steer_a_terminal() {
    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code, reason = "only decoding is tested")]
    enum State {
        #[serde(rename = "done")]
        Done,
    }
    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code, reason = "only decoding is tested")]
    struct Job {
        state: Option<State>,
    }
    let server = Hostile::serve("127.0.0.1", |seen| {
        let body = String::from_utf8_lossy(&seen.body).into_owned();
        let answer_body = if body.contains("member") {
            format!(r#"{{"m{HOSTILE_WORDS}": 1}}"#)
        } else {
            format!(r#"{{"state": "v{HOSTILE_WORDS}"}}"#)
        };
        answer(200, Some("application/json"), answer_body.as_bytes())
    });
    let geopera = geopera::Geopera::builder("gpra_invoker")
        .base_url(server.url())
        .retries(0)
        .build()
        .expect("valid");
    for marker in ["variant", "member"] {
        let request = geopera::Request::new(serde_json::json!({"host_name": marker}));
        let error = geopera
            .invoke_request_as::<Job>("catalog.search", request)
            .await
            .and_then(geopera::Response::into_result)
            .expect_err("the answer does not fit the model");
        assert_eq!(error.kind(), ErrorKind::Decode, "{marker}: {error:?}");
        let cause = std::error::Error::source(&error).expect("the decoder's error");
        let words = cause.to_string();
        assert!(
            words.contains(r"\u{1b}]0;owned\u{7}\u{1b}[2J\u{d}forged"),
            "{marker}: the decoder's words, escaped: {words:?}"
        );
        let shown = chain(&error);
        assert!(!shown.contains(steers), "{marker}: {shown:?}");
        assert!(
            matches!(&error, geopera::Error::Decode { excerpt, .. } if excerpt.contains(HOSTILE_WORDS)),
            "{marker}: the excerpt keeps the answer as sent"
        );
    }
}
