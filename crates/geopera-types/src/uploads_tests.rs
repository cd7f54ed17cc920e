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

/// A byte count written in another form than an integer (`11.0`, `"5"`) is read as the number
/// it is, and one that is no number is `None`, kept in `extra` as it came: the answer, and the
/// id of the upload whose space it reserved, is not lost over a count's form.
#[test]
fn byte_counts_in_another_form_are_read_and_the_answer_kept() {
    let upload: UploadOutput = serde_json::from_value(serde_json::json!({
        "id": "u_1",
        "total_bytes": 11.0,
        "bytes_uploaded": " 5",
        "bytes_received": "many",
        "files": [{"file_name": "a.tif", "size": 1e3}],
    }))
    .expect("an upload");
    assert_eq!(upload.id, "u_1");
    assert_eq!(upload.total_bytes, Some(11));
    assert_eq!(upload.bytes_uploaded, Some(5));
    assert_eq!(upload.bytes_received, None);
    assert_eq!(upload.extra["bytes_received"], "many");
    let files = upload.files.clone().expect("files");
    assert_eq!(files[0].size, Some(1000));
    // Written back, the count that did not read goes out as it came.
    let written = serde_json::to_value(&upload).expect("JSON");
    assert_eq!(written["bytes_received"], "many");
    assert_eq!(written["total_bytes"], 11);
    // Out of range, negative or fractional, a count is not one.
    for odd in [
        serde_json::json!(-1),
        serde_json::json!(2.5),
        serde_json::json!(1e300),
    ] {
        let read: UploadOutput =
            serde_json::from_value(serde_json::json!({"id": "u_2", "total_bytes": odd}))
                .expect("an upload");
        assert_eq!(read.total_bytes, None, "{odd}");
        assert_eq!(read.extra["total_bytes"], odd);
    }
}
