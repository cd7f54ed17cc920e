//! Uploads: quota reserved on initiate and used on complete, bytes streamed to signed URLs
//! and bounded by the declared size, transitions refused once an upload has ended, uploads
//! left idle expiring, and uploads kept in the state file.

use std::io::Read;

use geopera_emulator::{
    Emulator, RateLimits, BODY_IDLE_TIMEOUT, DEMO_ORG, MAX_UPLOAD_BYTES, STORAGE_QUOTA_BYTES,
    UPLOAD_IDLE_SECS, UPLOAD_PUT_MIN_SECS, UPLOAD_URL_SECS,
};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::common::Api;
use crate::state::TempFile;
use crate::webhooks::{drain, local, subscribe, Receiver};

/// The default project exists from the organization's first call, whatever operation that
/// is: an upload into it, or a processing job in it, as the very first request.
#[test]
fn the_default_project_is_there_for_the_first_call_of_any_operation() {
    for (op, mut body) in [
        ("uploads.initiate", json!({"total_bytes": 1})),
        ("processing.create", json!({"process_id": "ndvi"})),
    ] {
        let api = Api::start();
        let project = api.emu.default_project(DEMO_ORG);
        body["project_id"] = json!(project);
        let answer = api.call(op, body);
        assert!(
            (200..300).contains(&answer.status),
            "{op}: {} {:?}",
            answer.status,
            answer.body
        );
    }
}

fn project(api: &Api) -> String {
    let created = api.call("projects.create", json!({"name": "uploads"}));
    assert_eq!(created.status, 200, "{:?}", created.body);
    created.json()["id"].as_str().expect("id").to_owned()
}

fn initiate(api: &Api, project: &str, total_bytes: i64) -> Value {
    api.ok(
        "uploads.initiate",
        json!({"project_id": project, "total_bytes": total_bytes}),
    )
}

/// A new upload of `total_bytes` into `project`: its id.
fn upload_id(api: &Api, project: &str, total_bytes: i64) -> String {
    initiate(api, project, total_bytes)["id"]
        .as_str()
        .expect("id")
        .to_owned()
}

fn signed_url(api: &Api, upload: &str, file_name: &str) -> String {
    api.ok(
        "uploads.signed_url",
        json!({"upload_id": upload, "file_name": file_name, "content_type": "image/tiff"}),
    )["upload_url"]
        .as_str()
        .expect("upload_url")
        .to_owned()
}

fn put(api: &Api, url: &str, body: impl Into<reqwest::blocking::Body>) -> (u16, Value) {
    let answer = api.http.put(url).body(body).send().expect("PUT completes");
    let status = answer.status().as_u16();
    (status, answer.json().unwrap_or(Value::Null))
}

/// A deterministic stream of `left` bytes, produced as it is read.
struct Pattern {
    left: u64,
    at: u64,
}

impl Read for Pattern {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        for byte in &mut buf[..n] {
            *byte = (self.at % 251) as u8;
            self.at += 1;
        }
        self.left -= n as u64;
        Ok(n)
    }
}

#[test]
fn fifty_megabytes_stream_to_a_signed_url_and_complete() {
    const SIZE: u64 = 50 * 1024 * 1024;
    let api = Api::start();
    let project = project(&api);
    let upload = initiate(&api, &project, SIZE as i64);
    let id = upload["id"].as_str().expect("id").to_owned();
    assert!(id.starts_with("u_"));
    assert_eq!(upload["status"], "pending");
    assert_eq!(upload["storage"]["reserved_bytes"], SIZE);
    assert_eq!(upload["storage"]["used_bytes"], 0);
    assert_eq!(upload["storage"]["quota_bytes"], STORAGE_QUOTA_BYTES);

    let early = api.call("uploads.complete", json!({"upload_id": id}));
    assert_eq!(early.status, 409, "no bytes yet");

    let url = signed_url(&api, &id, "scene one.tif");
    assert!(url.starts_with(api.emu.base_url().as_str()));
    let body = reqwest::blocking::Body::sized(Pattern { left: SIZE, at: 0 }, SIZE);
    let (status, file) = put(&api, &url, body);
    assert_eq!(status, 200, "{file}");
    assert_eq!(file["size"], SIZE);
    assert_eq!(file["file_name"], "scene one.tif");
    let mut expected = Sha256::new();
    let mut pattern = Pattern { left: SIZE, at: 0 };
    let mut chunk = vec![0u8; 1 << 16];
    loop {
        let n = pattern.read(&mut chunk).expect("read");
        if n == 0 {
            break;
        }
        expected.update(&chunk[..n]);
    }
    let expected: String = expected
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    assert_eq!(file["sha256"], expected);

    let progress = api.ok(
        "uploads.progress",
        json!({"upload_id": id, "status": "uploading", "bytes_uploaded": SIZE}),
    );
    assert_eq!(progress["bytes_uploaded"], SIZE);
    let back = api.call(
        "uploads.progress",
        json!({"upload_id": id, "status": "pending"}),
    );
    assert_eq!(
        back.status, 409,
        "an upload holding files is not pending again"
    );
    assert_eq!(
        api.ok("uploads.progress", json!({"upload_id": id}))["status"],
        "uploading"
    );
    let done = api.ok("uploads.complete", json!({"upload_id": id}));
    assert_eq!(done["status"], "completed");
    assert_eq!(done["storage"]["reserved_bytes"], 0);
    assert_eq!(done["storage"]["used_bytes"], SIZE);
    assert_eq!(done["files"][0]["sha256"], expected);

    for (op, body) in [
        ("uploads.complete", json!({"upload_id": id})),
        (
            "uploads.fail",
            json!({"upload_id": id, "error_message": "late"}),
        ),
        (
            "uploads.progress",
            json!({"upload_id": id, "bytes_uploaded": 1}),
        ),
        (
            "uploads.signed_url",
            json!({"upload_id": id, "file_name": "x"}),
        ),
    ] {
        assert_eq!(api.call(op, body).status, 409, "{op} after complete");
    }
    // A progress report of nothing changes nothing, so it may read the ended upload.
    let read = api.ok("uploads.progress", json!({"upload_id": id}));
    assert_eq!(read["status"], "completed");
    let (status, _) = put(&api, &url, "late");
    assert_eq!(status, 403, "an ended upload's URLs stop working");
}

