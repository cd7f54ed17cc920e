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
