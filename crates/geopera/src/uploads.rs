//! Uploads in one call: reserve, send the bytes, complete — or release the reservation.
//!
//! Sending a file to Geopera takes four calls: `uploads.initiate` reserves the file's size
//! from the organization's storage quota, `uploads.signed_url` names where the bytes go, an
//! HTTP `PUT` sends them there, and `uploads.complete` turns the reservation into stored
//! bytes. A failure after the reservation must be reported with `uploads.fail`, or the
//! reserved quota stays taken until someone notices. [`Upload`] runs the whole sequence and
//! calls `uploads.fail` itself when any step after the reservation fails, so the quota is
//! released whatever went wrong; the error then says which step failed and whether the
//! release went through. When `uploads.complete` fails and the release is refused as the
//! upload is no longer open, the commit may have been made with only its answer lost: the
//! upload is read again (`uploads.progress` with its id alone), and a completed one is the
//! success it is, with [`Uploaded::lost_answer`] saying why the answer never came.
//!
//! ```
//! use geopera::uploads::Upload;
//! use geopera::AuthenticatedClient;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! # let emulator = geopera_emulator::Emulator::builder().start()?;
//! # let (base_url, token) = (emulator.base_url(), emulator.api_key().to_owned());
//! let client = AuthenticatedClient::new(base_url, token)?;
//! # let project = geopera::Geopera::from(client.clone())
//! #     .invoke("projects.create", serde_json::json!({"name": "docs"})).await?;
//! # let project_id = project["id"].as_str().unwrap_or_default().to_owned();
//! # let path = std::env::temp_dir().join(format!("geopera-doc-{}.tif", std::process::id()));
//! # std::fs::write(&path, b"not really a GeoTIFF")?;
//! let uploaded = Upload::from_path(&project_id, &path)
//!     .content_type("image/tiff")
//!     .on_progress(|p| eprintln!("{} of {} bytes", p.bytes_sent, p.total_bytes))
//!     .send(&client)
//!     .await?;
//! println!("{} is at {}", uploaded.upload_id, uploaded.object_path);
//! # std::fs::remove_file(&path)?;
//! # Ok(()) }
//! ```
//!
//! # Names checked first
//!
//! The file name and media type are sent only after the quota is reserved, so
//! [`Upload::send`] checks them before it reserves anything. A program that takes them from
//! its users can refuse them sooner, by the same rules, with [`check_file_name`] and
//! [`check_content_type`], whose [`NamingError`] says which rule was broken.
//!
//! # What goes where
//!
//! The `PUT` goes to a URL the server chose, so it carries nothing of the client's: no
//! `Authorization`, no `x-api-key`, no default headers or cookies of the client — only the
//! bytes, `Content-Type` and `Content-Length`. A signed URL carries its own authority. Only
//! `http` and `https` URLs are used, and redirects are not followed (a `3xx` answer is a
//! failed transfer). The connection settings of the client — TLS roots, proxies, connect
//! timeout, [`verify_tls`](crate::ClientBuilder::verify_tls), `http2_prior_knowledge`
//! (feature `http2`) — do apply: a client that speaks HTTP/2 without negotiation speaks it to
//! the storage too, and a storage that speaks HTTP/1.1 only then fails the transfer. A
//! `reqwest` client you brought ([`crate::Client::with_http_client`]) carries the `PUT` too,
//! so its own default headers would go with it.
//!
//! # Memory and time
//!
//! The bytes are read and sent in chunks of [`CHUNK_BYTES`], never held whole, so a file of
//! any size costs the same memory. The `PUT` fails when no chunk is taken and no answer comes
//! for [`Upload::stall_timeout`] (default [`DEFAULT_STALL_TIMEOUT`]), and, when set, after
//! [`Upload::timeout`] in all. The API calls around it use the client's settings: retries,
//! timeouts, deadline.
//!
//! # Cancellation
//!
//! Dropping the future of [`Upload::send`] after the reservation was made, inside a Tokio
//! runtime, spawns one `uploads.fail` call (`error_step` `"cancelled"`) on that runtime to
//! release the reservation; nothing reports its outcome. Outside a runtime nothing can run it,
//! and the reservation stays until the API expires it. `Upload::send_blocking` runs to the
//! end once started. To stop an upload and hear how its release went, give it a signal with
//! [`Upload::cancel_on`] instead: it ends with [`UploadCause::Cancelled`], its id and its
//! [`Release`].

use std::fmt;
use std::future::Future;
use std::io;
use std::path::{Path, PathBuf};
use std::pin::{pin, Pin};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures::future::Either;
use futures::stream::{BoxStream, Stream, StreamExt};
use geopera_types::models::{
    SignedUrlInput, UploadFailInput, UploadInitiate, UploadOutput, UploadProgressInput,
    UploadStatus,
};
use geopera_types::operations::{
    UploadsComplete, UploadsFail, UploadsInitiate, UploadsProgress, UploadsSignedUrl,
};
use geopera_types::uploads::file_name_problem;
/// What [`NamingError::FileName`] says is wrong with a file name.
pub use geopera_types::uploads::FileNameProblem;
use geopera_types::{DecodeOutput, Operation};
use http::header::{CONTENT_LENGTH, CONTENT_TYPE};
use http::StatusCode;
use serde::Deserialize;

use crate::client::Client;
use crate::engine::Face;
use crate::error::server_words;
use crate::{ApiClient, Error, IntoRequest};

/// How many bytes are read from the source and handed to the connection at a time: large
/// enough that a gigabyte is a few thousand reads, small enough to be nothing in memory.
pub const CHUNK_BYTES: usize = 64 * 1024;

/// How long the `PUT` may go without the server taking a chunk or answering, unless
/// [`Upload::stall_timeout`] says otherwise. Matches the client's default read timeout.
pub const DEFAULT_STALL_TIMEOUT: Duration = crate::DEFAULT_READ_TIMEOUT;

/// The longest `error_message` sent with `uploads.fail`; the cause stays whole in the error.
const MAX_FAIL_MESSAGE_CHARS: usize = 500;

/// Where an upload's bytes come from.
enum Source {
    Path(PathBuf),
    Stream {
        len: u64,
        stream: BoxStream<'static, io::Result<Bytes>>,
    },
}

/// How far the bytes have got, as handed to [`Upload::on_progress`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct Progress {
    /// Bytes handed to the connection so far.
    pub bytes_sent: u64,
    /// The size of the whole file, as declared to `uploads.initiate`.
    pub total_bytes: u64,
}

type ProgressFn = Arc<dyn Fn(Progress) + Send + Sync>;

/// A callback given the upload's id once its space is reserved ([`Upload::on_reserved`]).
type ReservedFn = Arc<dyn Fn(&str) + Send + Sync>;

/// One file to upload into a project, sent by [`send`](Upload::send) or
/// `send_blocking`. Setters never fail; problems show when sending.
#[must_use = "an upload does nothing until it is sent"]
pub struct Upload {
    source: Source,
    file_name: Option<String>,
    options: Options,
    /// Stops the upload when it resolves ([`Upload::cancel_on`]). Kept apart from the
    /// options, which the steps share across their awaits: a caller's future need not be
    /// `Sync`.
    cancel: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
}

/// Everything about an upload but its bytes.
struct Options {
    project_id: String,
    content_type: Option<String>,
    target_collection_id: Option<String>,
    target_item_id: Option<String>,
    asset_key: Option<String>,
    categorical: bool,
    on_progress: Option<ProgressFn>,
    on_reserved: Option<ReservedFn>,
    stall_timeout: Option<Duration>,
    timeout: Option<Duration>,
}

