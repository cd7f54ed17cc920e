//! `--state FILE`: orders, keys, balances, idempotency claims, sessions, event subscriptions
//! (with their signing secrets), waiting webhook deliveries, the resources users create and
//! the key download links are signed with, kept in SQLite across restarts.
//!
//! The durable part of the state is written after every request that executed an operation
//! which is not read-only, or answered one with an idempotency key, in one transaction, which
//! keeps the file consistent if the process dies mid-way. What grows with use is written by the
//! rows that changed since the last write, so a write costs about the same with ten records or
//! ten thousand (an organization's row lists the ids of its orders, up to 10,000, and is
//! rewritten whenever its balance changes): keys, organizations and orders (each organization starts with
//! [`HISTORICAL_ORDERS`](crate::state::HISTORICAL_ORDERS) of them), signed-in sessions and
//! their access tokens, the resources users create (up to
//! [`MAX_PER_ORG`](crate::resources::MAX_PER_ORG) of each family per organization) and the
//! answered idempotency claims (one per keyed request for a day, which the SDKs send with
//! every create), and the webhook deliveries waiting in the outbox. The rest, meta data and
//! the subscriptions (100 an organization), is rewritten whole.
//!
//! The schema is versioned with SQLite's `user_version`: [`MIGRATIONS`] holds the steps from
//! each version to the next, so a file written by an older emulator opens and is upgraded in
//! place, and a file from a newer one is refused rather than misread.

use std::collections::{HashMap, VecDeque};
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue};
use http::StatusCode;
use rusqlite::{params, Connection, OptionalExtension, Statement, ToSql};

use crate::control::MAX_RESUMED_UNIX_SECS;
use crate::error::{known_content_type, Reply};
use crate::idempotency::IDEMPOTENCY_RETENTION_MS;
use crate::oidc::sessions::{digest, Access, Family, TokenDigest};
use crate::ops::{MAX_KEY_RATE_LIMIT, MAX_KEY_RATE_WINDOWS};
use crate::records::{
    Claim, ClaimSlot, Credential, Folded, KeyWindow, Order, OrderKind, Org, Pending, Subscription,
};
use crate::resources::{Resource, MAX_SEQ};

