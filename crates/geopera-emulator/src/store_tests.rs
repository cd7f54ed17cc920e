//! Unit tests of `store.rs`.
use super::*;
use serde_json::Value;

/// A fresh path in the temp directory, removed when dropped.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str) -> TempFile {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_nanos());
        let file = format!("geopera-store-{name}-{}-{nanos}.sqlite", std::process::id());
        TempFile(std::env::temp_dir().join(file))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
        let mut lock = self.0.clone().into_os_string();
        lock.push("-lock");
        let _ = std::fs::remove_file(lock);
    }
}

#[test]
fn a_version_0_file_opens_keeps_its_rows_and_is_upgraded() {
    let file = TempFile::new("v0");
    {
        let old = Connection::open(&file.0).expect("open");
        old.execute_batch(SCHEMA_V0).expect("old schema");
        old.execute_batch(
            "INSERT INTO meta VALUES ('seed', '5'), ('rng_state', '77');
                 INSERT INTO orgs VALUES ('org_demo', 1234, '[]');
                 INSERT INTO credentials VALUES
                     ('gpra_old_secret_0123', 'key_old', 'org_demo', 'old', 'gpra_old_sec',
                      '[\"*\"]', 1, NULL, 0, 0);",
        )
        .expect("old rows");
    }
    let (_, snapshot) = Store::open(&file.0, 5).expect("an old file opens");
    let snapshot = snapshot.expect("its state is read");
    assert_eq!(snapshot.orgs["org_demo"].balance_credits, 1234);
    let key = &snapshot.credentials[&digest("gpra_old_secret_0123")];
    assert_eq!((key.id.as_str(), key.rate_limit), ("key_old", None));
    assert!(key.inherited_limits.is_empty(), "minted under no one");
    assert!(snapshot.claims.is_empty());
    let upgraded = Connection::open(&file.0).expect("open");
    let version: i64 = upgraded
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .expect("version");
    assert_eq!(version, SCHEMA_VERSION as i64);
    let application_id: i32 = upgraded
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .expect("an application id");
    assert_eq!(application_id, APPLICATION_ID, "marked as the emulator's");
    let claims: i64 = upgraded
        .query_row("SELECT COUNT(*) FROM idempotency", [], |row| row.get(0))
        .expect("the new table exists");
    assert_eq!(claims, 0);
    // The key's secret is gone from the file: only its digest is left.
    let secrets: Vec<Vec<u8>> = upgraded
        .prepare("SELECT secret FROM credentials")
        .and_then(|mut query| query.query_map([], |row| row.get(0))?.collect())
        .expect("the secrets column");
    assert_eq!(secrets, [digest("gpra_old_secret_0123").to_vec()]);
    let bytes = std::fs::read(&file.0).expect("the file");
    assert!(
        !bytes
            .windows(20)
            .any(|part| part == b"gpra_old_secret_0123"),
        "nor in a page of the file the update freed"
    );
}

/// An older file refused as it is read (a damaged row) is left as it was, at its own version
/// and with its rows unchanged, for the emulator that wrote it: the upgrade and the read are
/// one transaction. The upgrade was committed first, so the file was changed for good (its
/// secrets digested, its version raised past the older emulator's) by a start that failed.
#[test]
fn an_older_file_refused_as_it_is_read_is_not_upgraded() {
    let file = TempFile::new("v0-damaged");
    {
        let old = Connection::open(&file.0).expect("open");
        old.execute_batch(SCHEMA_V0).expect("old schema");
        old.execute_batch(
            "INSERT INTO meta VALUES ('seed', '5'), ('rng_state', '77');
                 INSERT INTO orgs VALUES ('org_demo', 1234, 'not json');
                 INSERT INTO credentials VALUES
                     ('gpra_old_secret_0123', 'key_old', 'org_demo', 'old', 'gpra_old_sec',
                      '[\"*\"]', 1, NULL, 0, 0);",
        )
        .expect("old rows");
    }
    let Err(refused) = Store::open(&file.0, 5) else {
        panic!("a damaged row is refused");
    };
    assert!(refused.to_string().contains("orgs"), "{refused}");
    let kept = Connection::open(&file.0).expect("open");
    let version: i64 = kept
        .query_row("PRAGMA user_version", [], |row| row.get(0))
        .expect("version");
    assert_eq!(version, 0, "the file keeps its version");
    let application_id: i32 = kept
        .query_row("PRAGMA application_id", [], |row| row.get(0))
        .expect("an application id");
    assert_eq!(application_id, 0);
    let secret: String = kept
        .query_row("SELECT secret FROM credentials", [], |row| row.get(0))
        .expect("the row as it was");
    assert_eq!(secret, "gpra_old_secret_0123");
    let tables: i64 = kept
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'idempotency'",
            [],
            |row| row.get(0),
        )
        .expect("a count");
    assert_eq!(tables, 0, "no table of a later version");
}

