//! Waiting for orders, jobs and uploads: final states, failures as typed errors, deadlines,
//! cancellation by drop, progress callbacks, and the blocking form.

use std::future::IntoFuture as _;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use geopera::models::{Job, JobStatus, Order, OrderStatus};
use geopera::wait::{self, WaitError};
use geopera::{AuthenticatedClient, Clock as _, Geopera};
use geopera_emulator::{Emulator, EmulatorHandle, ManualClock, RateLimits, JOB_FAIL_MARKER};
use serde_json::{json, Value};

use crate::hostile::{Hostile, Reply};
use crate::support::{archive_order, capture, SharedTime};

/// An emulator on a clock the SDK's waits move: a job's minute passes in an instant.
fn on_shared_time() -> (EmulatorHandle, Geopera) {
    let clock = ManualClock::new();
    let emu = Emulator::builder()
        .clock(clock.clone())
        .rate_limits(RateLimits::off())
        .start()
        .expect("the emulator starts");
    let client = AuthenticatedClient::builder(emu.api_key())
        .base_url(emu.base_url())
        .clock(SharedTime::new(&clock))
        .build()
        .expect("valid configuration");
    (emu, Geopera::from(client))
}

/// An emulator whose clock stands still unless a test moves it, and a client on real time.
fn frozen() -> (EmulatorHandle, Geopera) {
    let emu = Emulator::builder()
        .clock(ManualClock::new())
        .rate_limits(RateLimits::off())
        .start()
        .expect("the emulator starts");
    let client =
        AuthenticatedClient::new(emu.base_url(), emu.api_key()).expect("valid configuration");
    (emu, Geopera::from(client))
}

async fn call(client: &Geopera, op: &str, body: Value) -> Value {
    client
        .invoke(op, body)
        .await
        .unwrap_or_else(|e| panic!("{op}: {e}"))
}

/// A new processing job of a new project; `process` may be the failure marker.
async fn start_job(client: &Geopera, process: &str) -> String {
    let project = call(client, "projects.create", json!({"name": "waiting"})).await;
    let job = call(
        client,
        "processing.execute",
        json!({"process_id": process, "workspaceId": project["id"]}),
    )
    .await;
    job["id"].as_str().expect("a job id").to_owned()
}

#[tokio::test]
async fn a_processing_job_is_waited_for_until_it_succeeds_reporting_each_state() {
    let (_emu, client) = on_shared_time();
    let job = start_job(&client, "ndvi").await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let done = wait::processing_job(&client, &job)
        .interval(Duration::from_secs(2), Duration::from_secs(10))
        .on_progress(move |job| {
            if let Ok(mut log) = log.lock() {
                log.push(job.status.clone());
            }
        })
        .await
        .expect("the job succeeds");
    assert_eq!(done.id, job);
    assert_eq!(done.status, Some(JobStatus::Succeeded));
    let seen = seen.lock().expect("the log").clone();
    assert_eq!(seen.first(), Some(&Some(JobStatus::Pending)), "{seen:?}");
    assert!(seen.contains(&Some(JobStatus::Running)), "{seen:?}");
    assert_eq!(seen.last(), Some(&Some(JobStatus::Succeeded)), "{seen:?}");
}

#[tokio::test]
async fn a_failing_job_ends_the_wait_with_a_typed_error_carrying_its_final_state() {
    let (_emu, client) = on_shared_time();
    let job = start_job(&client, JOB_FAIL_MARKER).await;
    let error = wait::processing_job(&client, &job)
        .await
        .expect_err("the job fails");
    let WaitError::Failed { id, last, .. } = &error else {
        panic!("not a failure: {error:?}");
    };
    assert_eq!(id, &job);
    assert_eq!(last.status, Some(JobStatus::Failed));
    assert!(last.error_message.is_some(), "{last:?}");
    assert_eq!(error.last().map(|job| job.id.as_str()), Some(job.as_str()));
    assert!(error.to_string().contains("failed"), "{error}");
}

/// A new clip of a catalog item, waited for until it succeeds.
async fn finished_clip(client: &Geopera) -> geopera::models::Job {
    let created = call(client, "clip.create_from_item", json!({"item_id": "S2A_1"})).await;
    let job = created["job"]["id"].as_str().expect("a clip job id");
    wait::clip_job(client, job)
        .await
        .expect("the clip succeeds")
}

#[tokio::test]
async fn a_clip_job_is_waited_for_too() {
    let (_emu, client) = on_shared_time();
    let done = finished_clip(&client).await;
    assert_eq!(done.status, Some(JobStatus::Succeeded));
}

/// A finished clip's download links are signed URLs, which let anyone holding them fetch the
/// file: the answer hands them to the code that asks, and `Debug` keeps them out of logs.
#[tokio::test]
async fn download_links_work_as_answered_but_never_print() {
    use geopera::models::{ClipDownloadInput, ClipJobInput};
    use geopera::operations::{clip_job_download, clip_job_downloads};

    let (_emu, client) = on_shared_time();
    let job = finished_clip(&client).await.id;
    let job = job.as_str();

    let all = clip_job_downloads::send(&client, ClipJobInput::new(job))
        .await
        .expect("the links");
    let one = clip_job_download::send(&client, ClipDownloadInput::new(job, "data"))
        .await
        .expect("one link");
    let url = one["url"].as_str().expect("a URL").to_owned();
    assert_eq!(all["downloads"][0]["url"].as_str(), Some(url.as_str()));
    let signature = url.split("signature=").nth(1).expect("a signed URL");
    assert!(signature.len() >= 32, "{url}");
    let fetched = reqwest::get(&url).await.expect("the file");
    assert_eq!(fetched.status().as_u16(), 200);

    for printed in [format!("{one:?}"), format!("{all:?}")] {
        assert!(!printed.contains(signature), "{printed}");
        assert!(printed.contains("/data.tif?<redacted>"), "{printed}");
    }
    let detailed = clip_job_download::send_detailed(&client, ClipDownloadInput::new(job, "data"))
        .await
        .expect("one link");
    let printed = format!("{detailed:?}");
    assert!(!printed.contains("signature="), "{printed}");
    // What the caller writes out on purpose is the answer as it came.
    let written = serde_json::to_string(&one).expect("JSON");
    assert!(written.contains(signature));
}

#[tokio::test]
async fn an_archive_order_is_waited_for_until_fulfilled() {
    let (emu, client) = on_shared_time();
    let placed = call(
        &client,
        "orders.archive.place",
        Value::Object(archive_order(&capture(&emu), "waited")),
    )
    .await;
    let id = placed["orderId"].as_str().expect("an order id");
    let states = Arc::new(Mutex::new(Vec::new()));
    let log = states.clone();
    let order = wait::order(&client, id)
        .interval(Duration::from_secs(20), Duration::from_secs(120))
        .on_progress(move |order| {
            if let Ok(mut log) = log.lock() {
                log.push(order.status.clone());
            }
        })
        .await
        .expect("the order is fulfilled");
    assert_eq!(order.status, Some(OrderStatus::Fulfilled));
    let states = states.lock().expect("the log").clone();
    assert!(
        states.contains(&Some(OrderStatus::Processing)),
        "{states:?}"
    );
}

