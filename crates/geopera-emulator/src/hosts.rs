//! The names the emulator answers to: a guard against DNS rebinding.
//!
//! A web page of another site cannot read the emulator's answers, but it can point a name of
//! its own at 127.0.0.1 once the page has loaded and then call the emulator as its own origin:
//! the browser sends that name as `Host`. Through it the page could sign in as a demo user
//! (their passwords are published), use the demo key (it follows from the seed) or drain
//! webhooks. So a request is answered only when its `Host` is one no such page can use: an IP
//! address, `localhost` or a name under `.localhost` (which resolve to this machine and
//! nowhere else), or a name the emulator was told to answer to
//! ([`EmulatorBuilder::allowed_host`](crate::EmulatorBuilder::allowed_host),
//! `--allowed-host`), such as a container's name. Development servers guard the same way.

use std::net::{Ipv4Addr, Ipv6Addr};
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use http::header::HOST;
use http::uri::Authority;
use http::{StatusCode, Version};

use crate::error::ApiError;

/// Whether `request` writes (any method but GET and HEAD) and names, in `Origin`, a site other
/// than the one it was sent to: a web page of another site, which a browser lets post a form or
/// a body of plain text across sites without asking first. Such a page cannot read the answer
/// nor send credentials, but reaches what needs none: the sign-in forms, and operations
/// without credentials, which spend the budget of the machine's address the command line's
/// logins and refreshes draw on. Programs name no origin, and the device page's own form
/// names this one.
pub(crate) fn foreign_write(request: &Request) -> bool {
    foreign_write_of(request.method(), request.uri(), request.headers())
}

/// [`foreign_write`] of a request's parts, for a handler that has them apart.
pub(crate) fn foreign_write_of(
    method: &http::Method,
    uri: &http::Uri,
    headers: &http::HeaderMap,
) -> bool {
    if matches!(*method, http::Method::GET | http::Method::HEAD) {
        return false;
    }
    // HTTP/2 names the host in the request's authority, not in a `Host` header.
    let authority = uri
        .authority()
        .map(|authority| authority.as_str().as_bytes());
    headers.get(http::header::ORIGIN).is_some_and(|origin| {
        let host = headers
            .get(HOST)
            .map(http::HeaderValue::as_bytes)
            .or(authority)
            .unwrap_or_default();
        let origin = origin.as_bytes();
        let own = |scheme: &[u8]| {
            origin.len() == scheme.len() + host.len()
                && origin[..scheme.len()].eq_ignore_ascii_case(scheme)
                && origin[scheme.len()..].eq_ignore_ascii_case(host)
        };
        !(own(b"http://") || own(b"https://"))
    })
}

/// The answer to an operation another site's page sent ([`foreign_write`]), given before it is
/// counted against any budget.
pub(crate) fn foreign_operation() -> Response {
    ApiError::problem(
        StatusCode::FORBIDDEN,
        "operations are not taken from another site's pages",
    )
    .into_response()
}

/// The names besides IP addresses and `localhost` that requests may name, as
/// [`allowed_name`] gives them.
#[derive(Clone, Debug, Default)]
pub(crate) struct AllowedHosts(pub(crate) Arc<[String]>);

/// Refuses a request whose `Host`, or the authority of its target (an absolute-form target,
/// or HTTP/2's `:authority`), names the emulator by a name it was not told to answer to,
/// before anything else reads it.
pub(crate) async fn known_host(
    State(allowed): State<AllowedHosts>,
    request: Request,
    next: Next,
) -> Response {
    match refusal(&request, &allowed.0) {
        Some(refused) => refused.into_response(),
        None => next.run(request).await,
    }
}

/// Why `request` is not answered under the name it gives, if it is not.
fn refusal(request: &Request, allowed: &[String]) -> Option<ApiError> {
    let mut hosts = request.headers().get_all(HOST).iter();
    let host = hosts.next();
    // Which of two a handler, a proxy in front or a log reads is not ours to say, so a check
    // of one would not cover the other (RFC 9112 §3.2 answers such requests 400).
    if hosts.next().is_some() {
        return Some(ApiError::problem(
            StatusCode::BAD_REQUEST,
            "the request has more than one Host header; send one",
        ));
    }
    let named = match host.map(|host| host.to_str()) {
        Some(Ok(host)) => Some(host),
        // A header of bytes other than visible ASCII names nothing that can be checked; it
        // must not count as no header at all, which is let through for HTTP/1.0 clients.
        Some(Err(_)) => {
            return Some(ApiError::problem(
                StatusCode::BAD_REQUEST,
                "the Host header holds bytes other than visible ASCII, so it names no host",
            ))
        }
        // RFC 9112 §3.2: an HTTP/1.1 client always sends Host, so one that does not is not
        // following the protocol, and guessing the name it meant is no safer here than it is
        // for a proxy. HTTP/1.0 has no Host to send; HTTP/2 names the host in `:authority`.
        None if request.version() == Version::HTTP_11 => {
            return Some(ApiError::problem(
                StatusCode::BAD_REQUEST,
                "an HTTP/1.1 request must carry a Host header; send the name or address this \
                 emulator was reached by",
            ))
        }
        None => None,
    };
    // A target in absolute form names the host itself, and then `Host` is to be ignored
    // (RFC 9112 §3.2.2); in HTTP/2 the authority is the target's too. Handlers read `Host`
    // all the same (sign-in discovery names its endpoints by it), so when both are there,
    // both must be names the emulator answers to: a client sends them equal anyway.
    let target = request.uri().authority().map(Authority::host);
    target
        .into_iter()
        .chain(named)
        .find(|host| !is_allowed(host, allowed))
        .map(unknown_name)
}