#[test]
fn a_key_row_whose_secret_is_no_digest_is_refused() {
    let file = TempFile::new("undigested");
    drop(Store::open(&file.0, 5).expect("a new file"));
    {
        let edited = Connection::open(&file.0).expect("open");
        edited
            .execute_batch(
                "INSERT INTO meta VALUES ('seed', '5'), ('rng_state', '77');
                 INSERT INTO credentials (secret, id, org, name, prefix, grants, created_at,
                     expires_at, revoked, session)
                 VALUES ('gpra_in_clear', 'key_clear', 'org_demo', 'clear', 'gpra_in_clea',
                     '[\"*\"]', 1, NULL, 0, 0);",
            )
            .expect("a key in clear, as a version 7 file held it");
    }
    let Err(error) = Store::open(&file.0, 5) else {
        panic!("a key kept in clear in a version 8 file was read");
    };
    let error = error.to_string();
    assert!(
        error.contains("credentials.secret of key key_clear") && !error.contains("gpra_in_clear"),
        "{error}"
    );
}

/// Numbers the emulator would go on from are held to what it can go on from: a clock
/// reading past the year 9909 or before 1970, and a record numbered where the next one would
/// not fit the file's column, are refused rather than served.
#[test]
fn clock_readings_and_sequence_numbers_out_of_range_are_refused() {
    let resource = |seq: u64| {
        serde_json::json!({
            "family": "project", "id": "prj_far", "org": "org_demo", "parent": null,
            "seq": seq, "created_at": 0, "updated_at": 0, "fields": {},
        })
        .to_string()
    };
    let cases = [
        (
            "clock_ms",
            i64::MAX.to_string(),
            resource(1),
            "meta.clock_ms",
        ),
        ("clock_ms", "-1".to_owned(), resource(1), "meta.clock_ms"),
        (
            "clock_ms",
            (MAX_RESUMED_UNIX_SECS * 1000 + 1000).to_string(),
            resource(1),
            "meta.clock_ms",
        ),
        (
            "webhooks_swept_to",
            i64::MAX.to_string(),
            resource(1),
            "meta.webhooks_swept_to",
        ),
        // Seconds, not milliseconds: the year 11,476.
        (
            "webhooks_swept_to",
            "300000000000".to_owned(),
            resource(1),
            "meta.webhooks_swept_to",
        ),
        (
            "clock_ms",
            "0".to_owned(),
            resource(MAX_SEQ + 1),
            "sequence number",
        ),
    ];
    for (key, value, record, refused) in cases {
        let file = TempFile::new("out-of-range");
        drop(Store::open(&file.0, 5).expect("a new file"));
        {
            let edited = Connection::open(&file.0).expect("open");
            edited
                .execute(
                    "INSERT INTO meta VALUES ('seed', '5'), ('rng_state', '77'), (?1, ?2)",
                    (key, &value),
                )
                .expect("meta");
            edited
                .execute("INSERT INTO resources VALUES ('prj_far', ?1)", [&record])
                .expect("a resource");
        }
        let Err(error) = Store::open(&file.0, 5) else {
            panic!("{key} = {value} with {record} was read");
        };
        assert!(error.to_string().contains(refused), "{error}");
    }
    // The largest of each is read.
    let file = TempFile::new("in-range");
    drop(Store::open(&file.0, 5).expect("a new file"));
    {
        let edited = Connection::open(&file.0).expect("open");
        let latest = (MAX_RESUMED_UNIX_SECS * 1000 + 999).to_string();
        edited
            .execute(
                "INSERT INTO meta VALUES ('seed', '5'), ('rng_state', '77'), ('clock_ms', ?1)",
                [&latest],
            )
            .expect("meta");
        edited
            .execute(
                "INSERT INTO resources VALUES ('prj_far', ?1)",
                [resource(MAX_SEQ)],
            )
            .expect("a resource");
    }
    let (_, snapshot) = Store::open(&file.0, 5).expect("the largest readings are read");
    let snapshot = snapshot.expect("a snapshot");
    assert_eq!(snapshot.clock_ms, Some(MAX_RESUMED_UNIX_SECS * 1000 + 999));
    assert_eq!(snapshot.resources.len(), 1);
}

