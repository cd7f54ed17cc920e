//! Processing and clip jobs, typed where the contract leaves them open.
//!
//! Jobs are long-running: clients read their id, state, progress and failure reason over and
//! over while they wait. These models type those members and keep the rest in `extra`.

use crate::downloads::DownloadLinks;
use crate::open::{never, open_enum, open_model};
use crate::JsonObject;

open_enum! {
    /// Where a processing or clip job is. [`Succeeded`](Self::Succeeded),
    /// [`Failed`](Self::Failed) and [`Cancelled`](Self::Cancelled) are final; a value this
    /// version does not know is kept in [`Other`](Self::Other) and counts as not final.
    pub enum JobStatus {
        /// Created, waiting for a worker.
        Pending = "pending",
        /// A worker is on it.
        Running = "running",
        /// Finished with outputs.
        Succeeded = "succeeded",
        /// Finished without outputs; `error_message` says why.
        Failed = "failed",
        /// Stopped before it finished.
        Cancelled = "cancelled",
    }
}

impl JobStatus {
    /// Whether the job will not change state again.
    pub fn is_final(&self) -> bool {
        matches!(
            self,
            JobStatus::Succeeded | JobStatus::Failed | JobStatus::Cancelled
        )
    }
}

open_model! {
    /// A processing or clip job, as the create and get operations answer it.
    pub struct Job {
        /// `id` of the job.
        id: String = "id" | "job_id", skip_if "never";
        /// `status`: where the job is.
        status: Option<JobStatus> = "status", skip_if "Option::is_none";
        /// `progress`, in percent.
        progress: Option<f64> = "progress", skip_if "Option::is_none" lenient;
        /// `project_id` the job belongs to.
        project_id: Option<String> = "project_id", skip_if "Option::is_none";
        /// `process_id` it runs.
        process_id: Option<String> = "process_id", skip_if "Option::is_none";
        /// `error_message` of a failed job.
        error_message: Option<String> = "error_message", skip_if "Option::is_none";
        /// `outputs` of a finished job: a list (`processing.job.register` takes one), each
        /// entry's link a signed URL, which `Debug` cuts after its path.
        outputs: Option<DownloadLinks> = "outputs", skip_if "Option::is_none";
        /// `created_at` (RFC 3339).
        created_at: Option<String> = "created_at", skip_if "Option::is_none";
        /// `started_at` (RFC 3339).
        started_at: Option<String> = "started_at", skip_if "Option::is_none";
        /// `finished_at` (RFC 3339).
        finished_at: Option<String> = "finished_at", skip_if "Option::is_none";
    }
}

impl Job {
    /// Whether the job will not change state again; `false` when the answer had no status.
    pub fn is_final(&self) -> bool {
        self.status.as_ref().is_some_and(JobStatus::is_final)
    }
}

/// What `processing.execute` answers: the job it started.
pub type ProcessExecuteOutput = Job;

open_model! {
    /// A job created and handed to a worker in one call (`processing.create_and_dispatch`).
    pub struct DispatchedJob {
        /// `job` as created.
        job: Job = "job", skip_if "never";
        /// `dispatch`: the hand-over record.
        dispatch: Option<JsonObject> = "dispatch", skip_if "Option::is_none";
    }
}

open_model! {
    /// A clip job as its creation answers it (`clip.create_from_item`, `clip.create_from_area`).
    pub struct ClipJobCreated {
        /// `job`: its id and first state.
        job: Job = "job", skip_if "never";
        /// `assets_to_clip`: how many assets it clips.
        assets_to_clip: Option<u64> = "assets_to_clip", skip_if "Option::is_none" lenient;
        /// `asset_keys` it clips.
        asset_keys: Option<Vec<String>> = "asset_keys", skip_if "Option::is_none";
    }
}
