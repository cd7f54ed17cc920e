//! Which records changed since the state file last wrote them.
//!
//! The state file writes what grows with use (resources, idempotency claims) by the rows that
//! changed rather than whole, so each of those stores notes the keys it creates, hands out to
//! be changed, or removes. Only an emulator with a state file keeps them: without one nothing
//! would ever take them, and the set would grow for as long as the emulator runs.

use std::collections::HashSet;
use std::hash::Hash;

/// The keys changed since the last write that succeeded; `None` when there is no state file.
#[derive(Debug)]
pub(crate) struct Changes<K>(Option<HashSet<K>>);

impl<K> Default for Changes<K> {
    fn default() -> Self {
        Changes(None)
    }
}

impl<K: Eq + Hash + Clone> Changes<K> {
    /// Keeping changes from the start: for a store read back from a state file.
    pub(crate) fn tracked() -> Self {
        Changes(Some(HashSet::new()))
    }

    /// Keeps changes from now on.
    pub(crate) fn track(&mut self) {
        self.0.get_or_insert_with(HashSet::new);
    }

    /// Notes that the record under `key` changed (or is gone).
    pub(crate) fn mark<Q: ?Sized + ToOwned<Owned = K>>(&mut self, key: &Q) {
        if let Some(changed) = &mut self.0 {
            changed.insert(key.to_owned());
        }
    }

    /// The keys changed so far, forgetting them: the caller writes them.
    pub(crate) fn take(&mut self) -> HashSet<K> {
        self.0.as_mut().map(std::mem::take).unwrap_or_default()
    }

    /// Puts back keys [`take`](Self::take) gave when writing them failed, so the next write
    /// tries again.
    pub(crate) fn keep(&mut self, keys: HashSet<K>) {
        if let Some(changed) = &mut self.0 {
            changed.extend(keys);
        }
    }
}
