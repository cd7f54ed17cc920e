//! `geopera::uploads::Upload`: the whole upload in one call — against the emulator, bytes
//! counted and hashed on arrival and progress; against stand-ins of the tests' own, credentials
//! kept off the `PUT`, refusals and redirects; everywhere, the
//! reservation released on every failure after it was made.

use geopera::models::UploadStatus;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use geopera::uploads::{Release, Upload, UploadCause, UploadStep};
use geopera::AuthenticatedClient;
use geopera_emulator::EmulatorHandle;
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::hostile::{json as json_reply, redirect, Hostile, Reply};
use crate::support::{client, emulator, seen};

/// A file of `len` bytes that are not all alike, in a fresh temporary directory.
struct TempFile {
    path: PathBuf,
    bytes: Vec<u8>,
}

impl TempFile {
    fn new(name: &str, len: usize) -> TempFile {
        let dir = std::env::temp_dir().join(format!("geopera-it-{}", uuid_like()));
        std::fs::create_dir_all(&dir).expect("a temporary directory");
        let bytes: Vec<u8> = (0..len).map(|i| (i * 31 % 251) as u8).collect();
        let path = dir.join(name);
        std::fs::write(&path, &bytes).expect("the file is written");
        TempFile { path, bytes }
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(dir) = self.path.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

fn uuid_like() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    format!("{}-{nanos}", std::process::id())
}

fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

async fn project(client: &AuthenticatedClient) -> String {
    let answer = geopera::Geopera::from(client.clone())
        .invoke("projects.create", json!({"name": "uploads"}))
        .await
        .expect("a project");
    answer["id"].as_str().expect("a project id").to_owned()
}

/// Bytes the organization has reserved for open uploads, as a new empty upload reports.
async fn reserved_bytes(client: &AuthenticatedClient, project_id: &str) -> i64 {
    let answer = geopera::Geopera::from(client.clone())
        .invoke(
            "uploads.initiate",
            json!({"project_id": project_id, "total_bytes": 0}),
        )
        .await
        .expect("an upload");
    answer["storage"]["reserved_bytes"]
        .as_i64()
        .expect("storage in the answer")
}

fn fail_bodies(emulator: &EmulatorHandle) -> Vec<Value> {
    seen(emulator, "uploads.fail")
        .iter()
        .map(|r| serde_json::from_slice(&r.body).expect("a JSON body"))
        .collect()
}

/// A file rewritten in place at its size while it uploads (a download still filling it,
/// `rsync --inplace`) fails the transfer before its last chunk goes, and the reservation is
/// released: it was stored as a mix of old and new bytes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_rewritten_while_it_uploads_is_not_stored() {
    let emulator = emulator();
    let client = client(&emulator);
    let project_id = project(&client).await;
    let file = TempFile::new("growing.tif", 300_000);
    // Modified an hour ago, so a rewrite now is another modification time whatever the
    // clock's grain.
    let hour_ago = std::time::SystemTime::now() - Duration::from_secs(3600);
    std::fs::File::options()
        .write(true)
        .open(&file.path)
        .and_then(|f| f.set_modified(hour_ago))
        .expect("the time is set");
    let path = file.path.clone();
    let rewritten = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let once = rewritten.clone();
    let error = Upload::from_path(&project_id, &file.path)
        .on_progress(move |p| {
            if p.bytes_sent > 0 && !once.swap(true, std::sync::atomic::Ordering::SeqCst) {
                let mut bytes = std::fs::read(&path).expect("the file reads");
                bytes[0] ^= 0xff;
                std::fs::write(&path, &bytes).expect("rewritten in place");
            }
        })
        .send(&client)
        .await
        .expect_err("the file changed while it was read");
    assert!(rewritten.load(std::sync::atomic::Ordering::SeqCst));
    assert_eq!(error.step(), UploadStep::Transfer, "{error:?}");
    assert!(
        matches!(error.cause(), UploadCause::SourceChanged),
        "{error:?}"
    );
    assert!(matches!(error.release(), Release::Released), "{error:?}");
    assert_eq!(reserved_bytes(&client, &project_id).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_upload_completes_with_the_size_and_sha256_the_emulator_counted() {
    let emulator = emulator();
    let client = client(&emulator);
    let project_id = project(&client).await;
    let file = TempFile::new("scene.tif", 300_000);
    let progress = Arc::new(Mutex::new(Vec::new()));
    let log = progress.clone();
    let reserved = Arc::new(Mutex::new(Vec::new()));
    let told = reserved.clone();

    let uploaded = Upload::from_path(&project_id, &file.path)
        .content_type("image/tiff")
        .on_progress(move |p| log.lock().expect("not poisoned").push(p))
        .on_reserved(move |id| told.lock().expect("not poisoned").push(id.to_owned()))
        .send(&client)
        .await
        .expect("the upload completes");
    assert_eq!(
        *reserved.lock().expect("not poisoned"),
        std::slice::from_ref(&uploaded.upload_id),
        "told once, of the upload's id"
    );

    assert!(
        uploaded.upload_id.starts_with("u_"),
        "{}",
        uploaded.upload_id
    );
    assert_eq!(uploaded.bytes, 300_000);
    assert!(uploaded.object_path.ends_with("/scene.tif"));
    assert_eq!(uploaded.upload.status, Some(UploadStatus::Completed));
    let files = uploaded.upload.files.as_deref().expect("files");
    assert_eq!(files.len(), 1);
    assert_eq!(files[0].size, Some(300_000));
    assert_eq!(
        files[0].sha256.as_deref(),
        Some(sha256_hex(&file.bytes).as_str())
    );
    assert_eq!(files[0].content_type.as_deref(), Some("image/tiff"));

    let progress = progress.lock().expect("not poisoned").clone();
    assert!(progress.len() > 1, "one report per chunk: {progress:?}");
    assert!(progress
        .windows(2)
        .all(|w| w[0].bytes_sent < w[1].bytes_sent));
    assert!(progress.iter().all(|p| p.total_bytes == 300_000));
    assert_eq!(progress.last().map(|p| p.bytes_sent), Some(300_000));
    assert_eq!(reserved_bytes(&client, &project_id).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_longer_than_the_read_timeout_completes_while_bytes_keep_flowing() {
    // The read timeout bounds the wait between two reads of an answer; a `PUT` that is still
    // sending has no answer yet, so only the upload's stall timeout may cut it.
    let emulator = emulator();
    let client = AuthenticatedClient::builder(emulator.api_key())
        .base_url(emulator.base_url())
        .read_timeout(Duration::from_millis(200))
        .build()
        .expect("valid");
    let project_id = project(&client).await;
    let chunks = futures::stream::unfold(0u32, |sent| async move {
        if sent == 8 {
            return None;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        Some((Ok(Bytes::from(vec![3u8; 1000])), sent + 1))
    });
    let started = Instant::now();

    let uploaded = Upload::from_stream(&project_id, "slow.bin", 8000, chunks)
        .stall_timeout(Duration::from_secs(5))
        .send(&client)
        .await
        .expect("bytes kept flowing, so the upload completes");

    assert!(started.elapsed() >= Duration::from_millis(800));
    assert_eq!(uploaded.bytes, 8000);
    assert_eq!(reserved_bytes(&client, &project_id).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_of_duration_max_mean_no_limit_to_an_upload() {
    let emulator = emulator();
    let client = client(&emulator);
    let project_id = project(&client).await;
    tokio::time::sleep(Duration::from_millis(1100)).await;

    let uploaded = Upload::from_stream(
        &project_id,
        "forever.bin",
        3,
        futures::stream::iter([Ok(Bytes::from_static(b"abc"))]),
    )
    .stall_timeout(Duration::MAX)
    .timeout(Duration::MAX)
    .send(&client)
    .await
    .expect("no limit is not an overflow");

    assert_eq!(uploaded.bytes, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_empty_source_that_never_ends_is_bounded_by_the_limits_and_released() {
    let emulator = emulator();
    let client = client(&emulator);
    let project_id = project(&client).await;
    for (stall, whole, expected) in [
        (Some(300), None, "stalled"),
        (None, Some(300), "timed out"),
        (Some(5_000), Some(300), "timed out"),
    ] {
        let mut upload = Upload::from_stream(
            &project_id,
            "endless.bin",
            0,
            futures::stream::pending::<std::io::Result<Bytes>>(),
        );
        if let Some(ms) = stall {
            upload = upload.stall_timeout(Duration::from_millis(ms));
        }
        if let Some(ms) = whole {
            upload = upload.timeout(Duration::from_millis(ms));
        }
        let started = Instant::now();
        let ended = tokio::time::timeout(Duration::from_secs(20), upload.send(&client)).await;
        let error = ended
            .expect("the upload ends within its limits")
            .expect_err("the source never ends");
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "{:?}",
            started.elapsed()
        );
        assert_eq!(error.step(), UploadStep::Transfer);
        let limit = Duration::from_millis(300);
        match expected {
            "stalled" => assert!(
                matches!(error.cause(), UploadCause::Stalled(l) if *l == limit),
                "{error:?}"
            ),
            _ => assert!(
                matches!(error.cause(), UploadCause::TimedOut(l) if *l == limit),
                "{error:?}"
            ),
        }
        assert!(matches!(error.release(), Release::Released), "{error:?}");
    }
}

/// Empty chunks are no progress: a source that yields some bytes and then empty chunks for
/// ever, always ready (a read loop that goes on after its end), stalls as a silent one does,
/// on a runtime of one thread too, where it could keep the stall timer from ever running.
#[tokio::test(flavor = "current_thread")]
async fn a_source_of_endless_empty_chunks_stalls_and_is_released() {
    let emulator = emulator();
    let client = client(&emulator);
    let project_id = project(&client).await;
    for declared in [10, 3] {
        let source = futures::StreamExt::chain(
            futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"abc"))]),
            futures::stream::repeat_with(|| Ok(Bytes::new())),
        );
        let upload = Upload::from_stream(&project_id, "empties.bin", declared, source)
            .stall_timeout(Duration::from_millis(300));
        let ended = tokio::time::timeout(Duration::from_secs(20), upload.send(&client)).await;
        let error = ended
            .expect("the upload ends within its limits")
            .expect_err("the source never ends");
        assert_eq!(error.step(), UploadStep::Transfer, "{declared}");
        assert!(
            matches!(error.cause(), UploadCause::Stalled(_)),
            "{declared}: {error:?}"
        );
        assert!(matches!(error.release(), Release::Released), "{error:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_longer_than_declared_fails_the_transfer_and_releases_the_reservation() {
    let emulator = emulator();
    let client = client(&emulator);
    let project_id = project(&client).await;
    let chunks = (0..4).map(|_| Ok(Bytes::from(vec![7u8; 64 * 1024])));

    let error = Upload::from_stream(
        &project_id,
        "big.bin",
        100_000,
        futures::stream::iter(chunks),
    )
    .send(&client)
    .await
    .expect_err("the source runs past its declared size");

    assert_eq!(error.step(), UploadStep::Transfer);
    assert!(
        matches!(error.cause(), UploadCause::LengthMismatch { declared: 100_000, seen } if *seen > 100_000),
        "{error:?}"
    );
    assert!(matches!(error.release(), Release::Released), "{error:?}");
    let id = error.upload_id().expect("the upload had an id");
    let fails = fail_bodies(&emulator);
    assert_eq!(fails.len(), 1);
    assert_eq!(fails[0]["upload_id"], id);
    assert_eq!(fails[0]["error_step"], "transfer");
    assert!(fails[0]["error_message"]
        .as_str()
        .is_some_and(|m| m.contains("100000")));
    assert_eq!(reserved_bytes(&client, &project_id).await, 0);
    assert!(seen(&emulator, "uploads.complete").is_empty());
}

/// A source with more in it than declared fails even when its declared bytes end exactly at a
/// chunk's end, where the connection, having sent what `Content-Length` announced, would ask
/// for nothing more: a stream that runs on, a reader longer than its length, a file that grew.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_with_more_after_its_declared_bytes_fails_the_transfer() {
    let emulator = emulator();
    let client = client(&emulator);
    let project_id = project(&client).await;

    let stream = Upload::from_stream(
        &project_id,
        "runs-on.bin",
        10,
        futures::stream::iter([
            Ok(Bytes::from_static(b"0123456789")),
            Ok(Bytes::new()),
            Ok(Bytes::from_static(b"EXTRA")),
        ]),
    )
    .send(&client)
    .await
    .expect_err("the stream runs on");
    let reader = Upload::from_reader(
        &project_id,
        "long.bin",
        65_536,
        std::io::Cursor::new(vec![3u8; 100_000]),
    )
    .send(&client)
    .await
    .expect_err("the reader holds more");

    for error in [&stream, &reader] {
        assert_eq!(error.step(), UploadStep::Transfer);
        assert!(
            matches!(error.cause(), UploadCause::LengthMismatch { declared, seen } if seen > declared),
            "{error:?}"
        );
        assert!(error.is_released(), "{error:?}");
    }
    assert!(seen(&emulator, "uploads.complete").is_empty());
    assert_eq!(reserved_bytes(&client, &project_id).await, 0);
}

/// A source declared empty that is not is caught too, though the connection asks nothing of an
/// empty body: a file whose size reads 0 but that has content (a `/proc` file; one written to
/// after its size was read), or a stream given the wrong length. An empty one goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_declared_empty_that_is_not_fails_and_an_empty_one_goes_through() {
    let emulator = emulator();
    let client = client(&emulator);
    let project_id = project(&client).await;

    let stream = Upload::from_stream(
        &project_id,
        "not-empty.bin",
        0,
        futures::stream::iter([Ok(Bytes::from_static(b"abc"))]),
    )
    .send(&client)
    .await
    .expect_err("three bytes declared as none");
    let proc_file = Upload::from_path(&project_id, "/proc/self/status")
        .send(&client)
        .await
        .expect_err("its size reads 0, its content does not");
    for error in [&stream, &proc_file] {
        assert_eq!(error.step(), UploadStep::Transfer);
        assert!(
            matches!(error.cause(), UploadCause::LengthMismatch { declared: 0, seen } if *seen > 0),
            "{error:?}"
        );
        assert!(error.is_released(), "{error:?}");
    }
    assert!(seen(&emulator, "uploads.complete").is_empty());

    let empty = TempFile::new("empty.bin", 0);
    Upload::from_path(&project_id, &empty.path)
        .send(&client)
        .await
        .expect("an empty file is an upload too");
    assert_eq!(reserved_bytes(&client, &project_id).await, 0);
}

/// A storage server that answers 200 before the whole file has left gives no receipt for it:
/// the upload fails, is released, and is never completed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_success_before_the_whole_file_was_sent_is_no_success() {
    use std::io::{Read as _, Write as _};

    let storage = std::net::TcpListener::bind("127.0.0.2:0").expect("a port");
    let upload_url = format!(
        "http://{}/bucket/object?signature=s",
        storage.local_addr().expect("an address")
    );
    std::thread::spawn(move || {
        let Ok((mut put, _)) = storage.accept() else {
            return;
        };
        let _ = put.set_read_timeout(Some(Duration::from_secs(5)));
        let _ = put.read(&mut [0u8; 4096]);
        let _ = put.write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\nconnection: close\r\n\r\n");
        std::thread::sleep(Duration::from_millis(500));
    });
    let api = api_pointing_at(upload_url);
    let client = AuthenticatedClient::new(api.url(), "gpra_test_token").expect("valid");
    const CHUNK: usize = 64 * 1024;
    let chunks = futures::StreamExt::then(futures::stream::iter(0..128), |_| async {
        tokio::time::sleep(Duration::from_millis(2)).await;
        Ok(Bytes::from(vec![1u8; CHUNK]))
    });

    let error = Upload::from_stream("p_1", "f.bin", (128 * CHUNK) as u64, chunks)
        .send(&client)
        .await
        .expect_err("the answer came before the file");

    assert_eq!(error.step(), UploadStep::Transfer);
    match error.cause() {
        UploadCause::AnsweredEarly { sent, declared, .. } => assert!(sent < declared),
        // Depending on when the connection saw the close, the write may fail first.
        UploadCause::Transport(_) => {}
        other => panic!("{other:?}"),
    }
    assert!(error.is_released(), "{error:?}");
    assert!(api
        .seen()
        .iter()
        .all(|request| request.path != "/v1/op/uploads.complete"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_source_shorter_than_declared_fails_the_transfer() {
    let emulator = emulator();
    let client = client(&emulator);
    let project_id = project(&client).await;

    let error = Upload::from_stream(
        &project_id,
        "short.bin",
        1000,
        futures::stream::iter([Ok(Bytes::from_static(b"only this"))]),
    )
    .send(&client)
    .await
    .expect_err("the source ends early");

    assert_eq!(error.step(), UploadStep::Transfer);
    assert!(matches!(
        error.cause(),
        UploadCause::LengthMismatch {
            declared: 1000,
            seen: 9
        }
    ));
    assert!(error.is_released());
    assert_eq!(reserved_bytes(&client, &project_id).await, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_missing_file_fails_before_anything_is_reserved() {
    let emulator = emulator();
    let client = client(&emulator);
    let missing = std::env::temp_dir().join(format!("geopera-missing-{}", uuid_like()));

    let error = Upload::from_path("p_any", &missing)
        .send(&client)
        .await
        .expect_err("there is no such file");

    assert_eq!(error.step(), UploadStep::Prepare);
    assert!(error.upload_id().is_none());
    assert!(matches!(error.cause(), UploadCause::Io(_)));
    assert!(matches!(error.release(), Release::NothingReserved));
    assert!(seen(&emulator, "uploads.initiate").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blank_name_or_a_bad_content_type_fails_before_anything_is_reserved() {
    // Both go out only after the reservation; once, such an upload reserved quota, failed at
    // the signed URL (or as a transfer that "broke off") and released it again.
    let emulator = emulator();
    let client = client(&emulator);
    let project_id = project(&client).await;
    let file = TempFile::new("named", 16);
    let named = |name: &str, content_type: Option<&str>| {
        let upload = Upload::from_path(&project_id, &file.path).file_name(name);
        match content_type {
            Some(content_type) => upload.content_type(content_type),
            None => upload,
        }
    };
    for (upload, says) in [
        (named("", None), "file name is empty"),
        (named("  ", None), "file name is empty"),
        (named("a.bin", Some("")), "content type is empty"),
        (
            named("a.bin", Some("text/plain\nx-evil: 1")),
            "Content-Type header",
        ),
    ] {
        let error = upload.send(&client).await.expect_err("refused");
        assert_eq!(error.step(), UploadStep::Prepare, "{says}: {error:?}");
        assert!(matches!(error.release(), Release::NothingReserved));
        let message = error.cause().to_string();
        assert!(message.contains(says), "{message}");
    }
    assert!(seen(&emulator, "uploads.initiate").is_empty());
    let uploaded = named("a.bin", Some("text/plain"))
        .send(&client)
        .await
        .expect("a good name and type go through");
    assert!(uploaded.object_path.ends_with("/a.bin"));
}

/// Regression: a name the emulator's `uploads.signed_url` refuses (`.`/`..`, a separator, a
/// control character) passed the SDK's check, so the upload reserved quota, was refused at
/// the signed URL and released it again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_that_is_not_one_path_component_fails_before_anything_is_reserved() {
    let emulator = emulator();
    let client = client(&emulator);
    let project_id = project(&client).await;
    let file = TempFile::new("component", 16);
    for (name, says) in [
        ("..", "'.' or '..' alone"),
        (".", "'.' or '..' alone"),
        ("../scene.tif", "holds '/' or '\\'"),
        ("a\\b.tif", "holds '/' or '\\'"),
        ("a\nb.tif", "control character"),
        ("a\u{1b}[2J.tif", "control character"),
    ] {
        let error = Upload::from_path(&project_id, &file.path)
            .file_name(name)
            .send(&client)
            .await
            .expect_err("refused");
        assert_eq!(error.step(), UploadStep::Prepare, "{name:?}: {error:?}");
        assert!(matches!(error.release(), Release::NothingReserved));
        let message = error.cause().to_string();
        assert!(message.contains(says), "{name:?}: {message}");
        assert!(message.contains("Upload::file_name"), "{message}");
    }
    // A path whose own name holds a control character is refused the same way.
    #[cfg(unix)]
    {
        let odd = file.path.with_file_name("scene\n.tif");
        std::fs::write(&odd, &file.bytes).expect("the file is written");
        let error = Upload::from_path(&project_id, &odd)
            .send(&client)
            .await
            .expect_err("refused");
        assert!(matches!(error.release(), Release::NothingReserved));
        assert!(error.cause().to_string().contains("control character"));
    }
    assert!(seen(&emulator, "uploads.initiate").is_empty());
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_name_that_is_not_utf8_is_never_sent_changed() {
    use std::os::unix::ffi::OsStrExt as _;

    let emulator = emulator();
    let client = client(&emulator);
    let project_id = project(&client).await;
    let file = TempFile::new("beside", 64);
    let odd = file
        .path
        .with_file_name(std::ffi::OsStr::from_bytes(b"scene\xff.tif"));
    std::fs::write(&odd, &file.bytes).expect("the file is written");

    let error = Upload::from_path(&project_id, &odd)
        .send(&client)
        .await
        .expect_err("the name has no UTF-8 spelling");
    assert_eq!(error.step(), UploadStep::Prepare);
    assert!(matches!(error.release(), Release::NothingReserved));
    let message = error.cause().to_string();
    assert!(message.contains(r"scene\xFF.tif"), "{message}");
    assert!(message.contains("Upload::file_name"), "{message}");
    assert!(seen(&emulator, "uploads.initiate").is_empty());

    let uploaded = Upload::from_path(&project_id, &odd)
        .file_name("scene.tif")
        .send(&client)
        .await
        .expect("uploaded under the name given");
    assert!(uploaded.object_path.ends_with("/scene.tif"));
}

#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pipe_a_device_or_a_folder_is_refused_before_anything_is_reserved() {
    let emulator = emulator();
    let client = client(&emulator);
    let file = TempFile::new("beside", 1);
    let folder = file.path.parent().expect("in a folder").to_path_buf();
    let pipe = folder.join("pipe");
    let made = std::process::Command::new("mkfifo")
        .arg(&pipe)
        .status()
        .is_ok_and(|status| status.success());
    let mut sources = vec![
        PathBuf::from("/dev/zero"),
        PathBuf::from("/dev/null"),
        folder.clone(),
    ];
    if made {
        // No writer ever opens it: an upload that opened it first would wait for ever.
        sources.push(pipe);
    }
    for source in sources {
        let sent = Upload::from_path("p_any", &source)
            .file_name("data.bin")
            .send(&client);
        let error = tokio::time::timeout(Duration::from_secs(20), sent)
            .await
            .expect("refused at once")
            .expect_err("not a regular file");
        assert_eq!(error.step(), UploadStep::Prepare, "{source:?}");
        assert!(matches!(error.release(), Release::NothingReserved));
        let UploadCause::Io(cause) = error.cause() else {
            panic!("{source:?}: {error:?}");
        };
        assert_eq!(cause.kind(), std::io::ErrorKind::InvalidInput, "{source:?}");
        assert!(cause.to_string().contains("not a regular file"), "{cause}");
    }
    assert!(seen(&emulator, "uploads.initiate").is_empty());
}

/// An upload of `bytes` as `f.bin` into project `p_1`, for the API stand-ins below.
fn small_upload(bytes: &'static [u8]) -> Upload {
    Upload::from_stream(
        "p_1",
        "f.bin",
        bytes.len() as u64,
        futures::stream::iter([Ok(Bytes::from_static(bytes))]),
    )
}

/// An API of the test's own whose signed URL points at `storage`: the emulator always names
/// itself, so a refusing or redirecting storage server needs a stand-in.
fn api_pointing_at(upload_url: String) -> Hostile {
    api_signing_with(json!({"upload_url": upload_url, "object_path": "p/u/f"}).to_string())
}

/// An API of the test's own whose `uploads.signed_url` answers `signed`.
fn api_signing_with(signed: String) -> Hostile {
    Hostile::serve("127.0.0.1", move |seen| {
        match seen.path.trim_start_matches("/v1/op/") {
            "uploads.initiate" | "uploads.fail" => json_reply(200, &[], r#"{"id": "u_stand_in"}"#),
            "uploads.complete" => {
                json_reply(200, &[], r#"{"id": "u_stand_in", "status": "completed"}"#)
            }
            "uploads.signed_url" => json_reply(200, &[], &signed),
            _ => json_reply(500, &[], r#"{"detail": "not expected"}"#),
        }
    })
}

/// A storage server on a second origin that takes any `PUT`, and an `uploads.signed_url`
/// answer pointing at it; the server lives as long as the first is held.
fn storage_and_signed_url() -> (Hostile, String) {
    let storage = Hostile::serve("127.0.0.2", |_| json_reply(200, &[], "{}"));
    let signed =
        json!({"upload_url": format!("{}/bucket/object", storage.url()), "object_path": "p/u/f"})
            .to_string();
    (storage, signed)
}

/// An API that reserves another size than declared is told `uploads.fail` at once: no byte is
/// sent for an upload that could not be completed as it is.
#[tokio::test]
async fn another_size_reserved_than_declared_is_released_before_any_byte_goes() {
    let api = Hostile::serve("127.0.0.1", |seen| {
        match seen.path.trim_start_matches("/v1/op/") {
            "uploads.initiate" => json_reply(200, &[], r#"{"id": "u_short", "total_bytes": 2}"#),
            "uploads.fail" => json_reply(200, &[], r#"{"id": "u_short", "status": "failed"}"#),
            _ => json_reply(500, &[], r#"{"detail": "not expected"}"#),
        }
    });
    let client = AuthenticatedClient::new(api.url(), "gpra_test_token").expect("valid");

    let error = small_upload(b"abc")
        .send(&client)
        .await
        .expect_err("another size reserved");

    assert_eq!(error.step(), UploadStep::Initiate);
    assert!(
        matches!(
            error.cause(),
            UploadCause::ReservedOtherSize {
                declared: 3,
                reserved: 2
            }
        ),
        "{error:?}"
    );
    assert!(error.is_released(), "{error:?}");
    assert_eq!(error.upload_id(), Some("u_short"));
    assert!(
        error
            .to_string()
            .contains("2 bytes were reserved for the 3 declared"),
        "{error}"
    );
    let paths: Vec<String> = api.seen().into_iter().map(|r| r.path).collect();
    assert_eq!(paths, ["/v1/op/uploads.initiate", "/v1/op/uploads.fail"]);
}

/// A client of a server of the test's own at `url` that makes one attempt a call.
fn unretried(url: &str) -> AuthenticatedClient {
    AuthenticatedClient::builder("gpra_test_token")
        .base_url(url)
        .retries(0)
        .build()
        .expect("valid")
}

/// A failed `uploads.initiate` says whether quota may be reserved: not when the API refused it
/// (a 4xx) or nothing reached it; possibly when no answer said either (a 5xx on every attempt,
/// a success without an id), where it was said nothing was reserved.
#[tokio::test]
async fn a_reservation_whose_answer_was_not_read_may_be_held() {
    let refused = r#"{"type": "about:blank", "title": "Payment Required", "status": 402}"#;
    for (status, body, known) in [
        (402, refused, true),
        (503, r#"{"detail": "busy"}"#, false),
        (200, r#"{"reserved": true}"#, false),
    ] {
        let api = Hostile::serve("127.0.0.1", move |_| json_reply(status, &[], body));
        let client = unretried(&api.url());
        let error = small_upload(b"abc")
            .send(&client)
            .await
            .expect_err("no reservation read");
        assert_eq!(error.step(), UploadStep::Initiate, "{status}");
        assert_eq!(error.upload_id(), None, "{status}");
        assert_eq!(error.is_released(), known, "{status}: {error:?}");
        assert_eq!(
            matches!(error.release(), Release::Unknown),
            !known,
            "{status}: {error:?}"
        );
        assert_eq!(
            error.to_string().contains("may have reserved"),
            !known,
            "{status}: {error}"
        );
        let paths: Vec<String> = api.seen().into_iter().map(|r| r.path).collect();
        assert_eq!(paths, ["/v1/op/uploads.initiate"], "{status}");
    }
    // Nothing listens: the request never left, so nothing is reserved.
    let closed = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("a port");
        format!("http://{}", listener.local_addr().expect("an address"))
    };
    let client = unretried(&closed);
    let error = small_upload(b"abc")
        .send(&client)
        .await
        .expect_err("no server");
    assert!(
        matches!(error.release(), Release::NothingReserved),
        "{error:?}"
    );
}

/// A reservation sent again after an attempt whose outcome was not read may be held by that
/// attempt, whatever the last one met: a 409 for its key still being worked on was read as
/// a refusal, and nothing was said to be reserved.
#[tokio::test]
async fn a_reservation_refused_only_on_a_later_attempt_may_be_held() {
    let calls = std::sync::atomic::AtomicUsize::new(0);
    let api = Hostile::serve("127.0.0.1", move |_| {
        if calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
            json_reply(503, &[], r#"{"detail": "busy"}"#)
        } else {
            json_reply(
                409,
                &[],
                r#"{"detail": "the key is still being worked on"}"#,
            )
        }
    });
    let client = AuthenticatedClient::builder("gpra_test_token")
        .base_url(api.url())
        .retries(1)
        .build()
        .expect("valid");
    let error = small_upload(b"abc")
        .send(&client)
        .await
        .expect_err("refused on the second attempt");
    assert_eq!(error.step(), UploadStep::Initiate);
    assert_eq!(api.seen().len(), 2, "{error:?}");
    assert!(matches!(error.release(), Release::Unknown), "{error:?}");
    assert!(!error.is_released(), "{error:?}");
}

/// An upload dropped while the reservation of another size than declared is being released
/// still releases it: the release was the upload's own call, cancelled with it, and nothing
/// took its place.
#[tokio::test]
async fn an_upload_dropped_while_releasing_a_wrong_size_still_releases() {
    let fails = std::sync::atomic::AtomicUsize::new(0);
    let api = Hostile::serve("127.0.0.1", move |seen| {
        match seen.path.trim_start_matches("/v1/op/") {
            "uploads.initiate" => json_reply(200, &[], r#"{"id": "u_other", "total_bytes": 2}"#),
            "uploads.fail" => {
                // The first release is slow enough to be dropped with the upload.
                if fails.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
                    std::thread::sleep(Duration::from_secs(2));
                }
                json_reply(200, &[], r#"{"id": "u_other", "status": "failed"}"#)
            }
            _ => json_reply(500, &[], r#"{"detail": "not expected"}"#),
        }
    });
    let client = unretried(&api.url());
    let sent = tokio::time::timeout(
        Duration::from_millis(300),
        small_upload(b"abc").send(&client),
    )
    .await;
    assert!(sent.is_err(), "dropped while releasing");
    let released = || {
        api.seen()
            .iter()
            .filter(|r| r.path.ends_with("uploads.fail"))
            .count()
    };
    let started = Instant::now();
    while released() < 2 && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(released(), 2, "a release took the dropped one's place");
}

/// A reservation answered with its id and a size in another form than an integer (`"3"`)
/// keeps its id: a later failure releases it by that id. Refused as undecodable, the id was
/// lost with the reservation it named.
#[tokio::test]
async fn a_reservation_with_a_size_in_another_form_keeps_its_id() {
    let api = Hostile::serve("127.0.0.1", |seen| {
        match seen.path.trim_start_matches("/v1/op/") {
            "uploads.initiate" => json_reply(200, &[], r#"{"id": "u_kept", "total_bytes": "3"}"#),
            "uploads.fail" => json_reply(200, &[], r#"{"id": "u_kept", "status": "failed"}"#),
            _ => json_reply(500, &[], r#"{"detail": "not expected"}"#),
        }
    });
    let client = unretried(&api.url());
    let error = small_upload(b"abc")
        .send(&client)
        .await
        .expect_err("the signed URL fails");
    assert_eq!(error.step(), UploadStep::SignedUrl, "{error:?}");
    assert_eq!(error.upload_id(), Some("u_kept"));
    assert!(matches!(error.release(), Release::Released), "{error:?}");
    let fails: Vec<Value> = api
        .seen()
        .into_iter()
        .filter(|r| r.path.ends_with("uploads.fail"))
        .map(|r| serde_json::from_slice(&r.body).expect("JSON"))
        .collect();
    assert_eq!(fails.len(), 1);
    assert_eq!(fails[0]["upload_id"], "u_kept");
}

/// A commit answered with success whose body says the upload failed, or names another
/// upload, does not report the file stored: the error says what the answer said, at step
/// `complete`, with the release tried. Both were taken as the file stored, never to be sent
/// again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_answered_failed_or_for_another_upload_is_not_reported_stored() {
    let (_storage, signed) = storage_and_signed_url();
    let failed = r#"{"id": "u_said", "status": "failed", "error_message": "not a GeoTIFF"}"#;
    let other = r#"{"id": "u_other", "status": "completed"}"#;
    for commit_answer in [failed, other] {
        let signed = signed.clone();
        let api = Hostile::serve("127.0.0.1", move |seen| {
            match seen.path.trim_start_matches("/v1/op/") {
                "uploads.initiate" => json_reply(200, &[], r#"{"id": "u_said"}"#),
                "uploads.signed_url" => json_reply(200, &[], &signed),
                "uploads.complete" => json_reply(200, &[], commit_answer),
                "uploads.fail" => json_reply(200, &[], r#"{"id": "u_said", "status": "failed"}"#),
                _ => json_reply(500, &[], r#"{"detail": "not expected"}"#),
            }
        });
        let client = AuthenticatedClient::new(api.url(), "gpra_test_token").expect("valid");
        let error = small_upload(b"abc")
            .send(&client)
            .await
            .expect_err(commit_answer);
        assert_eq!(error.step(), UploadStep::Complete, "{error:?}");
        assert_eq!(error.upload_id(), Some("u_said"));
        let shown = error.to_string();
        if commit_answer == failed {
            assert!(
                matches!(error.cause(), UploadCause::CommitFailed { reason: Some(reason) } if reason == "not a GeoTIFF"),
                "{error:?}"
            );
            assert!(shown.contains("failed: not a GeoTIFF"), "{shown}");
        } else {
            assert!(
                matches!(error.cause(), UploadCause::OtherUpload(named) if named == "u_other"),
                "{error:?}"
            );
            assert!(shown.contains("another upload, u_other"), "{shown}");
        }
        let released = api
            .seen()
            .iter()
            .filter(|seen| seen.path.ends_with("/uploads.fail"))
            .count();
        assert_eq!(released, 1, "{commit_answer}");
    }
}

/// A commit answered for another upload, whose release is then refused as the upload is no
/// longer open, is read again as a lost answer is: found completed, the file is reported
/// stored, with why the answer was not taken; it was reported failed and sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_answered_for_another_upload_is_read_again_when_the_release_is_refused() {
    let (_storage, signed) = storage_and_signed_url();
    let api = Hostile::serve("127.0.0.1", move |seen| {
        match seen.path.trim_start_matches("/v1/op/") {
            "uploads.initiate" => json_reply(200, &[], r#"{"id": "u_said"}"#),
            "uploads.signed_url" => json_reply(200, &[], &signed),
            "uploads.complete" => {
                json_reply(200, &[], r#"{"id": "u_other", "status": "completed"}"#)
            }
            "uploads.fail" => json_reply(409, &[], r#"{"detail": "the upload is completed"}"#),
            "uploads.progress" => {
                json_reply(200, &[], r#"{"id": "u_said", "status": "completed"}"#)
            }
            _ => json_reply(500, &[], r#"{"detail": "not expected"}"#),
        }
    });
    let client = AuthenticatedClient::new(api.url(), "gpra_test_token").expect("valid");
    let uploaded = small_upload(b"abc")
        .send(&client)
        .await
        .expect("the commit was made");
    assert_eq!(uploaded.upload.id, "u_said");
    assert_eq!(uploaded.upload.status, Some(UploadStatus::Completed));
    let why = uploaded
        .lost_answer
        .as_deref()
        .expect("why it was not taken");
    assert_eq!(why.operation_id(), Some("uploads.complete"));
    let chain = format!(
        "{why} {:?}",
        std::error::Error::source(why).map(ToString::to_string)
    );
    assert!(chain.contains("another upload, u_other"), "{chain}");
}

/// A commit answered with a success whose members this SDK reads otherwise (a time as a
/// number) is released, refused as the upload is no longer open, and
/// read again leniently: the success it is, the members read otherwise kept in `extra`. Read
/// again strictly, the same shape failed, and the stored file was reported failed. A success
/// that is no answer of the API (a proxy's page), whose upload is still open, is released
/// and reported failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_answered_in_another_shape_is_read_again_leniently() {
    let (_storage, signed) = storage_and_signed_url();
    let odd = r#"{"id": "u_shape", "status": "completed", "total_bytes": 3.0,
                  "completed_at": 17, "files": [{"name": "f.bin"}]}"#;
    for (commit_answer, completed) in [(odd, true), ("<html>blocked</html>", false)] {
        let signed = signed.clone();
        let api = Hostile::serve("127.0.0.1", move |seen| {
            match seen.path.trim_start_matches("/v1/op/") {
                "uploads.initiate" => json_reply(200, &[], r#"{"id": "u_shape"}"#),
                "uploads.signed_url" => json_reply(200, &[], &signed),
                "uploads.complete" => json_reply(200, &[], commit_answer),
                "uploads.progress" if completed => json_reply(200, &[], odd),
                "uploads.fail" if completed => json_reply(409, &[], r#"{"detail": "closed"}"#),
                "uploads.fail" => json_reply(200, &[], r#"{"id": "u_shape", "status": "failed"}"#),
                _ => json_reply(500, &[], r#"{"detail": "not expected"}"#),
            }
        });
        let client = AuthenticatedClient::new(api.url(), "gpra_test_token").expect("valid");
        let sent = small_upload(b"abc").send(&client).await;
        let paths: Vec<String> = api.seen().into_iter().map(|r| r.path).collect();
        if !completed {
            let error = sent.expect_err("not stored");
            assert_eq!(error.step(), UploadStep::Complete);
            assert!(matches!(error.release(), Release::Released), "{error:?}");
            continue;
        }
        let uploaded = sent.expect("the commit was made");
        assert_eq!(uploaded.upload_id, "u_shape");
        assert_eq!(uploaded.upload.id, "u_shape");
        assert_eq!(uploaded.upload.status, Some(UploadStatus::Completed));
        assert_eq!(uploaded.upload.extra["total_bytes"], json!(3.0));
        assert_eq!(uploaded.upload.extra["completed_at"], json!(17));
        assert_eq!(uploaded.upload.extra["files"][0]["name"], "f.bin");
        let unread = uploaded
            .lost_answer
            .as_deref()
            .expect("why it was not read");
        assert_eq!(unread.operation_id(), Some("uploads.complete"), "{unread}");
        assert_eq!(
            paths
                .iter()
                .filter(|p| p.ends_with("uploads.progress"))
                .count(),
            1,
            "{paths:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_put_is_reported_with_uploads_fail_and_a_redirect_is_not_followed() {
    for (answer, status) in [
        (json_reply(503, &[], r#"{"error": "busy"}"#), 503),
        (redirect(307, "http://127.0.0.1:9/elsewhere"), 307),
    ] {
        let answer = Mutex::new(Some(answer));
        let storage = Hostile::serve("127.0.0.2", move |_| {
            answer
                .lock()
                .expect("not poisoned")
                .take()
                .unwrap_or_else(|| json_reply(500, &[], "{}"))
        });
        let api = api_pointing_at(format!("{}/bucket/object?signature=s3cr3t", storage.url()));
        let client = AuthenticatedClient::new(api.url(), "gpra_test_token").expect("valid");

        let error = small_upload(b"abc")
            .send(&client)
            .await
            .expect_err("the storage server refuses");

        assert_eq!(error.step(), UploadStep::Transfer);
        assert!(
            matches!(error.cause(), UploadCause::Rejected { status: s } if s.as_u16() == status),
            "{error:?}"
        );
        assert!(matches!(error.release(), Release::Released), "{error:?}");
        assert!(!error.to_string().contains("s3cr3t"), "{error}");
        let puts = storage.seen();
        assert_eq!(puts.len(), 1, "one PUT, no redirect followed");
        assert_eq!(puts[0].method, "PUT");
        assert_eq!(puts[0].body, b"abc");
        assert!(puts[0].header("authorization").is_none());
        let fail = api
            .seen()
            .into_iter()
            .find(|r| r.path == "/v1/op/uploads.fail")
            .expect("uploads.fail was called");
        let body: Value = serde_json::from_slice(&fail.body).expect("JSON");
        assert_eq!(body["error_step"], "transfer");
        assert_eq!(body["upload_id"], "u_stand_in");
        assert!(!body.to_string().contains("s3cr3t"), "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_put_carries_no_credentials_or_client_headers() {
    let storage = Hostile::serve("127.0.0.2", |_| json_reply(200, &[], "{}"));
    let api = api_pointing_at(format!("{}/bucket/object?signature=s", storage.url()));
    let bearer = AuthenticatedClient::new(api.url(), "gpra_test_token")
        .expect("valid")
        .with_headers([("x-team", "imagery")])
        .expect("a valid header");
    let keyed = AuthenticatedClient::builder_with_credentials(geopera::auth::Credential::api_key(
        "gpra_test_key",
    ))
    .base_url(api.url())
    .build()
    .expect("valid configuration");

    for client in [&bearer, &keyed] {
        let uploaded = Upload::from_stream(
            "p_1",
            "note.txt",
            5,
            futures::stream::iter([Ok(Bytes::from_static(b"hello"))]),
        )
        .content_type("text/plain")
        .send(client)
        .await
        .expect("the upload completes");
        assert_eq!(uploaded.upload.status, Some(UploadStatus::Completed));
    }

    let puts = storage.seen();
    assert_eq!(puts.len(), 2);
    for put in &puts {
        assert_eq!(put.method, "PUT");
        assert_eq!(put.path, "/bucket/object?signature=s");
        assert_eq!(put.body, b"hello");
        assert_eq!(put.header("content-type"), Some("text/plain"));
        for name in [
            "authorization",
            "x-api-key",
            "x-team",
            "cookie",
            "idempotency-key",
        ] {
            assert!(
                put.header(name).is_none(),
                "{name} went with the PUT: {put:?}"
            );
        }
    }
    // The API calls around it did carry them.
    let calls = api.seen();
    let initiates: Vec<_> = calls
        .iter()
        .filter(|r| r.path == "/v1/op/uploads.initiate")
        .collect();
    assert_eq!(initiates.len(), 2);
    assert!(initiates[0].header("authorization").is_some());
    assert_eq!(initiates[0].header("x-team"), Some("imagery"));
    assert!(initiates[1].header("x-api-key").is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_storage_server_that_never_answers_stalls_the_transfer_and_it_is_released() {
    // Takes connections and reads nothing, answers nothing.
    let silent = std::net::TcpListener::bind("127.0.0.2:0").expect("a free port");
    let address = silent.local_addr().expect("bound");
    let held = std::thread::spawn(move || {
        let (connection, _) = silent.accept().expect("the client connects");
        std::thread::sleep(Duration::from_secs(2));
        drop(connection);
    });
    let api = api_pointing_at(format!("http://{address}/bucket/object"));
    let client = AuthenticatedClient::new(api.url(), "gpra_test_token").expect("valid");

    let started = Instant::now();
    let error = small_upload(b"abc")
        .stall_timeout(Duration::from_millis(300))
        .send(&client)
        .await
        .expect_err("the storage server never answers");

    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(error.step(), UploadStep::Transfer);
    assert!(
        matches!(error.cause(), UploadCause::Stalled(limit) if *limit == Duration::from_millis(300)),
        "{error:?}"
    );
    assert!(error.is_released());
    assert!(api.seen().iter().any(|r| r.path == "/v1/op/uploads.fail"));
    held.join().expect("the listener thread ends");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_url_that_is_not_http_is_refused_and_released() {
    let api = api_pointing_at("file:///etc/passwd".to_owned());
    let client = AuthenticatedClient::new(api.url(), "gpra_test_token").expect("valid");

    let error = small_upload(b"x")
        .send(&client)
        .await
        .expect_err("not a URL to send to");

    assert_eq!(error.step(), UploadStep::SignedUrl);
    assert!(matches!(error.cause(), UploadCause::UnusableUrl(_)));
    assert!(error.is_released());
    assert!(api.seen().iter().any(|r| r.path == "/v1/op/uploads.fail"));
}

/// The upload's id is the server's: the failed upload's message shows it with what would act
/// on a terminal escaped, and `upload_id` gives it as it came.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_upload_id_in_a_failed_upload_message_cannot_steer_a_terminal() {
    const ID: &str = r"u_\u001b]0;owned\u0007\u001b[2J\rforged\u202e";
    let api = Hostile::serve("127.0.0.1", move |seen| {
        match seen.path.trim_start_matches("/v1/op/") {
            "uploads.initiate" | "uploads.fail" => {
                json_reply(200, &[], &format!(r#"{{"id": "{ID}"}}"#))
            }
            "uploads.signed_url" => json_reply(
                200,
                &[],
                r#"{"upload_url": "file:///etc/passwd", "object_path": "p/u/f"}"#,
            ),
            _ => json_reply(500, &[], r#"{"detail": "not expected"}"#),
        }
    });
    let client = AuthenticatedClient::new(api.url(), "gpra_test_token").expect("valid");

    let error = small_upload(b"x")
        .send(&client)
        .await
        .expect_err("not a URL to send to");

    assert_eq!(error.step(), UploadStep::SignedUrl);
    assert_eq!(
        error.upload_id(),
        Some("u_\u{1b}]0;owned\u{7}\u{1b}[2J\rforged\u{202e}"),
        "the id as it came"
    );
    let shown = error.to_string();
    assert!(
        !shown.contains(|c: char| c.is_control() || c == '\u{202e}'),
        "{shown:?}"
    );
    assert!(
        shown.contains(r"upload u_\u{1b}]0;owned\u{7}\u{1b}[2J\u{d}forged\u{202e} failed"),
        "{shown:?}"
    );
}

/// A signed URL is a credential for the upload: an answer that holds one but does not decode
/// is not quoted in the error.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signed_url_answer_that_does_not_decode_is_not_quoted() {
    // A member the shape lacks, and the URL alone where an object belongs: the decoder's own
    // words quote such a string whole ("invalid type: string ..."), which the error and the
    // release's `error_message` carried.
    for answer in [
        json!({"upload_url": "https://storage.example/b/o?signature=s3cr3t", "object_path": null}),
        json!("https://storage.example/b/o?signature=s3cr3t"),
    ] {
        let api = api_signing_with(answer.to_string());
        let client = AuthenticatedClient::new(api.url(), "gpra_test_token").expect("valid");

        let error = small_upload(b"x")
            .send(&client)
            .await
            .expect_err("no object path");

        assert_eq!(error.step(), UploadStep::SignedUrl);
        let UploadCause::Api(cause) = error.cause() else {
            panic!("{error:?}");
        };
        assert_eq!(cause.kind(), geopera::ErrorKind::Decode, "{cause:?}");
        let mut shown = format!("{error} {error:?} {cause} {cause:?}");
        let mut source = std::error::Error::source(cause);
        while let Some(inner) = source {
            shown.push_str(&format!(" {inner} {inner:?}"));
            source = inner.source();
        }
        assert!(!shown.contains("s3cr3t"), "{answer}: {shown}");
        assert!(
            shown.contains("credential"),
            "says why it is not shown: {shown}"
        );
        assert!(error.is_released());
        let released: Vec<String> = api
            .seen()
            .iter()
            .filter(|seen| seen.path.ends_with("/uploads.fail"))
            .map(|seen| String::from_utf8_lossy(&seen.body).into_owned())
            .collect();
        assert_eq!(released.len(), 1, "{answer}");
        assert!(!released[0].contains("s3cr3t"), "{answer}: {}", released[0]);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_upload_releases_its_reservation_in_the_background() {
    let emulator = emulator();
    let client = client(&emulator);
    let project_id = project(&client).await;
    // One chunk, then nothing: the transfer hangs until the future is dropped.
    let stream = futures::StreamExt::chain(
        futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"start"))]),
        futures::stream::pending(),
    );

    let upload = Upload::from_stream(&project_id, "hang.bin", 1000, stream).send(&client);
    let outcome = tokio::time::timeout(Duration::from_millis(500), upload).await;
    assert!(outcome.is_err(), "the upload was still running");

    let started = Instant::now();
    while fail_bodies(&emulator).is_empty() && started.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let fails = fail_bodies(&emulator);
    assert_eq!(fails.len(), 1);
    assert_eq!(fails[0]["error_step"], "cancelled");
    assert_eq!(reserved_bytes(&client, &project_id).await, 0);
}

/// A signal given to `cancel_on` ends the upload with its own error, which names the upload
/// and says whether its reservation was released, as any failure does: dropping the future
/// releases it too, but nobody hears how that went.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_upload_says_which_it_was_and_that_it_was_released() {
    let emulator = emulator();
    let client = client(&emulator);
    let project_id = project(&client).await;
    let hanging = || {
        futures::StreamExt::chain(
            futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(b"start"))]),
            futures::stream::pending(),
        )
    };
    let (cancel, cancelled) = tokio::sync::oneshot::channel::<()>();
    let upload = Upload::from_stream(&project_id, "hang.bin", 1000, hanging())
        .cancel_on(async move {
            let _ = cancelled.await;
        })
        .send(&client);
    let stopper = async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let _ = cancel.send(());
    };
    let (outcome, ()) = tokio::time::timeout(Duration::from_secs(20), async {
        futures::join!(upload, stopper)
    })
    .await
    .expect("the signal ends it");
    let error = outcome.expect_err("cancelled");
    assert!(matches!(error.cause(), UploadCause::Cancelled), "{error:?}");
    assert_eq!(error.step(), UploadStep::Transfer);
    assert!(
        error.upload_id().is_some_and(|id| id.starts_with("u_")),
        "{error:?}"
    );
    assert!(error.is_released(), "{error:?}");
    assert_eq!(fail_bodies(&emulator).len(), 1);
    assert_eq!(reserved_bytes(&client, &project_id).await, 0);

    // A release the API refuses is said so, with the upload it concerns.
    emulator.set_faults("status=409;op=uploads.fail".parse().expect("a fault plan"));
    let upload = Upload::from_stream(&project_id, "hang.bin", 1000, hanging())
        .cancel_on(tokio::time::sleep(Duration::from_millis(300)))
        .send(&client);
    let error = tokio::time::timeout(Duration::from_secs(20), upload)
        .await
        .expect("the signal ends it")
        .expect_err("cancelled");
    assert!(matches!(error.cause(), UploadCause::Cancelled), "{error:?}");
    assert!(
        matches!(error.release(), Release::NotReleased(_)),
        "{error:?}"
    );
    assert!(error.upload_id().is_some(), "{error:?}");
}

/// A signal that comes once `uploads.complete` has committed the upload (only its answer is
/// slow to come) does not end it cancelled: the release is refused, the upload being no longer
/// open, and the commit's answer, still awaited, says it is complete. Reported cancelled, it
/// would be sent again by a caller who believed it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_during_the_commit_waits_for_its_answer() {
    // (calls in flight the client allows, releases sent): with one, the release waits for the
    // commit's slot, and the answer that frees it ends the upload before the release is sent.
    for (in_flight, releases) in [(None, 1), (Some(1), 0)] {
        // Shared with the signal, which watches for the commit.
        let emulator = Arc::new(emulator());
        let mut builder =
            AuthenticatedClient::builder(emulator.api_key()).base_url(emulator.base_url());
        if let Some(max) = in_flight {
            builder = builder.max_in_flight(max);
        }
        let client = builder.build().expect("a client");
        let bytes = b"committed before the signal";
        let uploaded = signalled_during_the_commit(
            &emulator,
            &client,
            "slow=1500ms;op=uploads.complete",
            bytes,
        )
        .await
        .expect("the upload is complete, as the API says");

        assert_eq!(emulator.executed("uploads.complete"), 1, "{in_flight:?}");
        assert_eq!(uploaded.upload.status, Some(UploadStatus::Completed));
        assert_eq!(uploaded.bytes, bytes.len() as u64);
        assert_eq!(
            fail_bodies(&emulator).len(),
            releases,
            "{in_flight:?}: releases tried (each refused)"
        );
    }
}

/// Uploads `bytes` into a new project on `emulator` under `faults`, with a cancel signal that
/// fires once `uploads.complete` has run; what the upload ended with, within 20 s.
async fn signalled_during_the_commit(
    emulator: &Arc<EmulatorHandle>,
    client: &AuthenticatedClient,
    faults: &str,
    bytes: &'static [u8],
) -> Result<geopera::uploads::Uploaded, geopera::uploads::UploadError> {
    let project_id = project(client).await;
    emulator.set_faults(faults.parse().expect("a fault plan"));
    let watched = emulator.clone();
    let committed = async move {
        while watched.executed("uploads.complete") == 0 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let upload = Upload::from_stream(
        &project_id,
        "commit.bin",
        bytes.len() as u64,
        futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(bytes))]),
    )
    .cancel_on(committed)
    .send(client);
    tokio::time::timeout(Duration::from_secs(20), upload)
        .await
        .expect("the upload ends")
}

/// Uploads three bytes through a stand-in API whose `uploads.complete` answers, after
/// `commit_takes`, for another upload, with a cancel signal that fires once the commit is
/// asked for: what the upload ended with, and how many releases were sent. The `n`th release
/// (from 0) is answered `release(n)`, and `uploads.progress` with the upload in `status`.
async fn signalled_during_a_misrouted_commit(
    commit_takes: Duration,
    release: impl Fn(usize) -> Reply + Send + Sync + 'static,
    status: &'static str,
) -> (
    Result<geopera::uploads::Uploaded, geopera::uploads::UploadError>,
    usize,
) {
    let storage = Hostile::serve("127.0.0.2", |_| json_reply(200, &[], "{}"));
    let signed =
        json!({"upload_url": format!("{}/bucket/object", storage.url()), "object_path": "p/u/f"})
            .to_string();
    let committing = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let seen_commit = committing.clone();
    let releases = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = releases.clone();
    let progress = json!({"id": "u_said", "status": status}).to_string();
    let api = Hostile::serve("127.0.0.1", move |seen| {
        match seen.path.trim_start_matches("/v1/op/") {
            "uploads.initiate" => json_reply(200, &[], r#"{"id": "u_said"}"#),
            "uploads.signed_url" => json_reply(200, &[], &signed),
            "uploads.complete" => {
                seen_commit.store(true, std::sync::atomic::Ordering::SeqCst);
                std::thread::sleep(commit_takes);
                json_reply(200, &[], r#"{"id": "u_other", "status": "completed"}"#)
            }
            "uploads.fail" => release(counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst)),
            "uploads.progress" => json_reply(200, &[], &progress),
            _ => json_reply(500, &[], r#"{"detail": "not expected"}"#),
        }
    });
    let client = AuthenticatedClient::builder("gpra_test_token")
        .base_url(api.url())
        .retries(0)
        .build()
        .expect("valid");
    let signal = async move {
        while !committing.load(std::sync::atomic::Ordering::SeqCst) {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    };
    let ended = tokio::time::timeout(
        Duration::from_secs(20),
        small_upload(b"abc").cancel_on(signal).send(&client),
    )
    .await
    .expect("the upload ends");
    (ended, releases.load(std::sync::atomic::Ordering::SeqCst))
}

/// A signal during a commit whose release is refused as closed, and whose slow answer then
/// names another upload: the upload is read again on that refusal, not released a second time;
/// the second release (a 503 here) kept it from being read, and a stored file was reported
/// failed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_during_a_misrouted_commit_reads_the_upload_again_on_the_first_refusal() {
    let (ended, releases) = signalled_during_a_misrouted_commit(
        Duration::from_millis(700),
        |n| match n {
            0 => json_reply(409, &[], r#"{"detail": "the upload is completed"}"#),
            _ => json_reply(503, &[], r#"{"detail": "busy"}"#),
        },
        "completed",
    )
    .await;
    let uploaded = ended.expect("read again, the upload is completed");
    assert_eq!(uploaded.upload.status, Some(UploadStatus::Completed));
    assert!(uploaded.lost_answer.is_some());
    assert_eq!(releases, 1, "released once");
}

/// A signal during a commit whose answer comes before the release's and names another upload:
/// the release under way is awaited and reported, not sent a second time. The first was let go
/// and a second one sent, refused as the first had already released the upload, which then
/// read as not released.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_during_a_misrouted_commit_answered_first_releases_once() {
    let (ended, releases) = signalled_during_a_misrouted_commit(
        Duration::from_millis(300),
        |n| match n {
            0 => {
                std::thread::sleep(Duration::from_millis(900));
                json_reply(200, &[], r#"{"id": "u_said", "status": "failed"}"#)
            }
            _ => json_reply(409, &[], r#"{"detail": "the upload is failed"}"#),
        },
        "failed",
    )
    .await;
    let ended = ended.expect_err("the answer names another upload");
    assert!(ended.is_released(), "{ended:?}");
    assert_eq!(releases, 1, "released once");
}

/// A signal during the commit whose release fails otherwise than by 409 (a 503) ends the
/// upload at once, cancelled at the commit with the release's failure: the commit may still be
/// made, and the signal asked to stop rather than wait for its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_during_the_commit_whose_release_fails_ends_it_at_once() {
    let emulator = Arc::new(emulator());
    let client = AuthenticatedClient::builder(emulator.api_key())
        .base_url(emulator.base_url())
        .retries(0)
        .build()
        .expect("a client");
    let error = signalled_during_the_commit(
        &emulator,
        &client,
        "slow=5s;op=uploads.complete, 503;op=uploads.fail",
        b"committed while the release failed",
    )
    .await
    .expect_err("cancelled");
    assert_eq!(error.step(), UploadStep::Complete);
    assert!(matches!(error.cause(), UploadCause::Cancelled), "{error:?}");
    assert!(
        matches!(error.release(), Release::NotReleased(failed) if failed.status().map(|s| s.as_u16()) == Some(503)),
        "{error:?}"
    );
    assert_eq!(seen(&emulator, "uploads.fail").len(), 1);
}

/// A commit made whose answer is lost on every attempt (an answer replaced by a 503 or a
/// reset after the emulator committed): the release is refused with 409, as the upload is no
/// longer open, and the upload read again is completed, so it is the success it is, saying
/// why its answer never came. Reported failed, the stored file would be sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_whose_answer_is_lost_is_read_again_and_is_a_success() {
    for faults in [
        "503;after;op=uploads.complete",
        "reset;after;op=uploads.complete",
    ] {
        let emulator = emulator();
        let client = client(&emulator);
        let project_id = project(&client).await;
        emulator.set_faults(faults.parse().expect("a fault plan"));
        let bytes = b"stored though the answer was lost";
        let uploaded = Upload::from_stream(
            &project_id,
            "lost.bin",
            bytes.len() as u64,
            futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(bytes))]),
        )
        .send(&client)
        .await
        .expect("the upload is stored");
        assert_eq!(
            uploaded.upload.status,
            Some(UploadStatus::Completed),
            "{faults}"
        );
        assert_eq!(uploaded.upload.id, uploaded.upload_id, "{faults}");
        let files = uploaded.upload.files.as_deref().expect("files");
        assert_eq!(files[0].sha256.as_deref(), Some(sha256_hex(bytes).as_str()));
        let lost = uploaded
            .lost_answer
            .as_deref()
            .expect("why the answer never came");
        assert_eq!(
            lost.operation_id(),
            Some("uploads.complete"),
            "{faults}: {lost}"
        );
        assert_eq!(
            fail_bodies(&emulator).len(),
            1,
            "{faults}: the release, refused"
        );
        assert_eq!(
            seen(&emulator, "uploads.progress").len(),
            1,
            "{faults}: the reading"
        );
    }

    // Refused with 409 while the upload is still open (the emulator's answer forced): the
    // reading finds it not completed, and the upload fails as it did.
    let emulator = emulator();
    let client = client(&emulator);
    let project_id = project(&client).await;
    emulator.set_faults(
        "503;op=uploads.complete, status=409;op=uploads.fail"
            .parse()
            .expect("a fault plan"),
    );
    let bytes = b"never committed";
    let error = Upload::from_stream(
        &project_id,
        "open.bin",
        bytes.len() as u64,
        futures::stream::iter([Ok::<_, std::io::Error>(Bytes::from_static(bytes))]),
    )
    .send(&client)
    .await
    .expect_err("not stored");
    assert_eq!(error.step(), UploadStep::Complete);
    assert!(
        matches!(error.release(), Release::NotReleased(refused) if refused.status().map(|s| s.as_u16()) == Some(409)),
        "{error}"
    );
    assert_eq!(seen(&emulator, "uploads.progress").len(), 1, "the reading");
}

#[test]
fn the_blocking_form_uploads_through_the_same_steps() {
    let emulator = emulator();
    let client = client(&emulator);
    let project = geopera::Geopera::from(client.clone())
        .invoke_blocking("projects.create", json!({"name": "blocking"}))
        .expect("a project");
    let project_id = project["id"].as_str().expect("an id");
    let file = TempFile::new("blocking.bin", 200_000);

    let uploaded = Upload::from_path(project_id, &file.path)
        .send_blocking(&client)
        .expect("the upload completes");

    assert_eq!(uploaded.upload.status, Some(UploadStatus::Completed));
    let files = uploaded.upload.files.unwrap_or_default();
    assert_eq!(
        files.first().and_then(|f| f.sha256.as_deref()),
        Some(sha256_hex(&file.bytes).as_str())
    );
    let steps: Vec<_> = emulator
        .requests()
        .into_iter()
        .filter_map(|r| r.operation_id)
        .filter(|id| id.starts_with("uploads."))
        .collect();
    assert_eq!(
        steps,
        ["uploads.initiate", "uploads.signed_url", "uploads.complete"]
    );
}

/// A panic in `on_progress` ends the transfer as a broken connection would, and the reservation
/// is released with `uploads.fail`, on either path a blocking upload takes: on the calling
/// thread, and on the client's I/O thread while another blocking call is in flight.
#[test]
fn a_panicking_progress_callback_fails_a_blocking_upload_and_releases_it() {
    use std::sync::atomic::{AtomicBool, Ordering};

    let (_storage, signed) = storage_and_signed_url();
    let release = Arc::new(AtomicBool::new(false));
    let held = release.clone();
    let api = Hostile::serve("127.0.0.1", move |seen| {
        match seen.path.trim_start_matches("/v1/op/") {
            "uploads.initiate" | "uploads.fail" => json_reply(200, &[], r#"{"id": "u_stand_in"}"#),
            "uploads.signed_url" => json_reply(200, &[], &signed),
            _ if seen.header("x-held").is_some() => {
                // Answered once the test lets it go (bounded, so a failing test ends).
                let since = Instant::now();
                while !held.load(Ordering::SeqCst) && since.elapsed() < Duration::from_secs(30) {
                    std::thread::sleep(Duration::from_millis(5));
                }
                json_reply(200, &[], r#"{"type":"FeatureCollection","features":[]}"#)
            }
            _ => json_reply(500, &[], r#"{"detail": "not expected"}"#),
        }
    });
    let client = AuthenticatedClient::new(api.url(), "gpra_test_token").expect("valid");
    let fails = || {
        api.seen()
            .iter()
            .filter(|r| r.path == "/v1/op/uploads.fail")
            .count()
    };
    let upload_panicking = || {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            small_upload(b"abc")
                .on_progress(|_| panic!("the callback's own panic"))
                .send_blocking(&client)
        }));
        let error = match outcome {
            Ok(result) => result.expect_err("the transfer breaks off"),
            Err(_) => panic!("the callback's panic reached the caller past the upload"),
        };
        assert_eq!(error.step(), UploadStep::Transfer, "{error:?}");
        assert!(matches!(error.release(), Release::Released), "{error:?}");
    };

    // Alone: the upload runs on this thread.
    upload_panicking();
    assert_eq!(fails(), 1, "the reservation was released");

    // Another thread's blocking call in flight: the upload runs on the I/O thread.
    let in_flight = {
        let client = client.clone();
        std::thread::spawn(move || {
            geopera::operations::catalog_search::send_blocking(
                &client,
                geopera::Request::new(geopera::models::CatalogSearchInput::new(
                    crate::support::HOST,
                ))
                .header("x-held", "1"),
            )
        })
    };
    for _ in 0..3000 {
        if api.seen().iter().any(|r| r.header("x-held").is_some()) {
            break;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    upload_panicking();
    assert_eq!(fails(), 2, "the reservation was released");
    release.store(true, Ordering::SeqCst);
    in_flight
        .join()
        .expect("joined")
        .expect("the call in flight is served");
}
