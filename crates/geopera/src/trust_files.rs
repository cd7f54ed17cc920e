//! Reading the certificate files a client is told to trust, without waiting on them.
//!
//! A path that names a named pipe would block the build until something writes to it, and a
//! device such as `/dev/zero` would be read until memory runs out. So a file is opened
//! without waiting (`O_NONBLOCK`, which changes nothing for a regular file), must be a
//! regular file as opened, and is read up to a cap far above any real bundle.

use std::fs::File;
use std::io::Read as _;
use std::path::Path;

/// The most a certificate file may hold. A bundle of every public root is a few hundred KiB.
pub(crate) const MAX_BYTES: u64 = 16 * 1024 * 1024;

/// The bytes of the regular file at `path`, or why it cannot be used, as a phrase.
pub(crate) fn read(path: &Path) -> Result<Vec<u8>, String> {
    let file = open_without_waiting(path).map_err(|e| e.to_string())?;
    let meta = file.metadata().map_err(|e| e.to_string())?;
    if !meta.is_file() {
        return Err("it is not a regular file".to_owned());
    }
    let too_large = || format!("it holds more than {MAX_BYTES} bytes");
    if meta.len() > MAX_BYTES {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(MAX_BYTES + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    // It may have grown since its size was read.
    if bytes.len() as u64 > MAX_BYTES {
        return Err(too_large());
    }
    Ok(bytes)
}

/// Why the file a trust-store variable names (`SSL_CERT_FILE`) cannot be read without
/// waiting or running out of memory, if it cannot. The store's own reader opens it after
/// this look, so a file swapped in between is not caught; one set up that way from the
/// start is.
#[cfg(all(
    feature = "system-roots",
    any(not(feature = "native-tls"), feature = "redis")
))]
pub(crate) fn unusable(path: &Path) -> Option<String> {
    let meta = std::fs::metadata(path).ok()?;
    if !meta.is_file() {
        Some("it is not a regular file".to_owned())
    } else if meta.len() > MAX_BYTES {
        Some(format!("it holds more than {MAX_BYTES} bytes"))
    } else {
        None
    }
}

#[cfg(unix)]
fn open_without_waiting(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_without_waiting(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

#[cfg(test)]
#[path = "trust_files_tests.rs"]
mod tests;
