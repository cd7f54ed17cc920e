//! The URL a client sends its calls to: the rules it must meet, checked in one place for the
//! client builder and for programs (the `geopera` CLI) that take a URL from their users and
//! want to word the refusal themselves, and how the SDK quotes a URL it was given.

use crate::Error;

/// Why [`check_base_url`] refuses a URL. Each variant's message is the rule it breaks, worded
/// to follow the URL (`the base URL "..." must not have a query or fragment`), so a program
/// can put its own subject in front of it or word a variant its own way.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BaseUrlError {
    /// The text does not parse as a URL; the parser's reason.
    #[error("is not a URL ({0})")]
    NotAUrl(String),
    /// The scheme is not `http` or `https`, the only ones a call can go over.
    #[error("must start with http:// or https://")]
    Scheme,
    /// A user name or password: reqwest would send them as a `Basic` authorization beside the
    /// client's own credential, and the URL is quoted in messages, where a password must not
    /// appear.
    #[error("must not carry a user name or password")]
    Userinfo,
    /// A query or fragment: every operation's path is added to the URL, so either would end
    /// up in the middle of it, and either tends to hold a key.
    #[error("must not have a query or fragment")]
    QueryOrFragment,
}

/// Checks `raw` as a client's base URL and returns it as the client would use it (parsed,
/// without its trailing `/`). A password is found by the text when it does not parse either
/// (`https://user:pw@[::1`), so that such a URL is refused as one carrying a password and
/// not only as no URL.
///
/// # Errors
///
/// The first rule `raw` breaks, as a [`BaseUrlError`].
///
/// ```
/// use geopera::{check_base_url, BaseUrlError};
///
/// assert_eq!(check_base_url("http://127.0.0.1:8080/").as_deref(), Ok("http://127.0.0.1:8080"));
/// assert_eq!(check_base_url("localhost:8080"), Err(BaseUrlError::Scheme));
/// assert_eq!(check_base_url("https://u:pw@[::1"), Err(BaseUrlError::Userinfo));
/// assert_eq!(check_base_url("https://h/v1?api_key=x"), Err(BaseUrlError::QueryOrFragment));
/// ```
pub fn check_base_url(raw: &str) -> Result<String, BaseUrlError> {
    let url = match url::Url::parse(raw) {
        Ok(url) => url,
        Err(_) if unparsed_without_userinfo(raw) != raw => return Err(BaseUrlError::Userinfo),
        Err(e) => return Err(BaseUrlError::NotAUrl(e.to_string())),
    };
    if carries_userinfo(&url) {
        return Err(BaseUrlError::Userinfo);
    }
    if !matches!(url.scheme(), "http" | "https") {
        return Err(BaseUrlError::Scheme);
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(BaseUrlError::QueryOrFragment);
    }
    Ok(url.as_str().trim_end_matches('/').to_owned())
}

/// Whether `base_url` ends in the API's version, `/v1`, as one copied from an operation's
/// address does (`https://api.geopera.com/v1`). The SDK writes the version into every path
/// itself, so each call would go to `/v1/v1/op/...` and be answered 404; the client builder
/// warns of it in the log, and a program that takes base URLs from its users can say so in
/// its own words. Not refused: a gateway may serve the API under a prefix of that name.
///
/// ```
/// assert!(geopera::base_url_ends_in_version("https://api.geopera.com/v1/"));
/// assert!(!geopera::base_url_ends_in_version("https://api.geopera.com"));
/// assert!(!geopera::base_url_ends_in_version("https://gateway.example/v1beta"));
/// ```
pub fn base_url_ends_in_version(base_url: &str) -> bool {
    let Ok(url) = url::Url::parse(base_url.trim()) else {
        return false;
    };
    let path = url.path().trim_end_matches('/');
    path.rsplit('/')
        .next()
        .is_some_and(|last| last.eq_ignore_ascii_case("v1"))
}

