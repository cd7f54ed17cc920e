//! Progress on stderr while a command waits or uploads: a spinner with the latest state, or a
//! bar of the bytes sent.
//!
//! `indicatif` draws them only when stderr is a terminal, so pipes, files and CI logs get
//! nothing, and redraws at most a few times a second however often progress is reported. A
//! [`Shown`] clears its line when dropped, which is also what happens when Ctrl-C abandons the
//! work: the terminal is left with the error or the answer, not a stale spinner.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A spinner or bar on stderr, cleared when dropped.
pub(crate) struct Shown(ProgressBar);

impl Shown {
    /// A spinner after which `message` is shown, with the time spent so far.
    pub(crate) fn spinner(message: String) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        bar.set_style(
            ProgressStyle::with_template("{spinner} {msg} ({elapsed})")
                .unwrap_or_else(|_| ProgressStyle::default_spinner()),
        );
        bar.set_message(message);
        bar.enable_steady_tick(Duration::from_millis(100));
        Shown(bar)
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
        Shown(bar)
    }

    /// A handle for the callback that reports progress (it shares this one's line).
    pub(crate) fn handle(&self) -> ProgressBar {
        self.0.clone()
    }
}

impl Drop for Shown {
    fn drop(&mut self) {
        self.0.finish_and_clear();
    }
}
