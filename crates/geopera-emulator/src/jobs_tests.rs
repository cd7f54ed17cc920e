//! Unit tests of `jobs.rs`.
use super::*;
use serde_json::Map;

fn job(started: Option<i64>, fails: bool) -> Resource {
    let mut fields = Map::new();
    if let Some(at) = started {
        fields.insert(STARTED.to_owned(), json!(at));
    }
    fields.insert(FAILS.to_owned(), json!(fails));
    Resource {
        family: Family::ClipJob,
        id: "job_1".to_owned(),
        org: "org_a".to_owned(),
        parent: None,
        seq: 0,
        created_at: 0,
        updated_at: 0,
        fields,
    }
}

#[test]
fn status_follows_the_clock_from_the_start() {
    let ok = job(Some(100), false);
    assert_eq!(status(&ok, 100), Status::Pending);
    assert_eq!(status(&ok, 100 + QUEUED_SECS), Status::Running);
    assert_eq!(status(&ok, 100 + RUN_SECS - 1), Status::Running);
    assert_eq!(status(&ok, 100 + RUN_SECS), Status::Succeeded);
    assert_eq!(status(&job(Some(100), true), 1000), Status::Failed);
    assert_eq!(status(&job(None, false), 1_000_000), Status::Pending);
}

#[test]
fn answers_hide_the_private_fields() {
    let answer = answer(&job(Some(100), true), 100 + RUN_SECS);
    assert_eq!(answer["status"], "failed");
    assert!(answer.get(STARTED).is_none() && answer.get(FAILS).is_none());
    assert!(answer["error_message"]
        .as_str()
        .is_some_and(|m| m.contains(FAIL_MARKER)));
}