/// The tables of version 0, the first file format (which never set `user_version`). From
/// version 8 on, `credentials.secret` holds the 32-byte digest of the secret, as a blob.
const SCHEMA_V0: &str = "
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS credentials (
    secret TEXT PRIMARY KEY, id TEXT NOT NULL, org TEXT NOT NULL, name TEXT NOT NULL,
    prefix TEXT NOT NULL, grants TEXT NOT NULL, created_at INTEGER NOT NULL,
    expires_at INTEGER, revoked INTEGER NOT NULL, session INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS orgs (
    org TEXT PRIMARY KEY, balance_credits INTEGER NOT NULL, orders TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS orders (
    id TEXT PRIMARY KEY, org TEXT NOT NULL, kind TEXT NOT NULL, display_name TEXT NOT NULL,
    created_at INTEGER NOT NULL, cancelled_at INTEGER, total_credits INTEGER NOT NULL,
    detail TEXT NOT NULL);
";

/// `MIGRATIONS[n]` turns a version-`n` file into version `n + 1`. Append only; each step
/// must leave data of the earlier versions readable.
const MIGRATIONS: &[Step] = &[
    // 1: answered idempotency claims, replayed after a restart for 24 hours.
    Step::Sql(
        "CREATE TABLE IF NOT EXISTS idempotency (
        org TEXT NOT NULL, operation TEXT NOT NULL, key TEXT NOT NULL,
        fingerprint BLOB NOT NULL, at_ms INTEGER NOT NULL, status INTEGER NOT NULL,
        content_type TEXT NOT NULL, headers TEXT NOT NULL, body BLOB NOT NULL,
        PRIMARY KEY (org, operation, key));",
    ),
    // 2: a key's own per-minute limit from `api_keys.create`.
    Step::Sql("ALTER TABLE credentials ADD COLUMN rate_limit INTEGER;"),
    // 3: signed-in sessions and their access tokens, by token digest (never the tokens).
    Step::Sql(
        "CREATE TABLE IF NOT EXISTS sessions (family BLOB PRIMARY KEY, record TEXT NOT NULL);
     CREATE TABLE IF NOT EXISTS access_tokens (
        digest BLOB PRIMARY KEY, family BLOB NOT NULL, expires_at INTEGER NOT NULL);",
    ),
    // 4: event subscriptions (with the signing secret they sign with) and the webhook outbox.
    Step::Sql(
        "CREATE TABLE IF NOT EXISTS subscriptions (id TEXT PRIMARY KEY, record TEXT NOT NULL);
     CREATE TABLE IF NOT EXISTS outbox (seq INTEGER PRIMARY KEY, record TEXT NOT NULL);",
    ),
    // 5: the resources users create (projects, collections, items, jobs, uploads, …).
    Step::Sql("CREATE TABLE IF NOT EXISTS resources (id TEXT PRIMARY KEY, record TEXT NOT NULL);"),
    // 6: who made an idempotent request, the only principal its answer is replayed to.
    Step::Sql("ALTER TABLE idempotency ADD COLUMN principal TEXT;"),
    // 7: the windows a key inherited from the limited keys it was minted under (NULL: none).
    Step::Sql("ALTER TABLE credentials ADD COLUMN inherited_limits TEXT;"),
    // 8: keys and session tokens by the SHA-256 digest of their secret, never the secret.
    Step::Rust(digest_secrets),
    // 9: what the credit ledger's dropped entries added up to (NULL: none dropped yet).
    Step::Sql("ALTER TABLE orgs ADD COLUMN folded TEXT;"),
    // 10: share links by the SHA-256 digest of their token (and of their tiles' key).
    Step::Rust(digest_share_tokens),
];

/// One step of [`MIGRATIONS`]: SQL, or Rust for what SQLite cannot compute itself.
enum Step {
    Sql(&'static str),
    Rust(fn(&rusqlite::Transaction<'_>) -> rusqlite::Result<()>),
}

/// Replaces each credential's secret in the `secret` column by its SHA-256 digest, as the
/// emulator keeps them from version 8 on: a copy of the file then lets no one call as any of
/// its keys.
fn digest_secrets(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    let secrets: Vec<String> = tx
        // Text only: a digest is a blob, already what this step makes.
        .prepare("SELECT secret FROM credentials WHERE typeof(secret) = 'text'")?
        .query_map([], |row| row.get(0))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update = tx.prepare("UPDATE credentials SET secret = ?1 WHERE secret = ?2")?;
    for secret in secrets {
        update.execute(params![digest(&secret), secret])?;
    }
    Ok(())
}

/// Replaces each share link's token in its record by the token's digest and its tiles' key's,
/// as the emulator keeps them from version 10 on: a copy of the file then opens no share and
/// serves no shared tile. A record that does not read is left for the loader to judge.
fn digest_share_tokens(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    use crate::ops::{tiles_key, TILES_DIGEST, TOKEN_DIGEST};
    use crate::uploads::sha256_hex;
    let rows: Vec<(String, String)> = tx
        .prepare("SELECT id, record FROM resources")?
        .query_map([], |row| Ok((row.get(0)?, row.get(1)?)))?
        .collect::<rusqlite::Result<_>>()?;
    let mut update = tx.prepare("UPDATE resources SET record = ?1 WHERE id = ?2")?;
    for (id, text) in rows {
        let Ok(mut record) = serde_json::from_str::<serde_json::Value>(&text) else {
            continue;
        };
        if record["family"] != "share_link" {
            continue;
        }
        let Some(fields) = record
            .get_mut("fields")
            .and_then(serde_json::Value::as_object_mut)
        else {
            continue;
        };
        let Some(serde_json::Value::String(token)) = fields.remove("token") else {
            continue;
        };
        let password = fields
            .get("password_sha256")
            .and_then(serde_json::Value::as_str)
            .unwrap_or_default()
            .to_owned();
        fields.insert(TOKEN_DIGEST.to_owned(), sha256_hex(token.as_bytes()).into());
        let tiles = sha256_hex(tiles_key(&token, &password).as_bytes());
        fields.insert(TILES_DIGEST.to_owned(), tiles.into());
        update.execute(params![json_text(&record), id])?;
    }
    Ok(())
}

/// The version this emulator writes.
const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// How long a write waits for a lock another program (say, `sqlite3` reading the file) holds.
const WRITE_LOCK_WAIT: std::time::Duration = std::time::Duration::from_millis(100);

/// What a state file holds, as read back.
pub(crate) struct Snapshot {
    pub rng_state: u64,
    /// By the digest of each one's secret.
    pub credentials: HashMap<TokenDigest, Credential>,
    pub orgs: HashMap<String, Org>,
    pub orders: HashMap<String, Order>,
    pub claims: HashMap<ClaimSlot, Claim>,
    pub sessions: HashMap<TokenDigest, Family>,
    pub access: HashMap<TokenDigest, Access>,
    pub subscriptions: HashMap<String, Subscription>,
    pub outbox: VecDeque<Pending>,
    /// One past the largest `seq` of the outbox's rows, those passed over as unreadable
    /// included: a delivery queued after the restart must not take one's row.
    pub outbox_next_seq: u64,
    pub swept_to: Option<i64>,
    pub resources: Vec<Resource>,
    /// The emulator's time when the file was last written, in Unix milliseconds.
    pub clock_ms: Option<i64>,
    /// The key download links are signed with, kept since schema version 9's files.
    pub download_key: Option<crate::downloads::DownloadKey>,
}

/// What to write: the small records as the caller holds them, and of those that grow with use
/// the ones that changed since the last write.
pub(crate) struct SnapshotRef<'a> {
    pub seed: u64,
    pub rng_state: u64,
    /// The keys changed since the last write that succeeded, by the digest of their secret:
    /// the record the file should hold, or `None` for a row to delete. The same for the two
    /// below.
    pub credentials: Vec<(&'a TokenDigest, Option<&'a Credential>)>,
    /// The organizations changed since the last write that succeeded, by name.
    pub orgs: Vec<(&'a String, Option<&'a Org>)>,
    /// The orders changed since the last write that succeeded, by id.
    pub orders: Vec<(&'a String, Option<&'a Order>)>,
    /// The claims changed since the last write that succeeded: the claim the file should
    /// hold (answered and not expired), or `None` for a row to delete.
    pub claims: Vec<(&'a ClaimSlot, Option<&'a Claim>)>,
    /// The sessions changed since the last write that succeeded, by family digest.
    pub sessions: Vec<(&'a TokenDigest, Option<&'a Family>)>,
    /// The access tokens changed since the last write that succeeded, by digest.
    pub access: Vec<(&'a TokenDigest, Option<&'a Access>)>,
    pub subscriptions: &'a HashMap<String, Subscription>,
    /// The waiting deliveries queued or taken out since the last write that succeeded, by
    /// their place in the outbox.
    pub outbox: Vec<(u64, Option<&'a Pending>)>,
    pub swept_to: Option<i64>,
    /// The resources changed since the last write that succeeded, by id: the record the file
    /// should hold, or `None` for a row to delete.
    pub resources: Vec<(&'a str, Option<&'a Resource>)>,
    /// The key download links are signed with.
    pub download_key: &'a crate::downloads::DownloadKey,
    pub clock_ms: i64,
}

/// An open state file.
#[derive(Debug)]
pub(crate) struct Store {
    /// Declared first so it closes before the lease below ends.
    connection: Mutex<Connection>,
    /// Held while the file is open, never used; see [`lease`]. (A `Mutex` because a
    /// `Connection` cannot be shared between threads, and the store is.)
    _lease: Mutex<Connection>,
    /// Named in errors reading it back.
    path: PathBuf,
    seed: u64,
}

/// Keeps every other emulator off the state file at `path` for as long as the returned
/// connection is open: two emulators on one file would mint the same secrets from the same
/// seeded generator and overwrite each other's rows.
///
/// The lock is an open exclusive transaction on an empty SQLite file beside the state file
/// (its name plus `-lock`), not on the state file itself: a lock there would also keep out
/// readers such as `sqlite3` looking at the state while the emulator runs, and an OS file
/// lock (`flock`) is not available without new dependencies. SQLite's locks are released
/// by the operating system when a process dies, so a crash leaves no stale lock; the empty
/// file stays.
///
/// # Errors
/// When another emulator holds the file, or the lock file cannot be created or opened.
fn lease(path: &Path) -> io::Result<Connection> {
    // Two spellings of one file (a symbolic link and its target) share one lock.
    let canonical = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_path_buf());
    let mut name = canonical.into_os_string();
    name.push("-lock");
    let lock_path = std::path::PathBuf::from(name);
    create_private(&lock_path)?;
    let taken = Connection::open(&lock_path).and_then(|lease| {
        lease.busy_timeout(std::time::Duration::ZERO)?;
        // No journal file: the transaction never writes.
        lease.query_row("PRAGMA journal_mode = OFF", [], |_| Ok(()))?;
        lease.execute_batch("BEGIN EXCLUSIVE")?;
        Ok(lease)
    });
    taken.map_err(|error| {
        if error.sqlite_error_code() == Some(rusqlite::ErrorCode::DatabaseBusy) {
            io::Error::new(
                io::ErrorKind::ResourceBusy,
                format!(
                    "{} is in use by another process: another emulator has it open",
                    path.display()
                ),
            )
        } else {
            io::Error::other(format!(
                "{}: cannot lock {}: {error}",
                path.display(),
                lock_path.display()
            ))
        }
    })
}

/// Refuses a directory, a pipe or a device: SQLite answers those "disk I/O error", and a
/// directory's link count read as names of one file, so the error sent a developer who meant
/// "keep the state in this folder" off to look for hard links. Checked before the lock file is
/// made beside it.
///
/// # Errors
/// When what `path` names (through symbolic links) is not a regular file.
fn a_file(path: &Path) -> io::Result<()> {
    let kind = std::fs::metadata(path)?.file_type();
    if kind.is_file() {
        return Ok(());
    }
    let message = if kind.is_dir() {
        format!(
            "{} is a directory: name a file in it for the state, such as {}",
            path.display(),
            path.join("emulator.sqlite").display()
        )
    } else {
        format!(
            "{} is not a regular file (a pipe, socket or device): name a file for the state",
            path.display()
        )
    };
    Err(io::Error::new(io::ErrorKind::InvalidInput, message))
}

/// Refuses a file with more than one name (hard links): the lock ([`lease`]) is kept beside
/// the name the file is opened by, and so is SQLite's rollback journal, so an emulator on each
/// of two names would not keep the other out, and a journal a crash left beside one name
/// would not be rolled back by an emulator opening the other. A symbolic link is one name
/// followed to the file's own, and shares its lock; a hard link has no name to follow. A lock
/// on the file itself (`flock`, by its inode) would hold under every name, but where `flock`
/// and SQLite's `fcntl` locks interact (the BSDs and macOS; NFS and SMB mounts) it would keep
/// the emulator's own SQLite connection out of its file.
///
/// # Errors
/// When the file has more than one link, or its links cannot be counted.
fn only_name(path: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        let links = std::os::unix::fs::MetadataExt::nlink(&std::fs::metadata(path)?);
        if links > 1 {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                format!(
                    "{} has {links} names (hard links): the lock that keeps a second emulator \
                     off it, and SQLite's journal, are kept beside the name it is opened by, so \
                     another name would bypass both; give it one name (copy it, or use a \
                     symbolic link)",
                    path.display()
                ),
            ));
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates the file readable by its owner only, when it does not exist yet: it holds the
/// organizations' API keys as they were issued (a key must keep working after a restart),
/// and SQLite gives its journal the same permissions. An existing file keeps its own.
///
/// A symbolic link to a file that does not exist yet counts as "does not exist": its target
/// is created here, owner-only, rather than left for SQLite to create readable by all.
/// An existing file is never opened here: closing a descriptor of a file drops every lock
/// this process holds on it, SQLite's included.
fn create_private(path: &Path) -> io::Result<()> {
    let private = || {
        let mut options = std::fs::OpenOptions::new();
        options.write(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        options
    };
    match private().create_new(true).open(path) {
        Ok(_) => Ok(()),
        Err(error) if error.kind() == io::ErrorKind::AlreadyExists => {
            match std::fs::metadata(path) {
                // What exists is a link whose target does not: create the target (opening
                // through the link, which an exclusive create does not).
                Err(gone) if gone.kind() == io::ErrorKind::NotFound => {
                    private().create(true).open(path).map(drop)
                }
                _ => Ok(()),
            }
        }
        Err(error) => Err(error),
    }
}

/// `error`, naming the file at `path` unless it does already.
fn naming(path: &Path, error: io::Error) -> io::Error {
    let shown = path.display().to_string();
    if error.to_string().contains(&shown) {
        error
    } else {
        io::Error::new(error.kind(), format!("state file {shown}: {error}"))
    }
}

fn io_error(error: impl std::error::Error + Send + Sync + 'static) -> io::Error {
    io::Error::other(error)
}

/// The error for a file at `path` holding `what` no emulator writes: serving it as something
/// else would lose or reset what the file kept, so the file is refused instead.
fn edited(path: &Path, what: &str) -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidData,
        format!("{}: {what}; the file was damaged or edited", path.display()),
    )
}

fn json_text<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}

impl Store {
    /// Opens (creating if needed) the file for an emulator with `seed`, and reads what an
    /// earlier run left, if anything.
    ///
    /// # Errors
    /// When the file cannot be opened or read, is in use by another emulator, or was written
    /// by an emulator with another seed (whose catalog and ids would not match). Every error
    /// names the file: the caller may be starting with other files and an address too.
    pub(crate) fn open(path: &Path, seed: u64) -> io::Result<(Store, Option<Snapshot>)> {
        Store::open_unnamed(path, seed).map_err(|error| naming(path, error))
    }

    /// [`open`](Self::open), with errors that may not name the file.
    fn open_unnamed(path: &Path, seed: u64) -> io::Result<(Store, Option<Snapshot>)> {
        create_private(path)?;
        a_file(path)?;
        only_name(path)?;
        let lease = lease(path)?;
        let mut connection = Connection::open(path).map_err(io_error)?;
        // Every write happens under the emulator's state lock, so SQLite's default wait of
        // 5 s for a lock another program holds would stall every request; a write that
        // cannot take the lock soon fails instead, and its request is answered 503.
        connection.busy_timeout(WRITE_LOCK_WAIT).map_err(io_error)?;
        // Everything that can refuse the file runs before the first write to it, so a file
        // refused is left as it was.
        if holds_state(&connection, path)? {
            check_intact(&connection, path)?;
            if let Some(stored) = meta_value(&connection, "seed")? {
                if stored != seed.to_string() {
                    return Err(io::Error::new(
                        io::ErrorKind::InvalidData,
                        format!(
                            "{} holds the state of an emulator with seed {stored}, not {seed}",
                            path.display()
                        ),
                    ));
                }
            }
        }
        // SQLite may leave what a change removes in the file's free space unless told to
        // overwrite it: the secrets a version before 8 kept in clear could outlive their
        // digests there, and a record deleted later its own removal.
        connection
            .pragma_update(None, "secure_delete", true)
            .map_err(io_error)?;
        // The upgrade and the first read are one transaction: a file refused as it is read
        // (a damaged row) is left at its own version, for the emulator that wrote it.
        let tx = connection.transaction().map_err(io_error)?;
        migrate(&tx, path)?;
        let snapshot = read_snapshot(&tx, path, seed)?;
        tx.commit().map_err(io_error)?;
        let store = Store {
            connection: Mutex::new(connection),
            _lease: Mutex::new(lease),
            path: path.to_path_buf(),
            seed,
        };
        Ok((store, snapshot))
    }

    /// The file, as it was named.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// What the file holds now, read as at start: after a write failed, memory goes back to
    /// this, so that what the emulator serves is what a restart would.
    ///
    /// # Errors
    /// When the file cannot be read (another program holds its lock, it was damaged or
    /// emptied); the error names the file.
    pub(crate) fn read_back(&self) -> io::Result<Snapshot> {
        let mut connection = match self.connection.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        // Only read: the transaction is rolled back as it drops.
        let tx = connection.transaction().map_err(io_error);
        let read = tx
            .and_then(|tx| read_snapshot(&tx, &self.path, self.seed))
            .and_then(|snapshot| {
                snapshot.ok_or_else(|| {
                    io::Error::new(io::ErrorKind::InvalidData, "it holds no state any more")
                })
            });
        read.map_err(|error| naming(&self.path, error))
    }

    /// Brings the file's contents up to `snapshot`: the small tables whole, the records that
    /// grow with use by the rows that changed.
    ///
    /// # Errors
    /// When SQLite cannot write the file.
    pub(crate) fn save(&self, snapshot: &SnapshotRef<'_>) -> rusqlite::Result<()> {
        let mut connection = match self.connection.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        let tx = connection.transaction()?;
        tx.execute_batch("DELETE FROM meta;")?;
        write_claims(&tx, &snapshot.claims)?;
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('seed', ?1), ('rng_state', ?2), ('clock_ms', ?3)",
            params![
                snapshot.seed.to_string(),
                snapshot.rng_state.to_string(),
                snapshot.clock_ms.to_string()
            ],
        )?;
        if let Some(swept_to) = snapshot.swept_to {
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('webhooks_swept_to', ?1)",
                [swept_to.to_string()],
            )?;
        }
        tx.execute(
            "INSERT INTO meta (key, value) VALUES ('download_key', ?1)",
            [snapshot.download_key.to_hex()],
        )?;
        write_changed(
            &tx,
            "INSERT OR REPLACE INTO credentials (secret, id, org, name, prefix, grants, created_at,
                 expires_at, revoked, session, rate_limit, inherited_limits)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)",
            "DELETE FROM credentials WHERE secret = ?1",
            &snapshot.credentials,
            |insert, secret, key| {
                insert.execute(params![
                    secret,
                    key.id,
                    key.org,
                    key.name,
                    key.prefix,
                    json_text(&key.grants),
                    key.created_at,
                    key.expires_at,
                    key.revoked,
                    key.session,
                    key.rate_limit,
                    json_text(&key.inherited_limits)
                ])
            },
        )?;
        write_changed(
            &tx,
            "INSERT OR REPLACE INTO orgs (org, balance_credits, orders, folded)
             VALUES (?1, ?2, ?3, ?4)",
            "DELETE FROM orgs WHERE org = ?1",
            &snapshot.orgs,
            |insert, name, org| {
                let folded = (org.folded != Folded::default()).then(|| json_text(&org.folded));
                insert.execute(params![
                    name,
                    org.balance_credits,
                    json_text(&org.orders),
                    folded
                ])
            },
        )?;
        write_changed(
            &tx,
            "INSERT OR REPLACE INTO orders (id, org, kind, display_name, created_at, cancelled_at,
                 total_credits, detail)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            "DELETE FROM orders WHERE id = ?1",
            &snapshot.orders,
            |insert, _, order| {
                insert.execute(params![
                    order.id,
                    order.org,
                    order.kind.name(),
                    order.display_name,
                    order.created_at,
                    order.cancelled_at,
                    order.total_credits,
                    json_text(&order.detail)
                ])
            },
        )?;
        write_changed(
            &tx,
            "INSERT OR REPLACE INTO sessions (family, record) VALUES (?1, ?2)",
            "DELETE FROM sessions WHERE family = ?1",
            &snapshot.sessions,
            |insert, family, record| insert.execute(params![family, json_text(record)]),
        )?;
        write_changed(
            &tx,
            "INSERT OR REPLACE INTO access_tokens (digest, family, expires_at) VALUES (?1, ?2, ?3)",
            "DELETE FROM access_tokens WHERE digest = ?1",
            &snapshot.access,
            |insert, digest, access| {
                insert.execute(params![digest, access.family, access.expires_at])
            },
        )?;
        write_subscriptions(&tx, snapshot.subscriptions)?;
        write_changed(
            &tx,
            "INSERT OR REPLACE INTO outbox (seq, record) VALUES (?1, ?2)",
            "DELETE FROM outbox WHERE seq = ?1",
            &snapshot.outbox,
            |insert, seq, pending| insert.execute(params![seq, json_text(pending)]),
        )?;
        write_changed(
            &tx,
            "INSERT OR REPLACE INTO resources (id, record) VALUES (?1, ?2)",
            "DELETE FROM resources WHERE id = ?1",
            &snapshot.resources,
            |insert, id, record| insert.execute(params![id, json_text(record)]),
        )?;
        tx.commit()
    }
}

