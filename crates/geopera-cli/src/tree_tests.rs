//! Unit tests of `tree.rs`.
use super::*;

#[test]
fn the_tree_leaves_out_admin_operations_and_keeps_the_rest() {
    let tree = build();
    let admin = geopera_types::operations::ALL
        .iter()
        .filter(|i| !in_tree(i))
        .count();
    assert_eq!(admin, 25);
    assert_eq!(
        tree.leaves.len(),
        geopera_types::operations::ALL.len() - admin
    );
    let mut root = Command::new("t").subcommands(tree.commands);
    root.build();
}

#[test]
fn a_field_named_like_a_global_option_gets_a_body_prefix() {
    let field = Field {
        name: "profile",
        required: false,
        shape: Shape::Boolean,
    };
    assert_eq!(long_name(&field), "body-profile");
}

#[test]
fn reads_stop_one_byte_past_the_cap() {
    let read = |input: &[u8], limit| read_at_most(input, limit).expect("a slice reads");
    assert_eq!(read(b"", 0), Some(Vec::new()));
    assert_eq!(read(b"abc", 3), Some(b"abc".to_vec()));
    assert_eq!(read(b"abcd", 3), None);
    // Endless input ends at the cap.
    assert_eq!(
        read_at_most(std::io::repeat(b'y'), 1024).expect("reads"),
        None
    );
}

#[test]
fn sizes_read_as_people_write_them() {
    assert_eq!(size_text(MAX_BODY_INPUT_BYTES), "64 MiB");
    assert_eq!(size_text(64 * 1024), "64 KiB");
    assert_eq!(size_text(1024 * 1024 + 1), "1048577 bytes");
    assert_eq!(size_text(500), "500 bytes");
}