impl fmt::Debug for Upload {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let source = match &self.source {
            Source::Path(path) => format!("path {}", path.display()),
            Source::Stream { len, .. } => format!("stream of {len} bytes"),
        };
        f.debug_struct("Upload")
            .field("project_id", &self.options.project_id)
            .field("file_name", &self.file_name)
            .field("source", &source)
            .field("content_type", &self.options.content_type)
            .finish_non_exhaustive()
    }
}

impl Upload {
    fn new(project_id: impl Into<String>, file_name: Option<String>, source: Source) -> Self {
        Upload {
            source,
            file_name,
            options: Options {
                project_id: project_id.into(),
                content_type: None,
                target_collection_id: None,
                target_item_id: None,
                asset_key: None,
                categorical: false,
                on_progress: None,
                on_reserved: None,
                stall_timeout: Some(DEFAULT_STALL_TIMEOUT),
                timeout: None,
            },
            cancel: None,
        }
    }

    /// A file on disk; its size is read when the upload is sent, and its name (the last
    /// component of `path`) becomes the uploaded file's name unless
    /// [`file_name`](Self::file_name) gives another. A name that is not UTF-8 is never sent
    /// changed: without `file_name`, such an upload fails before anything is reserved. A file
    /// that grew while it was sent fails the transfer with [`UploadCause::LengthMismatch`] as
    /// soon as a read passes its size; one whose size or modification time has changed once
    /// its bytes are read (it shrank, or was rewritten in place at its size) fails it before
    /// its last chunk goes, with [`UploadCause::SourceChanged`]. Either way its reservation is
    /// released.
    pub fn from_path(project_id: impl Into<String>, path: impl AsRef<Path>) -> Self {
        let path = path.as_ref().to_path_buf();
        // A name that is not UTF-8 has no faithful spelling in JSON: it is left unset, and
        // sending fails naming the file unless `file_name` gives one.
        let name = path
            .file_name()
            .and_then(|name| name.to_str())
            .map(str::to_owned);
        Upload::new(project_id, name, Source::Path(path))
    }

    /// Bytes from a stream that yields exactly `len` bytes, for data that is not a file (a
    /// download being passed on, a file being generated). The size is reserved up front, so
    /// it must be known; a stream that ends early or runs on fails the upload.
    pub fn from_stream<S>(
        project_id: impl Into<String>,
        file_name: impl Into<String>,
        len: u64,
        stream: S,
    ) -> Self
    where
        S: Stream<Item = io::Result<Bytes>> + Send + 'static,
    {
        Upload::new(
            project_id,
            Some(file_name.into()),
            Source::Stream {
                len,
                stream: stream.boxed(),
            },
        )
    }

    /// Bytes from an async reader that yields exactly `len` bytes, read in chunks of
    /// [`CHUNK_BYTES`]; see [`from_stream`](Self::from_stream).
    pub fn from_reader<R>(
        project_id: impl Into<String>,
        file_name: impl Into<String>,
        len: u64,
        reader: R,
    ) -> Self
    where
        R: tokio::io::AsyncRead + Send + 'static,
    {
        let stream = tokio_util::io::ReaderStream::with_capacity(Box::pin(reader), CHUNK_BYTES);
        Upload::from_stream(project_id, file_name, len, stream)
    }

    /// The uploaded file's name, instead of the path's last component. A name
    /// [`check_file_name`] refuses (blank, `.` or `..`, or holding `/`, `\` or a control
    /// character) fails the upload before anything is reserved.
    pub fn file_name(mut self, name: impl Into<String>) -> Self {
        self.file_name = Some(name.into());
        self
    }

    /// The file's media type (default `application/octet-stream`), which the storage keeps
    /// and serves the file with. One that is blank or cannot be a `Content-Type` header fails
    /// the upload before anything is reserved.
    pub fn content_type(mut self, content_type: impl Into<String>) -> Self {
        self.options.content_type = Some(content_type.into());
        self
    }

    /// The collection the file is to become part of.
    pub fn target_collection(mut self, collection_id: impl Into<String>) -> Self {
        self.options.target_collection_id = Some(collection_id.into());
        self
    }

    /// The item the file is to become an asset of.
    pub fn target_item(mut self, item_id: impl Into<String>) -> Self {
        self.options.target_item_id = Some(item_id.into());
        self
    }

    /// The key of the asset the file becomes in its item.
    pub fn asset_key(mut self, key: impl Into<String>) -> Self {
        self.options.asset_key = Some(key.into());
        self
    }

    /// Whether the raster holds classes (land cover, masks) rather than measurements, so
    /// that it is resampled by nearest neighbour.
    pub fn categorical(mut self, categorical: bool) -> Self {
        self.options.categorical = categorical;
        self
    }

    /// Called each time a chunk is handed to the connection, with the bytes sent so far,
    /// which only grow and end at the total. It runs inside the transfer, on the task that
    /// drives the connection: keep it quick. A panic in it is not caught by the SDK; it ends
    /// that task, so the transfer fails like a broken connection and is reported as such.
    pub fn on_progress(mut self, progress: impl Fn(Progress) + Send + Sync + 'static) -> Self {
        self.options.on_progress = Some(Arc::new(progress));
        self
    }

    /// Called once with the upload's id as soon as its space is reserved (`uploads.initiate`
    /// answered), before any byte is sent. Every way out of [`send`](Self::send) releases the
    /// reservation or says why not, with the id; but a program stopped before `send` returns
    /// (a second Ctrl-C, a crash, a future dropped whose release nobody hears) learns the id
    /// only here, and without it cannot release or look up the space it may still hold.
    pub fn on_reserved(mut self, reserved: impl Fn(&str) + Send + Sync + 'static) -> Self {
        self.options.on_reserved = Some(Arc::new(reserved));
        self
    }

    /// How long the `PUT` may go without the server taking a chunk or answering (default
    /// [`DEFAULT_STALL_TIMEOUT`]); `None` lifts it.
    ///
    /// "Taking" is seen from this side of the socket: the last chunk counts as taken once the
    /// operating system has it, and the wait for the answer that follows also covers the time
    /// the system takes to send what it buffered (on Linux up to 4 MiB by default, the third
    /// value of `net.ipv4.tcp_wmem`). On a link so slow that this takes longer than the limit
    /// (4 MiB at 64 KiB/s is 64 s), raise the limit, or the transfer fails as stalled at its
    /// very end.
    pub fn stall_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.options.stall_timeout = timeout.into();
        self
    }

    /// The longest the whole `PUT` may take, answer included (default none: a large file on
    /// a slow link takes as long as it takes, and the stall timeout catches a dead one).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.options.timeout = Some(timeout);
        self
    }

    /// Stops the upload when `signal` resolves (a Ctrl-C, a shutdown), ending it with
    /// [`UploadCause::Cancelled`] and the reservation released by `uploads.fail` first, so that
    /// the error says whether it was ([`UploadError::release`]) and which upload it was.
    ///
    /// Why not drop the future instead: a dropped upload releases its reservation too, but on a
    /// task of its own whose outcome nobody hears, and the caller never learns the upload's id.
    /// The signal is watched once the reservation is made; one that came before ends the
    /// upload right after it (a reservation under way cannot be called back unseen).
    ///
    /// A signal while `uploads.complete` is under way releases the reservation too, unless
    /// the API refuses as the upload is no longer open (the commit was made, and only its
    /// answer is slow): the upload then ends as that answer says, within the client's
    /// [timeout](crate::ClientBuilder::timeout), rather than be reported cancelled when it is
    /// stored. A release that fails otherwise (a 503, a 403) ends the upload at once as
    /// [`UploadCause::Cancelled`] at [`UploadStep::Complete`] with [`Release::NotReleased`]:
    /// the commit may still have been made, which `uploads.progress` tells.
    pub fn cancel_on(mut self, signal: impl Future<Output = ()> + Send + 'static) -> Self {
        self.cancel = Some(Box::pin(signal));
        self
    }

    /// Runs the upload: reserve, sign, send the bytes, complete.
    ///
    /// # Errors
    ///
    /// Any step failing; see [`UploadError`]. When the reservation had been made, it has been
    /// released with `uploads.fail` before this returns, or [`UploadError::release`] says why
    /// not.
    pub async fn send(self, client: &impl ApiClient) -> Result<Uploaded, UploadError> {
        let client = client.core();
        run(client, client.async_face(), self).await
    }

    /// The blocking form of [`send`](Self::send): the same steps on the engine that carries
    /// the client's blocking calls.
    ///
    /// # Errors
    ///
    /// As for [`send`](Self::send).
    #[cfg(feature = "blocking")]
    pub fn send_blocking(self, client: &impl ApiClient) -> Result<Uploaded, UploadError> {
        let owned = client.core().clone();
        let caller = crate::caller::Caller::current();
        crate::blocking::run(&client.core().blocking, caller, move |thread| async move {
            run(&owned, thread.face(), self).await
        })
        .map_err(|error| {
            UploadError::new(
                UploadStep::Prepare,
                None,
                error.into(),
                Release::NothingReserved,
            )
        })?
    }
}

