//! Unit tests of `uploads.rs`.
use super::*;
use crate::rng::Rng;
use serde_json::Map;

/// A store holding one upload of `org_a` per `(status, total_bytes, bytes_received)`.
fn uploads_of(uploads: &[(&str, i64, i64)]) -> Resources {
    let mut store = Resources::default();
    let mut rng = Rng::new(1);
    for (status, total, received) in uploads {
        let mut fields = Map::new();
        fields.insert("status".to_owned(), json!(status));
        fields.insert("total_bytes".to_owned(), json!(total));
        fields.insert("bytes_received".to_owned(), json!(received));
        let created = store.create(&mut rng, Family::Upload, "org_a", None, 0, fields);
        assert!(created.is_ok());
    }
    store
}

#[test]
fn open_uploads_reserve_their_declared_size_and_completed_ones_use_what_arrived() {
    let store = uploads_of(&[
        ("pending", 100, 0),
        ("uploading", 50, 20),
        ("completed", 40, 30),
        ("failed", 1000, 10),
    ]);
    let storage = Storage::of(&store, "org_a");
    assert_eq!(
        storage,
        Storage {
            reserved: 150,
            used: 30
        }
    );
    assert_eq!(storage.free(), STORAGE_QUOTA_BYTES - 180);
    assert_eq!(Storage::of(&store, "org_b"), Storage::default());
}

/// Sizes from a state file edited past what the emulator writes neither overflow the sums
/// (a panic in a debug build, a wrapped sum in a release one) nor make room for more.
#[test]
fn edited_sizes_neither_overflow_nor_make_room() {
    let store = uploads_of(&[
        ("pending", i64::MAX, 0),
        ("pending", i64::MAX, 0),
        ("uploading", -5_000, 0),
        ("completed", 0, i64::MAX),
    ]);
    let storage = Storage::of(&store, "org_a");
    assert_eq!(storage.reserved, i64::MAX);
    assert_eq!(storage.used, i64::MAX);
    assert!(storage.free() < 0, "{storage:?}");
    let files = [
        json!({"size": i64::MAX}),
        json!({"size": i64::MAX}),
        json!({"size": -9}),
    ];
    assert_eq!(sizes(&files), i64::MAX);
}
