//! Unit tests of `uploads.rs`.
use super::*;

#[test]
fn a_file_name_is_one_path_component_that_names_a_file() {
    for name in [
        "scene.tif",
        "scene one.tif",
        "scene..v2.tif",
        " a",
        ".hidden",
        "...",
        "é.tif",
    ] {
        assert_eq!(file_name_problem(name), None, "{name:?}");
    }
    for (name, problem) in [
        ("", FileNameProblem::Blank),
        (" ", FileNameProblem::Blank),
        ("\t\n", FileNameProblem::Blank),
        ("\u{3000}", FileNameProblem::Blank),
        (".", FileNameProblem::DotName),
        ("..", FileNameProblem::DotName),
        ("../../etc/passwd", FileNameProblem::Separator),
        ("/abs.tif", FileNameProblem::Separator),
        ("a\\b.tif", FileNameProblem::Separator),
        ("a\nb.tif", FileNameProblem::ControlCharacter),
        ("nul\u{0}.tif", FileNameProblem::ControlCharacter),
        ("del\u{7f}.tif", FileNameProblem::ControlCharacter),
        ("csi\u{9b}.tif", FileNameProblem::ControlCharacter),
    ] {
        assert_eq!(file_name_problem(name), Some(problem), "{name:?}");
    }
}

#[test]
fn each_problem_reads_as_the_rule_broken() {
    assert_eq!(
        FileNameProblem::Blank.to_string(),
        "the file name is empty or blank"
    );
    for problem in [
        FileNameProblem::DotName,
        FileNameProblem::Separator,
        FileNameProblem::ControlCharacter,
    ] {
        assert!(
            problem.to_string().starts_with("the file name "),
            "{problem}"
        );
    }
}
