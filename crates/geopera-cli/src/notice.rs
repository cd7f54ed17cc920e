//! A line on the terminal when a call waits before it is sent or retried, so that a command
//! held for a minute by a 429's `Retry-After`, or by a shared rate budget the rest of a fleet
//! has spent, says so instead of looking hung.
//!
//! The SDK decides the waits and reports each as a `tracing` event: `retrying` from its engine
//! (with the operation id, the outcome as text and the wait in milliseconds) and `held` from
//! its limiter (the same, with the reason instead of an outcome). This layer listens for those
//! two and writes a line on stderr, made inert as every line of news is. It is installed only
//! when stderr is a terminal and neither `-v` nor `--debug` is given (those print the events
//! themselves), so pipes, files and CI logs get nothing they did not get before.
//!
//! The SDK's warnings are of another kind, and each is a `Warning:` wherever stderr goes, as
//! the CLI's other warnings are ([`is_forwarded_warning`]): a shared rate budget that Redis no
//! longer answers leaves each process pacing alone, and a fleet may then together pass the
//! organization's limit; a proxy variable that takes plain-http calls gets the credential in
//! clear text, or one naming a SOCKS proxy fails the signed-URL transfers; an empty trust store
//! refuses every HTTPS server; a shared budget that never granted a turn sends anyway.

use std::fmt;
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Where the SDK reports its retry decisions and its limiter's waits.
const TARGETS: [&str; 2] = ["geopera::engine", "geopera::limiter"];

/// A shorter wait passes without a word: the backoff after a dropped connection is over
/// before a line could be read.
const SAY_FROM: Duration = Duration::from_secs(1);

/// Listens for the SDK's waits (when `waits`, on a terminal) and says the long ones on stderr,
/// and for its warning that the shared rate budget is unreachable ([`BUDGET_TARGET`]).
///
/// One layer for both: a layer's interest filters for the whole subscriber, so a second one
/// wanting other events would silence the first's.
pub(crate) struct Notices {
    pub(crate) waits: bool,
    /// The warnings of a client's set-up said so far: a command that builds its client twice
    /// (a budget, a sign-in) would otherwise say the same proxy warning twice.
    said: std::sync::Mutex<std::collections::HashSet<String>>,
}

impl<S: Subscriber> Layer<S> for Notices {
    fn register_callsite(&self, metadata: &'static Metadata<'static>) -> Interest {
        if self.wants(metadata) {
            Interest::always()
        } else {
            Interest::never()
        }
    }

    fn enabled(&self, metadata: &Metadata<'_>, _: Context<'_, S>) -> bool {
        self.wants(metadata)
    }

    fn on_event(&self, event: &Event<'_>, _: Context<'_, S>) {
        if is_forwarded_warning(event.metadata()) {
            let mut said = Said::default();
            event.record(&mut said);
            if let Some(line) = said.line() {
                // The budget's is said once per outage by the SDK itself, and again when Redis
                // fails again after coming back.
                let budget = event.metadata().target() == BUDGET_TARGET;
                let first = budget
                    || match self.said.lock() {
                        Ok(mut said) => said.insert(line.clone()),
                        Err(_) => true,
                    };
                if first {
                    crate::paint::warning(&line);
                }
            }
            return;
        }
        let mut wait = Wait::default();
        event.record(&mut wait);
        if let Some(line) = wait.line() {
            crate::progress::say(&line);
        }
    }
}

impl Notices {
    /// Listens for waits when `waits` (stderr is a terminal).
    pub(crate) fn new(waits: bool) -> Self {
        Notices {
            waits,
            said: std::sync::Mutex::default(),
        }
    }

    /// Only the engine's and the limiter's events (when `waits`) and the SDK's warnings said
    /// here: no span is made and no other event is looked at.
    fn wants(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_event()
            && ((self.waits && TARGETS.contains(&metadata.target()))
                || is_forwarded_warning(metadata))
    }
}

/// Which of the SDK's waits an event reports.
#[derive(Default)]
enum Kind {
    /// Some other event of the same targets.
    #[default]
    Other,
    /// `retrying`: the wait before the call is sent again.
    Retrying,
    /// `held`: the wait before the call is sent, set by the limiter.
    Held,
}