/// Writes the subscriptions whole, as memory holds them, except the rows the loader skipped:
/// memory never held those (JSON of a shape this version cannot read, as a later version may
/// write), and deleted with the rest they would be gone for the version that wrote them too.
/// A row this version reads and memory no longer holds was deleted.
fn write_subscriptions(
    tx: &rusqlite::Transaction<'_>,
    subscriptions: &HashMap<String, Subscription>,
) -> rusqlite::Result<()> {
    let mut gone = Vec::new();
    {
        let mut query = tx.prepare("SELECT id, record FROM subscriptions")?;
        let mut rows = query.query([])?;
        while let Some(row) = rows.next()? {
            let id: String = row.get("id")?;
            let text: String = row.get("record")?;
            if !subscriptions.contains_key(&id)
                && serde_json::from_str::<Subscription>(&text).is_ok()
            {
                gone.push(id);
            }
        }
    }
    let mut delete = tx.prepare("DELETE FROM subscriptions WHERE id = ?1")?;
    for id in &gone {
        delete.execute([id])?;
    }
    let mut insert =
        tx.prepare("INSERT OR REPLACE INTO subscriptions (id, record) VALUES (?1, ?2)")?;
    for (id, subscription) in subscriptions {
        insert.execute(params![id, json_text(subscription)])?;
    }
    Ok(())
}