#[tokio::test]
async fn a_cancelled_order_is_a_failure() {
    let (emu, client) = on_shared_time();
    let placed = call(
        &client,
        "orders.archive.place",
        Value::Object(archive_order(&capture(&emu), "cancelled")),
    )
    .await;
    let id = placed["orderId"].as_str().expect("an order id");
    call(&client, "orders.cancel", json!({"order_id": id})).await;
    let error = wait::order(&client, id).await.expect_err("cancelled");
    assert!(
        matches!(&error, WaitError::Failed { last, .. } if last.status == Some(OrderStatus::Cancelled)),
        "{error:?}"
    );
}

#[tokio::test]
async fn a_deadline_ends_the_wait_on_time_with_the_last_state() {
    let (_emu, client) = frozen();
    let job = start_job(&client, "ndvi").await;
    let last = ends_at_its_deadline(&client, &job, Duration::from_millis(600)).await;
    assert_eq!(last.and_then(|job| job.status), Some(JobStatus::Pending));
}

/// Waits for `job` through `client` with polls 50–100 ms apart until `deadline`, asserts that
/// the wait ended with its deadline error on time, neither before it nor 2 s after, and
/// returns the last state it saw.
async fn ends_at_its_deadline(client: &Geopera, job: &str, deadline: Duration) -> Option<Job> {
    let started = Instant::now();
    let error = wait::processing_job(client, job)
        .interval(Duration::from_millis(50), Duration::from_millis(100))
        .deadline(deadline)
        .await
        .expect_err("the job does not finish in time");
    let took = started.elapsed();
    assert!(took >= deadline, "ended early: {took:?}");
    assert!(
        took < deadline + Duration::from_secs(2),
        "ended late: {took:?}"
    );
    let WaitError::Deadline { last, .. } = error else {
        panic!("not a deadline: {error:?}");
    };
    last.map(|job| *job)
}

/// A poll the client's pacing would hold past the wait's deadline is refused at once, and the
/// wait still ends at its deadline with the last state, not at that refusal.
#[tokio::test]
async fn a_poll_paced_past_the_deadline_ends_the_wait_at_the_deadline() {
    let (emu, plain) = frozen();
    let job = start_job(&plain, "ndvi").await;
    // One call a minute: the first poll takes the slot, the next is a minute away.
    let paced = Geopera::from(
        AuthenticatedClient::builder(emu.api_key())
            .base_url(emu.base_url())
            .pace(geopera::RateClass::Default, 1)
            .build()
            .expect("valid configuration"),
    );
    let last = ends_at_its_deadline(&paced, &job, Duration::from_millis(800)).await;
    assert!(last.is_some(), "the first poll's state is kept");
}

/// The client's own deadline bounds every poll: a poll it cuts is a timeout the wait rides out
/// until its own deadline, whose error names that timeout.
#[tokio::test]
async fn a_poll_cut_by_the_client_deadline_is_polled_again_and_named_at_the_wait_deadline() {
    let stalled = Hostile::serve("127.0.0.1", |_| Reply::Trickle {
        head: "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 64\r\n\r\n"
            .to_owned(),
        body: vec![b' '; 64],
        every: Duration::from_secs(2),
    });
    let client = Geopera::from(
        AuthenticatedClient::builder("gpra_test_key")
            .base_url(stalled.url())
            .deadline(Duration::from_millis(300))
            .build()
            .expect("valid configuration"),
    );
    let started = Instant::now();
    let error = wait::processing_job(&client, "job_1")
        .interval(Duration::from_millis(100), Duration::from_millis(100))
        .deadline(Duration::from_secs(2))
        .await
        .expect_err("the poll never completes");
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(10),
        "the wait's deadline held: {took:?}"
    );
    assert!(stalled.seen().len() >= 2, "polled again after the timeout");
    let WaitError::Deadline { id, .. } = &error else {
        panic!("not the wait's deadline: {error:?}");
    };
    assert_eq!(id, "job_1");
    let source = std::error::Error::source(&error)
        .and_then(|source| source.downcast_ref::<geopera::Error>())
        .expect("the last poll's error");
    assert_eq!(source.kind(), geopera::ErrorKind::Timeout, "{source:?}");
}