/// Whether a credential sent to `base_url` would cross the network unencrypted: plain `http`
/// to a host other than this machine. The client builder warns of it in the log, and a
/// program that takes base URLs from its users can say so in its own words. Not refused: a
/// tunnel or a proxy on the way may make it safe, which the SDK cannot see, and the emulator
/// and test servers speak plain `http` on loopback, where nothing crosses the network (unless
/// a proxy variable takes such calls to a proxy, which a client warns of when it is built).
///
/// ```
/// assert!(geopera::base_url_in_clear_text("http://10.0.0.7:8787"));
/// assert!(geopera::base_url_in_clear_text("http://api.example"));
/// assert!(!geopera::base_url_in_clear_text("https://api.example"));
/// assert!(!geopera::base_url_in_clear_text("http://127.0.0.1:8787"));
/// assert!(!geopera::base_url_in_clear_text("http://[::1]:8787"));
/// assert!(!geopera::base_url_in_clear_text("http://emulator.localhost."));
/// ```
pub fn base_url_in_clear_text(base_url: &str) -> bool {
    let Ok(url) = url::Url::parse(base_url.trim()) else {
        return false;
    };
    let this_machine = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(name)) => {
            let name = name.trim_end_matches('.').to_ascii_lowercase();
            name == "localhost" || name.ends_with(".localhost")
        }
        None => true,
    };
    url.scheme() == "http" && !this_machine
}

/// [`check_base_url`] as the client builder reports it: the URL quoted ([`quoted_url`]) and
/// the rule it breaks.
pub(crate) fn normalize_base_url(raw: &str) -> Result<String, Error> {
    checked_url(
        "base URL",
        raw,
        Some("the client's credential (AuthenticatedClient::builder)"),
    )
}

/// [`check_base_url`] for any URL the SDK is given to send to, named `subject` in the
/// [`Error::Config`] that quotes it ([`quoted_url`]) with the rule it breaks; `authenticates`,
/// when given, says what authenticates instead of a user name or password in the URL.
pub(crate) fn checked_url(
    subject: &str,
    raw: &str,
    authenticates: Option<&str>,
) -> Result<String, Error> {
    check_base_url(raw).map_err(|problem| {
        let shown = quoted_url(raw);
        let why = match (problem, authenticates) {
            (BaseUrlError::Userinfo, Some(what)) => {
                format!(
                    "{}: {what} is what authenticates it",
                    BaseUrlError::Userinfo
                )
            }
            (problem, _) => problem.to_string(),
        };
        Error::config(format!("the {subject} {shown:?} {why}"))
    })
}

/// Whether `url` carries a user name or password. Such a URL is refused wherever the SDK
/// takes one to send to (a base URL, an issuer): reqwest would turn them into a `Basic`
/// authorization header beside the call's own credential, and the URL is quoted in errors
/// and `Debug`, where a password must not appear.
pub(crate) fn carries_userinfo(url: &url::Url) -> bool {
    !url.username().is_empty() || url.password().is_some()
}

/// `raw` as the SDK quotes a URL it was given, in its messages and `Debug`: a user name and
/// password redacted as [`without_userinfo`] does, and a query or fragment replaced by
/// `[redacted]` too, since one holds keys and tokens as often as a password does (a base URL
/// with `?api_key=...`) and the SDK refuses a base URL that has either. Public so that a
/// program quoting such a URL hides the same parts.
///
/// ```
/// assert_eq!(
///     geopera::quoted_url("https://user:pw@host/v1?api_key=gpra_x#frag"),
///     "https://[redacted]@host/v1?[redacted]"
/// );
/// assert_eq!(geopera::quoted_url("https://host/v1#top"), "https://host/v1#[redacted]");
/// ```
pub fn quoted_url(raw: &str) -> String {
    // A URL that parses with a user name or password may have been cut short by one
    // (`https://bob:p@ss/word@host` parses as host `ss`): all up to the last `@` is hidden.
    let mut shown = match url::Url::parse(raw) {
        Ok(url) if !carries_userinfo(&url) => without_userinfo(raw),
        _ => unparsed_without_userinfo(raw),
    };
    if let Some(at) = shown.find(['?', '#']) {
        shown.truncate(at + 1);
        shown.push_str(crate::redact::REDACTED);
    }
    shown
}

