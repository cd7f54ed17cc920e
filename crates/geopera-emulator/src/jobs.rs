//! The life of processing and clip jobs on the emulator's clock.
//!
//! A job's status is not stored: it is worked out from when the job started and the clock
//! each time the job is read. So no background task moves jobs along, a job restored from a
//! state file carries on from where it was, and a test moves a job by moving the clock. The
//! webhook sweep reads the same timeline to send each job's one completion event.
//!
//! From its start a job is `pending` for [`QUEUED_SECS`], then `running` until
//! [`RUN_SECS`], then `succeeded`, or `failed` when it names [`FAIL_MARKER`]. A processing
//! job made by `processing.create` has not started: it stays `pending` until
//! `processing.dispatch`.

use std::ops::{Bound, RangeBounds};

use serde_json::{json, Value};

use crate::resources::{Family, Resource, Resources};
use crate::webhooks::{
    Event, CLIP_JOB_COMPLETED, CLIP_JOB_FAILED, PROCESSING_JOB_COMPLETED, PROCESSING_JOB_FAILED,
};
use geopera_types::jobs::JobStatus;
use geopera_types::rfc3339::format_date_time;
use geopera_types::subscriptions::{DATA_JOB_ID, DATA_STATUS};

/// How long a started job waits as `pending` before it runs.
pub const QUEUED_SECS: i64 = 5;
/// How long after its start a job finishes.
pub const RUN_SECS: i64 = 60;
/// A job whose process, job type, item or area is this ends `failed` rather than
/// `succeeded`, so tests can reach the failure path deterministically.
pub const FAIL_MARKER: &str = "emulator-fail";

/// When the job started (Unix seconds); absent until a processing job is dispatched.
/// Read only by the emulator and left out of answers.
pub const STARTED: &str = "_started";
/// Whether the job will fail; left out of answers.
pub const FAILS: &str = "_fails";
/// Whether the job's registered outputs are its own result file on the emulator, whose link
/// is signed afresh each time the job is answered: a link stored with the job would expire
/// while the job is still listed. Left out of answers.
pub const OWN_RESULT: &str = "_own_result";

/// Where a job is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pending,
    Running,
    Succeeded,
    Failed,
}

impl Status {
    /// The status as answers state it, in the SDK's own terms.
    pub fn wire(self) -> JobStatus {
        match self {
            Status::Pending => JobStatus::Pending,
            Status::Running => JobStatus::Running,
            Status::Succeeded => JobStatus::Succeeded,
            Status::Failed => JobStatus::Failed,
        }
    }

    /// Whether the job has finished, either way.
    pub const fn finished(self) -> bool {
        matches!(self, Status::Succeeded | Status::Failed)
    }
}

/// When the job started, if it has.
pub fn started(job: &Resource) -> Option<i64> {
    job.fields.get(STARTED).and_then(Value::as_i64)
}

/// Whether the job's outputs are its own result file ([`OWN_RESULT`]).
pub fn own_result(job: &Resource) -> bool {
    job.fields.get(OWN_RESULT).and_then(Value::as_bool) == Some(true)
}

/// Whether the job ends `failed`.
pub fn fails(job: &Resource) -> bool {
    job.fields.get(FAILS).and_then(Value::as_bool) == Some(true)
}

/// When the job finishes (or finished), if it has started.
pub fn finished_at(job: &Resource) -> Option<i64> {
    started(job).map(|at| at.saturating_add(RUN_SECS))
}

/// The job's status at `now`.
pub fn status(job: &Resource, now: i64) -> Status {
    let Some(start) = started(job) else {
        return Status::Pending;
    };
    let elapsed = now.saturating_sub(start);
    if elapsed < QUEUED_SECS {
        Status::Pending
    } else if elapsed < RUN_SECS {
        Status::Running
    } else if fails(job) {
        Status::Failed
    } else {
        Status::Succeeded
    }
}

