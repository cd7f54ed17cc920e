//! Upload sessions, typed where the contract leaves them open.
//!
//! The contract declares only an upload's `id`; a client that waits for an upload or reports
//! on it reads its state, byte counts, files and failure reason, so those are typed here and
//! the rest kept in `extra`.

use crate::open::{never, open_enum, open_model};

open_enum! {
    /// Where an upload session is. [`Completed`](Self::Completed) and [`Failed`](Self::Failed)
    /// are final; a value this version does not know is kept in [`Other`](Self::Other) and
    /// counts as not final.
    pub enum UploadStatus {
        /// Quota reserved, no bytes yet.
        Pending = "pending",
        /// Bytes are arriving.
        Uploading = "uploading",
        /// Complete: its files are stored and count against the quota.
        Completed = "completed",
        /// Given up; its reservation was released.
        Failed = "failed",
    }
}

impl UploadStatus {
    /// Whether the upload will not change state again.
    pub fn is_final(&self) -> bool {
        matches!(self, UploadStatus::Completed | UploadStatus::Failed)
    }
}

open_model! {
    /// An upload session, as every `uploads.*` operation answers it.
    pub struct UploadOutput {
        /// `id` of the session (`u_…`).
        id: String = "id", skip_if "never";
        /// `status`: where the session is.
        status: Option<UploadStatus> = "status", skip_if "Option::is_none";
        /// `project_id` it uploads into.
        project_id: Option<String> = "project_id", skip_if "Option::is_none";
        /// `total_bytes` reserved.
        total_bytes: Option<u64> = "total_bytes", skip_if "Option::is_none";
        /// `bytes_uploaded` as last reported by the uploader.
        bytes_uploaded: Option<u64> = "bytes_uploaded", skip_if "Option::is_none";
        /// `bytes_received` by the storage.
        bytes_received: Option<u64> = "bytes_received", skip_if "Option::is_none";
        /// `files` stored so far.
        files: Option<Vec<UploadedFile>> = "files", skip_if "Option::is_none";
        /// `error_message` of a failed session.
        error_message: Option<String> = "error_message", skip_if "Option::is_none";
        /// `error_step` at which a failed session stopped.
        error_step: Option<String> = "error_step", skip_if "Option::is_none";
        /// `completed_at` (RFC 3339).
        completed_at: Option<String> = "completed_at", skip_if "Option::is_none";
    }
}

impl UploadOutput {
    /// Whether the session will not change state again; `false` when the answer had no status.
    pub fn is_final(&self) -> bool {
        self.status.as_ref().is_some_and(UploadStatus::is_final)
    }
}

open_model! {
    /// One file the storage received for an upload session.
    pub struct UploadedFile {
        /// `file_name` as uploaded.
        file_name: String = "file_name", skip_if "never";
        /// `content_type` it was stored with.
        content_type: Option<String> = "content_type", skip_if "Option::is_none";
        /// `size` in bytes.
        size: Option<u64> = "size", skip_if "Option::is_none";
        /// `sha256` of the stored bytes, in lowercase hex.
        sha256: Option<String> = "sha256", skip_if "Option::is_none";
    }
}