/// Writes the rows of one table that changed: `upsert`, run by `row` with the record's
/// values, for a record the file should hold, and `delete`, whose one parameter is the key,
/// for one that is gone.
fn write_changed<K: ToSql, V>(
    tx: &rusqlite::Transaction<'_>,
    upsert: &str,
    delete: &str,
    changed: &[(K, Option<&V>)],
    mut row: impl FnMut(&mut Statement<'_>, &K, &V) -> rusqlite::Result<usize>,
) -> rusqlite::Result<()> {
    let mut upsert = tx.prepare(upsert)?;
    let mut delete = tx.prepare(delete)?;
    for (key, record) in changed {
        match record {
            Some(record) => row(&mut upsert, key, record)?,
            None => delete.execute([key])?,
        };
    }
    Ok(())
}

/// Writes the claims that changed: an answered one's row, or the deletion of one that is gone.
fn write_claims(
    tx: &rusqlite::Transaction<'_>,
    changed: &[(&ClaimSlot, Option<&Claim>)],
) -> rusqlite::Result<()> {
    let mut insert = tx.prepare(
        "INSERT OR REPLACE INTO idempotency (org, operation, key, fingerprint, at_ms, status,
             content_type, headers, body, principal)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)",
    )?;
    let mut delete =
        tx.prepare("DELETE FROM idempotency WHERE org = ?1 AND operation = ?2 AND key = ?3")?;
    for ((org, operation, key), claim) in changed {
        let Some((claim, reply)) = claim.and_then(|c| c.reply.as_ref().map(|reply| (c, reply)))
        else {
            delete.execute(params![org, operation, key])?;
            continue;
        };
        let reply = crate::idempotency::as_filed(operation, reply);
        let headers: Vec<(&str, String)> = reply
            .headers
            .iter()
            .map(|(name, value)| {
                (
                    name.as_str(),
                    String::from_utf8_lossy(value.as_bytes()).into_owned(),
                )
            })
            .collect();
        insert.execute(params![
            org,
            operation,
            key,
            claim.fingerprint.as_slice(),
            claim.at_ms,
            reply.status.as_u16(),
            reply.content_type,
            json_text(&headers),
            reply.body.as_ref(),
            claim.principal
        ])?;
    }
    Ok(())
}

