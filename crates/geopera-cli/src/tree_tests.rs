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
    assert_eq!(size_text(MAX_BODY_INPUT_BYTES), "16 MiB");
    assert_eq!(size_text(64 * 1024), "64 KiB");
    assert_eq!(size_text(1024 * 1024 + 1), "1048577 bytes");
    assert_eq!(size_text(500), "500 bytes");
}

#[test]
fn every_option_of_a_leaf_but_its_body_fields_is_reserved() {
    let tree = build();
    let mut root = crate::cli(tree.commands);
    // Defines the global options on every command, as running the program does.
    root.build();
    let mut pending: Vec<(Vec<String>, &Command)> = vec![(Vec::new(), &root)];
    let mut leaves = 0;
    while let Some((path, command)) = pending.pop() {
        for sub in command.get_subcommands() {
            let mut path = path.clone();
            path.push(sub.get_name().to_owned());
            pending.push((path, sub));
        }
        if !tree.leaves.contains_key(&path) {
            continue;
        }
        leaves += 1;
        for arg in command.get_arguments() {
            let id = arg.get_id().as_str();
            let Some(long) = arg.get_long() else {
                continue;
            };
            if id.starts_with(FIELD) || id.starts_with(FIELD_NO) {
                continue;
            }
            let field = Field {
                name: long.to_owned().leak(),
                required: false,
                shape: Shape::Boolean,
            };
            assert_eq!(
                long_name(&field),
                format!("body-{long}"),
                "--{long} of {}",
                command.get_name()
            );
        }
    }
    assert_eq!(leaves, tree.leaves.len());
}