#[test]
fn the_quota_refuses_what_does_not_fit_until_a_failure_releases_it() {
    let api = Api::start();
    let project = project(&api);
    let half = STORAGE_QUOTA_BYTES / 2;
    assert!(half <= MAX_UPLOAD_BYTES);
    let first = initiate(&api, &project, half)["id"].clone();
    let second = initiate(&api, &project, half);
    assert_eq!(second["storage"]["free_bytes"], 0);
    let refused = api.call(
        "uploads.initiate",
        json!({"project_id": project, "total_bytes": 1}),
    );
    assert_eq!(refused.status, 402);
    assert_eq!(refused.content_type(), "application/problem+json");

    let failed = api.ok(
        "uploads.fail",
        json!({"upload_id": first, "error_message": "disk on fire", "error_step": "transfer"}),
    );
    assert_eq!(failed["status"], "failed");
    assert_eq!(failed["error_step"], "transfer");
    assert_eq!(failed["storage"]["reserved_bytes"], half);
    let again = initiate(&api, &project, half);
    assert_eq!(again["storage"]["free_bytes"], 0);

    let too_big = api.call(
        "uploads.initiate",
        json!({"project_id": project, "total_bytes": MAX_UPLOAD_BYTES + 1}),
    );
    assert_eq!(too_big.status, 422);
    let unknown = api.call(
        "uploads.initiate",
        json!({"project_id": "prj_missing", "total_bytes": 1}),
    );
    assert_eq!(unknown.status, 404);
    let other = api.emu.create_key_in_org("org_other", &["*"]);
    let theirs = api.call_as(
        &other,
        "uploads.initiate",
        json!({"project_id": project, "total_bytes": 1}),
    );
    assert_eq!(theirs.status, 404, "another organization's project");
    let peek = api.call_as(
        &other,
        "uploads.progress",
        json!({"upload_id": first, "status": "uploading"}),
    );
    assert_eq!(peek.status, 404, "another organization's upload");
}

#[test]
fn a_put_beyond_the_declared_size_or_with_a_wrong_token_is_refused() {
    let api = Api::start();
    let project = project(&api);
    let id = upload_id(&api, &project, 10);
    let url = signed_url(&api, &id, "a.bin");

    let (status, problem) = put(&api, &url, vec![7u8; 11]);
    assert_eq!(status, 413, "{problem}");
    // Without a length, the count stops it as it streams.
    let chunked = reqwest::blocking::Body::new(Pattern { left: 64, at: 0 });
    let (status, _) = put(&api, &url, chunked);
    assert_eq!(status, 413);

    let forged = url.replace(&url[url.len() - 70..url.len() - 6], &"0".repeat(64));
    assert_ne!(forged, url);
    let (status, wrong_token) = put(&api, &forged, vec![1u8; 4]);
    assert_eq!(status, 403);
    let other_file = url.replace("a.bin", "b.bin");
    assert_eq!(put(&api, &other_file, vec![1u8; 4]).0, 403);
    // An upload id that does not exist is answered exactly as a wrong token, so the answer
    // does not say which ids exist.
    let missing = forged.replace(&id, "u_000000000000");
    assert_ne!(missing, forged);
    assert_eq!(put(&api, &missing, vec![1u8; 4]), (403, wrong_token));

    api.emu.clock().advance(std::time::Duration::from_secs(901));
    assert_eq!(put(&api, &url, vec![1u8; 10]).0, 403, "expired");
    let url = signed_url(&api, &id, "a.bin");
    assert_eq!(put(&api, &url, vec![1u8; 10]).0, 200);
    let done = api.ok("uploads.complete", json!({"upload_id": id}));
    assert_eq!(done["bytes_received"], 10);
}

/// Regression: a `PUT`'s `Content-Type` was kept as the file's whatever its length, so each
/// file could hold what a header holds (hundreds of kilobytes), outside the organization's
/// storage budget. One longer than `uploads.signed_url` takes is refused and keeps nothing.
#[test]
fn a_put_whose_content_type_is_oversized_keeps_nothing() {
    let api = Api::start();
    let project = project(&api);
    let id = upload_id(&api, &project, 8);
    let url = signed_url(&api, &id, "a.bin");
    let put_as = |kind: &str| {
        let answer = api
            .http
            .put(&url)
            .header("content-type", kind)
            .body(vec![1u8; 4])
            .send()
            .expect("PUT completes");
        let status = answer.status().as_u16();
        (status, answer.json().unwrap_or(Value::Null))
    };
    let oversized = format!("image/{}", "x".repeat(50_000));
    let (status, problem) = put_as(&oversized);
    assert_eq!(status, 400, "{}", problem.to_string().len());
    assert!(problem["detail"]
        .as_str()
        .is_some_and(|detail| detail.contains("1024")));
    let upload = api.ok("uploads.progress", json!({"upload_id": id}));
    assert_eq!(upload["files"], json!([]), "nothing kept");

    let longest = format!("image/{}", "x".repeat(1024 - "image/".len()));
    let (status, file) = put_as(&longest);
    assert_eq!(status, 200, "{file}");
    assert_eq!(file["content_type"], longest.as_str());
}

