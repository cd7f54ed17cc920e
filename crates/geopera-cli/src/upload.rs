//! `geopera upload PATH --project P`: one file into a project in one command.
//!
//! The SDK's `Upload` does the four steps (reserve, sign, send the bytes, complete) and
//! releases the reservation itself when a step fails, so this module only maps options, shows
//! progress and reports. Uploads complete synchronously, so there is nothing to `--wait` for.

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{value_parser, Arg, ArgMatches, Command};
use geopera::uploads::{
    FileNameProblem, NamingError, Progress, Release, Upload, UploadCause, UploadError, UploadStep,
};

use crate::auth;
use crate::call::{self, Settings};
use crate::failure::{Failure, Outcome};
use crate::paint::{self, shell_word};

/// The `upload` command.
pub(crate) fn command() -> Command {
    Command::new("upload")
        .about("Upload a file into a project (reserve, send with progress, complete) and print the upload")
        .arg(
            Arg::new("path")
                .value_name("PATH")
                .required(true)
                .value_parser(value_parser!(PathBuf))
                .help("The file to upload"),
        )
        .arg(
            Arg::new("project")
                .long("project")
                .value_name("PROJECT_ID")
                .value_parser(parse_named)
                .required(true)
                .help("The project to upload into"),
        )
        .arg(
            Arg::new("content-type")
                .long("content-type")
                .value_name("TYPE")
                .value_parser(parse_content_type)
                .help("The file's media type, e.g. image/tiff"),
        )
        .arg(
            Arg::new("collection")
                .long("collection")
                .value_name("COLLECTION_ID")
                .value_parser(parse_named)
                .help("Collection the file is added to"),
        )
        .arg(
            Arg::new("item")
                .long("item")
                .value_name("ITEM_ID")
                .value_parser(parse_named)
                .help("Item the file becomes an asset of"),
        )
        .arg(
            Arg::new("asset-key")
                .long("asset-key")
                .value_name("KEY")
                .value_parser(parse_named)
                .help("Asset key of the file within the item"),
        )
        .arg(
            Arg::new("file-name")
                .long("file-name")
                .value_name("NAME")
                .value_parser(parse_file_name)
                .help("The file's name in the project [default: the last part of PATH]"),
        )
        .arg(
            Arg::new("categorical")
                .long("categorical")
                .action(clap::ArgAction::SetTrue)
                .help(
                    "The raster holds classes (land cover, a mask), not measurements: it is \
                     resampled by nearest neighbour",
                ),
        )
}

/// `--project`, `--collection`, `--item` and `--asset-key`, refused when empty or blank, as an
/// empty `--profile` is: that is what `--project "$UNSET_VARIABLE"` becomes, and sent as
/// given it would ask for an upload into no project, or to no collection, item or asset key,
/// instead of the one the script meant.
fn parse_named(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err(
            "an empty value names nothing (an unset variable?); nothing was sent".to_owned(),
        );
    }
    Ok(text.to_owned())
}

/// `--content-type`, refused before anything is sent by the rule the SDK's upload applies
/// ([`geopera::uploads::check_content_type`]): it goes out as the bytes' `Content-Type`, and
/// found only then it would fail after the upload's quota was reserved.
fn parse_content_type(text: &str) -> Result<String, String> {
    match geopera::uploads::check_content_type(text) {
        Ok(()) => Ok(text.to_owned()),
        Err(problem @ NamingError::ContentTypeNotAHeaderValue) => {
            Err(format!("not a valid HTTP header value: {problem}"))
        }
        Err(problem) => Err(format!("{problem} (an unset variable?)")),
    }
}

/// `--file-name`, refused before anything is sent by the rule the SDK's upload applies
/// ([`geopera::uploads::check_file_name`]): the API refuses such a name only after the upload's
/// quota was reserved, and a dry run would promise an upload that cannot happen. A blank name
/// is most often a variable that was never set, so that one message says so.
fn parse_file_name(text: &str) -> Result<String, String> {
    match geopera::uploads::check_file_name(text) {
        Ok(()) => Ok(text.to_owned()),
        Err(problem @ NamingError::FileName(FileNameProblem::Blank)) => {
            Err(format!("{problem} (an unset variable?)"))
        }
        Err(problem) => Err(problem.to_string()),
    }
}

