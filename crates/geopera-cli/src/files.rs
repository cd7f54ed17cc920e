//! Writing answers to files so that an interrupted command never leaves half a file behind.
//!
//! The bytes go to a temporary file beside the target, which is renamed over it only once
//! everything is written and flushed (a device or a FIFO is written into instead: see
//! [`write_out`]). The temporary file is registered while it exists, so the Ctrl-C handler in
//! `main` can delete it before the process exits (with the handler installed, SIGINT no
//! longer ends the process in the middle of a write).

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::failure::Failure;

/// Temporary files being written right now.
static PARTIAL: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Deletes every temporary file still being written; called when the command is interrupted.
pub(crate) fn remove_partial() {
    let paths = match PARTIAL.lock() {
        Ok(mut paths) => std::mem::take(&mut *paths),
        Err(poisoned) => std::mem::take(&mut *poisoned.into_inner()),
    };
    for path in paths {
        let _ = std::fs::remove_file(path);
    }
}

/// A registered temporary file, deleted on drop unless it was renamed into place.
struct Partial {
    path: PathBuf,
    kept: bool,
}

impl Partial {
    fn new(path: PathBuf) -> Self {
        if let Ok(mut paths) = PARTIAL.lock() {
            paths.push(path.clone());
        }
        Partial { path, kept: false }
    }
}