/// A completed upload.
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct Uploaded {
    /// The upload's id (`u_…`).
    pub upload_id: String,
    /// Where the file is stored, as `uploads.signed_url` named it.
    pub object_path: String,
    /// The bytes sent.
    pub bytes: u64,
    /// The `uploads.complete` answer: the upload's status, byte counts and files.
    pub upload: UploadOutput,
    /// Why no answer to `uploads.complete` could be taken, when the commit was made all the
    /// same: it never came (a connection dropped after it, a gateway's 502 on every attempt),
    /// came and could not be read (a success whose members are of other types than
    /// [`UploadOutput`] declares), or named another upload (a misrouted or cached answer).
    /// Its release was refused as the upload is no longer open, and the upload, read again,
    /// was completed: `upload` is then that reading, holding what could be read, the rest of
    /// its members in `extra`. `None` when the answer came, was read and named this upload.
    pub lost_answer: Option<Arc<Error>>,
}

/// The steps of an upload, in order; the name of a failed one is the `error_step` given to
/// `uploads.fail`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum UploadStep {
    /// Opening the file and reading its size, before anything is reserved.
    Prepare,
    /// `uploads.initiate`, which reserves the quota.
    Initiate,
    /// `uploads.signed_url`.
    SignedUrl,
    /// The `PUT` of the bytes.
    Transfer,
    /// `uploads.complete`.
    Complete,
}

impl UploadStep {
    /// The step's name, as sent in `error_step`.
    pub fn as_str(self) -> &'static str {
        match self {
            UploadStep::Prepare => "prepare",
            UploadStep::Initiate => "initiate",
            UploadStep::SignedUrl => "signed_url",
            UploadStep::Transfer => "transfer",
            UploadStep::Complete => "complete",
        }
    }
}

impl fmt::Display for UploadStep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What went wrong in the failed step.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadCause {
    /// An API call failed.
    #[error(transparent)]
    Api(#[from] Error),
    /// The file or stream could not be read.
    #[error("the source could not be read")]
    Io(#[source] io::Error),
    /// The storage server answered the `PUT` with something other than success.
    #[error("the storage server answered {status}")]
    Rejected {
        /// Its status.
        status: StatusCode,
    },
    /// The storage server answered the `PUT` with success before the whole file was sent:
    /// it cannot hold the bytes it never got, so the upload is not completed.
    #[error("the storage server answered {status} after {sent} of {declared} bytes")]
    AnsweredEarly {
        /// Its status.
        status: StatusCode,
        /// The bytes handed to the connection when it answered.
        sent: u64,
        /// The size declared (and reserved).
        declared: u64,
    },
    /// The `PUT` could not be sent or its answer not read.
    #[error("the transfer broke off")]
    Transport(#[source] reqwest::Error),
    /// The server took no chunk and gave no answer for this long.
    #[error("the transfer stalled for {0:?}")]
    Stalled(Duration),
    /// `uploads.initiate` reserved another size than the one declared, so the upload could
    /// not be completed as sent; it is released before any byte goes.
    #[error("{reserved} bytes were reserved for the {declared} declared")]
    ReservedOtherSize {
        /// The size declared.
        declared: u64,
        /// The size the API said it reserved.
        reserved: i64,
    },
    /// The signal given to [`Upload::cancel_on`] came before the upload ended.
    #[error("the upload was cancelled")]
    Cancelled,
    /// The `PUT` took longer than [`Upload::timeout`].
    #[error("the transfer took longer than {0:?}")]
    TimedOut(Duration),
    /// The source yielded another number of bytes than it declared.
    #[error("the source declared {declared} bytes but held {}", if *.seen > *.declared { format!("more than {declared}") } else { seen.to_string() })]
    LengthMismatch {
        /// The size declared (and reserved).
        declared: u64,
        /// Bytes read before the mismatch showed: fewer than declared, or one chunk past it.
        seen: u64,
    },
    /// The signed URL is not an `http` or `https` URL. The URL is not repeated: it is a
    /// credential for the upload.
    #[error("the signed URL is not usable: {0}")]
    UnusableUrl(&'static str),
    /// The file of [`Upload::from_path`] had another size or modification time once its bytes
    /// were read than when the upload began: rewritten while it was sent, its bytes may be a
    /// mix of old and new, so the last chunk was not sent. (A file that grew past its size is
    /// found out sooner, as [`UploadCause::LengthMismatch`].)
    #[error(
        "the file changed while it was read: its size or modification time is not what it \
         was when the upload began"
    )]
    SourceChanged,
    /// `uploads.complete` succeeded but answered that the upload failed, with the API's
    /// reason when it gave one: the file is not stored, whatever the answer's status code.
    #[error(
        "the API answered that the upload failed{}",
        .reason.as_deref().map(|reason| format!(": {}", crate::error::server_words(reason))).unwrap_or_default()
    )]
    CommitFailed {
        /// The answer's `error_message`, as the API wrote it.
        reason: Option<String>,
    },
    /// `uploads.complete` succeeded but answered for another upload, named here (a misrouted
    /// or cached answer): it says nothing of whether this upload was completed, which
    /// `uploads.progress` with [`UploadError::upload_id`] tells.
    #[error(
        "uploads.complete answered for another upload, {}",
        crate::error::server_words(.0)
    )]
    OtherUpload(String),
}

/// Whether the reservation of a failed upload was released.
#[derive(Debug)]
#[non_exhaustive]
pub enum Release {
    /// The upload failed before anything was reserved.
    NothingReserved,
    /// `uploads.fail` released it.
    Released,
    /// `uploads.fail` itself failed; the reservation may still hold until the API expires it
    /// or a later `uploads.fail` with [`UploadError::upload_id`] succeeds.
    NotReleased(Error),
    /// `uploads.initiate` failed without an answer that refused it (a timeout, a dropped
    /// connection, a 5xx on every attempt, a success whose id could not be read): the API
    /// may have reserved the quota under an id this client never learned, and then holds it
    /// until it expires the idle upload. Nothing can be released without the id.
    Unknown,
}

impl Release {
    /// Whether `uploads.fail` was refused because the upload is no longer open (409):
    /// completed, failed or expired already, with nothing reserved left to release, so a
    /// later `uploads.fail` would be refused the same way.
    pub fn refused_as_closed(&self) -> bool {
        matches!(self, Release::NotReleased(refused) if refused.status() == Some(StatusCode::CONFLICT))
    }
}