#[test]
fn uploads_survive_a_restart() {
    let file = TempFile::new("uploads");
    let start = || {
        Api::with(
            Emulator::builder()
                .seed(6)
                .rate_limits(RateLimits::off())
                .state_file(&file.0),
        )
    };
    let (open, done) = {
        let api = start();
        let project = project(&api);
        let open = initiate(&api, &project, 1000)["id"].clone();
        let done = upload_id(&api, &project, 3);
        let url = signed_url(&api, &done, "f");
        assert_eq!(put(&api, &url, "abc").0, 200);
        api.ok("uploads.complete", json!({"upload_id": done}));
        (open, done)
    };
    let api = start();
    let progress = api.ok(
        "uploads.progress",
        json!({"upload_id": open, "bytes_uploaded": 10}),
    );
    assert_eq!(progress["storage"]["reserved_bytes"], 1000);
    assert_eq!(progress["storage"]["used_bytes"], 3);
    assert_eq!(
        api.call("uploads.complete", json!({"upload_id": done}))
            .status,
        409
    );
}

/// A `PUT` of `upload`'s file `name` whose head and first 10 of 20 bytes are sent: its URL
/// has been checked once the emulator asks for the body (`100 Continue`). Then `meanwhile`
/// runs and the rest is sent; the answer's status line comes back.
fn a_put_with_a_pause(api: &Api, upload: &str, name: &str, meanwhile: impl FnOnce()) -> String {
    use std::io::{BufRead, BufReader, Write};

    let url = signed_url(api, upload, name);
    let (path, address) = raw_target(api, &url);
    let mut peer = std::net::TcpStream::connect(&address).expect("connect");
    peer.set_read_timeout(Some(std::time::Duration::from_secs(20)))
        .expect("timeout");
    write!(
        peer,
        "PUT {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 20\r\nExpect: 100-continue\r\n\r\n"
    )
    .expect("head");
    let mut reader = BufReader::new(peer.try_clone().expect("a second handle"));
    let mut line = String::new();
    reader.read_line(&mut line).expect("an interim answer");
    assert!(line.contains(" 100 "), "{line}");
    // The interim answer's empty line.
    reader.read_line(&mut String::new()).expect("its end");
    peer.write_all(&[1u8; 10]).expect("half the bytes");
    meanwhile();
    peer.write_all(&[1u8; 10]).expect("the rest");
    let mut status = String::new();
    reader.read_line(&mut status).expect("an answer");
    status
}

/// A signed URL is checked as its PUT starts, as a storage service checks one: a long PUT
/// that began in time is kept though the URL expires while its bytes are on the way, where
/// it sent every byte and was then refused. An upload left idle past its time meanwhile (the
/// clock moved on a day) expires, though, and keeps nothing.
#[test]
fn a_put_begun_before_its_url_expired_is_kept_unless_its_upload_expired() {
    let api = Api::start();
    let project = project(&api);
    let id = upload_id(&api, &project, 20);
    let advance = |secs: i64| {
        api.emu
            .clock()
            .advance(std::time::Duration::from_secs(secs.unsigned_abs()));
    };
    let status = a_put_with_a_pause(&api, &id, "long.bin", || advance(UPLOAD_URL_SECS + 60));
    assert!(status.contains(" 200 "), "{status}");
    let done = api.ok("uploads.complete", json!({"upload_id": id}));
    assert_eq!(done["bytes_received"], 20);

    let id = upload_id(&api, &project, 20);
    let status = a_put_with_a_pause(&api, &id, "idle.bin", || advance(UPLOAD_IDLE_SECS + 60));
    assert!(status.contains(" 409 "), "{status}");
    let read = api.ok("uploads.progress", json!({"upload_id": id}));
    assert_eq!(read["status"], "failed", "{read}");
    assert_eq!(read["error_step"], "expired", "{read}");
    assert_eq!(read["bytes_received"], 0, "{read}");
}

#[test]
fn a_put_that_stops_sending_is_ended_with_408() {
    use std::io::{BufRead, BufReader, Write};

    let api = Api::start();
    let project = project(&api);
    let id = upload_id(&api, &project, 1000);
    let url = signed_url(&api, &id, "slow.bin");
    let path = url
        .split_once("127.0.0.1:")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(_, path)| format!("/{path}"))
        .expect("a path");
    let address = api.emu.base_url().trim_start_matches("http://").to_owned();
    let mut peer = std::net::TcpStream::connect(&address).expect("connect");
    peer.set_read_timeout(Some(std::time::Duration::from_secs(
        BODY_IDLE_TIMEOUT.as_secs() + 15,
    )))
    .expect("timeout");
    write!(
        peer,
        "PUT {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 1000\r\n\r\n"
    )
    .expect("head");
    peer.write_all(&[1u8; 10]).expect("ten bytes, then nothing");
    let started = std::time::Instant::now();
    let mut status = String::new();
    BufReader::new(&peer)
        .read_line(&mut status)
        .expect("an answer before the read timeout");
    assert!(status.contains(" 408 "), "{status}");
    assert!(started.elapsed() >= BODY_IDLE_TIMEOUT - std::time::Duration::from_secs(1));
    // Nothing was kept: completing finds no bytes.
    let done = api.call("uploads.complete", json!({"upload_id": id}));
    assert_eq!(done.status, 409);
}