impl Drop for Partial {
    fn drop(&mut self) {
        if let Ok(mut paths) = PARTIAL.lock() {
            paths.retain(|p| p != &self.path);
        }
        if !self.kept {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// How many names [`create_partial`] tries before it gives up.
const NAME_ATTEMPTS: usize = 8;

/// The most bytes of the target's name that its temporary name repeats. File systems allow
/// 255 bytes in a name, and the temporary name adds 23 to it: a target named as long as that
/// allows was refused as "File name too long", which `>` writes.
const MAX_NAME_BYTES_KEPT: usize = 200;

/// A temporary name for `target`: hidden, in the same folder (so the rename stays on one file
/// system), and unguessable, so that nobody who can write to the folder can plant something
/// under it beforehand (the process id alone is known to every other user).
fn temporary(target: &Path) -> PathBuf {
    use std::hash::BuildHasher as _;

    let mut name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "answer".to_owned());
    if name.len() > MAX_NAME_BYTES_KEPT {
        let mut end = MAX_NAME_BYTES_KEPT;
        while !name.is_char_boundary(end) {
            end -= 1;
        }
        name.truncate(end);
    }
    // std's `RandomState` is keyed from the system's random source (and moves on with each
    // new one), so its hash of anything is as good as a random number here.
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let suffix =
        std::collections::hash_map::RandomState::new().hash_one((std::process::id(), nanos));
    target.with_file_name(format!(".{name}.{suffix:016x}.part"))
}

/// Creates the temporary file for `target` under a fresh [`temporary`] name, registered;
/// `private` as [`create_first_free`] says.
fn create_partial(target: &Path, private: bool) -> std::io::Result<(Partial, std::fs::File)> {
    create_first_free(
        std::iter::repeat_with(|| temporary(target)).take(NAME_ATTEMPTS),
        private,
    )
}

/// Creates the first of `names` that does not exist yet. Only a file this call created is
/// used (and registered, so only it is ever deleted): `create_new` (`O_EXCL`) refuses a name
/// that is taken, even by a link, so a link planted there is never followed.
///
/// A `private` file (one that replaces a file whose mode it takes once created) is readable
/// by its owner only from the start: created with the usual mode (0644 under the usual
/// umask), another user could open it in the moment before it took the replaced file's 0600,
/// and read through that descriptor what was written next.
fn create_first_free(
    names: impl Iterator<Item = PathBuf>,
    private: bool,
) -> std::io::Result<(Partial, std::fs::File)> {
    let mut taken = None;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    if private {
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    }
    #[cfg(not(unix))]
    let _ = private;
    for path in names {
        match options.open(&path) {
            Ok(file) => return Ok((Partial::new(path), file)),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => taken = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(taken.unwrap_or_else(|| std::io::ErrorKind::AlreadyExists.into()))
}

/// Writes `bytes` to `target`, the file `--out` names.
///
/// A regular file (or a new one) is replaced only once the bytes are all on disk, and keeps
/// its permissions (a private answer stays private), unless it is read-only, which is
/// refused and left as it was; a symbolic link is written through, to
/// the file it names, as `>` in a shell would. Anything else that exists (a device such as
/// `/dev/null`, a FIFO, `/dev/stdout` and the pipe or terminal behind it) is written into
/// directly, also as `>` would: replacing it would put a file where the device was. A link or
/// a FIFO another user made in a shared folder such as `/tmp` is refused, as a hardened
/// kernel refuses it to `>` ([`refuse_planted`]).
///
/// Ctrl-C ends the command at any point of it ([`crate::interruptible`]): opening a FIFO waits
/// for a reader, and a pipe or a device takes the bytes at its own pace, for as long as the
/// other end pleases. Waited for on this thread, a FIFO nobody read went on waiting after
/// SIGINT, for ever.
pub(crate) fn write_out(target: &Path, bytes: &[u8]) -> Result<(), Failure> {
    write_as("--out", target, bytes)
}

/// [`write_out`] for a file another option names (`man --out-dir`'s pages), which its
/// messages name: every file the command writes where the user says is written alike.
pub(crate) fn write_as(option: &str, target: &Path, bytes: &[u8]) -> Result<(), Failure> {
    crate::interruptible(|| write_out_now(option, target, bytes))
}

/// [`write_as`], on the thread it is called on.
fn write_out_now(option: &str, target: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let shown = crate::paint::path(target);
    let cannot = |e: std::io::Error| Failure::other(format!("cannot write {shown}: {e}"));
    // Through links: `/dev/stdout` is one, to whatever stdout is. A name the kernel will not
    // look up for this process (a link it refuses to follow, a loop) is refused, as `>` is
    // refused it; only a name that does not exist yet is made.
    match std::fs::metadata(target) {
        Ok(meta) if meta.is_dir() => {
            return Err(Failure::other(format!("{option} {shown} is a folder")));
        }
        Ok(meta) if !meta.is_file() => {
            // The links on the way, and the FIFO or device at their end, are checked where
            // they are; the write goes through the name given (`/dev/stdout` names a pipe
            // no path reaches).
            let resolved = final_target(target).map_err(cannot)?;
            refuse_planted(&resolved, &meta).map_err(cannot)?;
            return write_in_place(target, bytes).map_err(cannot);
        }
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(cannot(e)),
    }
    // Stdout or stderr by name on a file the shell opened (`> f`, `>> f`) is written through
    // the stream itself: reopened by name, the file would be replaced, `>>`'s append lost,
    // and a folder the user may not write into would refuse a file the shell had opened.
    match names_standard(target) {
        Some(Standard::Out) => return crate::call::write_stdout(&[bytes]).map_err(cannot),
        Some(Standard::Err) => return write_stderr(bytes).map_err(cannot),
        None => {}
    }
    // A link, even one to a file not made yet, is written through: what it names gets the
    // bytes, and the link stays.
    let resolved = final_target(target).map_err(cannot)?;
    let target = resolved.as_path();
    let permissions = std::fs::metadata(target)
        .ok()
        .map(|meta| meta.permissions());
    // Renaming over a file needs only the folder to be writable, so a file its owner made
    // read-only to keep it would be replaced without a word; `>` refuses it, and so does this.
    if permissions.as_ref().is_some_and(|p| p.readonly()) || !may_write(target) {
        return Err(Failure::other(format!(
            "{option} {shown} is read-only: make it writable or name another file"
        )));
    }
    let (mut partial, file) = create_partial(target, permissions.is_some()).map_err(cannot)?;
    fill(file, permissions, bytes).map_err(cannot)?;
    std::fs::rename(&partial.path, target).map_err(cannot)?;
    partial.kept = true;
    sync_folder_of(target).map_err(cannot)
}

/// Makes a rename into `path`'s folder outlive a crash: the new name is an entry of the
/// folder, and a file system may keep a new file's synced bytes yet lose the entry (ext4 and
/// XFS may) until the folder itself is synced.
///
/// Only a failed sync is an error, as the rename may then not last. A folder this process may
/// rename into but not open (mode `0300`) cannot be synced by it, and a file system that syncs
/// no folders says so with `EINVAL` or `ENOTSUP`: both leave the rename as the kernel keeps it.
pub(crate) fn sync_folder_of(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let folder = match path.parent() {
            Some(folder) if !folder.as_os_str().is_empty() => folder,
            _ => Path::new("."),
        };
        let Ok(folder) = std::fs::File::open(folder) else {
            return Ok(());
        };
        match folder.sync_all() {
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::InvalidInput | std::io::ErrorKind::Unsupported
                ) =>
            {
                Ok(())
            }
            outcome => outcome,
        }
    }
    // Windows has no folder sync within std's reach (a folder opens as a file only with backup
    // semantics); the rename is left as the file system keeps it.
    #[cfg(not(unix))]
    {
        let _ = path;
        Ok(())
    }
}

/// Whether this process may write into `target`, an existing file (or one not made yet), as
/// the kernel judges it: opening it for writing without truncating changes nothing.
fn may_write(target: &Path) -> bool {
    match std::fs::OpenOptions::new().write(true).open(target) {
        Err(e) => e.kind() != std::io::ErrorKind::PermissionDenied,
        Ok(_) => true,
    }
}

/// The standard streams `--out` may name.
#[derive(Clone, Copy)]
enum Standard {
    Out,
    Err,
}

/// Which of this process's stdout and stderr `path`, or a link on the way from it, names:
/// `/dev/stdout`, `/dev/fd/1`, `/proc/self/fd/1`, `/proc/<this process>/fd/1`, and the same
/// for stderr (2).
fn names_standard(path: &Path) -> Option<Standard> {
    let pid = std::process::id();
    let named = |path: &Path| {
        [(Standard::Out, "stdout", 1), (Standard::Err, "stderr", 2)]
            .into_iter()
            .find(|(_, name, fd)| {
                [
                    format!("/dev/{name}"),
                    format!("/dev/fd/{fd}"),
                    format!("/proc/self/fd/{fd}"),
                    format!("/proc/{pid}/fd/{fd}"),
                ]
                .iter()
                .any(|known| path == Path::new(known))
            })
            .map(|(stream, _, _)| stream)
    };
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        if let Some(stream) = named(&current) {
            return Some(stream);
        }
        let meta = std::fs::symlink_metadata(&current).ok()?;
        if !meta.file_type().is_symlink() {
            return None;
        }
        let target = std::fs::read_link(&current).ok()?;
        current = match current.parent() {
            Some(parent) => parent.join(target),
            None => target,
        };
    }
    None
}

/// Writes `bytes` to stderr whole, reporting what the system says, as
/// [`crate::call::write_stdout`] does for stdout.
fn write_stderr(bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write as _;
    let lock = std::io::stderr().lock();
    #[cfg(unix)]
    let mut out = std::fs::File::from(std::os::fd::AsFd::as_fd(&lock).try_clone_to_owned()?);
    #[cfg(not(unix))]
    let mut out = lock;
    out.write_all(bytes)?;
    out.flush()
}

/// The most links followed from a path written through (`--out`, the credentials file), as
/// the kernel's own limit
/// (`ELOOP`), so that a loop of links is an error rather than an endless walk.
const MAX_LINKS: usize = 40;

/// The path a chain of links at `path` ends at, or `path` when it is no link. The end need not
/// exist yet (a link made before the first login, or to a file `--out` is to create): the
/// write creates it, as a shell's `>` does.
pub(crate) fn final_target(path: &Path) -> std::io::Result<PathBuf> {
    let mut current = path.to_path_buf();
    for _ in 0..MAX_LINKS {
        match std::fs::symlink_metadata(&current) {
            Ok(meta) if meta.file_type().is_symlink() => {
                refuse_planted(&current, &meta)?;
                let target = std::fs::read_link(&current)?;
                // A relative link is relative to the folder it is in; an absolute one
                // replaces the whole path when joined.
                current = match current.parent() {
                    Some(parent) => parent.join(target),
                    None => target,
                };
            }
            Ok(_) => return Ok(current),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(current),
            Err(e) => return Err(e),
        }
    }
    Err(std::io::Error::other("too many levels of links"))
}

/// Refuses a link or a FIFO at `path` that another user planted in a shared folder such as
/// `/tmp` (sticky and writable by all), unless that user owns the folder: the rule Linux keeps
/// with `fs.protected_symlinks` and `fs.protected_fifos`, kept here whatever the system's
/// setting. A link read by hand ([`final_target`]) and a FIFO opened without creating it are
/// never checked by the kernel, and either would hand the answer to whoever planted it (a
/// link to the user's own `~/.ssh/authorized_keys`, a FIFO another user reads).
#[cfg(unix)]
fn refuse_planted(path: &Path, meta: &std::fs::Metadata) -> std::io::Result<()> {
    use std::os::unix::fs::MetadataExt as _;

    let folder = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let folder = std::fs::metadata(folder)?;
    let me = rustix::process::geteuid().as_raw();
    if planted(meta.uid(), folder.mode(), folder.uid(), me) {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            "another user made it in a folder everyone may write into; it is not followed",
        ));
    }
    Ok(())
}