/// A failed upload: the step, the upload's id once it had one, the cause, and whether the
/// reserved quota was released. Its message quotes the id the server handed out with every
/// character that would act on a terminal written as `\u{..}`; [`UploadError::upload_id`]
/// gives it as it came.
pub struct UploadError {
    inner: Box<Failure>,
}

struct Failure {
    step: UploadStep,
    upload_id: Option<String>,
    cause: UploadCause,
    release: Release,
}

impl UploadError {
    fn new(
        step: UploadStep,
        upload_id: Option<String>,
        cause: UploadCause,
        release: Release,
    ) -> Self {
        UploadError {
            inner: Box::new(Failure {
                step,
                upload_id,
                cause,
                release,
            }),
        }
    }

    /// The step that failed.
    pub fn step(&self) -> UploadStep {
        self.inner.step
    }

    /// The upload's id, when `uploads.initiate` had answered one.
    pub fn upload_id(&self) -> Option<&str> {
        self.inner.upload_id.as_deref()
    }

    /// What went wrong.
    pub fn cause(&self) -> &UploadCause {
        &self.inner.cause
    }

    /// Whether the reservation was released.
    pub fn release(&self) -> &Release {
        &self.inner.release
    }

    /// Whether no quota is left reserved by this upload: nothing was reserved, or it was
    /// released. `false` when that is not known ([`Release::Unknown`]).
    pub fn is_released(&self) -> bool {
        !matches!(
            self.inner.release,
            Release::NotReleased(_) | Release::Unknown
        )
    }

    /// The API error, when the failed step was an API call.
    pub fn api_error(&self) -> Option<&Error> {
        match &self.inner.cause {
            UploadCause::Api(error) => Some(error),
            _ => None,
        }
    }
}

impl fmt::Debug for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UploadError")
            .field("step", &self.inner.step)
            .field("upload_id", &self.inner.upload_id)
            .field("cause", &self.inner.cause)
            .field("release", &self.inner.release)
            .finish()
    }
}

impl fmt::Display for UploadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let Failure {
            step,
            upload_id,
            cause,
            release,
        } = &*self.inner;
        match upload_id {
            Some(id) => write!(
                f,
                "upload {} failed at step {step}: {cause}",
                server_words(id)
            )?,
            None => write!(f, "upload failed at step {step}: {cause}")?,
        }
        match release {
            Release::NothingReserved => Ok(()),
            Release::Released => f.write_str("; its reservation was released"),
            Release::NotReleased(error) => {
                write!(f, "; its reservation could not be released ({error})")
            }
            Release::Unknown => f.write_str(
                "; the API may have reserved quota for it, held until it expires the upload",
            ),
        }
    }
}

impl std::error::Error for UploadError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match &self.inner.cause {
            // The API error is the cause itself, not a wrapper of one.
            UploadCause::Api(error) => Some(error),
            cause => Some(cause),
        }
    }
}

/// `uploads.initiate`'s answer, as far as this module reads it.
#[derive(Deserialize)]
struct Initiated {
    id: String,
    /// The size reserved, when the answer says it as an integer. Read leniently: an answer
    /// with the id and a size in another form (`"11"`, `11.0`) has reserved all the same, and
    /// refused as undecodable its id would be lost with the reservation it names.
    #[serde(default, deserialize_with = "integer_or_none")]
    total_bytes: Option<i64>,
}

/// A JSON integer that fits `i64`, or `None` for any other value.
fn integer_or_none<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<i64>, D::Error> {
    let value = serde_json::Value::deserialize(deserializer)?;
    Ok(value.as_i64())
}

/// What a failed `uploads.initiate` may have left reserved: nothing when the API refused it
/// (a 4xx) or the request never left (no connection, a check of this client's), else
/// [`Release::Unknown`]: the request may have been carried out with its answer lost.
///
/// Only the one attempt tells: a call sent again after an attempt whose outcome was not
/// known (a timeout, a 5xx) may have reserved on that attempt, whatever the last one met —
/// a 409 for the key still being worked on, a 410 for a key whose answer is not kept, no
/// connection to a server that went away. An error keeps the count of attempts, not what
/// each met, so every call sent more than once is [`Release::Unknown`], one refused with a
/// 429 each time too: it errs towards saying the space may be held.
fn reserved_by(error: &Error) -> Release {
    if error.attempts() > 1 {
        return Release::Unknown;
    }
    let refused = match error.status() {
        Some(status) => status.is_client_error(),
        None => {
            error.is_connect()
                || matches!(
                    error.kind(),
                    crate::ErrorKind::InvalidRequest
                        | crate::ErrorKind::Validation
                        | crate::ErrorKind::Config
                        | crate::ErrorKind::Auth
                )
        }
    };
    if refused {
        Release::NothingReserved
    } else {
        Release::Unknown
    }
}

/// `uploads.signed_url`'s answer, as far as this module reads it.
#[derive(Deserialize)]
struct Signed {
    upload_url: String,
    object_path: String,
}

/// One operation through the engine, decoded into what this module reads of its answer.
async fn call<O: Operation, T: DecodeOutput>(
    client: &Client,
    face: Face<'_>,
    body: impl IntoRequest<O::Input>,
) -> Result<T, Error> {
    let (payload, options) = crate::runtime::prepare::<O>(client, body)?;
    crate::runtime::call_as::<T>(client, face, O::INFO, &options, payload).await
}

