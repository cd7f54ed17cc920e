//! Why a command failed, and which exit code says so.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};

/// Exit code: the API answered with an error, or the command line was wrong.
pub(crate) const EXIT_API_OR_USAGE: u8 = 2;
/// Exit code: anything else (network, timeout, credentials, local files).
pub(crate) const EXIT_OTHER: u8 = 1;
/// Exit code after Ctrl-C, as shells report a process ended by SIGINT (128 + 2).
pub(crate) const EXIT_INTERRUPTED: u8 = 130;
/// Exit code after SIGTERM, as shells report a process ended by it (128 + 15).
pub(crate) const EXIT_TERMINATED: u8 = 143;

/// Set when the signal that stopped the command was SIGTERM rather than Ctrl-C, so that
/// [`Failure::interrupted`] says which: a script or a service manager that sent it reads 143
/// back, as from a process that SIGTERM ended.
pub(crate) static TERMINATED: AtomicBool = AtomicBool::new(false);

/// Every exit code with the line `--help` shows for it: the one list, which the README's
/// table is checked against.
pub(crate) const EXIT_CODES: [(u8, &str); 5] = [
    (0, "success"),
    (
        EXIT_OTHER,
        "any other failure (network, timeout, credentials, local files)",
    ),
    (
        EXIT_API_OR_USAGE,
        "the API answered with an error, or the command line was wrong",
    ),
    (
        EXIT_INTERRUPTED,
        "interrupted (Ctrl-C); no partial file is left behind",
    ),
    (
        EXIT_TERMINATED,
        "terminated (SIGTERM), cleaned up as after Ctrl-C",
    ),
];

/// A failure to report on stderr as `Error: <message>` and exit with `code`.
#[derive(Clone, Debug)]
pub(crate) struct Failure {
    pub(crate) code: u8,
    pub(crate) message: String,
}

impl Failure {
    /// The API answered with an error status.
    pub(crate) fn api(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_API_OR_USAGE,
            message: message.into(),
        }
    }

    /// The command line asked for something that cannot be done.
    pub(crate) fn usage(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_API_OR_USAGE,
            message: message.into(),
        }
    }

    /// Any other failure.
    pub(crate) fn other(message: impl Into<String>) -> Self {
        Failure {
            code: EXIT_OTHER,
            message: message.into(),
        }
    }

    /// Ctrl-C, or SIGTERM ([`TERMINATED`]), stopped the command.
    pub(crate) fn interrupted() -> Self {
        if TERMINATED.load(Ordering::SeqCst) {
            return Failure {
                code: EXIT_TERMINATED,
                message: "terminated".to_owned(),
            };
        }
        Failure {
            code: EXIT_INTERRUPTED,
            message: "interrupted".to_owned(),
        }
    }

    /// A `--jq` program ended the command with `halt` (exit code 0), as jq ends there: what
    /// it printed before stands, a walk over pages stops, and nothing is said.
    pub(crate) fn halted() -> Self {
        Failure {
            code: 0,
            message: String::new(),
        }
    }

    /// Whoever read stdout has gone (`| head`): the command stops at once, so a walk over
    /// pages or a jq program spends no more requests or time on output nobody reads, and
    /// exits 0 without a word, as a pipeline expects.
    pub(crate) fn stdout_closed() -> Self {
        Failure {
            code: 0,
            message: String::new(),
        }
    }

    /// What a command ends with when it printed an answer and then fails with `pending`, a
    /// failure known before the printing (an order that ended cancelled, a file not
    /// written): the printing's own failure, unless that was a quiet stop (stdout closed,
    /// `--jq` halted), which must not turn the known failure into success. The known
    /// failure is said either way: it may be all that tells the user what happened (an
    /// order placed, the key that replays it).
    pub(crate) fn after_printing(printed: Outcome, pending: Failure) -> Self {
        match printed {
            Err(mut failure) if failure.code != 0 => {
                if !pending.message.is_empty() {
                    failure.message.push('\n');
                    failure.message.push_str(&pending.message);
                }
                failure
            }
            _ => pending,
        }
    }

    /// [`after_printing`](Self::after_printing) when the failure known before the printing
    /// may be none.
    pub(crate) fn known_after_printing(printed: Outcome, known: Outcome) -> Outcome {
        match known {
            Ok(()) => printed,
            Err(known) => Err(Failure::after_printing(printed, known)),
        }
    }
}

impl fmt::Display for Failure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

/// So that a failure can travel through the SDK as a credentials provider's error.
impl std::error::Error for Failure {}

/// An error and its causes on one line, `a: b: c`, skipping causes already quoted.
pub(crate) fn chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut source = error.source();
    while let Some(cause) = source {
        let part = cause.to_string();
        if !part.is_empty() && !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = cause.source();
    }
    text.replace('\n', " ")
}

/// The result of a command: `Ok` exits 0.
pub(crate) type Outcome = Result<(), Failure>;

#[cfg(test)]
#[path = "failure_tests.rs"]
mod tests;