/// A failure's reason and another resource's id are the server's words, which may quote what
/// it was sent: the error, which ends up in logs, does not repeat the client's key.
#[tokio::test]
async fn a_wait_error_does_not_repeat_the_key_the_server_quoted() {
    const KEY: &str = "gpra_quoted_in_the_answer";
    let quoting = Hostile::serve("127.0.0.1", |seen| {
        let body = if seen.path.ends_with("orders.get") {
            format!(r#"{{"orderId":"ord_{KEY}","status":"fulfilled"}}"#)
        } else {
            format!(r#"{{"id":"job_1","status":"failed","error_message":"key {KEY} refused"}}"#)
        };
        crate::hostile::json(200, &[], &body)
    });
    let client = Geopera::from(
        AuthenticatedClient::builder(KEY)
            .base_url(quoting.url())
            .build()
            .expect("valid configuration"),
    );
    wait_errors_hide(&client, KEY, "failed: key [redacted] refused").await;
}

/// Waits on `client`, whose server quotes `secret` back, for a job that failed and for an
/// order answered by another: the failure's state reads `state_shown`, the other order's id
/// `ord_[redacted]`, and neither error's message shows `secret`. The message only: `last`,
/// the resource as read, is the caller's to show or not.
async fn wait_errors_hide(client: &Geopera, secret: &str, state_shown: &str) {
    let failed = wait::processing_job(client, "job_1")
        .await
        .expect_err("the job failed");
    let WaitError::Failed { state, .. } = &failed else {
        panic!("not the failure: {failed:?}");
    };
    assert_eq!(state, state_shown);
    assert!(!failed.to_string().contains(secret), "{failed}");
    let other = wait::order(client, "ord_mine")
        .wait_blocking()
        .expect_err("another order's success is not this one's");
    let WaitError::OtherResource { answered, .. } = &other else {
        panic!("not the mismatch: {other:?}");
    };
    assert_eq!(answered, "ord_[redacted]");
    assert!(!other.to_string().contains(secret), "{other}");
}

/// As the test of a client's key above, for a session's token, which only the polls knew: the
/// waiter redacted the client's fixed key alone, so a job's reason quoting the bearer token
/// reached the error.
#[tokio::test]
async fn a_wait_error_does_not_repeat_a_session_s_token_the_server_quoted() {
    const TOKEN: &str = "eyJhbGciOiJSUzI1NiJ9.session-token-quoted.sig";
    let quoting = Hostile::serve("127.0.0.1", |seen| {
        let sent = seen.header("authorization").unwrap_or_default().to_owned();
        let body = if seen.path.ends_with("orders.get") {
            format!(r#"{{"orderId":"ord_{TOKEN}","status":"fulfilled"}}"#)
        } else {
            format!(r#"{{"id":"job_1","status":"failed","error_message":"{sent} refused"}}"#)
        };
        crate::hostile::json(200, &[], &body)
    });
    let session = geopera::auth::Session::from_tokens(
        geopera::auth::Oidc::for_base_url(&quoting.url()).expect("a provider"),
        geopera::auth::TokenSet::new(
            TOKEN,
            None,
            std::time::SystemTime::now() + Duration::from_secs(300),
        ),
    );
    let client = Geopera::from(
        AuthenticatedClient::builder_with_credentials(session)
            .base_url(quoting.url())
            .build()
            .expect("valid configuration"),
    );
    wait_errors_hide(&client, TOKEN, "failed: Bearer [redacted] refused").await;
}

/// A failure's reason, another resource's id and the id waited for (often the server's, taken
/// from an earlier answer) are shown in the wait error's message with what would act on a
/// terminal escaped; the fields keep them as they came.
#[tokio::test]
async fn a_wait_error_message_cannot_steer_a_terminal() {
    const WORDS: &str = r"\u001b]0;owned\u0007\u001b[2J\rforged\u202e";
    const RAW: &str = "\u{1b}]0;owned\u{7}\u{1b}[2J\rforged\u{202e}";
    const SHOWN: &str = r"\u{1b}]0;owned\u{7}\u{1b}[2J\u{d}forged\u{202e}";
    let hostile = Hostile::serve("127.0.0.1", |seen| {
        let body = if seen.path.ends_with("orders.get") {
            format!(r#"{{"orderId":"ord_{WORDS}","status":"fulfilled"}}"#)
        } else {
            format!(r#"{{"id":"job_{WORDS}","status":"failed","error_message":"boom{WORDS}"}}"#)
        };
        crate::hostile::json(200, &[], &body)
    });
    let client = Geopera::from(
        AuthenticatedClient::builder("gpra_test_key")
            .base_url(hostile.url())
            .build()
            .expect("valid configuration"),
    );
    let steers = |c: char| c.is_control() || c == '\u{202e}';

    let failed = wait::processing_job(&client, format!("job_{RAW}"))
        .await
        .expect_err("the job failed");
    let WaitError::Failed { id, state, .. } = &failed else {
        panic!("not the failure: {failed:?}");
    };
    assert_eq!(id, &format!("job_{RAW}"));
    assert_eq!(state, &format!("failed: boom{RAW}"));
    let shown = failed.to_string();
    assert!(!shown.contains(steers), "{shown:?}");
    assert_eq!(
        shown,
        format!("processing job job_{SHOWN} ended failed: boom{SHOWN}")
    );

    let other = wait::order(&client, "ord_mine")
        .await
        .expect_err("another order's success is not this one's");
    let WaitError::OtherResource { answered, .. } = &other else {
        panic!("not the mismatch: {other:?}");
    };
    assert_eq!(answered, &format!("ord_{RAW}"));
    let shown = other.to_string();
    assert!(!shown.contains(steers), "{shown:?}");
    assert!(
        shown.contains(&format!("answered order ord_{SHOWN} instead")),
        "{shown:?}"
    );
}

/// A job's failure reason of any length is quoted in part by the wait error's message, as a
/// problem's detail is by `Error`'s; the error's field keeps the whole reason.
#[tokio::test]
async fn a_wait_error_message_quotes_a_long_failure_reason_in_part() {
    let reason = "x".repeat(100_000);
    let body = format!(r#"{{"id":"job_long","status":"failed","error_message":"{reason}"}}"#);
    let hostile = Hostile::serve("127.0.0.1", move |_| crate::hostile::json(200, &[], &body));
    let client = Geopera::from(
        AuthenticatedClient::builder("gpra_test_key")
            .base_url(hostile.url())
            .build()
            .expect("valid configuration"),
    );
    let failed = wait::processing_job(&client, "job_long")
        .await
        .expect_err("the job failed");
    let WaitError::Failed { state, .. } = &failed else {
        panic!("not the failure: {failed:?}");
    };
    assert_eq!(state, &format!("failed: {reason}"), "the field is whole");
    let shown = failed.to_string();
    assert!(shown.chars().count() < 1_100, "{} characters", shown.len());
    assert!(
        shown.starts_with("processing job job_long ended failed: xxx"),
        "{shown}"
    );
    assert!(shown.ends_with('…'), "the cut is shown: {shown}");
}

/// A poll answered with a resource that names no id at all ends the wait as one about another
/// resource, and its message says there was none rather than naming a blank.
#[tokio::test]
async fn an_answer_naming_no_resource_says_so() {
    let anonymous = Hostile::serve("127.0.0.1", |_| {
        crate::hostile::json(200, &[], r#"{"status":"fulfilled"}"#)
    });
    let client = Geopera::from(
        AuthenticatedClient::builder("gpra_test_key")
            .base_url(anonymous.url())
            .build()
            .expect("valid configuration"),
    );
    let error = wait::order(&client, "ord_mine")
        .await
        .expect_err("an order of no id is not this one");
    assert!(
        matches!(&error, WaitError::OtherResource { answered, .. } if answered.is_empty()),
        "{error:?}"
    );
    assert_eq!(
        error.to_string(),
        "waiting for order ord_mine: the API answered with no order id"
    );
}

/// A poll answered with another resource, already in a final state, does not end the wait as
/// if this one had got there: neither as a success nor as a failure.
#[tokio::test]
async fn an_answer_about_another_resource_ends_the_wait_with_its_own_error() {
    let misrouted = Hostile::serve("127.0.0.1", |seen| {
        let body = if seen.path.ends_with("orders.get") {
            r#"{"orderId":"ord_other","status":"fulfilled"}"#
        } else {
            r#"{"id":"job_other","status":"failed","error_message":"not yours"}"#
        };
        crate::hostile::json(200, &[], body)
    });
    let client = Geopera::from(
        AuthenticatedClient::builder("gpra_test_key")
            .base_url(misrouted.url())
            .build()
            .expect("valid configuration"),
    );
    let error = wait::order(&client, "ord_mine")
        .await
        .expect_err("another order's success is not this one's");
    let WaitError::OtherResource { id, answered, .. } = &error else {
        panic!("not the mismatch: {error:?}");
    };
    assert_eq!((id.as_str(), answered.as_str()), ("ord_mine", "ord_other"));
    assert_eq!(
        error.to_string(),
        "waiting for order ord_mine: the API answered order ord_other instead"
    );
    assert!(error.last().is_none());

    let error = wait::processing_job(&client, "job_mine")
        .wait_blocking()
        .expect_err("another job's failure is not this one's");
    assert!(
        matches!(&error, WaitError::OtherResource { answered, .. } if answered == "job_other"),
        "{error:?}"
    );
}

#[tokio::test]
async fn dropping_a_wait_stops_its_polling() {
    let (emu, client) = frozen();
    let job = start_job(&client, "ndvi").await;
    let waiting = tokio::spawn(
        wait::processing_job(&client, &job)
            .interval(Duration::from_millis(10), Duration::from_millis(10))
            .into_future(),
    );
    // Let it poll a few times, then drop it.
    let polled = || emu.executed("processing.job.get");
    let until = Instant::now() + Duration::from_secs(10);
    while polled() < 3 && Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert!(polled() >= 3, "the waiter polls");
    waiting.abort();
    assert!(waiting.await.is_err_and(|e| e.is_cancelled()));
    // A poll already on the wire when the task was dropped may still reach the emulator: let
    // the count settle (still for 100 ms, within 2 s), then no new poll may start (polling
    // every 10 ms would add about 30 in the next 300 ms).
    let mut after_drop = polled();
    for _ in 0..20 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let now = polled();
        if now == after_drop {
            break;
        }
        after_drop = now;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(polled(), after_drop, "no poll after the drop");
}

#[tokio::test]
async fn an_unknown_id_ends_the_wait_with_the_api_error() {
    let (_emu, client) = frozen();
    let error = wait::order(&client, "ord_missing")
        .await
        .expect_err("no such order");
    let WaitError::Call { source, .. } = &error else {
        panic!("not a call error: {error:?}");
    };
    assert_eq!(source.status().map(|s| s.as_u16()), Some(404), "{source}");
}

#[tokio::test]
async fn an_upload_is_ready_once_its_bytes_have_arrived() {
    let (_emu, client) = frozen();
    let project = call(&client, "projects.create", json!({"name": "up"})).await;
    let upload = call(
        &client,
        "uploads.initiate",
        json!({"project_id": project["id"], "total_bytes": 4}),
    )
    .await;
    let id = upload["id"].as_str().expect("an upload id").to_owned();
    let signed = call(
        &client,
        "uploads.signed_url",
        json!({"upload_id": id, "file_name": "a.bin", "content_type": "application/octet-stream"}),
    )
    .await;
    let url = signed["upload_url"]
        .as_str()
        .expect("a signed URL")
        .to_owned();
    // Another party sends the bytes a little later.
    let sender = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        reqwest::Client::new()
            .put(url)
            .body(vec![1u8, 2, 3, 4])
            .send()
            .await
            .map(|r| r.status())
    });
    let ready = wait::upload(&client, &id)
        .interval(Duration::from_millis(50), Duration::from_millis(100))
        .deadline(Duration::from_secs(20))
        .await
        .expect("the bytes arrive");
    assert_eq!(ready.bytes_received, Some(4));
    assert!(sender.await.is_ok_and(|s| s.is_ok_and(|s| s.is_success())));
    // Once completed it still reads, as done.
    call(&client, "uploads.complete", json!({"upload_id": id})).await;
    let done = wait::upload(&client, &id).await.expect("completed");
    assert!(done.is_final());
}

/// Bytes alone do not make an upload ready: one of 0 bytes has them all before any file, and
/// one that declared two files is not ready after the first; `uploads.complete` would refuse
/// both, so the wait goes on until its deadline rather than promising a completion.
#[tokio::test]
async fn an_upload_without_its_files_is_not_ready() {
    let (_emu, client) = frozen();
    let project = call(&client, "projects.create", json!({"name": "up"})).await;
    for (body, files) in [
        (json!({"total_bytes": 0}), vec![]),
        (
            json!({"total_bytes": 4, "file_count": 2}),
            vec![("a.bin", 4)],
        ),
    ] {
        let mut body = body;
        body["project_id"] = project["id"].clone();
        let upload = call(&client, "uploads.initiate", body).await;
        let id = upload["id"].as_str().expect("an upload id").to_owned();
        for (name, size) in files {
            let signed = call(
                &client,
                "uploads.signed_url",
                json!({"upload_id": id, "file_name": name, "content_type": "application/octet-stream"}),
            )
            .await;
            let url = signed["upload_url"].as_str().expect("a signed URL");
            let put = reqwest::Client::new()
                .put(url)
                .body(vec![1u8; size])
                .send()
                .await
                .expect("the storage answers");
            assert!(put.status().is_success());
        }
        let error = wait::upload(&client, &id)
            .interval(Duration::from_millis(20), Duration::from_millis(50))
            .deadline(Duration::from_millis(300))
            .await
            .expect_err("not ready to complete");
        assert!(matches!(error, WaitError::Deadline { .. }), "{error:?}");
        let refused = client
            .invoke("uploads.complete", json!({"upload_id": id}))
            .await
            .expect_err("the API refuses to complete it");
        assert_eq!(refused.status().map(|s| s.as_u16()), Some(409));
    }
}

#[test]
fn the_blocking_form_waits_through_the_same_engine() {
    let clock = ManualClock::new();
    let emu = Emulator::builder()
        .clock(clock.clone())
        .rate_limits(RateLimits::off())
        .start()
        .expect("the emulator starts");
    let time = SharedTime::new(&clock);
    let client = Geopera::from(
        AuthenticatedClient::builder(emu.api_key())
            .base_url(emu.base_url())
            .clock(time.clone())
            .build()
            .expect("valid configuration"),
    );
    let project = client
        .invoke_blocking("projects.create", json!({"name": "blocking"}))
        .expect("a project");
    let job = client
        .invoke_blocking(
            "processing.execute",
            json!({"process_id": JOB_FAIL_MARKER, "workspaceId": project["id"]}),
        )
        .expect("a job");
    let started = time.now();
    let error = wait::processing_job(&client, job["id"].as_str().unwrap_or_default())
        .wait_blocking()
        .expect_err("the job fails");
    assert!(matches!(error, WaitError::Failed { .. }), "{error:?}");
    assert!(
        time.now() - started >= Duration::from_secs(60),
        "emulated time passed while waiting"
    );
}

/// A blocking call made from a waiter's progress callback, while another blocking call of the
/// client is in flight (so the wait rides on the client's I/O thread): it runs, and the wait
/// ends at its deadline, where the nested call queued itself behind the wait that waited for
/// it and the client's blocking side hung for ever. With one call in flight at most, the slot
/// the nested call would wait for can be held by a call only the stopped I/O thread runs: it
/// is refused as `WouldDeadlock` then, rather than waiting for ever.
#[test]
fn a_blocking_call_from_a_waiters_callback_runs_while_other_calls_are_in_flight() {
    for cap in [None, Some(1)] {
        nested_calls_from_a_waiters_callback(cap);
    }
}

/// [`a_blocking_call_from_a_waiters_callback_runs_while_other_calls_are_in_flight`] with a
/// client holding `cap` calls in flight at most.
fn nested_calls_from_a_waiters_callback(cap: Option<usize>) {
    let emu = Emulator::builder()
        .clock(ManualClock::new())
        .rate_limits(RateLimits::off())
        .faults(
            "latency=200ms;op=api_keys.list"
                .parse()
                .expect("a fault plan"),
        )
        .start()
        .expect("the emulator starts");
    let mut builder = AuthenticatedClient::builder(emu.api_key()).base_url(emu.base_url());
    if let Some(cap) = cap {
        builder = builder.max_in_flight(cap);
    }
    let client = Geopera::from(builder.build().expect("valid configuration"));
    let project = client
        .invoke_blocking("projects.create", json!({"name": "nested"}))
        .expect("a project");
    let job = client
        .invoke_blocking(
            "processing.execute",
            json!({"process_id": "ndvi", "workspaceId": project["id"]}),
        )
        .expect("a job");
    let job = job["id"].as_str().expect("a job id").to_owned();
    let (ended, ending) = std::sync::mpsc::channel();
    let busy = client.clone();
    // Slow calls, one after the other, for as long as the wait may take: it is never alone.
    let keeps_busy = std::thread::spawn(move || {
        let started = Instant::now();
        while started.elapsed() < Duration::from_secs(3) {
            let _ = busy.invoke_blocking("api_keys.list", json!({}));
        }
    });
    std::thread::sleep(Duration::from_millis(50));
    let nested = Arc::new(Mutex::new(Vec::new()));
    let answered = nested.clone();
    let inner = client.clone();
    std::thread::spawn(move || {
        let waited = wait::processing_job(&client, &job)
            .interval(Duration::from_millis(100), Duration::from_millis(100))
            .deadline(Duration::from_secs(1))
            .on_progress(move |_| {
                let got = inner
                    .invoke_blocking("api_keys.list", json!({}))
                    .map(drop)
                    .map_err(|error| matches!(error, geopera::Error::WouldDeadlock { .. }));
                answered.lock().expect("not poisoned").push(got);
            })
            .wait_blocking();
        let _ = ended.send(waited.is_err());
    });
    let timed_out = ending
        .recv_timeout(Duration::from_secs(20))
        .unwrap_or_else(|_| panic!("cap {cap:?}: the client's blocking side hung"));
    assert!(timed_out, "the job never finishes on a frozen clock");
    let nested = nested.lock().expect("not poisoned").clone();
    assert!(!nested.is_empty(), "cap {cap:?}: the callback ran");
    for got in &nested {
        match (cap, got) {
            (_, Ok(())) | (Some(_), Err(true)) => {}
            _ => panic!("cap {cap:?}: a nested call ended {got:?}"),
        }
    }
    if cap.is_none() {
        assert!(
            nested.iter().all(Result::is_ok),
            "each nested call was answered"
        );
    }
    keeps_busy.join().expect("no panic");
}

/// A server whose `orders.get` answers `running` for the first two polls, then the final
/// answer `last` (with a member no model knows, so only the raw bytes show it).
fn order_server(last: &'static str) -> (Hostile, Geopera) {
    let polls = Arc::new(Mutex::new(0_u32));
    let server = Hostile::serve("127.0.0.1", move |_| {
        let mut polls = polls.lock().expect("not poisoned");
        *polls += 1;
        let body = if *polls <= 2 {
            r#"{"orderId":"ord_1","status":"running"}"#
        } else {
            last
        };
        crate::hostile::json(200, &[("x-poll", &polls.to_string())], body)
    });
    let client = Geopera::from(
        AuthenticatedClient::builder("gpra_test_key")
            .base_url(server.url())
            .build()
            .expect("valid configuration"),
    );
    (server, client)
}

const FULFILLED: &str = r#"{"orderId":"ord_1","status":"fulfilled","note_from_server":"kept"}"#;
const CANCELLED: &str = r#"{"orderId":"ord_1","status":"cancelled","note_from_server":"kept"}"#;

#[tokio::test]
async fn a_detailed_wait_ends_with_the_final_poll_answer_as_the_server_sent_it() {
    let (server, client) = order_server(FULFILLED);
    let answer = wait::order(&client, "ord_1")
        .interval(Duration::from_millis(10), Duration::from_millis(10))
        .detailed()
        .await
        .expect("fulfilled");
    assert_eq!(answer.content.as_ref(), FULFILLED.as_bytes());
    assert_eq!(answer.status.as_u16(), 200);
    assert_eq!(answer.operation_id, "orders.get");
    assert_eq!(
        answer.headers.get("x-poll").and_then(|v| v.to_str().ok()),
        Some("3"),
        "the answer of the poll that saw the end"
    );
    let order = answer.parsed.success().expect("the model");
    assert_eq!(order.status, Some(OrderStatus::Fulfilled));
    assert_eq!(server.seen().len(), 3, "no read beyond the polls");

    let (_server, client) = order_server(CANCELLED);
    let error = wait::order(&client, "ord_1")
        .interval(Duration::from_millis(10), Duration::from_millis(10))
        .detailed()
        .await
        .expect_err("cancelled");
    assert!(matches!(error, WaitError::Failed { .. }), "{error:?}");
    let last = error.last().expect("the final poll's answer");
    assert_eq!(last.content.as_ref(), CANCELLED.as_bytes());
    assert_eq!(
        last.parsed.success().and_then(|order| order.status.clone()),
        Some(OrderStatus::Cancelled)
    );
}

#[test]
fn a_detailed_wait_from_blocking_code_keeps_the_last_answer_at_its_deadline() {
    let (_server, client) = order_server(FULFILLED);
    let answer = wait::order(&client, "ord_1")
        .interval(Duration::from_millis(10), Duration::from_millis(10))
        .wait_blocking_detailed()
        .expect("fulfilled");
    assert_eq!(answer.content.as_ref(), FULFILLED.as_bytes());

    let (_server, client) = order_server(FULFILLED);
    let error = wait::order(&client, "ord_1")
        // Pauses of 200-400 ms: at most two polls, both `running`, before the deadline.
        .interval(Duration::from_millis(400), Duration::from_millis(400))
        .deadline(Duration::from_millis(300))
        .wait_blocking_detailed()
        .expect_err("still running at the deadline");
    assert!(matches!(error, WaitError::Deadline { .. }), "{error:?}");
    let last = error.last().expect("a poll answered");
    assert_eq!(
        last.content.as_ref(),
        br#"{"orderId":"ord_1","status":"running"}"#
    );
}

/// A clock whose sleeps end at once, moving it to the instant asked for: years of waiting
/// pass in a moment.
#[derive(Debug, Default)]
struct Leaping(Mutex<Duration>);

impl geopera::Clock for Leaping {
    fn now(&self) -> Duration {
        *self.0.lock().expect("not poisoned")
    }

    fn sleep_until(
        &self,
        at: Duration,
    ) -> std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>> {
        let mut now = self.0.lock().expect("not poisoned");
        *now = (*now).max(at);
        Box::pin(std::future::ready(()))
    }
}

/// A server whose `orders.get` answers `processing` at once, for ever, counting the polls, and
/// a client whose clock leaps to each wake-up, so no real time passes between polls.
fn processing_for_ever() -> (Hostile, Arc<Mutex<u32>>, AuthenticatedClient) {
    let polls = Arc::new(Mutex::new(0_u32));
    let counted = polls.clone();
    let server = Hostile::serve("127.0.0.1", move |_| {
        *counted.lock().expect("not poisoned") += 1;
        crate::hostile::json(200, &[], r#"{"orderId":"ord_1","status":"processing"}"#)
    });
    let client = AuthenticatedClient::builder("gpra_test_key")
        .base_url(server.url())
        .clock(Arc::new(Leaping::default()))
        .build()
        .expect("valid configuration");
    (server, polls, client)
}

/// `Duration::MAX` for the deadline and the longest pause means "no bound": the pauses grow
/// past what a `Duration` can hold times 1.5, which used to panic after about a hundred polls;
/// the wait goes on until the clock itself runs out, then ends at its deadline.
#[tokio::test]
async fn a_wait_with_no_bounds_outlasts_the_growth_of_its_pauses() {
    let (_server, polls, client) = processing_for_ever();
    let waiting = tokio::spawn(
        wait::order(&client, "ord_1")
            .deadline(Duration::MAX)
            .interval(Duration::from_secs(2), Duration::MAX)
            .into_future(),
    );
    let ended = tokio::time::timeout(Duration::from_secs(60), waiting)
        .await
        .expect("the wait ends once the clock can go no further")
        .expect("the wait does not panic");
    let polls = *polls.lock().expect("not poisoned");
    assert!(polls > 200, "{polls} polls");
    assert!(
        matches!(ended, Err(WaitError::Deadline { .. })),
        "{ended:?}"
    );
}

/// A server that answers at once is polled no faster than [`wait::MIN_INTERVAL`], the
/// shortest pause the waiter promises, even with the pauses asked for at zero: the random
/// spread of each pause used to draw as little as half of it.
#[tokio::test]
async fn no_pause_between_polls_is_shorter_than_the_minimum_interval() {
    let (_server, polls, client) = processing_for_ever();
    let deadline = Duration::from_secs(1);
    let waiting = wait::order(&client, "ord_1")
        .interval(Duration::ZERO, Duration::ZERO)
        .deadline(deadline)
        .into_future();
    let ended = tokio::time::timeout(Duration::from_secs(60), waiting)
        .await
        .expect("the wait ends at its deadline on the leaping clock");
    assert!(
        matches!(ended, Err(WaitError::Deadline { .. })),
        "{ended:?}"
    );
    let polls = *polls.lock().expect("not poisoned");
    let most = u32::try_from(deadline.as_millis() / wait::MIN_INTERVAL.as_millis())
        .expect("a small count");
    assert!(
        polls <= most,
        "{polls} polls in {deadline:?}, at most {most} allowed"
    );
    assert!(polls >= most / 2, "{polls} polls: the waiter kept polling");
}

/// A hostile `orders.get` that answers with `script` in turn (a status, and a `Retry-After`
/// for a 429), then `fulfilled` for ever; and a client on a [`Leaping`] clock that retries
/// once, waits out no `Retry-After` of a second, and reads its clock.
fn scripted(script: &'static [(u16, &'static str)]) -> (Hostile, Arc<Leaping>, Geopera) {
    let answered = Arc::new(Mutex::new(0_usize));
    let server = Hostile::serve("127.0.0.1", move |_| {
        let mut answered = answered.lock().expect("not poisoned");
        let next = script.get(*answered).copied();
        *answered += 1;
        match next {
            Some((429, retry_after)) => crate::hostile::json(
                429,
                &[("retry-after", retry_after)],
                r#"{"type":"about:blank","title":"Too Many Requests","status":429}"#,
            ),
            Some((status, _)) => crate::hostile::json(
                status,
                &[],
                &format!(r#"{{"type":"about:blank","title":"no","status":{status}}}"#),
            ),
            None => crate::hostile::json(200, &[], r#"{"orderId":"ord_1","status":"fulfilled"}"#),
        }
    });
    let clock = Arc::new(Leaping::default());
    let client = AuthenticatedClient::builder("gpra_test_key")
        .base_url(server.url())
        .clock(clock.clone())
        .retry_policy(
            geopera::RetryPolicy::default()
                .max_retries(1)
                .backoff(Duration::from_millis(10), Duration::from_millis(10))
                .max_retry_after(Duration::from_millis(100)),
        )
        .build()
        .expect("valid configuration");
    (server, clock, Geopera::from(client))
}

/// Waits with `waiter` from `face`: `async` on a runtime of its own, or `blocking`.
fn wait_from(face: &str, waiter: wait::Waiter<Order>) -> Result<Order, WaitError<Order>> {
    match face {
        "async" => tokio::runtime::Runtime::new()
            .expect("a runtime")
            .block_on(waiter.into_future()),
        _ => waiter.wait_blocking(),
    }
}

/// Poll 1: a 503, and again on the client's retry. Poll 2: a 429 asking for a second, longer
/// than the client waits out. Poll 3: the final state.
const OUTAGE: &[(u16, &str)] = &[(503, ""), (503, ""), (429, "1")];

/// A wait of days outlasts a 503 that outlasted the client's retries and a 429 the client
/// would not wait out, sleeping the second that 429 asked for, on both faces.
#[test]
fn a_wait_rides_out_a_lasting_503_and_a_long_429_on_both_faces() {
    for face in ["async", "blocking"] {
        let (server, clock, client) = scripted(OUTAGE);
        let failures = Arc::new(Mutex::new(Vec::new()));
        let seen = failures.clone();
        let waiter = wait::order(&client, "ord_1")
            .interval(Duration::from_millis(10), Duration::from_millis(10))
            .on_failure(move |error| {
                let status = error.status().map(|status| status.as_u16());
                seen.lock().expect("not poisoned").push(status);
            });
        let order = wait_from(face, waiter).unwrap_or_else(|error| panic!("{face}: {error:?}"));
        assert_eq!(order.status, Some(OrderStatus::Fulfilled), "{face}");
        assert_eq!(server.seen().len(), 4, "{face}: three polls, one retried");
        assert_eq!(
            *failures.lock().expect("not poisoned"),
            [Some(503), Some(429)],
            "{face}: each failed poll ridden out was told"
        );
        // The wait's own pauses are 10 ms; the rest is the second the 429 asked for.
        assert!(
            clock.now() >= Duration::from_secs(1),
            "{face}: the Retry-After was waited out: {:?}",
            clock.now()
        );
    }
}

/// A `Retry-After: 0` (a gateway's) does not shorten the wait's own pause: a limited
/// organization is polled at the waiter's pace, not at the floor's hundred polls a second.
#[test]
fn a_retry_after_of_zero_does_not_shorten_the_waiters_pause_on_both_faces() {
    static ZERO: &[(u16, &str)] = &[(429, "0"); 16];
    for face in ["async", "blocking"] {
        let (server, clock, client) = scripted(ZERO);
        let waiter =
            wait::order(&client, "ord_1").interval(Duration::from_secs(1), Duration::from_secs(1));
        let order = wait_from(face, waiter).unwrap_or_else(|error| panic!("{face}: {error:?}"));
        assert_eq!(order.status, Some(OrderStatus::Fulfilled), "{face}");
        // Eight polls of two attempts met the 429s, each followed by at least half a second.
        assert_eq!(server.seen().len(), 17, "{face}");
        assert!(
            clock.now() >= Duration::from_secs(4),
            "{face}: polled at the floor's pace: {:?}",
            clock.now()
        );
    }
}

/// A 403 or a 404 says the resource will not come, however long the wait: after a 503 the
/// waiter rode out, it ends the wait at once, on both faces.
#[test]
fn a_refusal_after_a_transient_failure_ends_the_wait_at_once_on_both_faces() {
    static FORBIDDEN: &[(u16, &str)] = &[(503, ""), (503, ""), (403, "")];
    static MISSING: &[(u16, &str)] = &[(503, ""), (503, ""), (404, "")];
    for (script, status) in [(FORBIDDEN, 403), (MISSING, 404)] {
        for face in ["async", "blocking"] {
            let (server, _clock, client) = scripted(script);
            let told = Arc::new(Mutex::new(0_usize));
            let count = told.clone();
            let waiter = wait::order(&client, "ord_1")
                .interval(Duration::from_millis(10), Duration::from_millis(10))
                .on_failure(move |_| *count.lock().expect("not poisoned") += 1);
            let ended = wait_from(face, waiter);
            let Err(WaitError::Call { source, .. }) = &ended else {
                panic!("{face}, {status}: not the poll's error: {ended:?}");
            };
            assert_eq!(source.status().map(|s| s.as_u16()), Some(status), "{face}");
            assert_eq!(server.seen().len(), 3, "{face}, {status}: no poll after it");
            // The 503 was ridden out and told; the refusal is the wait's result instead.
            assert_eq!(*told.lock().expect("not poisoned"), 1, "{face}, {status}");
        }
    }
}

/// A server that never answers but with a transient error keeps the wait to its deadline, and
/// no further even when a 429 asks for an hour; the deadline error names the last failure, on
/// both faces.
#[test]
fn a_wait_ended_by_its_deadline_names_the_last_failure_on_both_faces() {
    static DOWN: &[(u16, &str)] = &[(503, ""); 64];
    static LIMITED: &[(u16, &str)] = &[(429, "3600"); 64];
    for (script, status) in [(DOWN, 503), (LIMITED, 429)] {
        for face in ["async", "blocking"] {
            let (server, clock, client) = scripted(script);
            let waiter = wait::order(&client, "ord_1")
                .interval(Duration::from_secs(1), Duration::from_secs(5))
                .deadline(Duration::from_secs(30));
            let ended = wait_from(face, waiter);
            let error = ended.expect_err("never fulfilled");
            assert!(
                matches!(error, WaitError::Deadline { last: None, .. }),
                "{face}, {status}: {error:?}"
            );
            let source = std::error::Error::source(&error)
                .and_then(|source| source.downcast_ref::<geopera::Error>())
                .expect("the last poll's error");
            assert_eq!(source.status().map(|s| s.as_u16()), Some(status), "{face}");
            let message = error.to_string();
            assert!(
                message.contains("was not done within") && message.contains(&source.to_string()),
                "{face}: the message names the failure: {message}"
            );
            // Two requests a poll while the server is down; one poll when it asks for an hour.
            let polls = server.seen().len();
            match status {
                503 => assert!(polls > 2, "{face}: polled again: {polls}"),
                _ => assert_eq!(polls, 1, "{face}: slept to the deadline"),
            }
            assert!(
                clock.now() <= Duration::from_secs(30),
                "{face}, {status}: no pause past the deadline: {:?}",
                clock.now()
            );
        }
    }
}

/// A `Retry-After` of a year (a gateway's, not the API's, which asks for the rest of a minute
/// at most) is obeyed for [`wait::MAX_ASKED_PAUSE`]: the wait looks again after an hour and
/// finds the order fulfilled, where it slept to its deadline and said "not done", on both
/// faces.
#[test]
fn a_retry_after_of_a_year_is_obeyed_for_an_hour_on_both_faces() {
    static A_YEAR: &[(u16, &str)] = &[(429, "31536000")];
    for face in ["async", "blocking"] {
        let (server, clock, client) = scripted(A_YEAR);
        let waiter = wait::order(&client, "ord_1").deadline(Duration::from_secs(3 * 3600));
        let order = wait_from(face, waiter).unwrap_or_else(|error| panic!("{face}: {error:?}"));
        assert_eq!(order.status, Some(OrderStatus::Fulfilled), "{face}");
        assert_eq!(server.seen().len(), 2, "{face}: the 429, then the answer");
        let slept = clock.now();
        assert!(
            slept >= wait::MAX_ASKED_PAUSE && slept < wait::MAX_ASKED_PAUSE * 2,
            "{face}: paused for the ceiling: {slept:?}"
        );
    }
}

/// When the next pause would pass the deadline, the wait looks once more just before it: an
/// order fulfilled in the meantime is the wait's result, where the waiter slept the rest of
/// its time out and said "not done" of it, on both faces.
#[test]
fn a_wait_looks_once_more_just_before_its_deadline_on_both_faces() {
    for face in ["async", "blocking"] {
        let clock = Arc::new(Leaping::default());
        let seen_by_server = clock.clone();
        let server = Hostile::serve("127.0.0.1", move |_| {
            let status = if seen_by_server.now() >= Duration::from_secs(44) {
                "fulfilled"
            } else {
                "processing"
            };
            crate::hostile::json(
                200,
                &[],
                &format!(r#"{{"orderId":"ord_1","status":"{status}"}}"#),
            )
        });
        let client = Geopera::from(
            AuthenticatedClient::builder("gpra_test_key")
                .base_url(server.url())
                .clock(clock.clone())
                .build()
                .expect("valid configuration"),
        );
        // Every pause drawn (50 to 100 s) passes the deadline of 45 s.
        let waiter = wait::order(&client, "ord_1")
            .interval(Duration::from_secs(100), Duration::from_secs(100))
            .deadline(Duration::from_secs(45));
        let order = wait_from(face, waiter).unwrap_or_else(|error| panic!("{face}: {error:?}"));
        assert_eq!(order.status, Some(OrderStatus::Fulfilled), "{face}");
        assert_eq!(
            server.seen().len(),
            2,
            "{face}: the first poll and the last look"
        );
        assert_eq!(clock.now(), Duration::from_secs(44), "{face}");
    }
}

/// The last look before the deadline never comes sooner than a `Retry-After` asked: with
/// 120.6 s left and 120 s asked, it comes at 120 s, not a second before the deadline.
#[test]
fn the_last_look_waits_out_the_retry_after_on_both_faces() {
    static ASKS_TWO_MINUTES: &[(u16, &str)] = &[(429, "120")];
    for face in ["async", "blocking"] {
        let (server, clock, client) = scripted(ASKS_TWO_MINUTES);
        let waiter = wait::order(&client, "ord_1")
            .interval(Duration::from_secs(600), Duration::from_secs(600))
            .deadline(Duration::from_millis(120_600));
        let order = wait_from(face, waiter).unwrap_or_else(|error| panic!("{face}: {error:?}"));
        assert_eq!(order.status, Some(OrderStatus::Fulfilled), "{face}");
        assert_eq!(server.seen().len(), 2, "{face}");
        assert_eq!(clock.now(), Duration::from_secs(120), "{face}");
    }
}

/// An address where nothing listens is a wrong base URL far more often than an outage: a wait
/// whose first poll cannot connect ends at once with that error, on both faces, rather than
/// polling in silence until its deadline of days.
#[test]
fn a_wait_whose_first_poll_cannot_connect_ends_at_once_on_both_faces() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port();
    for face in ["async", "blocking"] {
        ended_at_the_first_poll(face, &format!("http://127.0.0.1:{port}"), |b| b);
    }
}

/// Waits on `face` for an order at `base_url`, with a client `configure` sets up further, and
/// checks the wait ended at its first poll with that poll's error, a connection that could not
/// be made, no pause slept: that error.
fn ended_at_the_first_poll(
    face: &str,
    base_url: &str,
    configure: impl FnOnce(
        geopera::ClientBuilder<AuthenticatedClient>,
    ) -> geopera::ClientBuilder<AuthenticatedClient>,
) -> geopera::Error {
    let clock = Arc::new(Leaping::default());
    let client = Geopera::from(
        configure(
            AuthenticatedClient::builder("gpra_test_key")
                .base_url(base_url)
                .clock(clock.clone())
                .retry_policy(geopera::RetryPolicy::none()),
        )
        .build()
        .expect("valid configuration"),
    );
    // A minute of the leaping clock bounds the test should the wait go on polling.
    let waiter = wait::order(&client, "ord_1")
        .interval(Duration::from_secs(1), Duration::from_secs(1))
        .deadline(Duration::from_secs(60));
    let ended = wait_from(face, waiter);
    let Err(WaitError::Call { source, .. }) = ended else {
        panic!("{face}: not the poll's error: {ended:?}");
    };
    assert!(source.is_connect(), "{face}: {source:?}");
    assert!(
        clock.now() < Duration::from_secs(1),
        "{face}: no pause was slept: {:?}",
        clock.now()
    );
    source
}

/// A first poll whose connection times out (a host that drops the connection's first packet,
/// as a firewall does) ends the wait at once too, as a refused one does: a connect timeout
/// is a connection that could not be made (`Error::is_connect`), and the wait polled on to
/// its deadline instead.
#[test]
fn a_wait_whose_first_poll_times_out_connecting_ends_at_once_on_both_faces() {
    // A listener that takes one connection into its queue and accepts none: once the queue is
    // full, the kernel drops each new connection's first packet, and connecting times out.
    let runtime = tokio::runtime::Runtime::new().expect("a runtime");
    let listener = runtime.block_on(async {
        let socket = tokio::net::TcpSocket::new_v4().expect("a socket");
        socket
            .bind("127.0.0.1:0".parse().expect("an address"))
            .expect("a free port");
        socket.listen(0).expect("listening")
    });
    let addr = listener.local_addr().expect("bound");
    let mut queued = Vec::new();
    let full = (0..16).any(|_| {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(300)) {
            Ok(stream) => {
                queued.push(stream);
                false
            }
            Err(_) => true,
        }
    });
    assert!(full, "the queue filled after {} connections", queued.len());
    for face in ["async", "blocking"] {
        let source = ended_at_the_first_poll(face, &format!("http://{addr}"), |b| {
            b.connect_timeout(Duration::from_millis(100))
        });
        assert!(
            matches!(
                source,
                geopera::Error::Timeout {
                    limit: geopera::TimeoutLimit::Connection,
                    ..
                }
            ),
            "{face}: {source:?}"
        );
    }
    drop(listener);
}

/// A job whose outputs are registered reads as a `Job` still, its outputs the list the
/// contract gives them (`processing.job.register` takes an array), each one's link kept out
/// of `Debug`: typed as an object, such a job was an undecodable answer.
#[tokio::test]
async fn a_job_with_registered_outputs_is_read_with_them() {
    let (_emu, client) = on_shared_time();
    let job = start_job(&client, "ndvi").await;
    wait::processing_job(&client, &job)
        .await
        .expect("the job succeeds");
    call(&client, "processing.job.register", json!({"job_id": job})).await;
    let read = geopera::operations::processing_job_get::send(
        &client,
        geopera::models::JobGetInput::new(&job),
    )
    .await
    .expect("a job with outputs");
    let outputs = read.outputs.clone().expect("outputs");
    let href = outputs[0]["href"].as_str().expect("a link");
    let (_, query) = href.split_once('?').expect("a signed link");
    assert!(!format!("{read:?}").contains(query), "{read:?}");
    // Listed, the job keeps the link out of `Debug` too, page and item alike.
    let page = geopera::operations::processing_jobs_list::send(
        &client,
        geopera::models::JobsListInput::new(),
    )
    .await
    .expect("a page of jobs");
    let shown = format!("{page:?}");
    assert!(shown.contains(&job) && !shown.contains(query), "{shown}");
    let mut items = geopera::operations::processing_jobs_list::items(
        &client,
        geopera::models::JobsListInput::new(),
    );
    let item = futures::StreamExt::next(&mut items)
        .await
        .expect("an item")
        .expect("a job");
    assert!(!format!("{item:?}").contains(query), "{item:?}");
}