/// The whole sequence; every failure after the reservation goes through [`fail`].
async fn run(client: &Client, face: Face<'_>, upload: Upload) -> Result<Uploaded, UploadError> {
    let before = |step, cause| UploadError::new(step, None, cause, Release::NothingReserved);
    // Reading the file needs the runtime before the first call would find it missing.
    if face.blocking.is_none() {
        crate::engine::outside_tokio(UploadsInitiate::INFO.id)
            .map_err(|error| before(UploadStep::Prepare, error.into()))?;
    }
    let Upload {
        source,
        file_name,
        options,
        cancel,
    } = upload;
    // What to say if the upload has no name: the path's own, when it has one that is not
    // UTF-8, written with its other bytes escaped.
    let unspellable = match (&file_name, &source) {
        (None, Source::Path(path)) => path.file_name().map(|name| format!("{name:?}")),
        _ => None,
    };
    let (len, stream) = match source {
        Source::Path(path) => {
            // Only a regular file has a size before it is read, and the size is reserved up
            // front: a pipe, a device or a folder reads as 0 bytes and would be "uploaded"
            // empty. Asked before opening, too, as opening a pipe waits for its writer.
            let not_a_file = |path: &Path| {
                let message = format!(
                    "{} is not a regular file, so its size is unknown before it is read; \
                     send such data with Upload::from_stream and its length",
                    path.display()
                );
                before(
                    UploadStep::Prepare,
                    UploadCause::Io(io::Error::new(io::ErrorKind::InvalidInput, message)),
                )
            };
            let kind = tokio::fs::metadata(&path)
                .await
                .map_err(|e| before(UploadStep::Prepare, UploadCause::Io(e)))?;
            if !kind.is_file() {
                return Err(not_a_file(&path));
            }
            let file = tokio::fs::File::open(&path)
                .await
                .map_err(|e| before(UploadStep::Prepare, UploadCause::Io(e)))?;
            let meta = file
                .metadata()
                .await
                .map_err(|e| before(UploadStep::Prepare, UploadCause::Io(e)))?;
            if !meta.is_file() {
                return Err(not_a_file(&path));
            }
            // Read again once every byte is read, before the last chunk goes: a file
            // rewritten in place at its size (a download still filling it, `rsync
            // --inplace`) would otherwise be stored as a mix of old and new bytes.
            let watch = file
                .try_clone()
                .await
                .map_err(|e| before(UploadStep::Prepare, UploadCause::Io(e)))?;
            let unchanged = unchanged_since(watch, meta.len(), meta.modified().ok());
            let stream = tokio_util::io::ReaderStream::with_capacity(file, CHUNK_BYTES)
                .chain(futures::stream::once(unchanged).filter_map(std::future::ready))
                .boxed();
            (meta.len(), stream)
        }
        Source::Stream { len, stream } => (len, stream),
    };
    let Some(file_name) = file_name else {
        let message = match unspellable {
            Some(name) => format!(
                "the file name {name} is not UTF-8, so it cannot be sent as it is; give the \
                 name to upload under with Upload::file_name"
            ),
            None => "the path names no file; give one with Upload::file_name".to_owned(),
        };
        let error = Error::invalid(UploadsSignedUrl::INFO.id, message);
        return Err(before(UploadStep::Prepare, error.into()));
    };
    let total = i64::try_from(len).map_err(|_| {
        let error = Error::invalid(UploadsInitiate::INFO.id, "the file is too large");
        before(UploadStep::Prepare, error.into())
    })?;
    check_naming(client, &file_name, options.content_type.as_deref())
        .map_err(|error| before(UploadStep::Prepare, error.into()))?;

    // The contract's methods are `browser`, `cli` and `cloud_transfer`; a program sending
    // from its own disk is the `cli` case.
    let mut initiate = UploadInitiate::new(&options.project_id)
        .transfer_method("cli")
        .file_count(1)
        .total_bytes(total)
        .with_is_categorical(options.categorical);
    initiate
        .target_collection_id
        .clone_from(&options.target_collection_id);
    initiate.target_item_id.clone_from(&options.target_item_id);
    initiate.asset_key.clone_from(&options.asset_key);
    let Initiated {
        id,
        total_bytes: reserved,
    } = call::<UploadsInitiate, _>(client, face, initiate)
        .await
        .map_err(|error| {
            let release = reserved_by(&error);
            UploadError::new(UploadStep::Initiate, None, error.into(), release)
        })?;
    // From here on the quota is reserved: every way out releases it or says why not, a
    // future dropped while the release below is under way included.
    let mut guard = Reservation::new(client, face, &id);
    if let Some(reserved) = &options.on_reserved {
        reserved(&id);
    }
    // Another size reserved than declared: the bytes would all be sent before the commit was
    // refused for it (or a file cut short were committed as whole). Released at once instead.
    if let Some(reserved) = reserved.filter(|reserved| *reserved != total) {
        let cause = UploadCause::ReservedOtherSize {
            declared: len,
            reserved,
        };
        let release = fail(client, face, &id, UploadStep::Initiate, &cause).await;
        guard.disarm();
        return Err(UploadError::new(
            UploadStep::Initiate,
            Some(id),
            cause,
            release,
        ));
    }
    let mut signal = cancel;
    let transfer = transfer(client, face, &options, &id, &file_name, len, stream);
    let transferred = match signal.take() {
        None => transfer.await,
        Some(watched) => match futures::future::select(pin!(transfer), watched).await {
            Either::Left((outcome, watched)) => {
                signal = Some(watched);
                outcome
            }
            Either::Right(((), _)) => Err((UploadStep::Transfer, UploadCause::Cancelled)),
        },
    };
    let mut stored_at = None;
    // A commit's answer that names another upload, kept to say why it was not taken.
    let mut misrouted = None;
    let outcome = match transferred {
        Ok(object_path) => {
            let answer = match committed(client, face, &id, signal).await {
                Ok((upload, released)) => match not_completed(&id, &upload) {
                    None => Ok(upload),
                    Some(cause) => {
                        misrouted = Some(upload);
                        // A release sent already (on the signal) is not sent again.
                        Err(match released {
                            Some(release) => Ended::Released(cause, release),
                            None => Ended::Failed(UploadStep::Complete, cause),
                        })
                    }
                },
                Err(ended) => Err(ended),
            };
            match answer {
                Ok(upload) => Ok(Uploaded {
                    upload_id: id.clone(),
                    object_path,
                    bytes: len,
                    upload,
                    lost_answer: None,
                }),
                Err(ended) => {
                    stored_at = Some(object_path);
                    Err(ended)
                }
            }
        }
        Err((step, cause)) => Err(Ended::Failed(step, cause)),
    };
    // The guard stays armed through `uploads.fail`: a drop during that call still releases.
    let (step, cause, release) = match outcome {
        Ok(done) => {
            guard.disarm();
            return Ok(done);
        }
        Err(Ended::Failed(step, cause)) => {
            let release = fail(client, face, &id, step, &cause).await;
            (step, cause, release)
        }
        Err(Ended::Released(cause, release)) => (UploadStep::Complete, cause, release),
    };
    guard.disarm();
    // Nothing is left to release once the upload is no longer open, so a release refused
    // with 409 after the commit failed is no harm to report; but the commit may have been
    // made with only its answer lost (a connection dropped after it, a gateway's 502 on every
    // attempt), or answered for another upload, which says nothing of this one's. Read again,
    // the upload says which: reported failed, a stored file would be sent again by a caller
    // who believed it.
    let unknown_commit = matches!(cause, UploadCause::Api(_) | UploadCause::OtherUpload(_));
    let (Some(object_path), true) = (stored_at, unknown_commit && release.refused_as_closed())
    else {
        return Err(UploadError::new(step, Some(id), cause, release));
    };
    let Some(upload) = stored_after_all(client, face, &id).await else {
        return Err(UploadError::new(step, Some(id), cause, release));
    };
    let lost = match (cause, misrouted) {
        (UploadCause::Api(lost), _) => lost,
        // Said as an answer that does not fit: it came, and it is not this upload's.
        (cause, answer) => Error::decode(
            <UploadsComplete as geopera_types::Operation>::INFO.id,
            StatusCode::OK,
            &answer
                .and_then(|answer| serde_json::to_vec(&answer).ok())
                .unwrap_or_default(),
            serde::de::Error::custom(cause.to_string()),
        ),
    };
    tracing::warn!(
        upload_id = %id,
        cause = %lost,
        "no answer to uploads.complete could be taken; read again, the upload is completed"
    );
    Ok(Uploaded {
        upload_id: id,
        object_path,
        bytes: len,
        upload,
        lost_answer: Some(Arc::new(lost)),
    })
}

/// The upload `id` as read again with `uploads.progress` (which reports nothing new when
/// given the id alone), when it is completed: the commit was made though its answer failed
/// or could not be read.
///
/// Read leniently: only the id and the status must be what they are; a member of another
/// type than [`UploadOutput`] declares (a time as a number, a status that is no text) is kept
/// in `extra`, since the same answer read strictly is what failed the commit's answer, and a
/// stored file reported failed would be sent again.
async fn stored_after_all(client: &Client, face: Face<'_>, id: &str) -> Option<UploadOutput> {
    let read = UploadProgressInput::new(id);
    let answer = call::<UploadsProgress, serde_json::Value>(client, face, read)
        .await
        .ok()?;
    let completed = answer.get("id").and_then(serde_json::Value::as_str) == Some(id)
        && answer.get("status").and_then(serde_json::Value::as_str)
            == Some(UploadStatus::Completed.as_str());
    if !completed {
        return None;
    }
    Some(
        serde_json::from_value::<UploadOutput>(answer.clone()).unwrap_or_else(|_| {
            let mut upload = UploadOutput::default();
            upload.id = id.to_owned();
            upload.status = Some(UploadStatus::Completed);
            if let serde_json::Value::Object(members) = answer {
                upload.extra = members
                    .into_iter()
                    .filter(|(name, _)| name != "id" && name != "status")
                    .collect();
            }
            upload
        }),
    )
}