#[test]
fn a_file_name_that_is_not_one_path_component_is_refused() {
    let api = Api::start();
    let project = project(&api);
    let id = upload_id(&api, &project, 1000);
    for name in [
        "../../etc/passwd",
        "/abs.tif",
        "..",
        ".",
        "a\\b.tif",
        "nul\u{0}.tif",
    ] {
        let resp = api.call(
            "uploads.signed_url",
            json!({"upload_id": id, "file_name": name, "content_type": "image/tiff"}),
        );
        assert_eq!(resp.status, 422, "{name:?}");
        assert_eq!(
            resp.json()["detail"][0]["loc"],
            json!(["body", "file_name"])
        );
    }
    signed_url(&api, &id, "scene..v2.tif");
}

/// Regression: a blank name was signed, while the SDK refuses one by the same rule before it
/// reserves anything; the file would have been stored under a name no one can find it by.
#[test]
fn a_blank_file_name_is_refused() {
    let api = Api::start();
    let project = project(&api);
    let id = upload_id(&api, &project, 1000);
    for name in [" ", "   ", "\u{3000}"] {
        let resp = api.call(
            "uploads.signed_url",
            json!({"upload_id": id, "file_name": name, "content_type": "image/tiff"}),
        );
        assert_eq!(resp.status, 422, "{name:?}");
        assert_eq!(
            resp.json()["detail"][0]["loc"],
            json!(["body", "file_name"])
        );
    }
    signed_url(&api, &id, " scene.tif");
}

/// An upload declared with a number of files completes only once that many have arrived,
/// as it completes only once all its bytes have.
#[test]
fn an_upload_completes_only_with_the_files_it_declared() {
    let api = Api::start();
    let project = project(&api);
    let upload = api.ok(
        "uploads.initiate",
        json!({"project_id": project, "total_bytes": 6, "file_count": 2}),
    );
    let id = upload["id"].as_str().expect("id").to_owned();
    let url = signed_url(&api, &id, "one.tif");
    let (status, _) = put(
        &api,
        &url,
        reqwest::blocking::Body::from(b"abcdef".to_vec()),
    );
    assert_eq!(status, 200);
    let early = api.call("uploads.complete", json!({"upload_id": id}));
    assert_eq!(
        early.status,
        409,
        "{}",
        String::from_utf8_lossy(&early.body)
    );
    assert!(String::from_utf8_lossy(&early.body).contains("1 of its 2 files"));
}

