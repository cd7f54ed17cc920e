//! The credentials file shared with the official CLI: `~/.config/geopera/credentials.json`.
//!
//! Layout (kept byte-compatible so either CLI reads the other's logins): an object keyed by
//! profile name, each `{"api_url": ..., "auth": {...}}` where `auth` is
//! `{"type": "oauth", access_token, refresh_token, expires_at, scope, issuer}` or
//! `{"type": "api_key", api_key}`; written with sorted keys, two-space indent and a trailing
//! newline. The folder is 0700 and the file 0600, replaced atomically through a temporary
//! file of a fresh name and a rename (of the file a link at that path leads to, when it is
//! one).
//!
//! A file that users other than its owner may read or change (mode & 0o077, on Unix) is still
//! read, with a warning that suggests `chmod 600`.
//!
//! Unlike the official CLI, an unreadable or unparsable file is an error rather than an empty
//! store (its next write would otherwise erase every profile), so is a profile member of
//! another shape than the layout's (named, where reading it as absent would report a stored
//! credential as no credential; `logout` removes such a credential), and writers that refresh
//! tokens hold an advisory lock on a sibling `credentials.lock` file, so two processes
//! refreshing at once do not lose a rotated refresh token. The lock lives in its own file
//! because the credentials file is replaced by rename, which would leave a lock on the old
//! inode behind.

use std::fs::{self, File, OpenOptions};
use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};

use crate::failure::Failure;

/// The folder under the home directory, as the official CLI computes it (not XDG, not the
/// platform's config folder, so that both CLIs share one file on every platform).
const RELATIVE_DIR: [&str; 2] = [".config", "geopera"];

/// The largest credentials file read. A profile takes well under a kilobyte, so this leaves
/// room for thousands; a file larger than that is no credentials file, and parsed it would take
/// several times its size in memory.
const MAX_FILE_BYTES: u64 = 16 * 1024 * 1024;

/// The credentials file of this user.
#[derive(Debug, Clone)]
pub(crate) struct Store {
    dir: PathBuf,
}

/// A stored credential of one profile. `Debug` never shows the secrets.
#[derive(Clone)]
pub(crate) enum Auth {
    /// A signed-in session.
    OAuth {
        access_token: String,
        refresh_token: Option<String>,
        /// Seconds since the Unix epoch; `None` (or 0) never triggers a refresh.
        expires_at: Option<f64>,
        scope: Option<String>,
    },
    /// A `gpra_` API key (or any key given to `login --api-key`).
    ApiKey(String),
}

impl std::fmt::Debug for Auth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Auth::OAuth { expires_at, .. } => f
                .debug_struct("OAuth")
                .field("expires_at", expires_at)
                .finish_non_exhaustive(),
            Auth::ApiKey(_) => f.write_str("ApiKey([redacted])"),
        }
    }
}

impl Auth {
    /// Keeps this credential's secrets out of every message printed from now on.
    pub(crate) fn hide(&self) {
        match self {
            Auth::OAuth {
                access_token,
                refresh_token,
                ..
            } => {
                crate::hidden::hide(access_token);
                if let Some(refresh_token) = refresh_token {
                    crate::hidden::hide(refresh_token);
                }
            }
            Auth::ApiKey(key) => crate::hidden::hide(key),
        }
    }
}

/// One profile's entry.
#[derive(Clone, Debug, Default)]
pub(crate) struct Profile {
    pub(crate) api_url: Option<String>,
    pub(crate) auth: Option<Auth>,
}

/// How long [`Store::lock_async`] waits before trying the lock again: a refresh takes a
/// moment, so a waiting command takes its turn soon after, at the cost of a few wake-ups.
const LOCK_RETRY: std::time::Duration = std::time::Duration::from_millis(20);

/// How long [`Store::lock_async`] waits before it says what it waits for: longer than a
/// refresh by a provider nearby takes.
const LOCK_NOTICE_AFTER: std::time::Duration = std::time::Duration::from_secs(1);

/// The failure to take the lock at `path`.
fn lock_failed(path: &Path, error: &std::io::Error) -> Failure {
    Failure::other(format!("cannot lock {}: {error}", crate::paint::path(path)))
}

