//! The proxy environment variables, checked before a client follows them.
//!
//! reqwest reads `ALL_PROXY`, `HTTP_PROXY`, `HTTPS_PROXY` (and their lower-case forms) and
//! silently passes over one it cannot read: a stray space, a bad port or an unknown scheme
//! sends every call straight to the API, credentials included, past a proxy its operator set
//! up to see them. A client is built only once every variable it would follow can be read;
//! httpx refuses such a variable likewise. The rules are those of the reader reqwest uses
//! (`hyper-util`'s proxy matcher), so that what passes here is what it then follows.

use std::ffi::OsString;

/// The variables a client follows, as pairs read upper-case first: only the first of a pair
/// that is set counts, as for reqwest.
const HTTP: [&str; 2] = ["HTTP_PROXY", "http_proxy"];
const HTTPS: [&str; 2] = ["HTTPS_PROXY", "https_proxy"];
const ALL: [&str; 2] = ["ALL_PROXY", "all_proxy"];

/// The schemes a proxy URL may have; none is `http`. No `socks*`: reqwest speaks SOCKS only
/// with a feature this crate leaves off, and without it takes a SOCKS proxy for an HTTP one
/// (a plain-HTTP call, credentials and all, written in clear text to the SOCKS port).
const SCHEMES: [&str; 2] = ["http", "https"];

/// The first proxy variable that is set to something other than a proxy URL where reqwest
/// would have read it, with `lookup` reading the environment: `HTTP_PROXY` and `HTTPS_PROXY`
/// whenever set (passed over, they leave calls to `ALL_PROXY` or to no proxy at all), and
/// `ALL_PROXY` when one of them is unset (it stands in for it). A value that is not UTF-8 is
/// no proxy URL: reqwest passes over it as if unset. A CGI program (`REQUEST_METHOD` set),
/// where a client's request could have set them (httpoxy), follows none, so none is checked
/// there.
pub(crate) fn unreadable(lookup: impl Fn(&str) -> Option<OsString>) -> Option<&'static str> {
    if lookup("REQUEST_METHOD").is_some() {
        return None;
    }
    let first_set = |pair: [&'static str; 2]| {
        pair.iter()
            .find_map(|name| Some((*name, lookup(name)?)))
            .filter(|(_, value)| !value.is_empty())
    };
    let (http, https) = (first_set(HTTP), first_set(HTTPS));
    let all = first_set(ALL).filter(|_| http.is_none() || https.is_none());
    [http, https, all]
        .into_iter()
        .flatten()
        .find(|(_, value)| !value.to_str().is_some_and(is_proxy_url))
        .map(|(name, _)| name)
}

/// The proxy variable that would carry a call to `url`, a plain-http URL, through a proxy
/// (`HTTP_PROXY` or `ALL_PROXY`, or their lower-case forms, as `lookup` reads them), unless
/// `NO_PROXY` names its host: such a call goes to the proxy in clear text, credentials and
/// all, though its host is this machine's own loopback. `None` for an `https` URL (tunnelled),
/// or when no proxy takes it.
pub(crate) fn takes_in_clear_text(
    url: &str,
    lookup: impl Fn(&str) -> Option<OsString>,
) -> Option<&'static str> {
    let uri = url.parse::<http::Uri>().ok()?;
    if uri.scheme_str() != Some("http") || lookup("REQUEST_METHOD").is_some() {
        return None;
    }
    let first_set = |pair: [&'static str; 2]| {
        pair.iter()
            .find_map(|name| Some((*name, lookup(name)?.into_string().ok()?)))
            .filter(|(_, value)| !value.is_empty())
    };
    let (http, all) = (first_set(HTTP), first_set(ALL));
    let no = first_set(["NO_PROXY", "no_proxy"]).map(|(_, value)| value);
    let matcher = hyper_util::client::proxy::matcher::Matcher::builder()
        .http(http.as_ref().map_or("", |(_, value)| value.as_str()))
        .all(all.as_ref().map_or("", |(_, value)| value.as_str()))
        .no(no.unwrap_or_default())
        .build();
    matcher.intercept(&uri)?;
    http.or(all).map(|(name, _)| name)
}

/// Whether `value` names a proxy: `[scheme://][user[:password]@]host[:port]`, with a path
/// allowed and ignored.
fn is_proxy_url(value: &str) -> bool {
    let Ok(uri) = value.parse::<http::Uri>() else {
        return false;
    };
    if uri
        .scheme_str()
        .is_some_and(|scheme| !SCHEMES.contains(&scheme))
    {
        return false;
    }
    let Some(authority) = uri.authority() else {
        return false;
    };
    let host_port = authority
        .as_str()
        .split_once('@')
        .map_or(authority.as_str(), |(_, host_port)| host_port);
    let Ok(authority) = host_port.parse::<http::uri::Authority>() else {
        return false;
    };
    // `http::Uri` takes a port of any digits and reads one past 65535 as none, which would
    // send calls to the scheme's port instead.
    let after_host = authority
        .as_str()
        .rsplit_once(']')
        .map_or(authority.as_str(), |(_, rest)| rest);
    let port_fits = after_host
        .rsplit_once(':')
        .is_none_or(|(_, port)| port.is_empty() || port.parse::<u16>().is_ok());
    !authority.host().is_empty() && port_fits
}

#[cfg(test)]
#[path = "proxy_env_tests.rs"]
mod tests;
