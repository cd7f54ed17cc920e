//! Unit tests of `files.rs`.
use super::*;

#[test]
fn a_write_replaces_the_target_and_an_interruption_removes_the_temporary_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("tile.png");
    std::fs::write(&target, b"old").expect("old file");
    write_atomically(&target, b"new bytes").expect("written");
    assert_eq!(std::fs::read(&target).expect("read"), b"new bytes");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");

    #[cfg(unix)]
    keeps_the_mode_and_writes_through_links();

    // One test, not two: the registry is process-wide, so a parallel test's
    // `remove_partial` would delete the file being written above.
    let partial = Partial::new(dir.path().join(".x.part"));
    std::fs::write(&partial.path, b"half").expect("half a file");
    remove_partial();
    assert!(!partial.path.exists());
    drop(partial);
}

/// A replaced file keeps its mode, and a link is written through.
#[cfg(unix)]
fn keeps_the_mode_and_writes_through_links() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("private.json");
    std::fs::write(&target, b"old").expect("old file");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    write_atomically(&target, b"new").expect("written");
    let mode = std::fs::metadata(&target)
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&target, &link).expect("a link");
    write_atomically(&link, b"through").expect("written");
    assert!(std::fs::symlink_metadata(&link)
        .expect("stat")
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read(&target).expect("read"), b"through");
}
