//! Unit tests of `files.rs`.
use super::*;

#[test]
fn a_write_replaces_the_target_and_an_interruption_removes_the_temporary_file() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("tile.png");
    std::fs::write(&target, b"old").expect("old file");
    write_out(&target, b"new bytes").expect("written");
    assert_eq!(std::fs::read(&target).expect("read"), b"new bytes");
    let names: Vec<_> = std::fs::read_dir(dir.path())
        .expect("list")
        .filter_map(Result::ok)
        .map(|e| e.file_name())
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");

    #[cfg(unix)]
    keeps_the_mode_and_writes_through_links();
    #[cfg(unix)]
    a_link_to_a_file_not_made_yet_is_written_through_and_kept();

    // One test, not several: the registry is process-wide, so a parallel test's
    // `remove_partial` would delete a file being written by another.
    let partial = Partial::new(dir.path().join(".x.part"));
    std::fs::write(&partial.path, b"half").expect("half a file");
    remove_partial();
    assert!(!partial.path.exists());
    drop(partial);
}

/// A replaced file keeps its mode, and a link is written through. Run by the test above, not
/// as a test of its own (see there).
#[cfg(unix)]
fn keeps_the_mode_and_writes_through_links() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("private.json");
    std::fs::write(&target, b"old").expect("old file");
    std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o600)).expect("chmod");
    write_out(&target, b"new").expect("written");
    let mode = std::fs::metadata(&target)
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);

    let link = dir.path().join("link.json");
    std::os::unix::fs::symlink(&target, &link).expect("a link");
    write_out(&link, b"through").expect("written");
    assert!(std::fs::symlink_metadata(&link)
        .expect("stat")
        .file_type()
        .is_symlink());
    assert_eq!(std::fs::read(&target).expect("read"), b"through");
}

/// A link to a file not made yet is written through as a shell's `>` does: the file it names
/// is made and the link stays; a link into a folder that does not exist is an error, and
/// the link is left as it was. Run by the first test, not as a test of its own (see there).
#[cfg(unix)]
fn a_link_to_a_file_not_made_yet_is_written_through_and_kept() {
    let dir = tempfile::tempdir().expect("temp dir");
    let link = dir.path().join("tile.png");
    std::os::unix::fs::symlink("made-later.png", &link).expect("a link");
    write_out(&link, b"bytes").expect("written");
    assert!(std::fs::symlink_metadata(&link)
        .expect("stat")
        .file_type()
        .is_symlink());
    assert_eq!(
        std::fs::read(dir.path().join("made-later.png")).expect("the file the link names"),
        b"bytes"
    );

    let nowhere = dir.path().join("nowhere.png");
    std::os::unix::fs::symlink("missing/x.png", &nowhere).expect("a link");
    let failure = write_out(&nowhere, b"bytes").expect_err("no such folder");
    assert!(
        failure.message.contains("nowhere.png"),
        "{}",
        failure.message
    );
    assert!(std::fs::symlink_metadata(&nowhere)
        .expect("stat")
        .file_type()
        .is_symlink());
    assert!(!dir.path().join("missing").exists());
}

#[test]
fn temporary_names_are_unguessable_and_a_taken_name_is_never_followed() {
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("tile.png");
    let (first, second) = (temporary(&target), temporary(&target));
    assert_ne!(first, second);
    let pid = std::process::id().to_string();
    assert!(
        !first.to_string_lossy().contains(&format!(".{pid}.")),
        "{first:?}"
    );
    assert_eq!(first.parent(), Some(dir.path()), "beside the target");

    // A name taken by a file, and one by a link to a victim: both skipped, neither touched.
    let victim = dir.path().join("victim.txt");
    std::fs::write(&victim, b"precious").expect("victim");
    let squatted = dir.path().join(".tile.png.1.part");
    std::fs::write(&squatted, b"someone else's").expect("squatted");
    let names = vec![squatted.clone(), first.clone()];
    #[cfg(unix)]
    let names = {
        let planted = dir.path().join(".tile.png.2.part");
        std::os::unix::fs::symlink(&victim, &planted).expect("a link");
        [vec![planted], names].concat()
    };
    let (partial, _file) =
        create_first_free(names.clone().into_iter(), false).expect("a free name");
    assert_eq!(partial.path, first);
    drop(partial);
    assert!(!first.exists(), "the temporary file is removed on drop");
    assert_eq!(std::fs::read(&victim).expect("victim"), b"precious");
    assert_eq!(
        std::fs::read(&squatted).expect("squatted"),
        b"someone else's"
    );

    // Every name taken: an error, and still nothing touched. (Another name than `first`, which
    // the other test's `remove_partial` may still be deleting.)
    std::fs::write(&second, b"taken").expect("taken");
    let mut names = names;
    *names.last_mut().expect("names") = second.clone();
    let error = create_first_free(names.into_iter(), false)
        .map(drop)
        .expect_err("none free");
    assert_eq!(error.kind(), std::io::ErrorKind::AlreadyExists);
    assert_eq!(std::fs::read(&victim).expect("victim"), b"precious");
    assert_eq!(std::fs::read(&second).expect("taken"), b"taken");
}