/// 403 for a request that names the emulator `host`.
fn unknown_name(host: &str) -> ApiError {
    ApiError::problem(
        StatusCode::FORBIDDEN,
        format!(
            "this emulator answers to IP addresses, localhost and the names it is started \
             with (--allowed-host), not to {:?}: a guard against web pages reaching it \
             through a name of theirs",
            host.chars().take(100).collect::<String>()
        ),
    )
}

/// Whether `host` (a `Host` header: a name or address, and perhaps a port) is one the
/// emulator answers to.
pub(crate) fn is_allowed(host: &str, allowed: &[String]) -> bool {
    let name = without_port(host.trim());
    if let Some(literal) = name
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
    {
        return literal.parse::<Ipv6Addr>().is_ok();
    }
    if name.parse::<Ipv4Addr>().is_ok() {
        return true;
    }
    let name = comparable(name);
    name == "localhost" || name.ends_with(".localhost") || allowed.contains(&name)
}

/// A host name as requests and allowed names are compared: a name is the same in any case and
/// with or without its final dot. One rule for both sides, so an allowed name always matches
/// the requests that name it.
fn comparable(name: &str) -> String {
    name.strip_suffix('.').unwrap_or(name).to_ascii_lowercase()
}

/// `host` without a `:port` after it.
fn without_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        // An IPv6 literal holds colons of its own, inside its brackets.
        Some((name, port))
            if !port.is_empty()
                && port.bytes().all(|byte| byte.is_ascii_digit())
                && (!name.starts_with('[') || name.ends_with(']')) =>
        {
            name
        }
        _ => host,
    }
}

/// A name given to [`EmulatorBuilder::allowed_host`](crate::EmulatorBuilder::allowed_host)
/// or `--allowed-host` that no request's host could ever equal, so the emulator would refuse
/// every request by the name it was meant to answer to.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{name:?} is not a bare host name or IP address: {reason}")]
pub struct AllowedHostError {
    name: String,
    reason: &'static str,
}

/// Checks that `name` is a bare host name or IP address, as
/// [`EmulatorBuilder::allowed_host`](crate::EmulatorBuilder::allowed_host) and
/// `--allowed-host` take it: a request's host is compared without its port, in any case and
/// with or without a final dot, so a name with a port, a scheme, a path or userinfo could
/// never be equal to one.
///
/// # Errors
/// When `name` is empty or has a scheme, userinfo, a path or a port, or is otherwise not a
/// host name (ASCII letters, digits, `-` and `_` in labels between dots) or an IP address.
pub fn check_allowed_host(name: &str) -> Result<(), AllowedHostError> {
    allowed_name(name).map(drop)
}

/// `name` as request hosts are compared with it (lower case, without its final dot), or why
/// no request host could be equal to it.
pub(crate) fn allowed_name(name: &str) -> Result<String, AllowedHostError> {
    let refused = |reason| AllowedHostError {
        name: name.to_owned(),
        reason,
    };
    let text = name.trim();
    if text.is_empty() {
        return Err(refused("it is empty"));
    }
    if text.contains("://") {
        return Err(refused("it has a scheme; give the name alone"));
    }
    if text.contains('@') {
        return Err(refused("it has userinfo (`user@`); give the name alone"));
    }
    if text.contains(['/', '?', '#']) {
        return Err(refused("it has a path; give the name alone"));
    }
    let literal = text
        .strip_prefix('[')
        .and_then(|rest| rest.strip_suffix(']'))
        .unwrap_or(text);
    if text.parse::<Ipv4Addr>().is_ok() || literal.parse::<Ipv6Addr>().is_ok() {
        return Ok(text.to_ascii_lowercase());
    }
    if text.contains(':') {
        return Err(refused(
            "it has a port, and requests are matched on their host without its port",
        ));
    }
    // Checked as it will be compared: with or without one final dot, in any case.
    let bare = text.strip_suffix('.').unwrap_or(text);
    let labels_ok = bare.split('.').all(|label| {
        (1..=63).contains(&label.len())
            && label
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'_')
    });
    if !labels_ok || bare.len() > 253 {
        return Err(refused(
            "a host name is ASCII letters, digits, `-` and `_` in labels between dots \
             (a name in other letters in its `xn--` form)",
        ));
    }
    Ok(comparable(text))
}

#[cfg(test)]
#[path = "hosts_tests.rs"]
mod tests;
