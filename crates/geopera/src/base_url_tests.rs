//! Unit tests of `base_url.rs`.
use super::*;

#[test]
fn each_rule_is_reported_as_its_own_problem() {
    let cases = [
        ("http://", "NotAUrl"),
        ("not a url", "NotAUrl"),
        ("localhost:8080", "Scheme"),
        ("ftp://example.com", "Scheme"),
        ("ftp://u:pw@example.com", "Userinfo"),
        ("https://u:pw@[::1", "Userinfo"),
        ("http:u:pw@h", "Userinfo"),
        ("https://h/v1?k=v", "QueryOrFragment"),
        ("https://h/v1#top", "QueryOrFragment"),
        ("https://h/v1?", "QueryOrFragment"),
    ];
    for (raw, expected) in cases {
        let problem = check_base_url(raw).expect_err(raw);
        let name = format!("{problem:?}");
        assert!(name.starts_with(expected), "{raw}: {name}");
        assert!(!problem.to_string().contains("pw"), "{raw}: {problem}");
    }
}

#[test]
fn an_accepted_url_is_returned_as_the_client_uses_it() {
    assert_eq!(
        check_base_url("HTTP://Example.COM:80/v1/").as_deref(),
        Ok("http://example.com/v1")
    );
    assert_eq!(
        check_base_url("https://[::1]:8443").as_deref(),
        Ok("https://[::1]:8443")
    );
}

#[test]
fn a_backslash_ends_the_authority_only_in_special_schemes() {
    for (raw, quoted) in [
        ("foo://a\\b:hunter2@host", "foo://[redacted]@host"),
        ("git://x\\:hunter2@host/p", "git://[redacted]@host/p"),
        (
            "ssh://me\\:hunter2@example.com",
            "ssh://[redacted]@example.com",
        ),
        (
            "SSH://me\\:hunter2@example.com",
            "SSH://[redacted]@example.com",
        ),
        // Special schemes read `\` as `/`: the `@` is then in the path, not the authority.
        ("https://host\\a@b", "https://host\\a@b"),
        (" HTTP://host\\a@b", " HTTP://host\\a@b"),
        ("ws://u:hunter2@h\\p", "ws://[redacted]@h\\p"),
    ] {
        assert_eq!(without_userinfo(raw), quoted, "{raw}");
        assert_eq!(quoted_url(raw), quoted, "{raw}");
        if raw.contains("hunter2") {
            assert_eq!(check_base_url(raw), Err(BaseUrlError::Userinfo), "{raw}");
        }
    }
    // The parser agrees about where the user information is.
    let url = url::Url::parse("ssh://me\\:hunter2@example.com").expect("a URL");
    assert_eq!((url.username(), url.password()), ("me%5C", Some("hunter2")));
}

/// A password holding `/`, `?` or `#` ends the authority early for a parser, and the text then
/// does not parse: it is refused as a URL with a password, and quoted with all of it hidden.
#[test]
fn a_password_a_parser_cuts_short_is_hidden_whole() {
    for raw in [
        "https://bob:pa/ss@gw.example",
        "https://bob:p#ss@gw.example/v1",
        "https://bob:p?ss@gw.example",
        "https://bob:pa\\ss@gw.example",
        // These parse, with a password cut short and the rest in the host or path.
        "https://bob:p@ss/word@gw.example",
        "https://bob:p@ss?word@gw.example",
    ] {
        assert_eq!(check_base_url(raw), Err(BaseUrlError::Userinfo), "{raw}");
        let quoted = quoted_url(raw);
        assert!(
            !quoted.contains("ss") && !quoted.contains("bob") && !quoted.contains("word"),
            "{raw}: {quoted}"
        );
        // Where a `?` or `#` comes first, it may start a query: all of it is hidden.
        assert!(
            quoted.starts_with("https://[redacted]@gw.example") || quoted == "https://[redacted]",
            "{quoted}"
        );
        let error = checked_url("base URL", raw, None).expect_err("refused");
        assert!(!error.to_string().contains("bob"), "{error}");
    }
}

/// The last `@` of a URL may be in its query: what follows it is no host, and a key in the
/// query stays hidden.
#[test]
fn an_at_sign_in_a_query_hides_the_query_still() {
    for raw in [
        "https://bob:pw@gw.example/v1?email=a@corp.example&api_key=gpra_SECRET",
        "https://h:99999/?e=a@b&key=gpra_SECRET",
        "https://bob:pa/ss@gw.example#a@b&gpra_SECRET",
    ] {
        let quoted = quoted_url(raw);
        assert!(!quoted.contains("gpra_SECRET"), "{raw}: {quoted}");
        assert!(
            !quoted.contains("pw") && !quoted.contains("ss"),
            "{raw}: {quoted}"
        );
    }
}