/// Holds the advisory lock until dropped.
#[derive(Debug)]
pub(crate) struct Lock {
    file: File,
}

impl Drop for Lock {
    fn drop(&mut self) {
        // Closing the file releases the lock as well; unlocking first just makes it prompt.
        let _ = fs4::FileExt::unlock(&self.file);
    }
}

/// The variable naming the home folder, as Python (the official CLI's) reads it: on Windows
/// `USERPROFILE` only, whatever `HOME` a POSIX shell there (MSYS2, Cygwin) sets.
#[cfg(windows)]
const HOME_VARIABLE: &str = "USERPROFILE";
#[cfg(not(windows))]
const HOME_VARIABLE: &str = "HOME";

impl Store {
    /// The store under `$HOME` (`%USERPROFILE%` on Windows), where the official CLI keeps
    /// its own, so that a login with either serves both.
    pub(crate) fn locate() -> Result<Store, Failure> {
        // Without HOME (a service, `env -i`), the account's home from the password database,
        // where the official CLI looks too.
        #[allow(
            deprecated,
            reason = "deprecated before Rust 1.87 only for Windows, where USERPROFILE is read first"
        )]
        fn account_home() -> Option<PathBuf> {
            std::env::home_dir().filter(|home| !home.as_os_str().is_empty())
        }
        let home = std::env::var_os(HOME_VARIABLE)
            .filter(|h| !h.is_empty())
            .map(PathBuf::from)
            .or_else(account_home)
            .ok_or_else(|| {
                Failure::other(format!(
                    "cannot find the home directory ({HOME_VARIABLE} is not set)"
                ))
            })?;
        let mut dir = home;
        for part in RELATIVE_DIR {
            dir.push(part);
        }
        Ok(Store { dir })
    }

    /// The credentials file's path.
    pub(crate) fn path(&self) -> PathBuf {
        self.dir.join("credentials.json")
    }

    /// Every profile, as raw JSON (unknown members are kept on rewrite).
    pub(crate) fn read_all(&self) -> Result<Map<String, Value>, Failure> {
        let path = self.path();
        let failed = |e: std::io::Error| {
            Failure::other(format!("cannot read {}: {e}", crate::paint::path(&path)))
        };
        // Opening a named pipe for reading waits for a writer, forever: every command would
        // hang without a word. So the file is opened without waiting, and what was opened (not
        // what the path showed a moment before, which a pipe could replace) must be a regular
        // file, a link to one being fine, before anything is read.
        let file = match open_to_read(&path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Map::new()),
            Err(e) => return Err(not_regular(&path).unwrap_or_else(|| failed(e))),
        };
        let meta = file.metadata().map_err(failed)?;
        regular(&path, &meta.file_type())?;
        if meta.len() > MAX_FILE_BYTES {
            return Err(too_large(&path));
        }
        warn_if_exposed(&path, &meta);
        // Read up to one byte past the cap, so that a file that grew after the check above is
        // refused too rather than read whole.
        let mut text = String::new();
        file.take(MAX_FILE_BYTES + 1)
            .read_to_string(&mut text)
            .map_err(failed)?;
        if text.len() as u64 > MAX_FILE_BYTES {
            return Err(too_large(&path));
        }
        if text.trim().is_empty() {
            return Ok(Map::new());
        }
        // Read exactly: a profile named twice would keep only its last entry in a map, and
        // the next write would erase the other without a word.
        let shown = crate::paint::path(&path);
        match crate::json::parse_exact(&text, &shown, "read") {
            Ok(Value::Object(map)) => Ok(map),
            Ok(_) => Err(Failure::other(format!(
                "{shown} is not a JSON object; fix or remove it"
            ))),
            // A refusal of the exact reading names the file itself; a syntax error does not.
            Err(e) if e.starts_with(&shown) => Err(Failure::other(format!(
                "{e}; keep one of them and remove the others"
            ))),
            Err(e) => Err(Failure::other(format!(
                "{shown} is not valid JSON ({e}); fix or remove it"
            ))),
        }
    }

    /// One profile's entry (empty when absent).
    ///
    /// # Errors
    ///
    /// The file does not read, or a member of the profile has a shape neither CLI writes.
    pub(crate) fn profile(&self, name: &str) -> Result<Profile, Failure> {
        parse_profile(self.read_all()?.get(name)).map_err(|e| self.unreadable(name, &e))
    }

    /// One profile's `api_url`, without reading the rest of it.
    pub(crate) fn api_url(&self, name: &str) -> Result<Option<String>, Failure> {
        match self.read_all()?.get(name) {
            Some(Value::Object(entry)) => {
                parse_api_url(entry).map_err(|e| self.unreadable(name, &e))
            }
            _ => Ok(None),
        }
    }

    /// The members of one profile that neither CLI reads (only `api_url` and `auth` are),
    /// such as a misspelled `apiUrl`, quoted inert and in sorted order.
    pub(crate) fn unread_members(&self, name: &str) -> Result<Vec<String>, Failure> {
        Ok(match self.read_all()?.get(name) {
            Some(Value::Object(entry)) => entry
                .keys()
                .filter(|key| !["api_url", "auth"].contains(&key.as_str()))
                .map(|key| crate::paint::inert(key).into_owned())
                .collect(),
            _ => Vec::new(),
        })
    }

    /// The failure that names an unreadable member, the profile and the file.
    fn unreadable(&self, name: &str, unreadable: &Unreadable) -> Failure {
        // Logging out keeps `api_url` and needs it; a login given the URL replaces both.
        let remedy = match unreadable.member {
            "api_url" => "'geopera login --api-url URL' to replace the profile",
            _ => "'geopera logout' or 'geopera login' to replace the credential",
        };
        Failure::other(format!(
            "{}, profile '{}': {unreadable}; fix it, or run {remedy}",
            crate::paint::path(&self.path()),
            crate::paint::inert(name),
        ))
    }

    /// Makes the next write of the file ready, which replaces the whole file atomically (a
    /// 0600 temporary file beside it, then a rename): the temporary file made beside the file (a
    /// link's target), with room for the file as it is and more. A caller about to do
    /// something it cannot undo and must then record (a refresh, which spends the refresh
    /// token) makes it first, so that a folder it may not write, or a full disk, fails before
    /// rather than after.
    pub(crate) fn ready(&self) -> Result<ReadyWrite, Failure> {
        self.ensure_dir()?;
        let path = self.path();
        // A credentials file that is a link (into a dotfiles repository, say) stays one: the
        // file it leads to is replaced, in its own folder, since a rename onto the link would
        // put a plain file in its place and leave the target stale.
        let target = crate::files::final_target(&path).map_err(|e| {
            Failure::other(format!(
                "cannot follow the link {}: {e}",
                crate::paint::path(&path)
            ))
        })?;
        let link = (target != path).then_some(path);
        let dir = match target.parent() {
            Some(dir) if !dir.as_os_str().is_empty() => dir.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let room = fs::metadata(&target).map_or(0, |meta| meta.len()) + WRITE_HEADROOM;
        match temporary_beside(&dir, room) {
            Ok(temp) => Ok(ReadyWrite { temp, target, link }),
            Err(e) => Err(cannot_write(&target, link.as_deref(), &e)),
        }
    }

    /// Changes one profile's entry under the lock, re-reading the file first so that
    /// concurrent changes to other profiles are kept.
    pub(crate) async fn update(
        &self,
        name: &str,
        change: impl FnOnce(&mut Map<String, Value>),
    ) -> Result<(), Failure> {
        let _lock = self.lock_async().await?;
        self.update_locked(name, change)
    }

    /// [`Store::update`] for a caller that already holds the lock.
    pub(crate) fn update_locked(
        &self,
        name: &str,
        change: impl FnOnce(&mut Map<String, Value>),
    ) -> Result<(), Failure> {
        self.update_ready(self.ready()?, name, change)
    }

    /// [`Store::update_locked`] with a write made [`ready`](Self::ready) before.
    pub(crate) fn update_ready(
        &self,
        ready: ReadyWrite,
        name: &str,
        change: impl FnOnce(&mut Map<String, Value>),
    ) -> Result<(), Failure> {
        let mut all = self.read_all()?;
        let entry = all
            .entry(name.to_owned())
            .or_insert_with(|| Value::Object(Map::new()));
        if !entry.is_object() {
            *entry = Value::Object(Map::new());
        }
        if let Value::Object(profile) = entry {
            change(profile);
        }
        ready.write(&all)
    }

    /// Takes the advisory lock, waiting for another process to release it. A command's
    /// runtime has one thread: waiting in the kernel for another process's refresh would stop
    /// every task of the command for as long, the one that hears Ctrl-C among them (a signal
    /// does not end that wait). It tries again every [`LOCK_RETRY`] instead, and gives up the
    /// wait as soon as the command is dropped.
    ///
    /// A wait past [`LOCK_NOTICE_AFTER`] is said once on stderr, naming the lock: a command
    /// holding it may be stopped (Ctrl-Z) or waiting on an identity provider that does not
    /// answer, and a command that waits without a word looks hung.
    pub(crate) async fn lock_async(&self) -> Result<Lock, Failure> {
        let (file, path) = self.lock_file()?;
        let started = tokio::time::Instant::now();
        let mut told = false;
        loop {
            match fs4::FileExt::try_lock(&file) {
                Ok(()) => return Ok(Lock { file }),
                Err(fs4::TryLockError::WouldBlock) => {
                    if !told && started.elapsed() >= LOCK_NOTICE_AFTER {
                        told = true;
                        crate::paint::note(&format!(
                            "waiting for another geopera command to release {} (Ctrl-C to \
                             stop)",
                            crate::paint::path(&path)
                        ));
                    }
                    tokio::time::sleep(LOCK_RETRY).await;
                }
                Err(fs4::TryLockError::Error(e)) => return Err(lock_failed(&path, &e)),
            }
        }
    }

    /// The lock file, opened (and made when missing), with its path.
    fn lock_file(&self) -> Result<(File, PathBuf), Failure> {
        self.ensure_dir()?;
        let path = self.dir.join("credentials.lock");
        // Opening a named pipe for writing waits for a reader, as reading one waits for a
        // writer: opened without waiting and checked as opened, as in `read_all`.
        let file = open_private(&path)
            .map_err(|e| not_regular(&path).unwrap_or_else(|| lock_failed(&path, &e)))?;
        let meta = file.metadata().map_err(|e| lock_failed(&path, &e))?;
        regular(&path, &meta.file_type())?;
        Ok((file, path))
    }

    fn ensure_dir(&self) -> Result<(), Failure> {
        let made = create_private_dir(&self.dir).and_then(|()| set_mode(&self.dir, 0o700));
        made.map_err(|e| {
            Failure::other(format!(
                "cannot create {}: {e}",
                crate::paint::path(&self.dir)
            ))
        })
    }
}