/// `raw` with everything of its authority up to the last `@` (a user name and password)
/// replaced by `[redacted]`: how the SDK quotes a URL in its messages and `Debug`, public so
/// that a program quoting a URL it gives the SDK hides the same part. Works on text that does
/// not parse as a URL too, which is when such a message is most likely.
///
/// The authority is found the way URL parsers find it for `http` and `https` (the WHATWG URL
/// standard, which the `url` crate follows), not only after `://`: they drop tabs and
/// newlines anywhere and read past any run of `/` and `\` after the scheme, so
/// `https:///user:pass@host` and `http:user:pass@host` carry a password too. A `\` ends the
/// authority as a `/` does only in the schemes the standard calls special (`http`, `https`,
/// `ws`, `wss`, `ftp`, `file`); elsewhere it is an ordinary character, so in
/// `ssh://me\:pass@host` all of `me\:pass` is the user information. A redacted result is
/// quoted without those tabs and newlines.
///
/// ```
/// assert_eq!(
///     geopera::without_userinfo("https://user:pass@[::1/v1"),
///     "https://[redacted]@[::1/v1"
/// );
/// assert_eq!(
///     geopera::without_userinfo("http:\\\\user:pass@host"),
///     "http:\\\\[redacted]@host"
/// );
/// assert_eq!(geopera::without_userinfo("https://host/a@b"), "https://host/a@b");
/// ```
pub fn without_userinfo(raw: &str) -> String {
    let text = without_tabs_or_breaks(raw);
    let Some((scheme, lead, authority)) = split_at_authority(&text) else {
        return raw.to_owned();
    };
    let ends: &[char] = if is_special_scheme(scheme) {
        &['/', '\\', '?', '#']
    } else {
        &['/', '?', '#']
    };
    let authority_end = authority.find(ends).unwrap_or(authority.len());
    match authority[..authority_end].rfind('@') {
        Some(at) => format!(
            "{scheme}{lead}{}{}",
            crate::redact::REDACTED,
            &authority[at..]
        ),
        None => raw.to_owned(),
    }
}

/// [`without_userinfo`] for text that does not parse as a URL, often because of its password:
/// one holding `/`, `?` or `#` ends the authority early for a parser (`https://bob:pa/ss@h`
/// reads as host `bob`, port `pa`), so everything from the authority's start to the last `@`
/// anywhere is hidden instead. A path with an `@` is hidden too, which a message can spare.
fn unparsed_without_userinfo(raw: &str) -> String {
    let text = without_tabs_or_breaks(raw);
    let Some((scheme, lead, authority)) = split_at_authority(&text) else {
        return raw.to_owned();
    };
    let Some(at) = authority.rfind('@') else {
        return raw.to_owned();
    };
    let (hidden, after) = authority.split_at(at);
    // The last `@` may be in a query (`?email=a@b&key=...`), and what follows it no host: a
    // query or fragment that began in what is hidden hides all the rest too.
    if hidden.contains(['?', '#']) {
        return format!("{scheme}{lead}{}", crate::redact::REDACTED);
    }
    format!("{scheme}{lead}{}{after}", crate::redact::REDACTED)
}

/// `raw` without the tabs and line breaks a URL parser drops wherever they are.
fn without_tabs_or_breaks(raw: &str) -> String {
    raw.chars()
        .filter(|c| !matches!(c, '\t' | '\n' | '\r'))
        .collect()
}

/// `text` as its scheme (with its `:`), the slashes after it, and the rest from where the
/// authority starts; `None` without a `:`.
fn split_at_authority(text: &str) -> Option<(&str, &str, &str)> {
    let colon = text.find(':')?;
    let (scheme, rest) = text.split_at(colon + 1);
    let authority = rest.trim_start_matches(['/', '\\']);
    let lead = &rest[..rest.len() - authority.len()];
    Some((scheme, lead, authority))
}

/// Whether `scheme` (as written, with its `:` and any leading spaces or control characters a
/// URL parser drops) is one of the WHATWG URL standard's special schemes, where `\` is read as
/// `/`.
fn is_special_scheme(scheme: &str) -> bool {
    let name = scheme
        .trim_start_matches(|c: char| c <= ' ')
        .trim_end_matches(':')
        .to_ascii_lowercase();
    matches!(
        name.as_str(),
        "http" | "https" | "ws" | "wss" | "ftp" | "file"
    )
}

#[cfg(test)]
#[path = "base_url_tests.rs"]
mod tests;