/// Why a successful answer of `uploads.complete` for the upload `id` does not say it was
/// completed, if it does not: it names another upload, or says the upload failed. An answer
/// without these members (the contract promises none) is taken as the success it was sent
/// as, and so is any other status, which an API may use for a file it goes on processing.
fn not_completed(id: &str, upload: &UploadOutput) -> Option<UploadCause> {
    if !upload.id.is_empty() && upload.id != id {
        return Some(UploadCause::OtherUpload(upload.id.clone()));
    }
    (upload.status == Some(UploadStatus::Failed)).then(|| UploadCause::CommitFailed {
        reason: upload.error_message.clone(),
    })
}

/// How an upload that did not complete ended.
enum Ended {
    /// This step failed for this cause; the reservation is still to be released.
    Failed(UploadStep, UploadCause),
    /// Completing ended for this cause, and `uploads.fail` was sent already, with this
    /// outcome.
    Released(UploadCause, Release),
}

/// Completes the upload, watching `signal` while the answer is awaited; answers with the
/// release a signal sent when it was refused as closed, for an answer that turns out not to be
/// this upload's.
///
/// A signal during `uploads.complete` sends `uploads.fail` at once, without giving up on the
/// answer: the commit may have been made already (only its answer is slow), and then the
/// release is refused with 409 as the upload is no longer open. The answer, still awaited,
/// then says how it ended: abandoned, a completed upload would be reported cancelled and sent
/// again by a caller who believed it. A release that succeeds ends the upload cancelled; the
/// commit, if it arrives after, is refused. A release that fails otherwise (a 503, a 403)
/// ends the upload cancelled at once, with the release's failure: the commit may have been
/// made, which `uploads.progress` tells.
///
/// The answer is driven while the release is under way, not only after: on a client that
/// allows one call in flight ([`ClientBuilder::max_in_flight`](crate::ClientBuilder::max_in_flight)),
/// the release waits for the commit's slot, which only its answer gives back.
async fn committed(
    client: &Client,
    face: Face<'_>,
    id: &str,
    signal: Option<Pin<Box<dyn Future<Output = ()> + Send>>>,
) -> Result<(UploadOutput, Option<Release>), Ended> {
    let failed = |error| Ended::Failed(UploadStep::Complete, UploadCause::Api(error));
    let mut answer = pin!(complete(client, face, id));
    let Some(signal) = signal else {
        return answer.await.map(|output| (output, None)).map_err(failed);
    };
    if let Either::Left((outcome, _)) = futures::future::select(answer.as_mut(), signal).await {
        return outcome.map(|output| (output, None)).map_err(failed);
    }
    let release = pin!(fail(
        client,
        face,
        id,
        UploadStep::Complete,
        &UploadCause::Cancelled
    ));
    match futures::future::select(release, answer.as_mut()).await {
        Either::Left((Release::NotReleased(refused), _))
            if refused.status() == Some(StatusCode::CONFLICT) =>
        {
            // The refusal goes with the answer too: one that is no use (it names another
            // upload) is then read again, not followed by a second release, which would say
            // nothing more should it fail otherwise.
            match answer.await {
                Ok(output) => Ok((output, Some(Release::NotReleased(refused)))),
                Err(error) => Err(Ended::Released(
                    UploadCause::Api(error),
                    Release::NotReleased(refused),
                )),
            }
        }
        // Released, the commit, if it comes after, is refused. A release that failed
        // otherwise (a 503, a 403) says nothing of the commit, which may still be made: the
        // signal asked to stop, so the answer is not awaited, and the error's step
        // (`Complete`) says a commit was under way.
        Either::Left((release, _)) => Err(Ended::Released(UploadCause::Cancelled, release)),
        // The answer came first and says how the upload ended: completed, the release still
        // under way would be refused once it is stored, and is let go (with calls in flight
        // capped, before it is even sent). An answer that is no use (another upload's, or a
        // failed one) waits for the release and goes with it: let go, it would be followed by
        // a second release, refused as the first had released the upload, which would then
        // be reported not released.
        Either::Right((Ok(output), release)) => match not_completed(id, &output) {
            None => Ok((output, None)),
            Some(_) => Ok((output, Some(release.await))),
        },
        Either::Right((Err(error), release)) => {
            Err(Ended::Released(UploadCause::Api(error), release.await))
        }
    }
}

async fn complete(client: &Client, face: Face<'_>, id: &str) -> Result<UploadOutput, Error> {
    let mut body = crate::JsonObject::new();
    body.insert("upload_id".to_owned(), id.into());
    call::<UploadsComplete, UploadOutput>(client, face, body).await
}

/// Why [`check_file_name`] or [`check_content_type`] refuses a value. Each message is the rule
/// broken, with the value as its subject, so that a program taking the name or media type from
/// its users (the `geopera` CLI's `--file-name` and `--content-type`) can put it after its own
/// words, or word a variant its own way, while the rule itself stays the SDK's.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NamingError {
    /// The file name breaks [`geopera_types::uploads::file_name_problem`]'s rule (blank, `.`
    /// or `..` alone, or holding `/`, `\` or a control character), the rule the emulator's
    /// `uploads.signed_url` applies too: found there, it would cost a reservation of quota
    /// and its release.
    #[error("{0}")]
    FileName(FileNameProblem),
    /// The media type is empty or only whitespace, which says nothing of the bytes.
    #[error("the content type is empty or blank")]
    EmptyContentType,
    /// The media type holds a line break or another control character: it is sent as the
    /// transfer's `Content-Type` header, which cannot carry one, and the transfer would fail
    /// as if it had broken off.
    #[error("the content type holds a line break or another character a Content-Type header cannot carry")]
    ContentTypeNotAHeaderValue,
}

/// Checks a file name as [`Upload::send`] checks it before reserving anything, for a program
/// that takes the name from its user and wants to refuse it sooner (before it builds an
/// [`Upload`], or in a dry run), by the same rule.
///
/// # Errors
///
/// [`NamingError::FileName`] with the problem found when `file_name` cannot be one component
/// of the stored object's path ([`geopera_types::uploads::file_name_problem`]).
///
/// ```
/// use geopera::uploads::{check_file_name, FileNameProblem, NamingError};
///
/// assert_eq!(check_file_name("scene.tif"), Ok(()));
/// assert_eq!(
///     check_file_name(" "),
///     Err(NamingError::FileName(FileNameProblem::Blank))
/// );
/// assert_eq!(
///     check_file_name(".."),
///     Err(NamingError::FileName(FileNameProblem::DotName))
/// );
/// assert_eq!(
///     check_file_name("a\\b.tif"),
///     Err(NamingError::FileName(FileNameProblem::Separator))
/// );
/// assert_eq!(
///     check_file_name("a\nb.tif"),
///     Err(NamingError::FileName(FileNameProblem::ControlCharacter))
/// );
/// ```
pub fn check_file_name(file_name: &str) -> Result<(), NamingError> {
    file_name_problem(file_name).map_or(Ok(()), |problem| Err(NamingError::FileName(problem)))
}