/// Warns, once a process, when users other than its owner may read or change the credentials
/// file: it holds secrets, and this program writes it 0600, so a looser mode was set by hand or
/// by another tool. It is a warning rather than a refusal, since the official CLI reads the
/// file as it is too, and refusing would lock the user out of their own logins.
#[cfg(unix)]
fn warn_if_exposed(path: &Path, meta: &fs::Metadata) {
    use std::os::unix::fs::PermissionsExt as _;
    use std::sync::atomic::{AtomicBool, Ordering};
    static WARNED: AtomicBool = AtomicBool::new(false);
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 && !WARNED.swap(true, Ordering::Relaxed) {
        let shown = crate::paint::path(path);
        // The command is one to paste: the path as one shell word (a home such as
        // `/Users/Jane Doe` has a space), unless showing it took escapes.
        let text = path.display().to_string();
        let word = if text.chars().any(crate::paint::steers) {
            shown.clone()
        } else {
            crate::paint::shell_word(&text)
        };
        crate::paint::warning(&format!(
            "{shown} is open to users other than its owner (mode {mode:o}); run: chmod 600 {word}"
        ));
    }
}

#[cfg(not(unix))]
fn warn_if_exposed(_path: &Path, _meta: &fs::Metadata) {}

fn too_large(path: &Path) -> Failure {
    Failure::other(format!(
        "{} is larger than {} MiB, which no credentials file is; fix or remove it",
        crate::paint::path(path),
        MAX_FILE_BYTES / (1024 * 1024)
    ))
}