/// Runs `geopera upload`.
pub(crate) async fn run(matches: &ArgMatches, settings: &Settings) -> Outcome {
    let (Some(path), Some(project)) = (
        matches.get_one::<PathBuf>("path"),
        matches.get_one::<String>("project"),
    ) else {
        return Err(Failure::usage("PATH and --project are required"));
    };
    call::no_shaping_in_dry_run(settings)?;
    let size = local_file(path)?;
    if matches.get_one::<String>("file-name").is_none() {
        default_name(path)?;
    }
    // Resolved before a dry run too, as an operation's is: a URL or a stored credential the
    // real run would refuse must not pass it.
    let target = auth::target(matches, true)?;
    let held = auth::held(&target, !settings.dry_run).await?;
    if settings.dry_run {
        // File and project names are anyone's to choose: shown inert, an escape sequence or
        // a line break in one can neither steer the terminal nor forge a line of output.
        let mut plan = format!(
            "# would upload {} ({size} bytes) into project {}: uploads.initiate, a PUT to the signed URL, uploads.complete",
            crate::paint::path(path),
            crate::paint::inert(project)
        );
        // The real run fails without one; the plan says so, as an operation's dry run does.
        if held.is_none() {
            plan.push('\n');
            plan.push_str(&call::no_credentials(&target));
        }
        return call::print(&plan);
    }
    let held = held.ok_or_else(|| auth::not_signed_in(&target))?;
    let client = auth::client(&target, Some(&held), |builder| {
        call::configure(builder, settings)
    })?;
    let mut upload = Upload::from_path(project.clone(), path);
    let options = [
        (
            "content-type",
            Upload::content_type as fn(Upload, String) -> Upload,
        ),
        ("collection", Upload::target_collection),
        ("item", Upload::target_item),
        ("asset-key", Upload::asset_key),
        ("file-name", Upload::file_name),
    ];
    for (name, set) in options {
        if let Some(value) = matches.get_one::<String>(name) {
            upload = set(upload, value.clone());
        }
    }
    upload = upload.categorical(matches.get_flag("categorical"));
    // `--timeout` bounds the transfer as it bounds a call's answer going quiet: the `PUT`
    // fails once the server has taken no bytes and given no answer for that long. Not the
    // whole transfer, which grows with the file: a limit meant for an API call would cut
    // short a large file on a slow link, which is still making progress.
    upload = upload.stall_timeout(settings.timeout);
    let shown = crate::progress::Shown::bytes("Uploading".to_owned(), size);
    let bar = shown.handle();
    upload = upload
        .on_progress(move |progress: Progress| {
            bar.set_length(progress.total_bytes);
            bar.set_position(progress.bytes_sent);
        })
        .on_reserved(|id| {
            let _ = RESERVED.set(id.to_owned());
        });
    // Ctrl-C is the upload's to end: it releases the reservation and says how that went,
    // which `main`, seeing the flag, waits a moment to hear instead of dropping the upload.
    // Read from the flag the start-up's listener sets: a listener of this future's own would
    // be installed only when the SDK first asks, once the reservation is made, and would not
    // hear a Ctrl-C pressed before it (the file would then be sent and stored all the same).
    let upload = upload.cancel_on(async {
        while !crate::INTERRUPTED.load(Ordering::SeqCst) {
            tokio::time::sleep(INTERRUPT_CHECK).await;
        }
    });
    let _ = OPTIONS.set(target.options());
    ENDS_ITSELF_ON_INTERRUPT.store(true, Ordering::SeqCst);
    let result = upload.send(&client).await;
    ENDS_ITSELF_ON_INTERRUPT.store(false, Ordering::SeqCst);
    drop(shown);
    match result {
        Ok(uploaded) => {
            // Stored, even if Ctrl-C came while it was being committed: what was stored is
            // printed whole, where printing would otherwise stop at the interruption.
            crate::INTERRUPTED.store(false, Ordering::SeqCst);
            // The commit was made though no answer of it could be taken (it never came, or
            // named another upload); the SDK read the upload again. Said, as the output is
            // that reading, not the commit's answer.
            if let Some(lost) = &uploaded.lost_answer {
                paint::warning(&format!(
                    "no answer to uploads.complete could be taken ({}); read again, upload {} is \
                     completed, so {} is stored",
                    crate::failure::chain(lost.as_ref()),
                    crate::paint::inert(&uploaded.upload_id),
                    paint::path(path)
                ));
            }
            let stored = || {
                format!(
                    "upload {} is completed: {} is stored; do not send it again",
                    crate::paint::inert(&uploaded.upload_id),
                    paint::path(path)
                )
            };
            // A failure to print (a full disk behind `>`, a `--jq` program's error) is not the
            // upload's: said alone, a script that retries on failure would send the file again
            // and reserve its space twice, and the upload's id is the only handle on it.
            let printed = serde_json::to_string(&uploaded.upload)
                .map_err(|e| Failure::other(format!("cannot print the upload: {e}")))
                .and_then(|text| call::print_json(&text, settings));
            printed.map_err(|mut failure| {
                if failure.code != 0 {
                    failure.message.push('\n');
                    failure.message.push_str(&stored());
                }
                failure
            })
        }
        Err(error) => Err(failed(&error, path, &target, settings)),
    }
}

