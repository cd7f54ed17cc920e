//! Telling a walk that goes in circles from a long one, in bounded memory.

use std::collections::HashSet;
use std::fmt;
use std::hash::{BuildHasher, RandomState};

/// How many cursors a trail remembers exactly: a repeat among them is caught at once. About
/// 2 MiB of fingerprints at most.
const EXACT_CURSORS: usize = 65_536;

/// The cursors a page walk has followed, to stop a walk whose server sends it in circles.
///
/// A server that answers page after page with cursors it has given before would keep a walk
/// going for ever; one whose cursors never repeat would make a list of every cursor grow for
/// ever. A trail does neither: it keeps a 128-bit fingerprint (keyed afresh for every trail,
/// so a server cannot choose cursors that collide) of the first 65,536 cursors, and beyond
/// those finds a cycle with Brent's method, which compares each cursor with one remembered
/// at doubling distances. A cycle among the remembered cursors is caught at its first
/// repeat; one beyond them within twice its length.
///
/// The SDK's page streams use one per walk; it is public for code that walks pages by hand.
///
/// ```
/// let mut trail = geopera::CursorTrail::new();
/// assert!(trail.first_visit("c1"));
/// assert!(trail.first_visit("c2"));
/// assert!(!trail.first_visit("c1"), "the server went back to an earlier page");
/// ```
pub struct CursorTrail {
    keys: (RandomState, RandomState),
    exact: HashSet<u128>,
    beyond: Option<Brent>,
}

/// Brent's cycle search over the cursors past the exactly remembered ones.
struct Brent {
    /// The fingerprint every later cursor is compared with.
    saved: u128,
    /// Cursors seen since `saved` was taken.
    since: u64,
    /// How many cursors pass before the next one is saved; doubles each time.
    window: u64,
}

impl CursorTrail {
    /// A trail that has followed no cursor yet.
    pub fn new() -> Self {
        CursorTrail {
            keys: (RandomState::new(), RandomState::new()),
            exact: HashSet::new(),
            beyond: None,
        }
    }

    /// Records `cursor` and tells whether the walk is seeing it for the first time; `false`
    /// means the server has sent the walk in a circle, and it should stop.
    pub fn first_visit(&mut self, cursor: &str) -> bool {
        let print = self.fingerprint(cursor);
        if self.exact.contains(&print) {
            return false;
        }
        if self.exact.len() < EXACT_CURSORS {
            self.exact.insert(print);
            return true;
        }
        let Some(brent) = &mut self.beyond else {
            self.beyond = Some(Brent {
                saved: print,
                since: 0,
                window: 1,
            });
            return true;
        };
        if brent.saved == print {
            return false;
        }
        brent.since += 1;
        if brent.since == brent.window {
            brent.saved = print;
            brent.since = 0;
            brent.window = brent.window.saturating_mul(2);
        }
        true
    }

    fn fingerprint(&self, cursor: &str) -> u128 {
        let high = self.keys.0.hash_one(cursor);
        let low = self.keys.1.hash_one(cursor);
        (u128::from(high) << 64) | u128::from(low)
    }
}

impl Default for CursorTrail {
    fn default() -> Self {
        CursorTrail::new()
    }
}

impl fmt::Debug for CursorTrail {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CursorTrail")
            .field("remembered", &self.exact.len())
            .field("searching_beyond", &self.beyond.is_some())
            .finish()
    }
}

#[cfg(test)]
#[path = "cursors_tests.rs"]
mod tests;
