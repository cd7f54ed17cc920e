//! Unit tests of `failure.rs`.
use super::EXIT_CODES;

/// The README's exit-code table lists the codes the program uses, no more and no fewer.
#[test]
fn the_readme_lists_every_exit_code() {
    let readme = include_str!("../README.md");
    let listed: Vec<u8> = readme
        .lines()
        .filter_map(|line| line.strip_prefix("| "))
        .filter_map(|row| row.split(" |").next())
        .filter_map(|cell| cell.trim().parse().ok())
        .collect();
    let used: Vec<u8> = EXIT_CODES.iter().map(|(code, _)| *code).collect();
    assert_eq!(listed, used, "README.md's exit-code table");
}
