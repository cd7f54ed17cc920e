//! Unit tests of `trust_files.rs`.
use super::*;

#[test]
fn only_a_regular_file_within_the_cap_is_read() {
    let dir = std::env::temp_dir().join(format!("geopera-trust-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("a folder");
    let file = dir.join("bundle.pem");
    std::fs::write(&file, b"-----BEGIN CERTIFICATE-----").expect("written");
    assert_eq!(
        read(&file).expect("read"),
        b"-----BEGIN CERTIFICATE-----".to_vec()
    );
    assert_eq!(read(&dir), Err("it is not a regular file".to_owned()));
    #[cfg(unix)]
    assert_eq!(
        read(Path::new("/dev/zero")),
        Err("it is not a regular file".to_owned())
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[cfg(all(unix, feature = "system-roots", not(feature = "native-tls")))]
#[test]
fn a_trust_store_file_that_is_not_a_regular_file_is_named_unusable() {
    assert_eq!(
        unusable(Path::new("/dev/zero")).as_deref(),
        Some("it is not a regular file")
    );
    assert_eq!(unusable(Path::new("/nonexistent/geopera/bundle.pem")), None);
}