/// `PRAGMA application_id` of the files this emulator writes ("GPEM"), so a file can be
/// told for an emulator's before anything in it is changed.
const APPLICATION_ID: i32 = 0x4750_454D;

/// The tables every emulator's state file has had since the first version.
const TABLES_V0: [&str; 4] = ["meta", "credentials", "orgs", "orders"];

/// Every table of the state file, with the version whose step in [`MIGRATIONS`] added it.
const TABLES: [(&str, usize); 10] = [
    ("meta", 0),
    ("credentials", 0),
    ("orgs", 0),
    ("orders", 0),
    ("idempotency", 1),
    ("sessions", 3),
    ("access_tokens", 3),
    ("subscriptions", 4),
    ("outbox", 4),
    ("resources", 5),
];

/// Whether the file holds an emulator's state (rather than nothing yet).
///
/// # Errors
/// When it is a database of another application: one with another `application_id`, or
/// without one (as the files of earlier emulators are) holding tables but not the
/// emulator's. Taking such a file over would add tables to it and set its version. And when
/// it has the emulator's `application_id` but lacks a table of its version: the id is set in
/// the transaction that creates the tables, so one is missing only if it was dropped, and
/// creating it empty would serve the rest of the state without it (every organization's
/// balance reset, say).
fn holds_state(connection: &Connection, path: &Path) -> io::Result<bool> {
    let application_id: i32 = connection
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .map_err(io_error)?;
    let tables: Vec<String> = connection
        .prepare("SELECT name FROM sqlite_schema WHERE type = 'table' ORDER BY name")
        .and_then(|mut query| query.query_map([], |row| row.get(0))?.collect())
        .map_err(io_error)?;
    let ours = TABLES_V0
        .iter()
        .all(|table| tables.iter().any(|name| name == table));
    let foreign = |what: String| {
        io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} is not an emulator's state file ({what}); name a new file or one an \
                 emulator wrote",
                path.display()
            ),
        )
    };
    match application_id {
        APPLICATION_ID => {
            let version: i64 = connection
                .query_row("PRAGMA user_version", [], |row| row.get(0))
                .map_err(io_error)?;
            let missing: Vec<&str> = TABLES
                .iter()
                .filter(|(table, since)| {
                    i64::try_from(*since).is_ok_and(|since| since <= version)
                        && !tables.iter().any(|name| name == table)
                })
                .map(|(table, _)| *table)
                .collect();
            if missing.is_empty() {
                Ok(true)
            } else {
                Err(edited(
                    path,
                    &format!(
                        "it is an emulator's state file of version {version} without the \
                         tables {}",
                        missing.join(", ")
                    ),
                ))
            }
        }
        0 if ours || tables.is_empty() => Ok(ours),
        0 => Err(foreign(format!(
            "it holds the tables {}",
            tables.join(", ")
        ))),
        other => Err(foreign(format!("its application id is {other:#x}"))),
    }
}

/// Refuses a file whose pages or indexes are damaged (a disk that failed, a copy taken while
/// it was being written): it would open, and then every write touching the damage would fail.
/// SQLite's `quick_check` reads the whole file once: about 0.5 s for a 240 MB file in a debug
/// build, once at start.
///
/// # Errors
/// When the check finds damage, or cannot run.
fn check_intact(connection: &Connection, path: &Path) -> io::Result<()> {
    // Its first few findings: enough to say where, without a page per broken row.
    let findings: Vec<String> = connection
        .prepare("PRAGMA quick_check(5)")
        .and_then(|mut query| query.query_map([], |row| row.get(0))?.collect())
        .map_err(io_error)?;
    if findings.iter().all(|finding| finding == "ok") {
        return Ok(());
    }
    // One line each, without the heading naming the database ("*** in database main ***").
    let findings: Vec<&str> = findings
        .iter()
        .flat_map(|finding| finding.lines())
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with("***"))
        .collect();
    Err(io::Error::new(
        io::ErrorKind::InvalidData,
        format!(
            "{} is damaged ({}); restore it from a copy, or start with a new file",
            path.display(),
            findings.join("; ")
        ),
    ))
}

/// A value of the `meta` table, when the file holds it.
fn meta_value(connection: &Connection, key: &str) -> io::Result<Option<String>> {
    connection
        .query_row("SELECT value FROM meta WHERE key = ?1", [key], |row| {
            row.get(0)
        })
        .optional()
        .map_err(io_error)
}

/// Brings the file to [`SCHEMA_VERSION`], or refuses one written by a newer emulator (or of a
/// version below 0, which none writes).
fn migrate(tx: &rusqlite::Transaction<'_>, path: &Path) -> io::Result<()> {
    let version: i64 = tx
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .map_err(io_error)?;
    // No emulator sets a version below 0: one there is not a newer version's, and shown as
    // a `usize` it would read as 18446744073709551615.
    let Ok(version) = usize::try_from(version) else {
        return Err(edited(
            path,
            &format!("it has state file version {version}, which no emulator writes"),
        ));
    };
    if version > SCHEMA_VERSION {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!(
                "{} has state file version {version}, newer than this emulator reads \
                 ({SCHEMA_VERSION})",
                path.display()
            ),
        ));
    }
    tx.execute_batch(SCHEMA_V0).map_err(io_error)?;
    for step in &MIGRATIONS[version..] {
        match step {
            Step::Sql(sql) => tx.execute_batch(sql),
            Step::Rust(run) => run(tx),
        }
        .map_err(io_error)?;
    }
    tx.pragma_update(None, "user_version", SCHEMA_VERSION as i64)
        .map_err(io_error)?;
    tx.pragma_update(None, "application_id", APPLICATION_ID)
        .map_err(io_error)
}