/// The size of the file at `path`, checked as the upload itself checks it, so that a dry run
/// approves only what the real run would send, and the real run refuses before anything is
/// reserved: only a regular file has a size before it is read (a folder, a device such as
/// `/dev/zero` or a pipe would reserve 0 bytes), and it must open for reading. Its kind is
/// asked before opening, as opening a pipe waits for a writer.
///
/// `-` names stdin in `--json -`, `op -` and `--out -`, so a user who pipes a file into
/// `upload -` means stdin, which cannot be sent: that is said, where "cannot read -: No such
/// file or directory" answered a request nobody made. A file named `-` is still uploaded.
fn local_file(path: &std::path::Path) -> Result<u64, Failure> {
    let cannot_read =
        |e: std::io::Error| Failure::other(format!("cannot read {}: {e}", paint::path(path)));
    let kind = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && path.as_os_str() == "-" => {
            return Err(Failure::usage(
                "cannot upload - (stdin): the size of a file is reserved before it is sent, \
                 and what comes on stdin has none until it ends; save it to a file and upload \
                 that",
            ));
        }
        kind => kind.map_err(cannot_read)?,
    };
    if !kind.is_file() {
        return Err(not_a_file(path));
    }
    let opened = std::fs::File::open(path).map_err(cannot_read)?;
    let meta = opened.metadata().map_err(cannot_read)?;
    if !meta.is_file() {
        return Err(not_a_file(path));
    }
    Ok(meta.len())
}

/// Refuses a file whose name (the last part of `path`, which the upload takes as the file's
/// name in the project) the upload could not send as given, in a dry run as in the real run,
/// which would otherwise find it only in the SDK:
/// - a name that is not UTF-8: the API takes names as text, so it could only be sent with its
///   bytes replaced (`\u{fffd}`), a name the user never chose;
/// - a name an explicit `--file-name` would be refused for
///   ([`geopera::uploads::check_file_name`]): a blank one (a file named ` `), or one holding a
///   `\` or a control character (a file named `a\nb.tif`).
///
/// Both messages quote the path, its blanks visible and bytes that are not UTF-8 escaped
/// (`\xFF`), and say how to name the file.
fn default_name(path: &std::path::Path) -> Result<(), Failure> {
    let Some(name) = path.file_name() else {
        return Ok(());
    };
    let Some(name) = name.to_str() else {
        return Err(Failure::usage(format!(
            "cannot upload {path:?}: its name is not UTF-8, and the API takes file names as \
             text; give the name it should have with --file-name NAME, or rename the file"
        )));
    };
    geopera::uploads::check_file_name(name).map_err(|problem| {
        Failure::usage(format!(
            "cannot upload {path:?}: {problem} (the name is the last part of the path); give \
             the name it should have with --file-name NAME, or rename the file"
        ))
    })
}

