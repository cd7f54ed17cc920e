//! Helpers shared by the integration tests.

use std::time::Duration;

use bytes::Bytes;
use geopera_emulator::{Emulator, EmulatorBuilder, EmulatorHandle, RateLimits};
use reqwest::header::HeaderMap;
use serde_json::{json, Value};

/// An emulator plus a blocking client that does not follow redirects.
pub struct Api {
    pub emu: EmulatorHandle,
    pub http: reqwest::blocking::Client,
}

/// One answer, fully read.
#[derive(Debug)]
pub struct Resp {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: Bytes,
}

impl Resp {
    /// Reads a whole answer.
    pub fn read(response: reqwest::blocking::Response) -> reqwest::Result<Resp> {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = response.bytes()?;
        Ok(Resp {
            status,
            headers,
            body,
        })
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|error| {
            panic!(
                "not JSON ({error}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|value| value.to_str().ok())
    }

    pub fn content_type(&self) -> &str {
        self.header("content-type").unwrap_or_default()
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(20))
        .build()
        .expect("client")
}

impl Api {
    /// An emulator without rate limits (tests about limits configure their own).
    pub fn start() -> Api {
        Api::with(Emulator::builder().rate_limits(RateLimits::off()))
    }

    pub fn with(builder: EmulatorBuilder) -> Api {
        Api {
            emu: builder.start().expect("emulator starts"),
            http: client(),
        }
    }

    pub fn url(&self, op: &str) -> String {
        format!("{}/v1/op/{op}", self.emu.base_url())
    }

    /// Calls an operation with the demo key.
    pub fn call(&self, op: &str, body: Value) -> Resp {
        let key = self.emu.api_key().to_owned();
        self.call_with(op, &body, &[("authorization", &format!("Bearer {key}"))])
    }

    /// Calls an operation with the demo key and a JSON body written out as text, for what a
    /// `Value` cannot hold as sent (an integer beyond 64 bits, a member given twice).
    pub fn call_text(&self, op: &str, body: &str) -> Resp {
        let resp = self
            .http
            .post(self.url(op))
            .bearer_auth(self.emu.api_key())
            .header("content-type", "application/json")
            .body(body.to_owned())
            .send()
            .expect("request completes");
        Resp::read(resp).expect("answer read")
    }

    /// Calls an operation with exactly these extra headers (no credentials unless given).
    pub fn call_with(&self, op: &str, body: &Value, headers: &[(&str, &str)]) -> Resp {
        self.try_call_with(op, body, headers)
            .expect("request completes")
    }

    pub fn try_call_with(
        &self,
        op: &str,
        body: &Value,
        headers: &[(&str, &str)],
    ) -> reqwest::Result<Resp> {
        let mut request = self.http.post(self.url(op)).json(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        Resp::read(request.send()?)
    }

    /// Calls an operation with the demo key and returns its JSON answer, which must carry the
    /// operation's documented success status and, when it is JSON, have its output's shape.
    pub fn ok(&self, op: &str, body: Value) -> Value {
        let resp = self.call(op, body);
        let info = geopera_types::operations::find(op);
        assert_eq!(
            Some(resp.status),
            info.map(|info| info.success_status),
            "{op}: {}",
            String::from_utf8_lossy(&resp.body)
        );
        let value = resp.json();
        let content_type = resp.content_type();
        if let Some(info) =
            info.filter(|_| content_type.contains("json") && !content_type.contains("ndjson"))
        {
            let errors = geopera_types::validate::validate(info.output, &value);
            assert!(
                errors.is_empty(),
                "{op}: the answer is not its output's shape: {errors:?}\n{value}"
            );
        }
        value
    }

    /// The id of a commercial capture, which archive orders can buy.
    pub fn commercial_capture(&self) -> String {
        self.ok(
            "catalog.search",
            serde_json::json!({"host_name": "geopera-commercial", "limit": 1}),
        )["features"][0]["id"]
            .as_str()
            .expect("a capture")
            .to_owned()
    }

    /// Places an archive order for `capture` (checked to be accepted with 202) and returns its
    /// id.
    pub fn place_archive_order(&self, capture: &str) -> String {
        self.ok(
            "orders.archive.place",
            serde_json::json!({"captures": [{"id": capture}]}),
        )["orderId"]
            .as_str()
            .expect("orderId")
            .to_owned()
    }

    /// Calls with a given bearer token.
    pub fn call_as(&self, token: &str, op: &str, body: Value) -> Resp {
        self.call_with(op, &body, &[("authorization", &format!("Bearer {token}"))])
    }
}

/// Asserts that `answer` is a 422 whose first failure is at the body's `field`, and returns
/// that failure; `what` names the case in messages.
pub fn refused(answer: Resp, field: &str, what: &str) -> Value {
    let body = String::from_utf8_lossy(&answer.body).into_owned();
    assert_eq!(answer.status, 422, "{what}: {body}");
    let failure = answer.json()["detail"][0].clone();
    assert_eq!(failure["loc"], json!(["body", field]), "{what}: {body}");
    failure
}
