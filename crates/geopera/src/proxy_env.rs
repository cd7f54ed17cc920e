//! The proxy environment variables, checked before a client follows them.
//!
//! reqwest reads `ALL_PROXY`, `HTTP_PROXY`, `HTTPS_PROXY` (and their lower-case forms) and
//! silently passes over one it cannot read: a stray space, a bad port or an unknown scheme
//! sends every call straight to the API, credentials included, past a proxy its operator set
//! up to see them. A client is built only once every variable it would follow can be read;
//! httpx refuses such a variable likewise. The rules are those of the reader reqwest uses
//! (`hyper-util`'s proxy matcher), so that what passes here is what it then follows.

/// The variables a client follows, as pairs read upper-case first: only the first of a pair
/// that is set counts, as for reqwest.
const VARIABLES: [[&str; 2]; 3] = [
    ["ALL_PROXY", "all_proxy"],
    ["HTTP_PROXY", "http_proxy"],
    ["HTTPS_PROXY", "https_proxy"],
];

/// The schemes a proxy URL may have; none is `http`.
const SCHEMES: [&str; 6] = ["http", "https", "socks4", "socks4a", "socks5", "socks5h"];

/// The first proxy variable that is set to something other than a proxy URL, with `lookup`
/// reading the environment. `HTTP_PROXY` is not read in a CGI program (`REQUEST_METHOD` set),
/// where a client's request could have set it (httpoxy), so it is not checked there either.
pub(crate) fn unreadable(lookup: impl Fn(&str) -> Option<String>) -> Option<&'static str> {
    let cgi = lookup("REQUEST_METHOD").is_some();
    for pair in VARIABLES {
        if cgi && pair[0] == "HTTP_PROXY" {
            continue;
        }
        let Some((name, value)) = pair.iter().find_map(|name| Some((*name, lookup(name)?))) else {
            continue;
        };
        if !value.is_empty() && !is_proxy_url(&value) {
            return Some(name);
        }
    }
    None
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