/// Regression: an upload signed and kept files beyond its declared `file_count`, and then
/// completed with them. A name beyond the count is refused with a 409 that names the limit,
/// and nothing is signed or kept for it; a name the upload already has may be signed again.
#[test]
fn an_upload_takes_no_more_files_than_it_declared() {
    let api = Api::start();
    let project = project(&api);
    let id = api.ok(
        "uploads.initiate",
        json!({"project_id": project, "total_bytes": 9, "file_count": 2}),
    )["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let one = signed_url(&api, &id, "one.tif");
    let two = signed_url(&api, &id, "two.tif");
    let extra = api.call(
        "uploads.signed_url",
        json!({"upload_id": id, "file_name": "three.tif", "content_type": "image/tiff"}),
    );
    let body = String::from_utf8_lossy(&extra.body).into_owned();
    assert_eq!(extra.status, 409, "{body}");
    assert_eq!(extra.content_type(), "application/problem+json");
    assert!(body.contains("file_count 2"), "{body}");
    assert!(!body.contains("upload_url"), "{body}");

    assert_eq!(put(&api, &one, "abc").0, 200);
    assert_eq!(put(&api, &two, "def").0, 200);
    // Once both have arrived, still no third name; the first may be sent again.
    let extra = api.call(
        "uploads.signed_url",
        json!({"upload_id": id, "file_name": "three.tif"}),
    );
    assert_eq!(
        extra.status,
        409,
        "{}",
        String::from_utf8_lossy(&extra.body)
    );
    let again = signed_url(&api, &id, "one.tif");
    assert_eq!(put(&api, &again, "abcdef").0, 200);

    let done = api.ok("uploads.complete", json!({"upload_id": id}));
    let names: Vec<&str> = done["files"]
        .as_array()
        .expect("files")
        .iter()
        .filter_map(|file| file["file_name"].as_str())
        .collect();
    assert_eq!(names, ["two.tif", "one.tif"], "{done}");
    assert_eq!(done["bytes_received"], 9);

    // The default `file_count` is 1.
    let single = upload_id(&api, &project, 3);
    signed_url(&api, &single, "only.tif");
    let second = api.call(
        "uploads.signed_url",
        json!({"upload_id": single, "file_name": "second.tif"}),
    );
    assert_eq!(
        second.status,
        409,
        "{}",
        String::from_utf8_lossy(&second.body)
    );
}

/// A URL signed for a name beyond the upload's `file_count` before that was refused (kept in
/// a state file) takes nothing: its `PUT` is 409 and the upload's files stay as they were.
#[test]
fn a_url_for_a_file_beyond_the_declared_count_keeps_nothing_after_a_restart() {
    let file = TempFile::new("uploads-count");
    let start = || {
        Api::with(
            Emulator::builder()
                .seed(6)
                .rate_limits(RateLimits::off())
                .state_file(&file.0),
        )
    };
    let (id, extra) = {
        let api = start();
        let project = project(&api);
        let id = api.ok(
            "uploads.initiate",
            json!({"project_id": project, "total_bytes": 6, "file_count": 2}),
        )["id"]
            .as_str()
            .expect("id")
            .to_owned();
        let one = signed_url(&api, &id, "one.tif");
        let extra = signed_url(&api, &id, "two.tif");
        assert_eq!(put(&api, &one, "abc").0, 200);
        let path = extra
            .strip_prefix(api.emu.base_url().as_str())
            .expect("a URL on the emulator")
            .to_owned();
        (id, path)
    };
    {
        // The upload as a state file written before the count was enforced could hold it:
        // a live URL for a name beyond `file_count`.
        let sqlite = rusqlite::Connection::open(&file.0).expect("the state file opens");
        let record: String = sqlite
            .query_row("SELECT record FROM resources WHERE id = ?1", [&id], |row| {
                row.get(0)
            })
            .expect("the upload's row");
        let mut record: Value = serde_json::from_str(&record).expect("JSON");
        assert_eq!(record["fields"]["file_count"], 2, "{record}");
        record["fields"]["file_count"] = json!(1);
        sqlite
            .execute(
                "UPDATE resources SET record = ?1 WHERE id = ?2",
                (record.to_string(), &id),
            )
            .expect("edited");
    }
    let api = start();
    let extra = format!("{}{extra}", api.emu.base_url());
    let (status, problem) = put(&api, &extra, "def");
    assert_eq!(status, 409, "{problem}");
    assert!(problem["detail"]
        .as_str()
        .is_some_and(|detail| detail.contains("file_count 1")));
    let read = api.ok("uploads.progress", json!({"upload_id": id}));
    assert_eq!(read["files"].as_array().map(Vec::len), Some(1), "{read}");
    assert_eq!(read["bytes_received"], 3);
}

/// An upload takes at most 1,000 files, so one declared with more could never complete and
/// would hold its reservation until failed: it is refused when initiated, at `file_count`,
/// and reserves nothing.
#[test]
fn an_upload_declaring_more_files_than_it_can_take_is_refused_at_initiate() {
    let api = Api::start();
    let project = project(&api);
    let refused = api.call(
        "uploads.initiate",
        json!({"project_id": project, "total_bytes": 1024, "file_count": 1001}),
    );
    assert_eq!(
        refused.status,
        422,
        "{}",
        String::from_utf8_lossy(&refused.body)
    );
    assert_eq!(
        refused.json()["detail"][0]["loc"],
        json!(["body", "file_count"])
    );
    let most = api.ok(
        "uploads.initiate",
        json!({"project_id": project, "total_bytes": 1024, "file_count": 1000}),
    );
    // Only the upload that was let in holds a reservation.
    assert_eq!(most["storage"]["reserved_bytes"], 1024);
}

/// Deleting a project fails its open uploads: their reservations come back, and nothing more
/// can be sent to them or completed into the project that is gone.
#[test]
fn deleting_a_project_releases_its_open_uploads() {
    const SIZE: i64 = 5 << 30;
    let api = Api::start();
    let doomed = project(&api);
    let upload = initiate(&api, &doomed, SIZE);
    assert_eq!(upload["storage"]["reserved_bytes"], SIZE);
    let id = upload["id"].as_str().expect("id").to_owned();
    let url = signed_url(&api, &id, "late.tif");

    api.ok("projects.delete", json!({"project_id": doomed}));

    // The space came back: another project's upload reserves only its own.
    let other = project(&api);
    let next = initiate(&api, &other, 10);
    assert_eq!(next["storage"]["reserved_bytes"], 10, "{next}");
    // The upload is over: it cannot be failed again.
    let again = api.call(
        "uploads.fail",
        json!({"upload_id": id, "error_message": "again"}),
    );
    assert_eq!(
        again.status,
        409,
        "{}",
        String::from_utf8_lossy(&again.body)
    );
    assert_eq!(
        api.call(
            "uploads.signed_url",
            json!({"upload_id": id, "file_name": "x.tif"})
        )
        .status,
        409
    );
    let (status, _) = put(&api, &url, reqwest::blocking::Body::from(b"late".to_vec()));
    assert!(status >= 400, "{status}");
    assert_eq!(
        api.call("uploads.complete", json!({"upload_id": id}))
            .status,
        409
    );
}

/// The path of a signed URL on the emulator, and the emulator's `host:port`.
fn raw_target(api: &Api, url: &str) -> (String, String) {
    let path = url
        .split_once("127.0.0.1:")
        .and_then(|(_, rest)| rest.split_once('/'))
        .map(|(_, path)| format!("/{path}"))
        .expect("a path");
    let address = api.emu.base_url().trim_start_matches("http://").to_owned();
    (path, address)
}

#[test]
fn a_put_that_trickles_its_body_is_ended_at_its_overall_deadline() {
    use std::io::{BufRead, BufReader, Write};

    let api = Api::start();
    let project = project(&api);
    let id = upload_id(&api, &project, 1000);
    let url = signed_url(&api, &id, "trickle.bin");
    let (path, address) = raw_target(&api, &url);
    let mut peer = std::net::TcpStream::connect(&address).expect("connect");
    // A kilobyte's deadline is the floor.
    let deadline = std::time::Duration::from_secs(UPLOAD_PUT_MIN_SECS + 1);
    peer.set_read_timeout(Some(deadline + std::time::Duration::from_secs(15)))
        .expect("timeout");
    write!(
        peer,
        "PUT {path} HTTP/1.1\r\nHost: {address}\r\nContent-Length: 1000\r\n\r\n"
    )
    .expect("head");
    let started = std::time::Instant::now();
    // A byte every few seconds: never idle for the idle timeout, never done.
    let mut writer = peer.try_clone().expect("a second handle");
    let trickle = std::thread::spawn(move || {
        while started.elapsed() < deadline + std::time::Duration::from_secs(15) {
            if writer.write_all(&[1u8]).is_err() {
                break;
            }
            std::thread::sleep(BODY_IDLE_TIMEOUT / 6);
        }
    });
    let mut status = String::new();
    BufReader::new(&peer)
        .read_line(&mut status)
        .expect("an answer before the read timeout");
    let took = started.elapsed();
    assert!(status.contains(" 408 "), "{status}");
    assert!(
        took >= std::time::Duration::from_secs(UPLOAD_PUT_MIN_SECS - 1)
            && took < deadline + std::time::Duration::from_secs(10),
        "{took:?}"
    );
    let _ = peer.shutdown(std::net::Shutdown::Both);
    let _ = trickle.join();
    let done = api.call("uploads.complete", json!({"upload_id": id}));
    assert_eq!(done.status, 409, "nothing was kept");
}

/// `projects.delete` deletes "a workspace and all its data": the bytes of its completed
/// uploads go with it, are answered as `storage_freed_bytes`, and no longer count against the
/// organization's quota. Nothing else frees them, so once kept they would fill the quota for
/// good.
#[test]
fn deleting_a_project_frees_the_storage_of_its_uploads() {
    let api = Api::start();
    let doomed = project(&api);
    let upload = upload_id(&api, &doomed, 1000);
    let url = signed_url(&api, &upload, "scene.tif");
    assert_eq!(put(&api, &url, vec![7u8; 1000]).0, 200);
    let done = api.ok("uploads.complete", json!({"upload_id": upload}));
    assert_eq!(done["storage"]["used_bytes"], 1000, "{done}");

    let deleted = api.ok("projects.delete", json!({"project_id": doomed}));
    let kept = project(&api);
    let storage = initiate(&api, &kept, 0)["storage"].clone();
    assert_eq!(
        (
            deleted["storage_freed_bytes"].clone(),
            storage["used_bytes"].clone()
        ),
        (json!(1000), json!(0)),
        "{deleted} {storage}"
    );
}

/// The storage a deleted project freed stays free after a restart, and only that project's
/// uploads went: another project's completed upload still counts and still reads back.
#[test]
fn storage_freed_by_deleting_a_project_stays_free_after_a_restart() {
    let file = TempFile::new("freed");
    let start = || {
        Api::with(
            Emulator::builder()
                .seed(7)
                .rate_limits(RateLimits::off())
                .state_file(&file.0),
        )
    };
    let completed = |api: &Api, project: &str, bytes: usize| {
        let upload = upload_id(api, project, bytes as i64);
        let url = signed_url(api, &upload, "scene.tif");
        assert_eq!(put(api, &url, vec![7u8; bytes]).0, 200);
        api.ok("uploads.complete", json!({"upload_id": upload}));
        upload
    };
    let (kept, gone) = {
        let api = start();
        let doomed = project(&api);
        let kept = project(&api);
        let gone = completed(&api, &doomed, 1000);
        completed(&api, &doomed, 24);
        let kept = completed(&api, &kept, 7);
        let deleted = api.ok("projects.delete", json!({"project_id": doomed}));
        assert_eq!(deleted["storage_freed_bytes"], 1024, "{deleted}");
        (kept, gone)
    };
    let api = start();
    let read = api.ok("uploads.progress", json!({"upload_id": kept}));
    assert_eq!(read["storage"]["used_bytes"], 7, "{read}");
    assert_eq!(
        api.call("uploads.progress", json!({"upload_id": gone}))
            .status,
        404
    );
}

/// Regression: an upload URL expired up to a second after the `expires_at` it was answered
/// with (its expiry kept the milliseconds of the request and was refused only past them),
/// while a download link stops at its `expires_at`. Both are now stamped in whole seconds of
/// the emulator's clock, name the same instant when handed out together, work until the
/// millisecond before it and are 403 from it on.
#[test]
fn an_upload_url_and_a_download_link_stop_at_the_expires_at_they_name() {
    use std::time::Duration;

    let api = Api::start();
    let project = project(&api);
    let id = upload_id(&api, &project, 100);
    let item = api.ok(
        "items.create",
        json!({"project_id": project, "name": "scene", "type": "satellite_capture"}),
    )["id"]
        .as_str()
        .expect("item id")
        .to_owned();
    let asset = api.ok("items.list_assets", json!({"item_id": item}))["assets"][0]["id"]
        .as_str()
        .expect("asset id")
        .to_owned();
    // Handed out partway through a second of the emulator's clock.
    api.emu.clock().advance(Duration::from_millis(400));
    let upload = api.ok(
        "uploads.signed_url",
        json!({"upload_id": id, "file_name": "a.bin", "content_type": "image/tiff"}),
    );
    let download = api.ok(
        "items.asset.download",
        json!({"item_id": item, "asset_id": asset}),
    );
    // The emulator's clock starts at 2025-01-01T00:00:00Z; both last 15 minutes.
    assert_eq!(upload["expires_at"], "2025-01-01T00:15:00Z");
    assert_eq!(download["expires_at"], upload["expires_at"]);
    let upload_url = upload["upload_url"].as_str().expect("upload_url");
    let download_url = download["url"].as_str().expect("url");
    let get = |url: &str| api.http.get(url).send().expect("GET").status().as_u16();

    // 2025-01-01T00:14:59.999Z: both still work.
    api.emu.clock().advance(Duration::from_millis(899_599));
    assert_eq!(put(&api, upload_url, vec![1u8; 10]).0, 200);
    assert_eq!(get(download_url), 200);
    // 2025-01-01T00:15:00Z, the instant both name: both are refused.
    api.emu.clock().advance(Duration::from_millis(1));
    assert_eq!(put(&api, upload_url, vec![1u8; 10]).0, 403, "upload URL");
    assert_eq!(get(download_url), 403, "download link");
}

/// Moves the emulator's clock on by `secs` seconds.
fn advance(api: &Api, secs: i64) {
    let secs = u64::try_from(secs).expect("a forward step");
    api.emu
        .clock()
        .advance(std::time::Duration::from_secs(secs));
}

/// The upload as `uploads.progress` reads it, reporting nothing.
fn read(api: &Api, upload: &str) -> Value {
    api.ok("uploads.progress", json!({"upload_id": upload}))
}

/// An upload nothing happened to for a second less than its idle lifetime is still open: it
/// reserves its bytes, takes them and completes as any other, while one initiated a second
/// before it has just expired.
#[test]
fn an_upload_untouched_just_under_its_idle_lifetime_stays_open_and_completes() {
    let api = Api::start();
    let project = project(&api);
    let older = upload_id(&api, &project, 1000);
    advance(&api, 1);
    let id = upload_id(&api, &project, 10);
    advance(&api, UPLOAD_IDLE_SECS - 1);

    assert_eq!(read(&api, &older)["status"], "failed");
    let open = read(&api, &id);
    assert_eq!(open["status"], "pending", "{open}");
    assert_eq!(open["storage"]["reserved_bytes"], 10, "{open}");
    let url = signed_url(&api, &id, "scene.tif");
    assert_eq!(put(&api, &url, vec![7u8; 10]).0, 200);
    let done = api.ok("uploads.complete", json!({"upload_id": id}));
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["storage"]["used_bytes"], 10, "{done}");
    assert_eq!(done["storage"]["reserved_bytes"], 0, "{done}");
}

