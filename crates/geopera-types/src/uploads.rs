//! Upload sessions, typed where the contract leaves them open.
//!
//! The contract declares only an upload's `id`; a client that waits for an upload or reports
//! on it reads its state, byte counts, files and failure reason, so those are typed here and
//! the rest kept in `extra`.
//!
//! [`file_name_problem`] is the rule an uploaded file's name must meet, shared by the SDK,
//! which checks it before an upload reserves quota, and the emulator, which refuses such a
//! name at `uploads.signed_url`.

use std::fmt;

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
        total_bytes: Option<u64> = "total_bytes", skip_if "Option::is_none" lenient;
        /// `bytes_uploaded` as last reported by the uploader.
        bytes_uploaded: Option<u64> = "bytes_uploaded", skip_if "Option::is_none" lenient;
        /// `bytes_received` by the storage.
        bytes_received: Option<u64> = "bytes_received", skip_if "Option::is_none" lenient;
        /// `file_count` the session was opened for: it is complete once that many files
        /// are stored.
        file_count: Option<u64> = "file_count", skip_if "Option::is_none" lenient;
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
        size: Option<u64> = "size", skip_if "Option::is_none" lenient;
        /// `sha256` of the stored bytes, in lowercase hex.
        sha256: Option<String> = "sha256", skip_if "Option::is_none";
    }
}

/// Why a text cannot be an uploaded file's name, as [`file_name_problem`] finds it.
///
/// Non-exhaustive: the rule may grow a problem, and code that matches on these should
/// word a new one its own way or fall back to its [`Display`](fmt::Display).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum FileNameProblem {
    /// Empty or only whitespace: nothing a user could find the file by.
    Blank,
    /// `.` or `..` alone, which name the upload's folder or the one above it, not a file.
    DotName,
    /// Holds `/` or `\`: the name becomes one component of the stored object's path, and a
    /// separator would put the file in another folder than the upload's own.
    Separator,
    /// Holds a line break or another control character, which no path or listing shows as
    /// written.
    ControlCharacter,
}

impl fmt::Display for FileNameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FileNameProblem::Blank => "the file name is empty or blank",
            FileNameProblem::DotName => "the file name is '.' or '..' alone, which names a folder",
            FileNameProblem::Separator => {
                "the file name holds '/' or '\\', which would make it a path, not one name"
            }
            FileNameProblem::ControlCharacter => {
                "the file name holds a line break or another control character"
            }
        })
    }
}

impl std::error::Error for FileNameProblem {}

/// What is wrong with `name` as an uploaded file's name, or `None` when it can be one.
///
/// The name is kept as the file's name in its project and becomes the last component of the
/// stored object's path (`<project>/uploads/<upload>/<name>`), so it must be one component
/// that names a file. The contract asks only for one character at least; this is the stricter
/// rule the emulator applies, held here so that a client can refuse such a name before an
/// upload reserves quota rather than be refused after. A length limit is not part of it: the
/// emulator caps every text it keeps, names or not.
///
/// ```
/// use geopera_types::uploads::{file_name_problem, FileNameProblem};
///
/// assert_eq!(file_name_problem("scene one..v2.tif"), None);
/// assert_eq!(file_name_problem(" "), Some(FileNameProblem::Blank));
/// assert_eq!(file_name_problem(".."), Some(FileNameProblem::DotName));
/// assert_eq!(file_name_problem("a/b.tif"), Some(FileNameProblem::Separator));
/// assert_eq!(file_name_problem("a\nb.tif"), Some(FileNameProblem::ControlCharacter));
/// ```
pub fn file_name_problem(name: &str) -> Option<FileNameProblem> {
    if name.trim().is_empty() {
        Some(FileNameProblem::Blank)
    } else if name == "." || name == ".." {
        Some(FileNameProblem::DotName)
    } else if name.contains(['/', '\\']) {
        Some(FileNameProblem::Separator)
    } else if name.contains(char::is_control) {
        Some(FileNameProblem::ControlCharacter)
    } else {
        None
    }
}

#[cfg(test)]
#[path = "uploads_tests.rs"]
mod tests;