/// The state the file holds, or `None` when no emulator has written it yet; read within the
/// caller's transaction `tx`, so a program writing the file meanwhile is seen before or after,
/// not half.
///
/// # Errors
/// When SQLite cannot read the file, or a record holds what no emulator writes (a sequence
/// number out of range, a JSON column that is not JSON, a `meta` value that is not a number),
/// or the file holds rows without the `meta` row naming its seed.
fn read_snapshot(tx: &Connection, path: &Path, seed: u64) -> io::Result<Option<Snapshot>> {
    let meta = |key: &str| meta_value(tx, key);
    // A number of `meta`, when the file holds it; one that does not parse was not written by
    // an emulator, and reading it as absent would start the generator over (minting the
    // secrets it minted before) or lose the clock.
    let number = |key: &str| -> io::Result<Option<i64>> {
        meta(key)?
            .map(|text| {
                text.parse()
                    .map_err(|_| edited(path, &format!("meta.{key} is {text:?}, not a number")))
            })
            .transpose()
    };
    if meta("seed")?.is_none() {
        // Every write puts the seed with the rows, in one transaction, so rows without it
        // were left by something else: serving a new state over them would reset balances
        // and forget the answered idempotency claims.
        return match first_table_with_rows(tx)? {
            None => Ok(None),
            Some(table) => Err(edited(
                path,
                &format!("meta has no seed row, yet the table {table} holds rows"),
            )),
        };
    }
    let rng_state = match meta("rng_state")? {
        Some(text) => text
            .parse()
            .map_err(|_| edited(path, &format!("meta.rng_state is {text:?}, not a number")))?,
        None => seed,
    };
    let mut snapshot = read(tx, rng_state, path)?;
    if let Some(record) = snapshot.resources.iter().find(|r| r.seq > MAX_SEQ) {
        return Err(edited(
            path,
            &format!(
                "resource {} has sequence number {}, beyond the largest one ({MAX_SEQ})",
                record.id, record.seq
            ),
        ));
    }
    // Readings of the clock, held to the range the control endpoint moves it in and the years
    // a clock moved to its end ticks on for: a reading past it would date records past the
    // year 9999 and overflow the sums of the clock and a lifetime. A clock set outside it
    // through the Rust API writes a file that cannot resume.
    let reading = |key: &str, per_sec: i64, unit: &str| -> io::Result<Option<i64>> {
        let latest = MAX_RESUMED_UNIX_SECS
            .saturating_mul(per_sec)
            .saturating_add(per_sec - 1);
        match number(key)? {
            Some(at) if !(0..=latest).contains(&at) => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "{}: meta.{key} is {at}, outside the clock readings the emulator resumes \
                     from (0 to {latest} {unit}, 1970 to 9909)",
                    path.display()
                ),
            )),
            reading => Ok(reading),
        }
    };
    snapshot.swept_to = reading("webhooks_swept_to", 1, "s")?;
    snapshot.clock_ms = reading("clock_ms", 1000, "ms")?;
    snapshot.download_key = meta("download_key")?
        .map(|text| {
            crate::downloads::DownloadKey::from_hex(&text)
                .ok_or_else(|| edited(path, "meta.download_key is not a key of 32 bytes in hex"))
        })
        .transpose()?;
    Ok(Some(snapshot))
}

/// The first table of [`TABLES`] that holds a row, if any does.
fn first_table_with_rows(connection: &Connection) -> io::Result<Option<&'static str>> {
    for (table, _) in TABLES {
        let query = format!("SELECT EXISTS (SELECT 1 FROM {table})");
        let rows: bool = connection
            .query_row(&query, [], |row| row.get(0))
            .map_err(io_error)?;
        if rows {
            return Ok(Some(table));
        }
    }
    Ok(None)
}

/// The Unix times, in seconds, of the years RFC 3339 writes (0000 to 9999): an order's times
/// are answered as such dates, and the arithmetic on a time near either end of `i64` (an hour
/// after it is created) would overflow.
const DATES: std::ops::RangeInclusive<i64> = -62_167_219_200..=253_402_300_799;

/// Why [`read_rows`] stopped: SQLite could not read the file, or a row holds what no emulator
/// writes (what, and where).
enum ReadError {
    Sqlite(rusqlite::Error),
    Edited(String),
}

impl From<rusqlite::Error> for ReadError {
    fn from(error: rusqlite::Error) -> Self {
        ReadError::Sqlite(error)
    }
}

/// The record `text` holds, or `None` for JSON of a shape this version cannot read, which the
/// callers skip (as an older record may be), logged with `place`: the skipped record's session,
/// subscription, delivery or resource is gone from what the emulator serves, though the file
/// keeps it.
///
/// # Errors
/// When `text` is not JSON at all, which no emulator writes; `place` says where it is.
fn record<T: serde::de::DeserializeOwned>(
    text: &str,
    place: impl Fn() -> String,
) -> Result<Option<T>, ReadError> {
    let found = shaped(text, &place)?;
    if found.is_none() {
        skipped(&place(), "its JSON is of a shape this version cannot read");
    }
    Ok(found)
}

/// Says that the record at `place` was left out of what the file gave, and why.
fn skipped(place: &str, why: &str) {
    tracing::warn!(record = place, why, "skipped a record of the state file");
}

/// [`record`] without the log line, for callers to whom a record of another shape is an
/// error of its own.
///
/// # Errors
/// As [`record`].
fn shaped<T: serde::de::DeserializeOwned>(
    text: &str,
    place: impl FnOnce() -> String,
) -> Result<Option<T>, ReadError> {
    match serde_json::from_str::<T>(text) {
        Ok(record) => Ok(Some(record)),
        // A record of another shape fails as soon as the shape is wrong; whether the text is
        // JSON at all takes reading it to the end.
        Err(_) => match serde_json::from_str::<serde::de::IgnoredAny>(text) {
            Ok(_) => Ok(None),
            Err(error) => Err(ReadError::Edited(format!(
                "{} is not JSON ({error})",
                place()
            ))),
        },
    }
}

/// The record `text` holds, where every row must hold one (no emulator wrote anything else
/// there): a row read as nothing would lose what it held.
///
/// # Errors
/// When `text` is not JSON of type `T`; `place` says where it is.
fn required<T: serde::de::DeserializeOwned>(
    text: &str,
    place: impl Fn() -> String,
    expected: &str,
) -> Result<T, ReadError> {
    shaped(text, &place)?.ok_or_else(|| ReadError::Edited(format!("{} is not {expected}", place())))
}

/// The windows a key inherited, as its `inherited_limits` column holds them.
///
/// # Errors
/// When the column holds what no emulator writes: not a list of `[key id, calls per minute]`
/// pairs, a limit outside what `api_keys.create` accepts, more windows than a key's calls
/// count against, or one key's window twice. Read as fewer windows, the key would make more calls than its family may.
fn inherited_limits(text: &str, id: &str) -> Result<Vec<KeyWindow>, ReadError> {
    let place = || format!("credentials.inherited_limits of key {id}");
    let windows: Vec<KeyWindow> = required(text, place, "a list of [key id, limit] pairs")?;
    check_windows(&windows, place)?;
    Ok(windows)
}

