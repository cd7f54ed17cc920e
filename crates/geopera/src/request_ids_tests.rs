//! Unit tests of `request_ids.rs`.
use super::*;
use std::collections::HashSet;

#[test]
fn ids_are_version_4_and_distinct_across_many_refills_and_threads() {
    let per_thread = IDS_PER_FILL * 10 + 3;
    let threads: Vec<_> = (0..4)
        .map(|_| {
            std::thread::spawn(move || {
                (0..per_thread)
                    .map(|_| new_request_id())
                    .collect::<Vec<_>>()
            })
        })
        .collect();
    let mut seen = HashSet::new();
    for thread in threads {
        for id in thread.join().expect("an id thread panicked") {
            assert_eq!(id.get_version_num(), 4, "{id}");
            assert_eq!(id.get_variant(), uuid::Variant::RFC4122, "{id}");
            assert!(seen.insert(id), "{id} was handed out twice");
        }
    }
    assert_eq!(seen.len(), 4 * per_thread);
}

#[test]
fn a_buffer_is_refilled_once_used_up_and_not_before() {
    let mut buffer = Buffer {
        bytes: [0; 16 * IDS_PER_FILL],
        used: 16 * IDS_PER_FILL,
    };
    let first = next_bytes(&mut buffer).expect("the OS has random bytes");
    assert_eq!(buffer.used, 16);
    let filled = buffer.bytes;
    assert_ne!(filled, [0; 16 * IDS_PER_FILL], "the buffer was filled");
    for _ in 1..IDS_PER_FILL {
        next_bytes(&mut buffer).expect("bytes left in the buffer");
    }
    assert_eq!(buffer.bytes, filled, "no refill while bytes were left");
    assert_eq!(first, filled[..16]);
    next_bytes(&mut buffer).expect("a refill");
    assert_ne!(buffer.bytes, filled, "used up, the buffer was filled again");
    assert_eq!(buffer.used, 16);
}