/// Checks a media type as [`Upload::send`] checks the one given to [`Upload::content_type`]
/// before reserving anything, for a program that takes it from its user and wants to refuse
/// it sooner, by the same rule.
///
/// # Errors
///
/// [`NamingError::EmptyContentType`] when `content_type` is empty or only whitespace, and
/// [`NamingError::ContentTypeNotAHeaderValue`] when an HTTP header cannot carry it.
///
/// ```
/// use geopera::uploads::{check_content_type, NamingError};
///
/// assert_eq!(check_content_type("image/tiff"), Ok(()));
/// assert_eq!(check_content_type(""), Err(NamingError::EmptyContentType));
/// assert_eq!(
///     check_content_type("image/tiff\r\nX-Other: 1"),
///     Err(NamingError::ContentTypeNotAHeaderValue)
/// );
/// ```
pub fn check_content_type(content_type: &str) -> Result<(), NamingError> {
    if content_type.trim().is_empty() {
        return Err(NamingError::EmptyContentType);
    }
    if http::HeaderValue::from_str(content_type).is_err() {
        return Err(NamingError::ContentTypeNotAHeaderValue);
    }
    Ok(())
}

/// Checks what the upload is named and typed as before anything is reserved: the name and
/// media type go out only after `uploads.initiate`, in the signed-URL request and as the
/// transfer's `Content-Type`, so a mistake in either found there would cost a reservation (and
/// its release) and, for the media type, read as a transfer that broke off.
fn check_naming(client: &Client, file_name: &str, content_type: Option<&str>) -> Result<(), Error> {
    let id = UploadsSignedUrl::INFO.id;
    check_file_name(file_name).map_err(|problem| {
        Error::invalid(
            id,
            format!("{problem}; give the name to upload under with Upload::file_name"),
        )
    })?;
    if let Some(content_type) = content_type {
        check_content_type(content_type)
            .map_err(|problem| Error::invalid(id, problem.to_string()))?;
    }
    // The signed-URL request's body, checked as it will be sent, with a stand-in for the id
    // the reservation will have.
    let mut input = SignedUrlInput::new("upload", file_name);
    if let Some(content_type) = content_type {
        input = input.content_type(content_type);
    }
    crate::runtime::prepare::<UploadsSignedUrl>(client, input).map(drop)
}

/// Signs a URL and sends the bytes to it; answers the stored object's path.
async fn transfer(
    client: &Client,
    face: Face<'_>,
    options: &Options,
    id: &str,
    file_name: &str,
    len: u64,
    stream: BoxStream<'static, io::Result<Bytes>>,
) -> Result<String, (UploadStep, UploadCause)> {
    let mut input = SignedUrlInput::new(id, file_name);
    if let Some(content_type) = &options.content_type {
        input = input.content_type(content_type);
    }
    let content_type = input.content_type.clone();
    let signed: Signed = call::<UploadsSignedUrl, _>(client, face, input)
        .await
        .map_err(|e| (UploadStep::SignedUrl, UploadCause::Api(e)))?;
    let url = usable_url(&signed.upload_url, client.base_url())
        .map_err(|e| (UploadStep::SignedUrl, e))?;
    let body = Body {
        content_type: &content_type,
        len,
        stream,
    };
    put(face.http, options, url, body)
        .await
        .map_err(|e| (UploadStep::Transfer, e))?;
    Ok(signed.object_path)
}

