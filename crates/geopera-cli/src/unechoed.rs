//! An API key typed at a terminal without showing it: `login --api-key -` with stdin a terminal
//! turns the terminal's echo off while the key is typed, as `ssh` and `sudo` do for a
//! password, so that the key stays off the screen, out of the scrollback and out of a shared
//! screen. The Enter that ends it is still echoed (`ECHONL`), so what follows starts on a line
//! of its own.
//!
//! The echo comes back when the line has been read or the read failed ([`Unechoed`]'s drop),
//! and when Ctrl-C ends the command, which exits without unwinding ([`restore`], called on
//! that path): a terminal left without echo looks broken to whoever types into it next.
//! Elsewhere than on Unix the key is read as it is typed, shown.

#[cfg(unix)]
use std::sync::{Mutex, PoisonError};

/// The terminal settings to put back, while the echo is off.
#[cfg(unix)]
static SAVED: Mutex<Option<rustix::termios::Termios>> = Mutex::new(None);

/// The echo of stdin's terminal, off until this is dropped.
pub(crate) struct Unechoed(());

impl Unechoed {
    /// Turns stdin's echo off, when stdin is a terminal whose settings can be read and set;
    /// `None` leaves everything as it was.
    #[cfg(unix)]
    pub(crate) fn stdin() -> Option<Unechoed> {
        use rustix::termios::{tcgetattr, tcsetattr, LocalModes, OptionalActions};
        let stdin = std::io::stdin();
        let saved = tcgetattr(&stdin).ok()?;
        let mut quiet = saved.clone();
        quiet.local_modes.remove(LocalModes::ECHO);
        quiet.local_modes.insert(LocalModes::ECHONL);
        // Saved before the change, so that an interruption between the two restores too.
        *SAVED.lock().unwrap_or_else(PoisonError::into_inner) = Some(saved);
        // `Now`, not `Flush`: a key pasted before the prompt appeared is kept, not dropped.
        match tcsetattr(&stdin, OptionalActions::Now, &quiet) {
            Ok(()) => Some(Unechoed(())),
            Err(_) => {
                SAVED.lock().unwrap_or_else(PoisonError::into_inner).take();
                None
            }
        }
    }

    /// Elsewhere the echo is left on.
    #[cfg(not(unix))]
    pub(crate) fn stdin() -> Option<Unechoed> {
        None
    }
}

impl Drop for Unechoed {
    fn drop(&mut self) {
        let _ = restore();
    }
}

/// Puts stdin's terminal settings back, if the echo is off; for the paths that end the process
/// without dropping the [`Unechoed`] that turned it off. Whether the echo was off.
pub(crate) fn restore() -> bool {
    #[cfg(unix)]
    if let Some(saved) = SAVED.lock().unwrap_or_else(PoisonError::into_inner).take() {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            &saved,
        );
        return true;
    }
    false
}

/// [`restore`], for a command ending on Ctrl-C: the line typed at was never ended (an
/// unechoed `^C` leaves the cursor after the prompt), so it is, before the error is said.
pub(crate) fn restore_on_interrupt() {
    if restore() {
        crate::progress::say_inline("\n");
    }
}
