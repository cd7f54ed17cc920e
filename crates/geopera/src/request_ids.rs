//! Request ids: a UUID v4 for every logical call, without a system call for each.
//!
//! `Uuid::new_v4` asks the operating system for 16 bytes every time, one `getrandom` system
//! call per call; at 64 calls in flight that was one system call in three the async client
//! made (with `recvfrom` and `writev`). Here each thread keeps a buffer the OS fills with
//! [`IDS_PER_FILL`] ids' worth of bytes at once, and ids are cut from it, so every id is still
//! 122 bits from the OS's generator. uuid's own `fast-rng` feature would bring in `rand` and
//! its generator crates for the same job.
//!
//! Only request ids come from here. A process forked without `exec` copies its parent's
//! buffer and would repeat the parent's next ids: harmless for an id that names a call in logs,
//! not for an `Idempotency-Key`, which decides whether the API runs a call again, so those keep
//! asking the OS every time.

use std::cell::RefCell;

/// How many ids one fill of a thread's buffer yields.
const IDS_PER_FILL: usize = 32;

/// A thread's random bytes and how many of them are handed out already.
struct Buffer {
    bytes: [u8; 16 * IDS_PER_FILL],
    used: usize,
}

thread_local! {
    static BUFFER: RefCell<Buffer> = const {
        RefCell::new(Buffer {
            bytes: [0; 16 * IDS_PER_FILL],
            used: 16 * IDS_PER_FILL,
        })
    };
}

/// A fresh random (version 4) UUID for a call.
///
/// Falls back to asking the OS for this one id when the buffer cannot be used: while the
/// thread is being torn down, or when a fill fails.
pub(crate) fn new_request_id() -> uuid::Uuid {
    let bytes = BUFFER
        .try_with(|buffer| next_bytes(&mut buffer.borrow_mut()))
        .ok()
        .flatten();
    match bytes {
        Some(bytes) => uuid::Builder::from_random_bytes(bytes).into_uuid(),
        None => uuid::Uuid::new_v4(),
    }
}

/// The next 16 unused bytes of `buffer`, refilling it from the OS when all are used.
fn next_bytes(buffer: &mut Buffer) -> Option<[u8; 16]> {
    if buffer.used == buffer.bytes.len() {
        getrandom::fill(&mut buffer.bytes).ok()?;
        buffer.used = 0;
    }
    let mut id = [0; 16];
    id.copy_from_slice(buffer.bytes.get(buffer.used..buffer.used + 16)?);
    buffer.used += 16;
    Some(id)
}

#[cfg(test)]
#[path = "request_ids_tests.rs"]
mod tests;