/// The job as answered at `now`: its fields without the private ones, plus `status`,
/// `progress` (0 to 100), `dispatched_at`, `started_at`, `finished_at` and `error_message`.
pub fn answer(job: &Resource, now: i64) -> Value {
    let mut out = job.to_json();
    let status = status(job, now);
    let start = started(job);
    let progress = match (status, start) {
        (Status::Running, Some(start)) => {
            (now - start - QUEUED_SECS) * 100 / (RUN_SECS - QUEUED_SECS)
        }
        (Status::Pending, _) => 0,
        _ => 100,
    };
    let at = |offset: i64| start.map(|s| format_date_time(s.saturating_add(offset)));
    let running = !matches!(status, Status::Pending);
    let error = (status == Status::Failed).then(|| {
        format!("the job failed: it names '{FAIL_MARKER}', which the emulator always fails")
    });
    if let Some(object) = out.as_object_mut() {
        object.remove(STARTED);
        object.remove(FAILS);
        object.remove(OWN_RESULT);
        object.insert("status".to_owned(), json!(status.wire()));
        object.insert("progress".to_owned(), json!(progress));
        object.insert("dispatched_at".to_owned(), json!(at(0)));
        object.insert(
            "started_at".to_owned(),
            json!(at(QUEUED_SECS).filter(|_| running)),
        );
        object.insert(
            "finished_at".to_owned(),
            json!(at(RUN_SECS).filter(|_| status.finished())),
        );
        object.insert("error_message".to_owned(), json!(error));
    }
    out
}

/// The events of the jobs that finished in `(from, now]`, oldest first.
pub fn finished_between(resources: &Resources, from: i64, now: i64) -> Vec<Event> {
    let jobs = resources
        .of_family(Family::ProcessingJob)
        .chain(resources.of_family(Family::ClipJob));
    let span = (Bound::Excluded(from), Bound::Included(now));
    let mut finished: Vec<(i64, &Resource)> = finished_in(jobs, span).collect();
    finished.sort_by(|a, b| a.0.cmp(&b.0).then_with(|| a.1.seq.cmp(&b.1.seq)));
    finished
        .into_iter()
        .map(|(at, job)| event(job, at))
        .collect()
}

/// The events of the organization's jobs that finished by `now`, in no order: what its
/// notifications read, at the cost of its own jobs rather than every organization's.
pub fn finished_by(resources: &Resources, org: &str, now: i64) -> Vec<Event> {
    let jobs = resources
        .owned(Family::ProcessingJob, org)
        .chain(resources.owned(Family::ClipJob, org));
    finished_in(jobs, ..=now)
        .map(|(at, job)| event(job, at))
        .collect()
}

/// The jobs of `jobs` that finished within `span`, with when they did.
fn finished_in<'a>(
    jobs: impl Iterator<Item = &'a Resource>,
    span: impl RangeBounds<i64>,
) -> impl Iterator<Item = (i64, &'a Resource)> {
    jobs.filter_map(|job| Some((finished_at(job)?, job)))
        .filter(move |(at, _)| span.contains(at))
}

/// The event of a job that finished at `at`.
fn event(job: &Resource, at: i64) -> Event {
    let failed = fails(job);
    let (event_type, entity_type) = match (job.family, failed) {
        (Family::ClipJob, false) => (CLIP_JOB_COMPLETED, "clip_job"),
        (Family::ClipJob, true) => (CLIP_JOB_FAILED, "clip_job"),
        (_, false) => (PROCESSING_JOB_COMPLETED, "processing_job"),
        (_, true) => (PROCESSING_JOB_FAILED, "processing_job"),
    };
    let status = if failed {
        Status::Failed
    } else {
        Status::Succeeded
    };
    Event {
        event_type,
        org: job.org.clone(),
        entity_type,
        entity_id: job.id.clone(),
        data: json!({
            DATA_JOB_ID: job.id,
            DATA_STATUS: status.wire(),
            "project_id": job.fields.get("project_id"),
        }),
        at,
    }
}

#[cfg(test)]
#[path = "jobs_tests.rs"]
mod tests;