/// What one `retrying` or `held` event says.
#[derive(Default)]
struct Wait {
    kind: Kind,
    operation: Option<String>,
    /// Why a retry is made, for `retrying`: `HTTP 429`, `no connection`, ...
    outcome: Option<String>,
    /// Why a call is held, for `held`: `rate_limited`, `paced` or `shared_budget`.
    reason: Option<String>,
    wait: Option<Duration>,
}

impl Wait {
    /// The line to show, for a wait worth a word.
    fn line(&self) -> Option<String> {
        let wait = self.wait.filter(|wait| *wait >= SAY_FROM)?;
        let operation = self.operation.as_deref().unwrap_or("the call");
        // Whole seconds, rounded up: "in 0 s" would read as no wait at all.
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        match self.kind {
            Kind::Other => None,
            Kind::Retrying => {
                let outcome = match &self.outcome {
                    Some(outcome) => format!(" ({outcome})"),
                    None => String::new(),
                };
                Some(format!(
                    "Retrying {operation} in {seconds} s{outcome}; Ctrl-C stops"
                ))
            }
            Kind::Held => {
                let why = match self.reason.as_deref() {
                    Some("shared_budget") => " for the shared rate budget",
                    Some("rate_limited") => " for the API's rate limit (HTTP 429)",
                    Some("paced") => " for the pacing",
                    _ => "",
                };
                Some(format!(
                    "Waiting {seconds} s{why} before {operation}; Ctrl-C stops"
                ))
            }
        }
    }
}

impl Visit for Wait {
    fn record_str(&mut self, field: &Field, value: &str) {
        match field.name() {
            "operation_id" => self.operation = Some(value.to_owned()),
            "reason" => self.reason = Some(value.to_owned()),
            _ => {}
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "wait_ms" {
            self.wait = Some(Duration::from_millis(value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => {
                self.kind = match format!("{value:?}").as_str() {
                    "retrying" => Kind::Retrying,
                    "held" => Kind::Held,
                    _ => Kind::Other,
                }
            }
            // Recorded with `%`, so its `Debug` is the SDK's own text for it.
            "outcome" => self.outcome = Some(format!("{value:?}")),
            _ => {}
        }
    }
}

/// Where the SDK reports that the shared rate budget's Redis stopped answering.
const BUDGET_TARGET: &str = "geopera::budget::redis";

/// Where the SDK warns of what a client's configuration will do: its proxy variable warnings
/// carry a `variable` field.
const CLIENT_TARGET: &str = "geopera::client";

/// Where the SDK warns of an empty trust store, and that a shared budget gave up.
const OTHER_WARNING_TARGETS: [&str; 2] = ["geopera::roots", "geopera::limiter"];

/// Whether an event is one of the SDK's warnings said as a `Warning:`: the shared rate
/// budget unreachable (once per outage, with Redis's own words, its credentials already
/// taken out), a proxy variable's (each names its variable), an empty trust store, a budget
/// that gave up. Not the client's other two, of a base URL ending in `/v1` or in clear text to
/// another machine, which this program words itself from the URL it was given.
fn is_forwarded_warning(metadata: &Metadata<'_>) -> bool {
    if *metadata.level() != tracing::Level::WARN {
        return false;
    }
    let target = metadata.target();
    target == BUDGET_TARGET
        || OTHER_WARNING_TARGETS.contains(&target)
        || (target == CLIENT_TARGET && metadata.fields().field("variable").is_some())
}

/// What a warning event says: its message and its error.
#[derive(Default)]
struct Said {
    message: Option<String>,
    error: Option<String>,
}

impl Said {
    fn line(&self) -> Option<String> {
        let message = self.message.as_deref()?;
        Some(match &self.error {
            Some(error) => format!("{message} ({error})"),
            None => message.to_owned(),
        })
    }
}

impl Visit for Said {
    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        // Both recorded with `%` or as text, so `Debug` is the SDK's own words.
        match field.name() {
            "message" => self.message = Some(format!("{value:?}")),
            "error" => self.error = Some(format!("{value:?}")),
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "notice_tests.rs"]
mod tests;
