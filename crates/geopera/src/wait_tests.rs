//! Unit tests of `wait.rs`.
use super::*;
use serde_json::json;

fn upload(answer: serde_json::Value) -> UploadOutput {
    serde_json::from_value(answer).expect("an upload")
}

/// A declared file count in another form than an integer (`"2"`, `2.0`) is read as the
/// byte counts beside it are: one file of two is not ready, where the count fell back to 1.
#[test]
fn an_upload_declaring_its_file_count_in_any_form_waits_for_every_file() {
    for count in [json!(2), json!("2"), json!(2.0)] {
        let one_of_two = upload(json!({
            "id": "u_1", "status": "uploading", "total_bytes": "4", "bytes_received": "4",
            "file_count": count, "files": [{"file_name": "a.bin", "size": 4}],
        }));
        assert_eq!(judge_upload(&one_of_two), Verdict::Pending, "{count}");
    }
    let both = upload(json!({
        "id": "u_1", "status": "uploading", "total_bytes": 4, "bytes_received": 4,
        "file_count": "2",
        "files": [{"file_name": "a.bin", "size": 2}, {"file_name": "b.bin", "size": 2}],
    }));
    assert_eq!(judge_upload(&both), Verdict::Done);
}

/// An upload in a state the SDK does not know is not ready to complete, whatever its bytes
/// say: it was, and its caller's `uploads.complete` then met a 409.
#[test]
fn an_upload_in_an_unknown_state_is_pending_whatever_its_bytes() {
    for status in ["cancelled", "expired"] {
        let answer = upload(json!({
            "id": "u_1", "status": status, "total_bytes": 4, "bytes_received": 4,
        }));
        assert_eq!(judge_upload(&answer), Verdict::Pending, "{status}");
    }
    for status in [json!("uploading"), json!("pending"), json!(null)] {
        let answer = upload(json!({
            "id": "u_1", "status": status, "total_bytes": 4, "bytes_received": 4,
        }));
        assert_eq!(judge_upload(&answer), Verdict::Done, "{status}");
    }
}