/// Refuses anything at `path` but a regular file, naming what it is, so that a pipe, a device
/// or a folder left there is reported rather than waited on or read from.
fn regular(path: &Path, kind: &fs::FileType) -> Result<(), Failure> {
    if kind.is_file() {
        return Ok(());
    }
    let what = if kind.is_dir() {
        "a folder"
    } else {
        special(kind)
    };
    Err(Failure::other(format!(
        "{} is not a regular file (it is {what}); remove it: this program keeps a regular file \
         there",
        crate::paint::path(path)
    )))
}

/// Why `path` could not be opened, when that is because it is no regular file: a socket
/// cannot be opened at all, and a named pipe without a reader cannot be opened for writing
/// without waiting.
fn not_regular(path: &Path) -> Option<Failure> {
    let meta = fs::metadata(path).ok()?;
    regular(path, &meta.file_type()).err()
}

#[cfg(unix)]
fn special(kind: &fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt as _;
    if kind.is_fifo() {
        "a named pipe"
    } else if kind.is_socket() {
        "a socket"
    } else if kind.is_char_device() || kind.is_block_device() {
        "a device"
    } else {
        "neither a file nor a folder"
    }
}

#[cfg(not(unix))]
fn special(_kind: &fs::FileType) -> &'static str {
    "neither a file nor a folder"
}

