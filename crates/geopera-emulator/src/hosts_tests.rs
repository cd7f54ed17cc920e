//! Unit tests of `hosts.rs`.
use super::*;

#[test]
fn addresses_localhost_and_allowed_names_are_answered() {
    let allowed = ["emulator".to_owned()];
    for host in [
        "127.0.0.1:8787",
        "127.0.0.2",
        "10.1.2.3:80",
        "[::1]:8787",
        "[::1]",
        "localhost",
        "LocalHost:8787",
        "localhost.:8787",
        "api.localhost:8787",
        "emulator:8080",
        "Emulator",
    ] {
        assert!(is_allowed(host, &allowed), "{host}");
    }
}

#[test]
fn other_names_are_not() {
    let allowed = ["emulator".to_owned()];
    for host in [
        "rebind.attacker.example:8787",
        "attacker.example",
        "localhost.attacker.example",
        "emulator.attacker.example",
        "127.0.0.1.nip.io",
        "[not-an-address]:80",
        "::1",
        "",
    ] {
        assert!(!is_allowed(host, &allowed), "{host}");
    }
}
