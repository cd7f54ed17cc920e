//! Progress on stderr while a command waits or uploads: a spinner with the latest state, or a
//! bar of the bytes sent.
//!
//! `indicatif` draws them only when stderr is a terminal, so pipes, files and CI logs get
//! nothing, and redraws at most a few times a second however often progress is reported. A
//! [`Shown`] clears its line when dropped, which is also what happens when Ctrl-C abandons the
//! work: the terminal is left with the error or the answer, not a stale spinner.

use std::io::Write as _;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// The spinner or bar drawn now, if any: a line said while one is drawn goes above it, where
/// written straight to stderr it would be drawn over at the next tick.
static SHOWING: Mutex<Option<ProgressBar>> = Mutex::new(None);

/// Writes `line` on stderr as [`crate::paint::note`] does (inert, no credential, a failed
/// write ignored), above the spinner or bar if one is drawn.
pub(crate) fn say(line: &str) {
    let write = || crate::paint::note(line);
    let showing = SHOWING.lock().unwrap_or_else(PoisonError::into_inner);
    match showing.as_ref() {
        Some(bar) => bar.suspend(write),
        None => write(),
    }
}

/// Writes `text` on stderr with no line end after it, as a prompt is. A stderr that cannot be
/// written to loses the prompt, not the command.
pub(crate) fn say_inline(text: &str) {
    let mut stderr = std::io::stderr();
    let _ = stderr.write_all(text.as_bytes());
    let _ = stderr.flush();
}

/// A spinner or bar on stderr, cleared when dropped.
pub(crate) struct Shown(ProgressBar);

impl Shown {
    /// Draws `bar` and makes it the one [`say`] writes above.
    fn showing(bar: ProgressBar) -> Self {
        *SHOWING.lock().unwrap_or_else(PoisonError::into_inner) = Some(bar.clone());
        Shown(bar)
    }

    /// A spinner after which `message` is shown, with the time spent so far.
    pub(crate) fn spinner(message: String) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(100));
        Shown::showing(bar)
    }

    /// A bar of `total` bytes, with the rate and the time left.
    pub(crate) fn bytes(message: String, total: u64) -> Self {
        let bar = ProgressBar::with_draw_target(Some(total), ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}, {eta} left",
            )
            .map(|style| style.progress_chars("=> "))
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.set_message(message);
        Shown::showing(bar)
    }

    /// A handle for the callback that reports progress (it shares this one's line).
    pub(crate) fn handle(&self) -> ProgressBar {
        self.0.clone()
    }
}

impl Drop for Shown {
    fn drop(&mut self) {
        SHOWING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take();
        self.0.finish_and_clear();
    }
}
