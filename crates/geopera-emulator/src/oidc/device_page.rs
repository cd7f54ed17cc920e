//! The page a device login sends its user to: a form for the user code and a demo user's
//! username and password, with Approve and Deny buttons.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, State};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CACHE_CONTROL, CONTENT_TYPE};
use http::{HeaderMap, Method, StatusCode, Uri};

use super::sessions::normalize_user_code;
use super::{sign_in, throttle, Form};
use crate::state::Shared;

pub(crate) async fn page(
    State(shared): State<Arc<Shared>>,
    ConnectInfo(peer): ConnectInfo<SocketAddr>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    match method {
        // HEAD is GET without the body, which the server leaves out.
        Method::GET | Method::HEAD => ask(&uri),
        // Each approval checks a password, so it draws from the sign-in budget too.
        Method::POST => match throttle(&shared, peer).and_then(|()| Form::read(&headers, body)) {
            Ok(form) => decide(&shared, &form),
            Err(error) => {
                let mut response = html(
                    error.status,
                    &form_page("", Some(&format!("{}.", error.description))),
                );
                // `Retry-After` of a 429.
                response.headers_mut().extend(error.headers);
                response
            }
        },
        _ => {
            let mut response = html(
                StatusCode::METHOD_NOT_ALLOWED,
                &message_page("This page answers GET, HEAD and POST."),
            );
            response
                .headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD, POST"));
            response
        }
    }
}

/// The form, filled in with the code a `?user_code=` link carries. The query is read as the
/// POSTed form is: a parameter whose bytes are not UTF-8 once percent-decoded, or one given
/// twice, is a 400 page with nothing filled in, never a code shown with U+FFFD in their place.
fn ask(uri: &Uri) -> Response {
    match Form::parse(uri.query().unwrap_or_default().as_bytes()) {
        Ok(query) => {
            let user_code = query.get("user_code").unwrap_or_default();
            html(StatusCode::OK, &form_page(user_code, None))
        }
        Err(error) => html(
            error.status,
            &form_page("", Some(&format!("{}.", error.description))),
        ),
    }
}

fn decide(shared: &Shared, form: &Form) -> Response {
    let typed = form.get("user_code").unwrap_or_default();
    let retry = |status: StatusCode, problem: &str| html(status, &form_page(typed, Some(problem)));
    let (Some(username), Some(password)) = (form.get("username"), form.get("password")) else {
        return retry(
            StatusCode::BAD_REQUEST,
            "Enter the username and password of a demo user.",
        );
    };
    let Some(user) = sign_in(shared, username, password) else {
        return retry(StatusCode::UNAUTHORIZED, "Invalid username or password.");
    };
    let now_ms = shared.clock.now_millis();
    let approve = match form.get("action") {
        Some("approve") => true,
        Some("deny") => false,
        _ => return retry(StatusCode::BAD_REQUEST, "Choose Approve or Deny."),
    };
    let code = normalize_user_code(typed);
    let decided =
        shared
            .lock()
            .oidc
            .decide_device(&code, approve.then(|| user.principal()), now_ms);
    if !decided {
        return retry(
            StatusCode::BAD_REQUEST,
            "No login is waiting for that code; it may have expired or been decided already.",
        );
    }
    let outcome = if approve {
        "Signed in. You can return to your terminal."
    } else {
        "The login was denied. You can close this page."
    };
    html(StatusCode::OK, &message_page(outcome))
}

fn html(status: StatusCode, body: &str) -> Response {
    let mut response = (status, body.to_owned()).into_response();
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static("default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; frame-ancestors 'none'"),
    );
    headers.insert("x-frame-options", HeaderValue::from_static("DENY"));
    response
}

/// Text made safe to place inside HTML elements and quoted attributes.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for character in text.chars() {
        match character {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            other => out.push(other),
        }
    }
    out
}

const STYLE: &str = "body{font-family:sans-serif;max-width:28em;margin:3em auto;padding:0 1em}\
label{display:block;margin-top:1em}input{width:100%;padding:.4em;box-sizing:border-box}\
button{margin-top:1.5em;margin-right:1em;padding:.5em 1.5em}.problem{color:#a00}";

fn form_page(user_code: &str, problem: Option<&str>) -> String {
    let problem = problem
        .map(|text| format!("<p class=\"problem\">{}</p>", escape(text)))
        .unwrap_or_default();
    let user_code = escape(user_code);
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Geopera emulator: confirm sign-in</title><style>{STYLE}</style></head><body>\
<h1>Confirm sign-in</h1><p>A device asked to sign in to this Geopera emulator. Check that \
the code matches the one it shows, then sign in as a demo user.</p>{problem}\
<form method=\"post\">\
<label>Code <input name=\"user_code\" value=\"{user_code}\" autocomplete=\"off\" required></label>\
<label>Username <input name=\"username\" autocomplete=\"username\" required></label>\
<label>Password <input name=\"password\" type=\"password\" autocomplete=\"current-password\" required></label>\
<button name=\"action\" value=\"approve\">Approve</button>\
<button name=\"action\" value=\"deny\">Deny</button>\
</form></body></html>"
    )
}

fn message_page(message: &str) -> String {
    format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<title>Geopera emulator</title><style>{STYLE}</style></head><body><p>{}</p></body></html>",
        escape(message)
    )
}

#[cfg(test)]
#[path = "device_page_tests.rs"]
mod tests;
