//! Which records changed since the state file last wrote them.
//!
//! The state file writes what grows with use (resources, idempotency claims, orders, keys,
//! organizations, sessions and their access tokens, waiting webhook deliveries) by the rows
//! that changed rather than whole, so each of those stores notes the keys it creates, hands
//! out to be changed, or removes. Only an emulator with a state file keeps them: without one
//! nothing would ever take them, and the set would grow for as long as the emulator runs.

use std::borrow::Borrow;
use std::collections::hash_map::Entry;
use std::collections::{HashMap, HashSet};
use std::hash::Hash;
use std::ops::Deref;

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
}

/// A map of records the state file writes by the rows that changed.
///
/// Reads go through `Deref` to the map; every way of changing it is a method here that notes
/// the key, so no change can reach the map without reaching the file too.
#[derive(Debug)]
pub(crate) struct Tracked<K, V> {
    map: HashMap<K, V>,
    pub(crate) changes: Changes<K>,
}

impl<K, V> Default for Tracked<K, V> {
    fn default() -> Self {
        Tracked {
            map: HashMap::new(),
            changes: Changes::default(),
        }
    }
}

impl<K, V> Deref for Tracked<K, V> {
    type Target = HashMap<K, V>;

    fn deref(&self) -> &HashMap<K, V> {
        &self.map
    }
}

impl<K: Eq + Hash + Clone, V> Tracked<K, V> {
    /// The records read back from a state file, which already holds every one of them.
    pub(crate) fn restored(map: HashMap<K, V>) -> Self {
        Tracked {
            map,
            changes: Changes::tracked(),
        }
    }

    /// The record under `key`, to be changed.
    pub(crate) fn get_mut<Q>(&mut self, key: &Q) -> Option<&mut V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let record = self.map.get_mut(key)?;
        self.changes.mark(key);
        Some(record)
    }

    /// Adds or replaces the record under `key`.
    pub(crate) fn insert(&mut self, key: K, record: V) -> Option<V> {
        self.changes.mark(&key);
        self.map.insert(key, record)
    }

    /// Removes the record under `key`.
    pub(crate) fn remove<Q>(&mut self, key: &Q) -> Option<V>
    where
        K: Borrow<Q>,
        Q: Hash + Eq + ToOwned<Owned = K> + ?Sized,
    {
        let record = self.map.remove(key)?;
        self.changes.mark(key);
        Some(record)
    }

    /// Keeps the records `keep` says to keep, noting the keys of those it drops.
    pub(crate) fn retain(&mut self, mut keep: impl FnMut(&K, &V) -> bool) {
        let changes = &mut self.changes;
        self.map.retain(|key, record| {
            let kept = keep(key, record);
            if !kept {
                changes.mark(key);
            }
            kept
        });
    }

    /// The record under `key`, to be changed, added by `make` when there is none.
    pub(crate) fn get_mut_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &mut V {
        self.changes.mark(&key);
        self.map.entry(key).or_insert_with(make)
    }

    /// The record under `key`, to be read, added by `make` (and noted) when there is none.
    pub(crate) fn get_or_insert_with(&mut self, key: K, make: impl FnOnce() -> V) -> &V {
        match self.map.entry(key) {
            Entry::Occupied(found) => found.into_mut(),
            Entry::Vacant(missing) => {
                self.changes.mark(missing.key());
                missing.insert(make())
            }
        }
    }
}