fn not_a_file(path: &std::path::Path) -> Failure {
    Failure::other(format!(
        "cannot upload {}: it is not a regular file (a folder, a device or a pipe has no size \
         to reserve before it is read)",
        paint::path(path)
    ))
}

/// An SDK message without its advice to programs (`...; send such data with
/// Upload::from_stream`), which names calls a user of this command cannot make.
fn without_sdk_advice(text: &str) -> String {
    text.split("; ")
        .filter(|part| !part.contains("Upload::"))
        .collect::<Vec<_>>()
        .join("; ")
}

/// How often an upload looks at whether Ctrl-C was pressed: soon enough for a person, rare
/// enough to cost nothing beside the transfer.
const INTERRUPT_CHECK: Duration = Duration::from_millis(20);

/// Set while an upload watches Ctrl-C itself ([`Upload::cancel_on`]), so that `main` lets it
/// end on its own, reservation released and the release reported, rather than dropping it
/// (a dropped upload still releases, on a task whose outcome nobody hears).
pub(crate) static ENDS_ITSELF_ON_INTERRUPT: AtomicBool = AtomicBool::new(false);

/// The options that reach the upload's API (`--profile`, `--api-url`), for advice given where
/// the target is out of reach.
static OPTIONS: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The id of the upload, once its space is reserved ([`Upload::on_reserved`]): what advice
/// given after the upload was cut short names.
static RESERVED: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// What a command ended before its upload could end itself (a second Ctrl-C, or the moment
/// `main` gives it running out) says of the upload: that its space may still be reserved, and
/// how to release it, naming the upload once its space was reserved; before, that the
/// reservation was still being asked for, whose id was never answered.
pub(crate) fn release_cut_short() -> Option<String> {
    ENDS_ITSELF_ON_INTERRUPT.load(Ordering::SeqCst).then(|| {
        let options = OPTIONS.get().map_or("", String::as_str);
        match RESERVED.get() {
            Some(id) => format!(
                "upload {}: it was releasing its reserved space when it was ended; it may \
                 still be reserved: {}",
                crate::paint::inert(id),
                release_advice(Some(id), options)
            ),
            None => format!(
                "the upload was ended while its space was being reserved; if it was, {}",
                release_advice(None, options)
            ),
        }
    })
}