/// A member of a stored profile with a shape neither CLI writes: named, so that the user can
/// fix it, rather than read as absent (which would say "not signed in" about a profile that
/// holds a credential).
#[derive(Debug)]
pub(crate) struct Unreadable {
    /// The member's path inside the profile, e.g. `auth.api_key`; empty for the profile itself.
    member: &'static str,
    /// What it must be.
    expected: &'static str,
}

/// The typed view of a profile entry. An absent member, `null` or an empty string reads as
/// absent; any other shape than the official layout's is [`Unreadable`].
pub(crate) fn parse_profile(value: Option<&Value>) -> Result<Profile, Unreadable> {
    let entry = match value {
        None | Some(Value::Null) => return Ok(Profile::default()),
        Some(Value::Object(entry)) => entry,
        Some(_) => return Err(unreadable("", "a JSON object")),
    };
    Ok(Profile {
        api_url: parse_api_url(entry)?,
        auth: parse_auth(entry)?,
    })
}

/// The profile's `api_url`, read alone: the one member a logout needs, so that it can still
/// remove a credential that does not read.
fn parse_api_url(entry: &Map<String, Value>) -> Result<Option<String>, Unreadable> {
    text(entry, "api_url", "api_url")
}

fn parse_auth(entry: &Map<String, Value>) -> Result<Option<Auth>, Unreadable> {
    let auth = match entry.get("auth") {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::Object(auth)) => auth,
        Some(_) => return Err(unreadable("auth", "a JSON object")),
    };
    let required = |member, path| {
        text(auth, member, path)?.ok_or_else(|| unreadable(path, "a non-empty string"))
    };
    match auth.get("type").and_then(Value::as_str) {
        Some("oauth") => Ok(Some(Auth::OAuth {
            access_token: required("access_token", "auth.access_token")?,
            refresh_token: text(auth, "refresh_token", "auth.refresh_token")?,
            expires_at: match auth.get("expires_at") {
                None | Some(Value::Null) => None,
                Some(Value::Number(at)) => at.as_f64(),
                Some(_) => {
                    return Err(unreadable(
                        "auth.expires_at",
                        "a number of seconds since the Unix epoch",
                    ))
                }
            },
            scope: text(auth, "scope", "auth.scope")?,
        })),
        Some("api_key") => Ok(Some(Auth::ApiKey(required("api_key", "auth.api_key")?))),
        _ => Err(unreadable("auth.type", "\"oauth\" or \"api_key\"")),
    }
}