/// The signed URL, if it is one the bytes may go to.
///
/// An API reached over `https` gets its files sent over `https` too: the URL and the bytes are
/// both worth as much as the call that signed them, and a plain `http` one (or one with a user
/// name and password, which would go as a `Basic` header) is not what a careful API signs.
fn usable_url(raw: &str, api: &str) -> Result<url::Url, UploadCause> {
    let url = url::Url::parse(raw).map_err(|_| UploadCause::UnusableUrl("it is not a URL"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(UploadCause::UnusableUrl("it is neither http nor https"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(UploadCause::UnusableUrl("it names no host"));
    }
    if url.scheme() == "http" && api.starts_with("https:") {
        return Err(UploadCause::UnusableUrl(
            "it is plain http, though the API is reached over https",
        ));
    }
    if crate::base_url::carries_userinfo(&url) {
        return Err(UploadCause::UnusableUrl(
            "it carries a user name or password",
        ));
    }
    Ok(url)
}

/// What the body stream found wrong, for the error to name instead of the connection's
/// generic "body failed".
type Found = Arc<Mutex<Option<UploadCause>>>;

/// What the `PUT` sends.
struct Body<'a> {
    content_type: &'a str,
    len: u64,
    stream: BoxStream<'static, io::Result<Bytes>>,
}

/// Sends the bytes with a plain request: none of the client's credentials or headers.
async fn put(
    http: &reqwest::Client,
    options: &Options,
    url: url::Url,
    body: Body<'_>,
) -> Result<(), UploadCause> {
    // A stall is a property of the connection, measured in real time like the client's read
    // timeout, not on the client's `Clock` (which a simulation may move while bytes flow).
    let origin = tokio::time::Instant::now();
    let last_activity = Arc::new(AtomicU64::new(0));
    let found: Found = Arc::new(Mutex::new(None));
    let handed = Arc::new(AtomicU64::new(0));
    let mut feed = Feed {
        inner: body.stream,
        sent: 0,
        total: body.len,
        done: false,
        handed: handed.clone(),
        progress: options.on_progress.clone(),
        found: found.clone(),
        last_activity: last_activity.clone(),
        origin,
    };
    if feed.total == 0 {
        // The connection asks nothing of an empty body, so the check after the last declared
        // byte never runs: a source declared empty that is not (a file whose size reads 0 but
        // has content, as `/proc` files do; one written to after its size was read) would be
        // stored empty. Asked here, before anything is sent — under the same limits as the
        // transfer, since a source that never ends (a pending stream, a read that blocks)
        // would otherwise hold the reservation for ever.
        type Cause = fn(Duration) -> UploadCause;
        let bound: Option<(Duration, Cause)> = match (options.stall_timeout, options.timeout) {
            (Some(stall), Some(total)) if total < stall => Some((total, UploadCause::TimedOut)),
            (Some(stall), _) => Some((stall, UploadCause::Stalled)),
            (None, Some(total)) => Some((total, UploadCause::TimedOut)),
            (None, None) => None,
        };
        match bound {
            Some((limit, cause)) => tokio::time::timeout(limit, feed.source_ends())
                .await
                .map_err(|_| cause(limit))??,
            None => feed.source_ends().await?,
        }
    }
    let mut request = http
        .put(url)
        .header(CONTENT_TYPE, body.content_type)
        .header(CONTENT_LENGTH, body.len)
        .body(reqwest::Body::wrap_stream(futures::stream::unfold(
            feed,
            Feed::next,
        )));
    if let Some(timeout) = options.timeout {
        request = request.timeout(timeout);
    }
    let sending = async {
        let response = request.send().await?;
        last_activity.store(millis(origin.elapsed()), Ordering::Relaxed);
        // Only the status matters; the answer's body is left unread.
        Ok::<_, reqwest::Error>(response.status())
    };
    let stalled = async {
        let Some(limit) = options.stall_timeout else {
            return futures::future::pending::<Duration>().await;
        };
        loop {
            let quiet_since = || Duration::from_millis(last_activity.load(Ordering::Relaxed));
            // A limit too far away to add to the clock (`Duration::MAX`) is no limit.
            let Some(wake) = origin.checked_add(quiet_since().saturating_add(limit)) else {
                return futures::future::pending::<Duration>().await;
            };
            tokio::time::sleep_until(wake).await;
            if origin.elapsed().saturating_sub(quiet_since()) >= limit {
                return limit;
            }
        }
    };
    let outcome = match futures::future::select(pin!(sending), pin!(stalled)).await {
        Either::Left((outcome, _)) => outcome,
        Either::Right((limit, _)) => return Err(UploadCause::Stalled(limit)),
    };
    // A source that went wrong is the cause, whatever the connection made of it.
    if let Some(cause) = found.lock().ok().and_then(|mut slot| slot.take()) {
        return Err(cause);
    }
    match outcome {
        // A success before the last byte left is no receipt for the file: the server cannot
        // have kept what it never got.
        Ok(status) if status.is_success() && handed.load(Ordering::Relaxed) < body.len => {
            Err(UploadCause::AnsweredEarly {
                status,
                sent: handed.load(Ordering::Relaxed),
                declared: body.len,
            })
        }
        Ok(status) if status.is_success() => Ok(()),
        Ok(status) => Err(UploadCause::Rejected { status }),
        Err(error) => match options.timeout {
            Some(limit) if error.is_timeout() => Err(UploadCause::TimedOut(limit)),
            // The URL holds the upload's token: it stays out of the error.
            _ => Err(UploadCause::Transport(error.without_url())),
        },
    }
}

fn millis(at: Duration) -> u64 {
    u64::try_from(at.as_millis()).unwrap_or(u64::MAX)
}

/// The body of the `PUT`: the source's chunks, counted against the declared size, with
/// progress reported and activity noted as each one is handed over.
struct Feed {
    inner: BoxStream<'static, io::Result<Bytes>>,
    sent: u64,
    total: u64,
    done: bool,
    /// The bytes handed to the connection so far, read once the server has answered.
    handed: Arc<AtomicU64>,
    progress: Option<ProgressFn>,
    found: Found,
    last_activity: Arc<AtomicU64>,
    /// When the `PUT` began; activity is noted in milliseconds since.
    origin: tokio::time::Instant,
}

impl Feed {
    async fn next(mut self) -> Option<(io::Result<Bytes>, Feed)> {
        if self.done {
            return None;
        }
        let failure = match self.next_chunk().await {
            Some(Ok(chunk)) => {
                self.sent = self.sent.saturating_add(chunk.len() as u64);
                // The last declared byte: the connection asks for nothing after it, so the
                // source is asked now whether it ends here, before the chunk goes.
                let ended = match self.sent.cmp(&self.total) {
                    std::cmp::Ordering::Less => Ok(()),
                    std::cmp::Ordering::Equal => self.source_ends().await,
                    std::cmp::Ordering::Greater => Err(UploadCause::LengthMismatch {
                        declared: self.total,
                        seen: self.sent,
                    }),
                };
                match ended {
                    Ok(()) => {
                        self.last_activity
                            .store(millis(self.origin.elapsed()), Ordering::Relaxed);
                        self.handed.store(self.sent, Ordering::Relaxed);
                        if let Some(progress) = &self.progress {
                            progress(Progress {
                                bytes_sent: self.sent,
                                total_bytes: self.total,
                            });
                        }
                        return Some((Ok(chunk), self));
                    }
                    Err(failure) => failure,
                }
            }
            Some(Err(error)) => cause_of(error),
            None if self.sent < self.total => UploadCause::LengthMismatch {
                declared: self.total,
                seen: self.sent,
            },
            None => return None,
        };
        self.done = true;
        if let Ok(mut slot) = self.found.lock() {
            *slot = Some(failure);
        }
        let error = io::Error::other("the upload source failed; see the upload error");
        Some((Err(error), self))
    }

    /// The source's next chunk that holds bytes (or the last, empty, of an empty upload),
    /// skipping empty ones: an empty chunk is no progress, so it must not keep the stall
    /// timeout from firing, and a source always ready with empty ones must not keep the
    /// runtime from running that timeout, which each skip yields to.
    async fn next_chunk(&mut self) -> Option<io::Result<Bytes>> {
        loop {
            match self.inner.next().await {
                Some(Ok(chunk)) if chunk.is_empty() && self.sent < self.total => {
                    tokio::task::yield_now().await;
                }
                next => return next,
            }
        }
    }

    /// Whether the source, having yielded every declared byte, ends: a stream, reader or file
    /// with more in it (one that runs on, or grew while it was sent) fails the upload, where
    /// the connection alone would send the declared bytes and drop the rest unseen.
    async fn source_ends(&mut self) -> Result<(), UploadCause> {
        loop {
            match self.inner.next().await {
                None => {
                    self.done = true;
                    return Ok(());
                }
                // No progress: yielded, so that a source always ready with empty chunks
                // leaves the runtime free to run the timeouts that end it.
                Some(Ok(more)) if more.is_empty() => tokio::task::yield_now().await,
                Some(Ok(more)) => {
                    return Err(UploadCause::LengthMismatch {
                        declared: self.total,
                        seen: self.sent.saturating_add(more.len() as u64),
                    })
                }
                Some(Err(error)) => return Err(cause_of(error)),
            }
        }
    }
}

/// What a file's stream yields after its last byte: nothing when the file still has the
/// size and modification time it had when the upload began, else [`Changed`], which fails
/// the transfer ([`UploadCause::SourceChanged`]) before its last chunk goes.
async fn unchanged_since(
    file: tokio::fs::File,
    len: u64,
    modified: Option<std::time::SystemTime>,
) -> Option<io::Result<Bytes>> {
    let changed = match file.metadata().await {
        Ok(now) => now.len() != len || now.modified().ok() != modified,
        Err(error) => return Some(Err(error)),
    };
    changed.then(|| Err(io::Error::other(Changed)))
}

/// The error a file's stream yields when the file changed while it was read, told apart from
/// a read that failed by [`cause_of`].
#[derive(Debug, thiserror::Error)]
#[error("the file changed while it was read")]
struct Changed;

/// The failure a source's stream error stands for.
fn cause_of(error: io::Error) -> UploadCause {
    if error.get_ref().is_some_and(|inner| inner.is::<Changed>()) {
        UploadCause::SourceChanged
    } else {
        UploadCause::Io(error)
    }
}

/// Reports the failure with `uploads.fail`, releasing the reservation.
async fn fail(
    client: &Client,
    face: Face<'_>,
    id: &str,
    step: UploadStep,
    cause: &UploadCause,
) -> Release {
    let input = UploadFailInput::new(id, fail_message(cause)).error_step(step.as_str());
    match call::<UploadsFail, serde::de::IgnoredAny>(client, face, input).await {
        Ok(_) => Release::Released,
        Err(error) => Release::NotReleased(error),
    }
}

/// A short account of the cause for `uploads.fail`: the error's own sentences, which never
/// hold credentials or the signed URL, cut to a length any API keeps.
fn fail_message(cause: &UploadCause) -> String {
    let mut message = cause.to_string();
    let mut source = std::error::Error::source(cause);
    while let Some(inner) = source {
        message.push_str(": ");
        message.push_str(&inner.to_string());
        source = inner.source();
    }
    if message.chars().count() > MAX_FAIL_MESSAGE_CHARS {
        message = message.chars().take(MAX_FAIL_MESSAGE_CHARS - 1).collect();
        message.push('…');
    }
    message
}

/// Releases the reservation if the upload's future is dropped before it ends.
struct Reservation {
    /// The client and the upload id, while the reservation is held by an async call.
    held: Option<(Client, String)>,
}

impl Reservation {
    fn new(client: &Client, face: Face<'_>, id: &str) -> Self {
        // A blocking upload runs to its end; only an async one can be dropped half-way.
        let held = face
            .blocking
            .is_none()
            .then(|| (client.clone(), id.to_owned()));
        Reservation { held }
    }

    fn disarm(&mut self) {
        self.held = None;
    }
}

impl Drop for Reservation {
    fn drop(&mut self) {
        let Some((client, id)) = self.held.take() else {
            return;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let input = UploadFailInput::new(id, "the upload was cancelled by the client")
            .error_step("cancelled");
        drop(runtime.spawn(async move {
            let face = client.async_face();
            let _released = call::<UploadsFail, serde::de::IgnoredAny>(&client, face, input).await;
        }));
    }
}

#[cfg(test)]
#[path = "uploads_tests.rs"]
mod tests;