/// The report of a failed upload: what failed, and whether the quota it had reserved was
/// released (so the user knows whether to run `uploads fail` themselves). What went wrong with
/// the file names it: the user may have given several in one script.
fn failed(
    error: &UploadError,
    path: &std::path::Path,
    target: &auth::Target,
    settings: &Settings,
) -> Failure {
    let api_url = target.api_url.as_str();
    let step = error.step();
    let file = paint::path(path);
    let mut failure = match error.cause() {
        // `main` says "interrupted"; what is left to say is the reservation's fate. A commit
        // under way whose release failed may still have been made: said, so that the file is
        // not sent again unseen.
        UploadCause::Cancelled
            if step == UploadStep::Complete
                && matches!(error.release(), Release::NotReleased(_))
                && !error.release().refused_as_closed() =>
        {
            Failure::other(format!(
                "{file} may have been uploaded: its commit was under way when it was \
                 interrupted; {}",
                state_advice(error.upload_id(), &target.options())
            ))
        }
        UploadCause::Cancelled => Failure::other(format!("{file} was not uploaded")),
        UploadCause::Api(api)
            if step == UploadStep::Prepare && !matches!(api, geopera::Error::TooLarge { .. }) =>
        {
            Failure::other(format!(
                "cannot upload {file}: {}",
                without_sdk_advice(&crate::failure::chain(api))
            ))
        }
        UploadCause::Api(api) => {
            call::sdk_failure(&format!("upload ({step})"), api_url, settings, api)
        }
        // The SDK's own check that it is a regular file, should it have changed since ours.
        UploadCause::Io(io)
            if step == UploadStep::Prepare && io.kind() == std::io::ErrorKind::InvalidInput =>
        {
            not_a_file(path)
        }
        UploadCause::Io(io) => Failure::other(format!(
            "upload failed at step {step}: cannot read {file}: {}",
            without_sdk_advice(&io.to_string())
        )),
        // The API refused the file in a success's clothing: exit 2, as its refusal by status is,
        // so that a script retrying failures of its own does not send the file again.
        UploadCause::CommitFailed { .. } => Failure::api(format!(
            "upload failed at step {step}: {}",
            crate::failure::chain(error.cause())
        )),
        UploadCause::LengthMismatch { .. } | UploadCause::SourceChanged => Failure::other(format!(
            "upload failed at step {step}: {file} changed while it was read ({})",
            crate::failure::chain(error.cause())
        )),
        other => Failure::other(format!(
            "upload failed at step {step}: {}",
            crate::failure::chain(other)
        )),
    };
    let id = error.upload_id().map_or_else(
        || "the upload".to_owned(),
        |id| format!("upload {}", crate::paint::inert(&shell_word(id))),
    );
    let release = match error.release() {
        Release::NothingReserved => String::new(),
        Release::Unknown => "the API may have reserved quota for it before the failure (no \
                             answer to the reservation was read); if it did, it holds the quota \
                             until it expires the upload"
            .to_owned(),
        _ if error.is_released() && error.upload_id().is_none() => String::new(),
        Release::Released => format!("{id}: its reservation was released"),
        // No longer open: nothing is reserved, and `uploads fail` would be refused the same.
        release @ Release::NotReleased(why) if release.refused_as_closed() => format!(
            "{id}: the API refused to release it ({}), as it does once an upload is completed \
             or failed, when nothing is left reserved; {}",
            crate::failure::chain(why),
            state_advice(error.upload_id(), &target.options())
        ),
        Release::NotReleased(why) => format!(
            "{id}: its reservation was NOT released ({}); {}",
            crate::failure::chain(why),
            release_advice(error.upload_id(), &target.options())
        ),
        _ if error.is_released() => format!("{id}: its reservation was released"),
        _ => format!("{id}: its reservation may still be held"),
    };
    if !release.is_empty() {
        failure.message.push('\n');
        failure.message.push_str(&release);
    }
    failure
}

/// What to run to see an upload that is no longer open, under the `options` that reach its
/// API ([`auth::Target::options`]).
fn state_advice(upload_id: Option<&str>, options: &str) -> String {
    match upload_id {
        Some(id) if !id.chars().any(crate::paint::steers) => format!(
            "see it with 'geopera{options} uploads progress --upload-id={}'",
            shell_word(id)
        ),
        _ => format!("see it with 'geopera{options} uploads progress --upload-id=ID'"),
    }
}

/// What to run to release a reservation the upload could not release itself, under the
/// `options` that reach its API.
pub(crate) fn release_advice(upload_id: Option<&str>, options: &str) -> String {
    match upload_id {
        Some(id) if !id.chars().any(crate::paint::steers) => format!(
            "run '{}' to release it",
            release_command(options, &shell_word(id))
        ),
        // A quoted line break or escape sequence cannot be shown as it must be typed.
        Some(_) => format!(
            "its upload id is unusual (it holds control characters, shown escaped at the start \
             of this line): release it with '{}'",
            release_command(options, "ID")
        ),
        // No operation lists a project's uploads, so nothing names it but its id.
        None => format!(
            "its upload id was never answered, so it cannot be named here; release it with \
             '{}' once its id is known",
            release_command(options, "ID")
        ),
    }
}

/// The command that releases the reservation of the upload `id` (shell-quoted, or `ID` where
/// it cannot be named), under the `options` that reach its API.
fn release_command(options: &str, id: &str) -> String {
    format!("geopera{options} uploads fail --upload-id={id} --error-message cancelled")
}

#[cfg(test)]
#[path = "upload_tests.rs"]
mod tests;