#[test]
fn a_file_from_a_newer_emulator_is_refused() {
    let file = TempFile::new("newer");
    {
        let newer = Connection::open(&file.0).expect("open");
        newer
            .pragma_update(None, "user_version", 99)
            .expect("version");
    }
    let Err(error) = Store::open(&file.0, 5) else {
        panic!("a newer file was opened");
    };
    assert!(error.to_string().contains("version 99"), "{error}");
}

/// A file opened and given its tables, whose first write never came (the process stopped
/// first), still reads as new: it holds nothing to lose.
#[test]
fn a_file_given_its_tables_but_never_written_opens_as_new() {
    let file = TempFile::new("never-written");
    let (store, snapshot) = Store::open(&file.0, 5).expect("a new file opens");
    assert!(snapshot.is_none());
    drop(store);
    let (_, snapshot) = Store::open(&file.0, 5).expect("it opens again");
    assert!(snapshot.is_none(), "read as new");
}

/// What the file holds, read by a connection of its own while a store has it open (a second
/// store would be refused).
fn read_back(file: &TempFile) -> Snapshot {
    let connection = Connection::open(&file.0).expect("the file opens");
    read(&connection, 0, &file.0).expect("the file reads")
}

/// A write upserts the changed orders it is given and deletes the ones given as gone (an
/// order retired at the organization's cap), leaving every other row alone.
#[test]
fn a_write_upserts_changed_orders_and_deletes_retired_ones() {
    let file = TempFile::new("orders");
    let (store, _) = Store::open(&file.0, 5).expect("a new file opens");
    let order = |id: &str, credits: i64| Order {
        id: id.to_owned(),
        org: "org_a".to_owned(),
        kind: OrderKind::Archive,
        display_name: String::new(),
        created_at: 1,
        cancelled_at: None,
        total_credits: credits,
        detail: Value::Null,
    };
    let empty_subscriptions = HashMap::new();
    let key = crate::downloads::DownloadKey::generate().expect("randomness");
    let write = |orders: Vec<(&String, Option<&Order>)>| {
        store.save(&SnapshotRef {
            seed: 5,
            rng_state: 1,
            credentials: Vec::new(),
            orgs: Vec::new(),
            orders,
            claims: Vec::new(),
            sessions: Vec::new(),
            access: Vec::new(),
            subscriptions: &empty_subscriptions,
            outbox: Vec::new(),
            swept_to: None,
            resources: Vec::new(),
            clock_ms: 0,
            download_key: &key,
        })
    };
    let (a, b, a_again) = (order("ord_a", 10), order("ord_b", 20), order("ord_a", 11));
    write(vec![(&a.id, Some(&a)), (&b.id, Some(&b))]).expect("written");
    write(vec![(&a_again.id, Some(&a_again))]).expect("written");
    let orders = read_back(&file).orders;
    assert_eq!(orders.len(), 2, "ord_b was left alone");
    assert_eq!(orders["ord_a"].total_credits, 11);
    write(vec![(&b.id, None)]).expect("written");
    let orders = read_back(&file).orders;
    assert_eq!(orders.keys().collect::<Vec<_>>(), ["ord_a"]);
}

/// A delivery row passed over as unreadable (another version's shape, an edit) keeps its
/// number from the next delivery queued, whose row would otherwise replace it.
#[test]
fn an_unreadable_outbox_row_keeps_its_sequence_number() {
    let file = TempFile::new("outbox-seq");
    drop(Store::open(&file.0, 5).expect("a new file"));
    {
        let edited = Connection::open(&file.0).expect("open");
        edited
            .execute(
                "INSERT INTO meta VALUES ('seed', '5'), ('rng_state', '77')",
                [],
            )
            .expect("meta");
        edited
            .execute("INSERT INTO outbox VALUES (8, '{\"x\":1}')", [])
            .expect("a row of another shape");
        edited
            .execute(
                "INSERT INTO outbox VALUES (?1, '{\"x\":1}')",
                [i64::try_from(MAX_SEQ + 5).expect("fits")],
            )
            .expect("a row numbered past the largest number");
    }
    let snapshot = read_back(&file);
    assert!(snapshot.outbox.is_empty(), "passed over");
    assert_eq!(
        snapshot.outbox_next_seq, 9,
        "past row 8, not past the number too large"
    );
}
