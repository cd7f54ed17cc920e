//! A line on the terminal when a call waits before retrying, so that a command held for a
//! minute by a 429's `Retry-After` says so instead of looking hung.
//!
//! The SDK decides the retries and reports each decision as a `tracing` event (`retrying`, with
//! the operation id, the outcome as text and the wait in milliseconds); this layer listens for
//! that one event and writes a line on stderr, made inert as every line of news is. It is
//! installed only when stderr is a terminal and neither `-v` nor `--debug` is given (those
//! print the event itself), so pipes, files and CI logs get nothing they did not get before.

use std::fmt;
use std::time::Duration;

use tracing::field::{Field, Visit};
use tracing::subscriber::Interest;
use tracing::{Event, Metadata, Subscriber};
use tracing_subscriber::layer::{Context, Layer};

/// Where the SDK's retry decisions are reported.
const TARGET: &str = "geopera::engine";

/// A shorter wait passes without a word: the backoff after a dropped connection is over
/// before a line could be read.
const SAY_FROM: Duration = Duration::from_secs(1);

/// Listens for the SDK's retry decisions and says the long ones on stderr.
pub(crate) struct RetryNotice;

impl<S: Subscriber> Layer<S> for RetryNotice {
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
        let mut retry = Retry::default();
        event.record(&mut retry);
        if let Some(line) = retry.line() {
            crate::progress::say(&line);
        }
    }
}

impl RetryNotice {
    /// Only the engine's events: no span is made and no other event is looked at.
    fn wants(&self, metadata: &Metadata<'_>) -> bool {
        metadata.is_event() && metadata.target() == TARGET
    }
}

/// What one `retrying` event says.
#[derive(Default)]
struct Retry {
    retrying: bool,
    operation: Option<String>,
    outcome: Option<String>,
    wait: Option<Duration>,
}

impl Retry {
    /// The line to show, for a retry decision with a wait worth a word.
    fn line(&self) -> Option<String> {
        let wait = self.wait.filter(|wait| *wait >= SAY_FROM)?;
        if !self.retrying {
            return None;
        }
        let operation = self.operation.as_deref().unwrap_or("the call");
        // Whole seconds, rounded up: "in 0 s" would read as no wait at all.
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        let outcome = match &self.outcome {
            Some(outcome) => format!(" ({outcome})"),
            None => String::new(),
        };
        Some(format!(
            "Retrying {operation} in {seconds} s{outcome}; Ctrl-C stops"
        ))
    }
}

impl Visit for Retry {
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "operation_id" {
            self.operation = Some(value.to_owned());
        }
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if field.name() == "wait_ms" {
            self.wait = Some(Duration::from_millis(value));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        match field.name() {
            "message" => self.retrying = format!("{value:?}") == "retrying",
            // Recorded with `%`, so its `Debug` is the SDK's own text for it.
            "outcome" => self.outcome = Some(format!("{value:?}")),
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "notice_tests.rs"]
mod tests;
