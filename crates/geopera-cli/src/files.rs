//! Writing answers to files so that an interrupted command never leaves half a file behind.
//!
//! The bytes go to a temporary file beside the target, which is renamed over it only once
//! everything is written and flushed. The temporary file is registered while it exists, so the
//! Ctrl-C handler in `main` can delete it before the process exits (with the handler
//! installed, SIGINT no longer ends the process in the middle of a write).

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

/// The temporary name for `target`: hidden, in the same folder (so the rename stays on one
/// file system), and unique per process.
fn temporary(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "answer".to_owned());
    target.with_file_name(format!(".{name}.{}.part", std::process::id()))
}

/// Writes `bytes` to `target`, replacing it only once they are all on disk.
///
/// A file that is replaced keeps its permissions (a private answer stays private), and a
/// symbolic link is written through, to the file it names, as `>` in a shell would.
pub(crate) fn write_atomically(target: &Path, bytes: &[u8]) -> Result<(), Failure> {
    let shown = target.display();
    if target.is_dir() {
        return Err(Failure::other(format!("--out {shown} is a folder")));
    }
    let resolved = std::fs::canonicalize(target).ok();
    let target = resolved.as_deref().unwrap_or(target);
    let permissions = std::fs::metadata(target)
        .ok()
        .map(|meta| meta.permissions());
    let mut partial = Partial::new(temporary(target));
    let written = std::fs::File::create(&partial.path).and_then(|mut file| {
        if let Some(permissions) = permissions {
            file.set_permissions(permissions)?;
        }
        file.write_all(bytes)?;
        file.flush()?;
        file.sync_all()
    });
    written.map_err(|e| Failure::other(format!("cannot write {shown}: {e}")))?;
    std::fs::rename(&partial.path, target)
        .map_err(|e| Failure::other(format!("cannot write {shown}: {e}")))?;
    partial.kept = true;
    Ok(())
}

#[cfg(test)]
#[path = "files_tests.rs"]
mod tests;