/// # Errors
/// When `windows` are more than a key's calls count against, name one key twice, or one
/// limits a key to a number of calls outside what `api_keys.create` accepts; `place` says
/// where they are.
fn check_windows(windows: &[KeyWindow], place: impl Fn() -> String) -> Result<(), ReadError> {
    if windows.len() > MAX_KEY_RATE_WINDOWS {
        return Err(ReadError::Edited(format!(
            "{} holds {} windows, more than the {MAX_KEY_RATE_WINDOWS} a key's calls count \
             against",
            place(),
            windows.len()
        )));
    }
    // No emulator writes one key's window twice: a call would be counted twice in it.
    if let Some((index, (key, _))) = windows
        .iter()
        .enumerate()
        .find(|(index, (key, _))| windows[..*index].iter().any(|(seen, _)| seen == key))
    {
        return Err(ReadError::Edited(format!(
            "{} names key {key} twice (at {index})",
            place()
        )));
    }
    if let Some((key, cap)) = windows
        .iter()
        .find(|(_, cap)| !(1..=MAX_KEY_RATE_LIMIT).contains(cap))
    {
        return Err(ReadError::Edited(format!(
            "{} limits key {key} to {cap} calls a minute, outside 1 to {MAX_KEY_RATE_LIMIT}",
            place()
        )));
    }
    Ok(())
}

/// A saved session's record, whose key limits are checked as a key's own are: a session
/// limited to no calls a minute would be refused every call.
///
/// # Errors
/// As [`check_windows`], for the key's own limit and the windows it inherited.
fn session_record(text: &str, rowid: i64) -> Result<Option<Family>, ReadError> {
    let place = || format!("sessions.record of row {rowid}");
    let Some(family) = record::<Family>(text, place)? else {
        return Ok(None);
    };
    let principal = &family.principal;
    check_windows(&principal.inherited_limits, place)?;
    check_windows(principal.key_limit.as_slice(), || {
        format!("the key_limit of {}", place())
    })?;
    Ok(Some(family))
}

/// A key's own limit, as its `rate_limit` column holds it.
///
/// # Errors
/// When it is outside what `api_keys.create` accepts: a key limited to no calls a minute
/// would be refused every call, and one beyond the bound was never minted.
fn key_rate_limit(column: Option<i64>, id: &str) -> Result<Option<u32>, ReadError> {
    let Some(cap) = column else {
        return Ok(None);
    };
    match u32::try_from(cap) {
        Ok(cap) if (1..=MAX_KEY_RATE_LIMIT).contains(&cap) => Ok(Some(cap)),
        _ => Err(ReadError::Edited(format!(
            "credentials.rate_limit of key {id} is {cap} calls a minute, outside 1 to \
             {MAX_KEY_RATE_LIMIT}"
        ))),
    }
}

/// What the file holds; see [`read_rows`].
///
/// # Errors
/// When SQLite cannot read the file, or a row holds what no emulator writes (JSON that is not
/// JSON, a list of names that is not one, an order of no kind or of a time out of range, a
/// key limited to a number of calls a minute `api_keys.create` refuses).
fn read(connection: &Connection, rng_state: u64, path: &Path) -> io::Result<Snapshot> {
    read_rows(connection, rng_state, path).map_err(|error| match error {
        ReadError::Sqlite(error) => io_error(error),
        ReadError::Edited(what) => edited(path, &what),
    })
}

