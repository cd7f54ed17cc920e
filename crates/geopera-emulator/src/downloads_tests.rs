//! Unit tests of `downloads.rs`.
use super::*;

const PATH: &str = "/assets/clips/job_1/ndvi.tif";

fn query(expires: i64, signature: &str) -> String {
    format!("expires={expires}&signature={signature}")
}

#[test]
fn a_link_is_good_as_given_until_it_expires() {
    let key = DownloadKey::generate().expect("randomness");
    let signature = key.sign(PATH, 1_000);
    assert!(key
        .check(PATH, Some(&query(1_000, &signature)), 999)
        .is_ok());
    let expired = key.check(PATH, Some(&query(1_000, &signature)), 1_000);
    assert!(expired.is_err_and(|e| e.status() == StatusCode::FORBIDDEN));
}

#[test]
fn an_altered_link_is_refused() {
    let key = DownloadKey::generate().expect("randomness");
    let signature = key.sign(PATH, 1_000);
    let later = key.check(PATH, Some(&query(9_000, &signature)), 999);
    let elsewhere = key.check(
        "/assets/clips/job_2/ndvi.tif",
        Some(&query(1_000, &signature)),
        999,
    );
    let other_key = DownloadKey::generate().expect("randomness");
    let foreign = other_key.check(PATH, Some(&query(1_000, &signature)), 999);
    for refused in [later, elsewhere, foreign] {
        assert!(refused.is_err_and(|e| e.status() == StatusCode::FORBIDDEN));
    }
    for query in [None, Some("expires=1000"), Some("expires=x&signature=zz")] {
        assert!(key.check(PATH, query, 999).is_err());
    }
}

#[test]
fn its_debug_hides_the_key() {
    let key = DownloadKey::generate().expect("randomness");
    assert_eq!(format!("{key:?}"), "DownloadKey(<redacted>)");
}