/// An upload nothing happened to for its idle lifetime was abandoned: it is failed as
/// `expired`, the quota it reserved is free again for the next `uploads.initiate`, it can no
/// longer change, and the URL it was given takes nothing.
#[test]
fn an_upload_untouched_for_its_idle_lifetime_expires_and_frees_its_reservation() {
    let api = Api::start();
    let project = project(&api);
    let half = STORAGE_QUOTA_BYTES / 2;
    let first = upload_id(&api, &project, half);
    let url = signed_url(&api, &first, "scene.tif");
    let full = initiate(&api, &project, half);
    assert_eq!(full["storage"]["reserved_bytes"], 2 * half, "{full}");
    assert_eq!(full["storage"]["free_bytes"], 0, "{full}");
    let second = full["id"].as_str().expect("id").to_owned();

    advance(&api, UPLOAD_IDLE_SECS);
    let usage = api.ok("usage.current", json!({"organization_id": DEMO_ORG}));
    assert_eq!(usage["storage"]["reserved_bytes"], 0, "{usage}");
    let next = initiate(&api, &project, half);
    assert_eq!(next["storage"]["reserved_bytes"], half, "{next}");

    for id in [&first, &second] {
        let expired = read(&api, id);
        assert_eq!(expired["status"], "failed", "{expired}");
        assert_eq!(expired["error_step"], "expired", "{expired}");
        let message = expired["error_message"].as_str().unwrap_or_default();
        assert!(message.contains("abandoned"), "{expired}");
        // The emulator's clock starts at 2025-01-01T00:00:00Z: it expired a day later.
        assert_eq!(expired["updated_at"], "2025-01-02T00:00:00Z", "{expired}");
    }
    for (op, body) in [
        ("uploads.complete", json!({"upload_id": first})),
        (
            "uploads.progress",
            json!({"upload_id": first, "bytes_uploaded": 1}),
        ),
        (
            "uploads.signed_url",
            json!({"upload_id": first, "file_name": "scene.tif"}),
        ),
        (
            "uploads.fail",
            json!({"upload_id": first, "error_message": "late"}),
        ),
    ] {
        let answer = api.call(op, body);
        assert_eq!(
            answer.status,
            409,
            "{op} after expiry: {}",
            String::from_utf8_lossy(&answer.body)
        );
    }
    let (status, refused) = put(&api, &url, vec![7u8; 10]);
    assert_eq!(status, 403, "{refused}");
}