fn read_rows(connection: &Connection, rng_state: u64, path: &Path) -> Result<Snapshot, ReadError> {
    let names = "a list of strings";
    let mut credentials = HashMap::new();
    let mut query = connection.prepare(
        "SELECT secret, id, org, name, prefix, grants, created_at, expires_at, revoked, session,
             rate_limit, inherited_limits
         FROM credentials",
    )?;
    let mut rows = query.query([])?;
    while let Some(row) = rows.next()? {
        let id: String = row.get("id")?;
        let secret = match row.get_ref("secret")? {
            rusqlite::types::ValueRef::Blob(bytes) => TokenDigest::try_from(bytes).ok(),
            // A secret in clear (a file edited after version 8) is no digest either.
            _ => None,
        };
        let Some(secret) = secret else {
            return Err(ReadError::Edited(format!(
                "credentials.secret of key {id} is not the 32-byte digest of a secret"
            )));
        };
        let grants: String = row.get("grants")?;
        let inherited: Option<String> = row.get("inherited_limits")?;
        let rate_limit = key_rate_limit(row.get("rate_limit")?, &id)?;
        let key = Credential {
            grants: required(&grants, || format!("credentials.grants of key {id}"), names)?,
            inherited_limits: match inherited {
                Some(text) => inherited_limits(&text, &id)?,
                None => Vec::new(),
            },
            id,
            org: row.get("org")?,
            name: row.get("name")?,
            prefix: row.get("prefix")?,
            created_at: row.get("created_at")?,
            expires_at: row.get("expires_at")?,
            revoked: row.get("revoked")?,
            session: row.get("session")?,
            rate_limit,
        };
        credentials.insert(secret, key);
    }
    let mut orgs = HashMap::new();
    let mut query = connection.prepare("SELECT org, balance_credits, orders, folded FROM orgs")?;
    let mut rows = query.query([])?;
    while let Some(row) = rows.next()? {
        let name: String = row.get("org")?;
        let orders: String = row.get("orders")?;
        let folded: Option<String> = row.get("folded")?;
        let org = Org {
            balance_credits: row.get("balance_credits")?,
            orders: required(
                &orders,
                || format!("orgs.orders of organization {name}"),
                names,
            )?,
            folded: match folded {
                Some(text) => required(
                    &text,
                    || format!("orgs.folded of organization {name}"),
                    "the sums of dropped ledger entries",
                )?,
                None => Folded::default(),
            },
        };
        orgs.insert(name, org);
    }
    let mut orders = HashMap::new();
    let mut query = connection.prepare(
        "SELECT id, org, kind, display_name, created_at, cancelled_at, total_credits, detail
         FROM orders",
    )?;
    let mut rows = query.query([])?;
    while let Some(row) = rows.next()? {
        let kind: String = row.get("kind")?;
        let id: String = row.get("id")?;
        let detail: String = row.get("detail")?;
        let Some(kind) = OrderKind::from_name(&kind) else {
            return Err(ReadError::Edited(format!(
                "orders.kind of order {id} is {kind:?}, not a kind of order"
            )));
        };
        let created_at: i64 = row.get("created_at")?;
        let cancelled_at: Option<i64> = row.get("cancelled_at")?;
        for (column, time) in [
            ("created_at", Some(created_at)),
            ("cancelled_at", cancelled_at),
        ] {
            if let Some(time) = time.filter(|time| !DATES.contains(time)) {
                return Err(ReadError::Edited(format!(
                    "orders.{column} of order {id} is {time}, not a time of a year from 0 to \
                     9999"
                )));
            }
        }
        let order = Order {
            detail: required(&detail, || format!("orders.detail of order {id}"), "JSON")?,
            id,
            org: row.get("org")?,
            kind,
            display_name: row.get("display_name")?,
            created_at,
            cancelled_at,
            total_credits: row.get("total_credits")?,
        };
        orders.insert(order.id.clone(), order);
    }
    let mut claims = HashMap::new();
    let mut query = connection.prepare(
        "SELECT org, operation, key, fingerprint, at_ms, status, content_type, headers, body, \
         principal FROM idempotency",
    )?;
    let mut rows = query.query([])?;
    while let Some(row) = rows.next()? {
        // Rows this version cannot replay faithfully (an operation or content type it does
        // not know) are skipped: the retry then runs again, which is never wrong twice.
        let operation: String = row.get("operation")?;
        let key: String = row.get("key")?;
        let claim_place = || format!("idempotency claim of key {key:?} on {operation}");
        let Some(op) = geopera_types::operations::find(&operation) else {
            skipped(&claim_place(), "this version has no such operation");
            continue;
        };
        let content_type: String = row.get("content_type")?;
        let Some(content_type) = known_content_type(&content_type) else {
            skipped(
                &claim_place(),
                "its answer's content type is not one it replays",
            );
            continue;
        };
        let Ok(fingerprint) = <[u8; 32]>::try_from(row.get::<_, Vec<u8>>("fingerprint")?) else {
            skipped(&claim_place(), "its fingerprint is not a 32-byte digest");
            continue;
        };
        let Ok(status) = StatusCode::from_u16(row.get("status")?) else {
            skipped(&claim_place(), "its status is not an HTTP status");
            continue;
        };
        let headers_text: String = row.get("headers")?;
        let place = || format!("idempotency.headers of the claim of key {key:?} on {operation}");
        let Some(headers) = record::<Vec<(String, String)>>(&headers_text, place)? else {
            continue;
        };
        let headers = headers
            .into_iter()
            .filter_map(|(name, value)| {
                Some((
                    HeaderName::from_bytes(name.as_bytes()).ok()?,
                    HeaderValue::from_str(&value).ok()?,
                ))
            })
            .collect();
        let reply = Reply {
            status,
            content_type,
            headers,
            body: Bytes::from(row.get::<_, Vec<u8>>("body")?),
        };
        let at_ms: i64 = row.get("at_ms")?;
        // Before 1970, or too late to add a day to: no emulator's clock stamps that, and the
        // arithmetic on it would overflow.
        if !(0..=i64::MAX - IDEMPOTENCY_RETENTION_MS).contains(&at_ms) {
            tracing::warn!(
                file = %path.display(),
                at_ms,
                "skipped an idempotency claim stamped at a time out of range"
            );
            continue;
        }
        let claim = Claim {
            fingerprint,
            // A claim from a file that did not keep who made it is replayed to no one (409)
            // rather than to anyone: its answer may carry a key's secret.
            principal: row
                .get::<_, Option<String>>("principal")?
                .unwrap_or_default(),
            at_ms,
            reply: Some(reply),
        };
        claims.insert((row.get("org")?, op.id, key), claim);
    }
    let digest_of = |bytes: Vec<u8>| TokenDigest::try_from(bytes).ok();
    let mut sessions = HashMap::new();
    let mut query = connection.prepare("SELECT rowid, family, record FROM sessions")?;
    let mut rows = query.query([])?;
    while let Some(row) = rows.next()? {
        let text: String = row.get("record")?;
        let rowid: i64 = row.get("rowid")?;
        // A record this version cannot read ends that session, as a restart of the real
        // identity provider might.
        let Some(record) = session_record(&text, rowid)? else {
            continue;
        };
        let Some(family) = digest_of(row.get("family")?) else {
            skipped(
                &format!("sessions.family of row {rowid}"),
                "it is not a 32-byte digest",
            );
            continue;
        };
        sessions.insert(family, record);
    }
    let mut access = HashMap::new();
    let mut query =
        connection.prepare("SELECT rowid, digest, family, expires_at FROM access_tokens")?;
    let mut rows = query.query([])?;
    while let Some(row) = rows.next()? {
        if let (Some(digest), Some(family)) =
            (digest_of(row.get("digest")?), digest_of(row.get("family")?))
        {
            let expires_at = row.get("expires_at")?;
            access.insert(digest, Access { family, expires_at });
        } else {
            let rowid: i64 = row.get("rowid")?;
            skipped(
                &format!("access_tokens row {rowid}"),
                "its digest or family is not a 32-byte digest",
            );
        }
    }
    // Records this version cannot read are skipped, like sessions above.
    let mut subscriptions = HashMap::new();
    let mut query = connection.prepare("SELECT id, record FROM subscriptions")?;
    let mut rows = query.query([])?;
    while let Some(row) = rows.next()? {
        let text: String = row.get("record")?;
        let id: String = row.get("id")?;
        let place = || format!("subscriptions.record of subscription {id}");
        if let Some(subscription) = record::<Subscription>(&text, place)? {
            subscriptions.insert(id, subscription);
        }
    }
    let mut outbox = VecDeque::new();
    let mut outbox_next_seq = 0;
    let mut query = connection.prepare("SELECT seq, record FROM outbox ORDER BY seq")?;
    let mut rows = query.query([])?;
    while let Some(row) = rows.next()? {
        let text: String = row.get("record")?;
        let seq: i64 = row.get("seq")?;
        // A number past the largest one is passed over below and never given again.
        if let Some(taken) = u64::try_from(seq).ok().filter(|seq| *seq <= MAX_SEQ) {
            outbox_next_seq = outbox_next_seq.max(taken + 1);
        }
        let place = || format!("outbox.record of delivery {seq}");
        let Some(mut pending) = record::<Pending>(&text, place)? else {
            continue;
        };
        let Some(seq) = u64::try_from(seq).ok().filter(|seq| *seq <= MAX_SEQ) else {
            skipped(
                &place(),
                &format!("its sequence number is not one from 0 to {MAX_SEQ}"),
            );
            continue;
        };
        pending.seq = seq;
        outbox.push_back(pending);
    }
    let mut resources = Vec::new();
    let mut query = connection.prepare("SELECT id, record FROM resources")?;
    let mut rows = query.query([])?;
    while let Some(row) = rows.next()? {
        let text: String = row.get("record")?;
        let id: String = row.get("id")?;
        let place = || format!("resources.record of resource {id}");
        if let Some(resource) = record::<Resource>(&text, place)? {
            resources.push(resource);
        }
    }
    Ok(Snapshot {
        subscriptions,
        outbox,
        outbox_next_seq,
        resources,
        swept_to: None,
        clock_ms: None,
        download_key: None,
        rng_state,
        credentials,
        orgs,
        orders,
        claims,
        sessions,
        access,
    })
}

#[cfg(test)]
#[path = "store_tests.rs"]
mod tests;