/// An optional string member; `path` names it in the error.
fn text(
    map: &Map<String, Value>,
    key: &str,
    path: &'static str,
) -> Result<Option<String>, Unreadable> {
    match map.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) if text.is_empty() => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(unreadable(path, "a string")),
    }
}

fn unreadable(member: &'static str, expected: &'static str) -> Unreadable {
    Unreadable { member, expected }
}

impl std::fmt::Display for Unreadable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.member {
            "" => write!(f, "the profile must be {}", self.expected),
            member => write!(f, "{member} must be {}", self.expected),
        }
    }
}

/// The JSON of a stored OAuth session, in the official layout.
pub(crate) fn oauth_json(
    access_token: &str,
    refresh_token: Option<&str>,
    expires_at: Option<f64>,
    scope: &str,
    issuer: &str,
) -> Value {
    serde_json::json!({
        "type": "oauth",
        "access_token": access_token,
        "refresh_token": refresh_token,
        "expires_at": expires_at,
        "scope": scope,
        "issuer": issuer,
    })
}

/// The value with every object's members in sorted order: `serde_json` is built with
/// `preserve_order`, so a `Value` would otherwise be written in the order it was built.
fn sorted(value: &Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            let mut out = Map::new();
            for key in keys {
                if let Some(v) = map.get(key) {
                    out.insert(key.clone(), sorted(v));
                }
            }
            Value::Object(out)
        }
        Value::Array(items) => Value::Array(items.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

/// How the temporary files of [`temporary_beside`] are named: the prefix, random characters,
/// the suffix.
const TEMPORARY_PREFIX: &str = ".credentials.json.";
const TEMPORARY_SUFFIX: &str = ".tmp";

/// How old a temporary credentials file must be to be taken for one a killed process left: a
/// write takes milliseconds, so one this old is no other process's write under way.
const STALE_TEMPORARY: std::time::Duration = std::time::Duration::from_secs(3600);

/// The most entries of the folder [`remove_stale_temporaries`] looks at, so that a folder of
/// millions of files costs a write no more than a glance.
const MAX_ENTRIES_LOOKED_AT: usize = 1_000;

/// Removes the temporary credentials files a process killed mid-write (`SIGKILL`, a power
/// cut) left in `dir`: each holds a secret, in a file no write will ever rename into place.
/// Only regular files named as [`temporary_beside`] names them and older than
/// [`STALE_TEMPORARY`] are removed; a failure to look or to remove changes nothing for the
/// write, which goes on.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.take(MAX_ENTRIES_LOOKED_AT).filter_map(Result::ok) {
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let ours = name.len() > TEMPORARY_PREFIX.len() + TEMPORARY_SUFFIX.len()
            && name.starts_with(TEMPORARY_PREFIX)
            && name.ends_with(TEMPORARY_SUFFIX);
        if !ours {
            continue;
        }
        // Not followed if a link: a link is nothing this program wrote.
        let stale = fs::symlink_metadata(entry.path()).is_ok_and(|meta| {
            meta.is_file()
                && meta
                    .modified()
                    .ok()
                    .and_then(|at| at.elapsed().ok())
                    .is_some_and(|age| age > STALE_TEMPORARY)
        });
        if stale {
            let _ = fs::remove_file(entry.path());
        }
    }
}

/// `EDQUOT` (a disk quota spent), which std names `QuotaExceeded` only from Rust 1.85 on some
/// targets.
#[cfg(unix)]
const EDQUOT: i32 = libc::EDQUOT;
/// `ERROR_DISK_QUOTA_EXCEEDED`.
#[cfg(not(unix))]
const EDQUOT: i32 = 1295;

/// Room made in a ready write past the file's present length: a refresh's new tokens may be
/// longer than the old ones, and a few KiB covers any token an identity provider issues.
const WRITE_HEADROOM: u64 = 16 * 1024;