/// Activity renews an upload for a whole idle lifetime from when it happened: a signed URL, a
/// file arriving and a progress report each do, while reading it does not.
#[test]
fn activity_renews_an_upload_for_another_idle_lifetime() {
    let api = Api::start();
    let project = project(&api);
    let id = upload_id(&api, &project, 10);
    // Moves the clock to `to` seconds after the upload was initiated.
    let mut now = 0;
    let mut at = |to: i64| {
        advance(&api, to - now);
        now = to;
    };

    let signed = UPLOAD_IDLE_SECS - 600;
    at(signed);
    let url = signed_url(&api, &id, "scene.tif");
    let received = signed + 500;
    at(received);
    assert_eq!(put(&api, &url, vec![7u8; 4]).0, 200);

    // Past the lifetime the signed URL gave it: the file that arrived since keeps it open.
    let reported = signed + UPLOAD_IDLE_SECS;
    at(reported);
    assert_eq!(read(&api, &id)["status"], "uploading");
    let report = api.ok(
        "uploads.progress",
        json!({"upload_id": id, "bytes_uploaded": 4}),
    );
    assert_eq!(report["status"], "uploading", "{report}");

    // Past the lifetime the file gave it: the progress report keeps it open, to the second.
    at(received + UPLOAD_IDLE_SECS);
    assert_eq!(read(&api, &id)["status"], "uploading");
    at(reported + UPLOAD_IDLE_SECS - 1);
    let open = read(&api, &id);
    assert_eq!(open["status"], "uploading", "{open}");
    assert_eq!(open["storage"]["reserved_bytes"], 10, "{open}");
    at(reported + UPLOAD_IDLE_SECS);
    let expired = read(&api, &id);
    assert_eq!(expired["status"], "failed", "{expired}");
    assert_eq!(expired["error_step"], "expired", "{expired}");
    assert_eq!(expired["storage"]["reserved_bytes"], 0, "{expired}");
}