#[test]
fn a_folder_that_cannot_be_opened_leaves_the_rename_as_it_is() {
    // A folder the process may rename into but not open (mode 0300 for its owner) fails the
    // open as this missing one does; the rename has been made either way, so neither is an
    // error of the write. Root opens any folder, so the missing one stands in for both.
    let dir = tempfile::tempdir().expect("temp dir");
    let inside_missing = dir.path().join("gone").join("tile.png");
    sync_folder_of(&inside_missing).expect("no folder to sync is no failure");
    // A bare file name is in the working folder, which opens and syncs.
    sync_folder_of(Path::new("tile.png")).expect("the working folder syncs");
    sync_folder_of(&dir.path().join("tile.png")).expect("a folder syncs");
}

/// The rule of Linux's `fs.protected_symlinks` and `fs.protected_fifos`: in a folder that is
/// sticky and writable by all, an entry is followed or opened only when it is the user's own
/// or the folder owner's.
#[cfg(unix)]
#[test]
fn an_entry_planted_in_a_shared_folder_is_told_apart() {
    let (me, other, root) = (1000, 1001, 0);
    assert!(
        planted(other, 0o41777, root, me),
        "/tmp, another user's link"
    );
    assert!(!planted(me, 0o41777, root, me), "one's own");
    assert!(!planted(root, 0o41777, root, me), "the folder owner's");
    assert!(!planted(other, 0o40777, root, me), "not sticky");
    assert!(!planted(other, 0o41775, root, me), "not writable by all");
}

/// `--out` into a shared folder through a link another user planted there is refused, and
/// what the link names is left as it was; a link of one's own there is followed. Making a
/// link another user's takes root, as the one who runs this does in CI.
#[cfg(target_os = "linux")]
#[test]
fn out_through_a_link_planted_in_a_shared_folder_is_refused() {
    use std::os::unix::fs::PermissionsExt as _;

    let dir = tempfile::tempdir().expect("temp dir");
    let shared = dir.path().join("shared");
    std::fs::create_dir(&shared).expect("a folder");
    std::fs::set_permissions(&shared, std::fs::Permissions::from_mode(0o1777)).expect("sticky");
    let victim = dir.path().join("authorized_keys");
    std::fs::write(&victim, b"keep").expect("victim");
    let link = shared.join("tile.png");
    std::os::unix::fs::symlink(&victim, &link).expect("a link");

    // One's own link there is followed.
    write_out_now("--out", &link, b"bytes").expect("written through one's own link");
    assert_eq!(std::fs::read(&victim).expect("victim"), b"bytes");
    std::fs::write(&victim, b"keep").expect("victim");

    if !rustix::process::geteuid().is_root() {
        return;
    }
    std::os::unix::fs::lchown(&link, Some(65534), Some(65534)).expect("another user's link");
    // This program's own check, which the kernel's (where on) does not stand in for.
    let refused_here = final_target(&link).expect_err("a planted link is not followed");
    assert_eq!(refused_here.kind(), std::io::ErrorKind::PermissionDenied);
    assert!(
        refused_here.to_string().contains("another user"),
        "{refused_here}"
    );
    let refused = write_out_now("--out", &link, b"bytes").expect_err("a planted link");
    // Refused here, or by the kernel itself where `fs.protected_symlinks` is on.
    assert!(
        refused.message.contains("another user") || refused.message.contains("os error 13"),
        "{}",
        refused.message
    );
    assert_eq!(std::fs::read(&victim).expect("victim"), b"keep");
    assert!(std::fs::symlink_metadata(&link).is_ok(), "the link is left");
}

/// The temporary file that replaces a file is its owner's alone from the moment it exists,
/// whatever the umask, so nobody can open it before it takes the replaced file's mode.
#[test]
#[cfg(unix)]
fn a_temporary_file_that_replaces_a_file_is_private_from_the_start() {
    use std::os::unix::fs::PermissionsExt as _;
    let dir = tempfile::tempdir().expect("temp dir");
    let target = dir.path().join("answer.json");
    let (partial, _file) = create_partial(&target, true).expect("created");
    let mode = std::fs::metadata(&partial.path)
        .expect("stat")
        .permissions()
        .mode();
    assert_eq!(mode & 0o077, 0, "mode {mode:o}");
}