/// Elsewhere no such rule is kept.
#[cfg(not(unix))]
fn refuse_planted(_path: &Path, _meta: &std::fs::Metadata) -> std::io::Result<()> {
    Ok(())
}

/// Whether an entry owned by `owner`, in a folder of `folder_mode` owned by `folder_owner`,
/// was planted for the user `me`: the folder is sticky and writable by all, and the entry is
/// neither the user's nor the folder owner's.
#[cfg(unix)]
fn planted(owner: u32, folder_mode: u32, folder_owner: u32, me: u32) -> bool {
    const STICKY: u32 = 0o1000;
    const WRITABLE_BY_ALL: u32 = 0o002;
    let shared = folder_mode & STICKY != 0 && folder_mode & WRITABLE_BY_ALL != 0;
    shared && owner != me && owner != folder_owner
}

/// Writes `bytes` to a new temporary `file`, with the permissions of the file it replaces, and
/// waits until they are on disk.
fn fill(
    mut file: std::fs::File,
    permissions: Option<std::fs::Permissions>,
    bytes: &[u8],
) -> std::io::Result<()> {
    if let Some(permissions) = permissions {
        file.set_permissions(permissions)?;
    }
    file.write_all(bytes)?;
    file.flush()?;
    file.sync_all()
}

/// Writes `bytes` into `target`, which exists and is not a regular file, without replacing
/// it. Whoever reads a FIFO or a pipe leaving early is no failure, as for stdout.
fn write_in_place(target: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let written = std::fs::OpenOptions::new()
        .write(true)
        .truncate(true)
        .open(target)
        .and_then(|mut file| file.write_all(bytes).and_then(|()| file.flush()));
    match written {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
