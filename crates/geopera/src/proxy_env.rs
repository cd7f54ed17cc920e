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

/// The schemes a proxy URL may have; none is `http`.
const SCHEMES: [&str; 6] = ["http", "https", "socks4", "socks4a", "socks5", "socks5h"];

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
    let (name, _) = proxy_for(url, lookup).filter(|_| url.starts_with("http:"))?;
    Some(name)
}

/// The proxy variable that would send calls to `url` through a SOCKS proxy, as `lookup` reads
/// the variables: reqwest speaks SOCKS only with a feature this crate leaves off, and without
/// it takes a SOCKS proxy for an HTTP one (refusing an `https` call as unreachable, writing a
/// plain-http one, credentials and all, in clear text to the SOCKS port). A SOCKS proxy the
/// calls do not go through (`NO_PROXY` names the host) is no matter.
pub(crate) fn takes_through_socks(
    url: &str,
    lookup: impl Fn(&str) -> Option<OsString>,
) -> Option<&'static str> {
    let (name, proxy) = proxy_for(url, lookup)?;
    proxy
        .scheme_str()
        .is_some_and(|scheme| scheme.starts_with("socks"))
        .then_some(name)
}

/// The variable naming the proxy calls to `url` go through, and that proxy, as reqwest's
/// matcher reads the variables `lookup` gives (`NO_PROXY` and CGI included).
fn proxy_for(
    url: &str,
    lookup: impl Fn(&str) -> Option<OsString>,
) -> Option<(&'static str, http::Uri)> {
    let uri = url.parse::<http::Uri>().ok()?;
    if lookup("REQUEST_METHOD").is_some() {
        return None;
    }
    let first_set = |pair| matcher_reads(pair, &lookup).filter(|(_, value)| !value.is_empty());
    let (http, https, all) = (first_set(HTTP), first_set(HTTPS), first_set(ALL));
    let no = first_set(["NO_PROXY", "no_proxy"]);
    let matcher = hyper_util::client::proxy::matcher::Matcher::builder()
        .http(value_of(&http))
        .https(value_of(&https))
        .all(value_of(&all))
        .no(value_of(&no))
        .build();
    let proxy = matcher.intercept(&uri)?.uri().clone();
    let own = if uri.scheme_str() == Some("https") {
        https
    } else {
        http
    };
    // One the matcher could not read stands aside for `ALL_PROXY`, as in reqwest.
    let (name, _) = own.filter(|(_, value)| is_proxy_url(value)).or(all)?;
    Some((name, proxy))
}

/// The first proxy variable a client follows that names a SOCKS proxy, as `lookup` reads the
/// variables: calls to any host it takes (a signed upload or download URL elsewhere than the
/// API) fail, the SDK not speaking SOCKS.
pub(crate) fn names_socks(lookup: impl Fn(&str) -> Option<OsString>) -> Option<&'static str> {
    if lookup("REQUEST_METHOD").is_some() {
        return None;
    }
    [HTTP, HTTPS, ALL].into_iter().find_map(|pair| {
        let (name, value) = matcher_reads(pair, &lookup)?;
        value.starts_with("socks").then_some(name)
    })
}

/// The first of `pair` set to text, and its value, as reqwest's matcher reads the pair: a
/// value that is not UTF-8 is passed over for the next name.
fn matcher_reads(
    pair: [&'static str; 2],
    lookup: &impl Fn(&str) -> Option<OsString>,
) -> Option<(&'static str, String)> {
    pair.into_iter()
        .find_map(|name| Some((name, lookup(name)?.into_string().ok()?)))
}

/// The value of a variable [`matcher_reads`] found, or none (`""`) for the matcher.
fn value_of<'a>(set: &'a Option<(&str, String)>) -> &'a str {
    set.as_ref().map_or("", |(_, value)| value.as_str())
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