/// A write of the credentials file made ready by [`Store::ready`]: what is left can fail only
/// as a disk that fails.
pub(crate) struct ReadyWrite {
    temp: tempfile::NamedTempFile,
    /// The file written: the credentials file, or the file its link leads to.
    target: PathBuf,
    /// The credentials file, when it is a link to `target`.
    link: Option<PathBuf>,
}

impl ReadyWrite {
    /// Writes `profiles` as the whole file, in place of what it held.
    pub(crate) fn write(self, profiles: &Map<String, Value>) -> Result<(), Failure> {
        let text = format!(
            "{}\n",
            serde_json::to_string_pretty(&sorted(&Value::Object(profiles.clone())))
                .map_err(|e| Failure::other(format!("cannot encode the credentials: {e}")))?
        );
        replace_with(self.temp, &self.target, text.as_bytes())
            .map_err(|e| cannot_write(&self.target, self.link.as_deref(), &e))
    }
}

/// The failure to write `target`, naming the `link` that leads there, if any.
fn cannot_write(target: &Path, link: Option<&Path>, e: &std::io::Error) -> Failure {
    let linked = link
        .map(|link| format!(" (the link {} leads there)", crate::paint::path(link)))
        .unwrap_or_default();
    Failure::other(format!(
        "cannot write {}{linked}: {e}",
        crate::paint::path(target)
    ))
}

/// A 0600 temporary file in `dir`, with `room` bytes set aside where the file system can, for
/// [`replace_with`] to fill and rename over the credentials file, so that a reader sees the
/// old file or the new one, never half of one. It gets a random name and is created
/// exclusively (`O_EXCL`): a fixed name would let anyone who planted a link there have the
/// credentials written into, and chmodded onto, the file it points at. It is 0600 before the
/// first byte of a secret goes in.
fn temporary_beside(dir: &Path, room: u64) -> std::io::Result<tempfile::NamedTempFile> {
    remove_stale_temporaries(dir);
    let temp = tempfile::Builder::new()
        .prefix(TEMPORARY_PREFIX)
        .suffix(TEMPORARY_SUFFIX)
        .tempfile_in(dir)?;
    set_file_mode(temp.as_file(), 0o600)?;
    // A full disk, or a quota spent, is found now. Any other failure to set room aside (a
    // file system that cannot: `EOPNOTSUPP` on NFSv3 or sshfs, `ENOTSUP` on macOS, which std
    // names differently across versions) is no failure: the write itself then finds out, as
    // it did before.
    match fs4::FileExt::allocate(temp.as_file(), room) {
        Err(e)
            if e.kind() == std::io::ErrorKind::StorageFull || e.raw_os_error() == Some(EDQUOT) =>
        {
            Err(e)
        }
        _ => Ok(temp),
    }
}

/// Fills the ready temporary file with `bytes` (its set-aside room cut off) and renames it
/// over `path`.
fn replace_with(
    mut temp: tempfile::NamedTempFile,
    path: &Path,
    bytes: &[u8],
) -> std::io::Result<()> {
    temp.write_all(bytes)?;
    temp.as_file().set_len(bytes.len() as u64)?;
    temp.as_file().sync_all()?;
    // On failure the temporary file is removed as it drops.
    temp.persist(path).map_err(|e| e.error)?;
    crate::files::sync_folder_of(path)
}

#[cfg(unix)]
fn set_file_mode(file: &File, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    file.set_permissions(fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_file_mode(_file: &File, _mode: u32) -> std::io::Result<()> {
    Ok(())
}

/// Opens the credentials file to read it, never waiting on a named pipe (`O_NONBLOCK`, which
/// changes nothing for a regular file).
#[cfg(unix)]
fn open_to_read(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_to_read(path: &Path) -> std::io::Result<File> {
    File::open(path)
}

/// Opens (creating it 0600) a file to write, never waiting on a named pipe (see
/// [`open_to_read`]).
#[cfg(unix)]
fn open_private(path: &Path) -> std::io::Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_private(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

#[cfg(unix)]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt as _;
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    fs::create_dir_all(dir)
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _mode: u32) -> std::io::Result<()> {
    Ok(())
}