/// Subscribers hear of an expiry once, through the `upload.failed` event `uploads.fail`
/// sends, stamped with when the upload expired: whether a call on the upload expired it or
/// the drain found it with nothing having touched it.
#[test]
fn an_expired_upload_sends_one_upload_failed_event() {
    let api = Api::with(local());
    let receiver = Receiver::start(&[]);
    subscribe(&api, "upload.failed", &receiver.url);
    let project = project(&api);

    let touched = upload_id(&api, &project, 100);
    advance(&api, UPLOAD_IDLE_SECS);
    let answer = api.call("uploads.complete", json!({"upload_id": touched}));
    assert_eq!(answer.status, 409);
    assert_eq!(drain(&api)["drained"], 1);

    let untouched = upload_id(&api, &project, 100);
    advance(&api, UPLOAD_IDLE_SECS);
    assert_eq!(drain(&api)["drained"], 1, "found by the drain itself");
    // Reading and changing them again, and draining again, tell no one anything new.
    for id in [&touched, &untouched] {
        assert_eq!(read(&api, id)["status"], "failed");
        let again = api.call(
            "uploads.fail",
            json!({"upload_id": id, "error_message": "x"}),
        );
        assert_eq!(again.status, 409);
    }
    assert_eq!(drain(&api)["drained"], 0);

    let got = receiver.got();
    assert_eq!(got.len(), 2, "one event per expired upload");
    let days = ["2025-01-02T00:00:00Z", "2025-01-03T00:00:00Z"];
    for ((delivery, id), day) in got.iter().zip([&touched, &untouched]).zip(days) {
        let body = delivery.json();
        assert_eq!(delivery.header("x-geopera-event"), "upload.failed");
        assert_eq!(body["entity_type"], "upload", "{body}");
        assert_eq!(body["entity_id"], id.as_str(), "{body}");
        assert_eq!(body["timestamp"], day, "{body}");
        assert_eq!(body["data"]["status"], "failed", "{body}");
        assert_eq!(body["data"]["error_step"], "expired", "{body}");
    }
}

/// An upload read back from a state file expires on the stored time of its last activity,
/// as it would have without the restart.
#[test]
fn an_upload_kept_in_the_state_file_expires_after_a_restart() {
    let file = TempFile::new("upload-expiry");
    let start = || {
        Api::with(
            Emulator::builder()
                .seed(8)
                .rate_limits(RateLimits::off())
                .state_file(&file.0),
        )
    };
    let id = {
        let api = start();
        let project = project(&api);
        let id = upload_id(&api, &project, 1000);
        advance(&api, UPLOAD_IDLE_SECS - 1);
        id
    };
    let api = start();
    let open = read(&api, &id);
    assert_eq!(open["status"], "pending", "{open}");
    assert_eq!(open["storage"]["reserved_bytes"], 1000, "{open}");
    advance(&api, 1);
    let expired = read(&api, &id);
    assert_eq!(expired["status"], "failed", "{expired}");
    assert_eq!(expired["error_step"], "expired", "{expired}");
    assert_eq!(expired["storage"]["reserved_bytes"], 0, "{expired}");
}

/// An emulator listening on every interface (`0.0.0.0`) names a reachable address in its
/// links, the loopback one: `http://0.0.0.0:port/...` is no address a client can connect to
/// (it fails on most systems), so an upload's signed URL led nowhere.
#[test]
fn links_of_an_emulator_on_every_interface_name_a_reachable_address() {
    let api = Api::with(
        Emulator::builder()
            .rate_limits(RateLimits::off())
            .addr("0.0.0.0:0".parse().expect("an address")),
    );
    assert!(api.emu.base_url().starts_with("http://127.0.0.1:"));
    let project = project(&api);
    let upload = upload_id(&api, &project, 3);
    let url = signed_url(&api, &upload, "a.tif");
    assert!(
        url.starts_with(&format!("{}/uploads/", api.emu.base_url())),
        "{url}"
    );
    let (status, _) = put(&api, &url, b"abc".to_vec());
    assert_eq!(status, 200);
}
