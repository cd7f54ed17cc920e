//! Unit tests of `jq.rs`.
use super::*;

fn collect(expr: &str, text: &str) -> Result<Vec<String>, Failure> {
    let mut out = Vec::new();
    run(expr, text, |result| {
        out.push(result);
        Ok(())
    })?;
    Ok(out)
}

#[test]
fn a_program_selects_and_keeps_numbers_and_order() {
    let out = collect(
        "[.features[] | {id, n: .n}]",
        r#"{"features":[{"n":12345678901234567890,"id":"a"},{"id":"b","n":1.50}]}"#,
    )
    .expect("runs");
    assert_eq!(out.len(), 1);
    assert!(out[0].contains("12345678901234567890"), "{}", out[0]);
    assert!(collect(".x |", "{}").is_err());
    assert!(check("nosuchfunction(1)").is_err());
    assert!(check(".features | map(.id) | length").is_ok());
}

#[test]
fn endless_results_stream_until_the_reader_stops() {
    let mut seen = 0;
    let stopped = run("repeat(1)", "{}", |_| {
        seen += 1;
        if seen == 1000 {
            Err(Failure::stdout_closed())
        } else {
            Ok(())
        }
    });
    assert_eq!(stopped.map_err(|f| f.code), Err(0));
    assert_eq!(seen, 1000);
}

#[test]
fn results_before_an_error_are_handed_over() {
    let mut seen = Vec::new();
    let result = run(r#"1, 2, error("late")"#, "{}", |r| {
        seen.push(r);
        Ok(())
    });
    assert_eq!(seen, ["1", "2"]);
    let failure = result.expect_err("the error stops it");
    assert!(failure.message.contains("late"), "{}", failure.message);
}

#[test]
fn an_answer_nested_too_deep_is_an_error_not_a_stack_overflow() {
    let deep = format!("{}{}", "[".repeat(100_000), "]".repeat(100_000));
    let failure = collect(".", &deep).expect_err("refused");
    assert_eq!(failure.code, 1);
    assert!(
        failure.message.contains("levels deep"),
        "{}",
        failure.message
    );
    let limit = crate::json::DEPTH_LIMIT - 1;
    let deepest = format!("{}{}", "[".repeat(limit), "]".repeat(limit));
    assert_eq!(
        collect("[paths] | length", &deepest).expect("read"),
        ["126"]
    );
}

#[test]
fn fromjson_of_text_nested_too_deep_is_a_jq_error_not_a_stack_overflow() {
    // jaq's parser recursed once per `[`: the process aborted.
    let failure = collect(r#""[" * 1000000 | fromjson"#, "{}").expect_err("refused");
    assert_eq!(failure.code, 1);
    assert!(
        failure
            .message
            .contains("as JSON: it nests arrays and objects 128 levels deep"),
        "{}",
        failure.message
    );
    // A jq error like any other, so `try` catches it; the answer's own text is read too.
    assert_eq!(
        collect(
            r#"try (.x | fromjson) catch "refused""#,
            &format!(r#"{{"x":"{}"}}"#, "{\\\"a\\\":".repeat(200_000))
        )
        .expect("caught"),
        [r#""refused""#]
    );
    // Up to the limit, and everything else, reads as before.
    let limit = crate::json::DEPTH_LIMIT - 1;
    assert_eq!(
        collect(
            &format!(
                r#""{}{}" | fromjson | [paths] | length"#,
                "[".repeat(limit),
                "]".repeat(limit)
            ),
            "{}"
        )
        .expect("read"),
        ["126"]
    );
    assert_eq!(
        collect(r#""1 [2] {\"a\": 3.50}" | fromjson"#, "{}").expect("read"),
        ["1", "[2]", r#"{"a":3.50}"#]
    );
    assert_eq!(collect(r#""12" | tonumber"#, "{}").expect("read"), ["12"]);
    let failure = collect(r#""[1," | fromjson"#, "{}").expect_err("not JSON");
    assert!(
        failure.message.contains(r#"cannot parse \"[1,\" as JSON"#),
        "{}",
        failure.message
    );
    let failure = collect("1 | fromjson", "{}").expect_err("not a string");
    assert!(
        failure.message.contains("cannot use 1 as string"),
        "{}",
        failure.message
    );
}

#[test]
fn an_error_message_quoting_a_huge_value_is_cut_and_names_its_length() {
    for (program, length) in [
        // The program's own message, a type error and fromjson's quote of its input.
        (r#"("x" * 1000000) | error"#, "1000002"),
        (r#"("x" * 1000000) | .[0]"#, "1000022"),
        (r#"("x" * 1000000) | fromjson"#, "1000002"),
    ] {
        let failure = collect(program, "{}").expect_err("fails");
        let message = failure.message;
        assert!(
            message.chars().count() < MESSAGE_CHARS + 80,
            "{program}: {message}"
        );
        assert!(
            message.contains(&format!("… ({length} characters in all)")),
            "{program}: {message}"
        );
    }
    // Cut between characters, never inside one; a short message is whole.
    let failure = collect(r#"("é" * 1000) | error"#, "{}").expect_err("fails");
    let kept = format!("--jq: \"{}…", "é".repeat(MESSAGE_CHARS - 1));
    assert_eq!(failure.message, format!("{kept} (1002 characters in all)"));
    let failure = collect(r#"error("short")"#, "{}").expect_err("fails");
    assert_eq!(failure.message, r#"--jq: "short""#);
}

#[test]
fn a_message_is_cut_across_the_pieces_it_is_written_in() {
    struct Pieces;
    impl std::fmt::Display for Pieces {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("ab")?;
            f.write_str("€d")?;
            f.write_str("ef")
        }
    }
    assert_eq!(cut(&Pieces, 3), "ab€… (6 characters in all)");
    assert_eq!(cut(&Pieces, 6), "ab€def");
    assert_eq!(cut(&"", 0), "");
}

#[test]
fn a_program_that_does_not_parse_is_one_line_saying_where() {
    let cases = [
        (".x |", "expected term at line 1, column 5"),
        (
            ".a\n| .b\n| (.c",
            "expected closing parenthesis at line 3, column 6",
        ),
        ("{a: 1", "at line 1, column"),
    ];
    for (program, said) in cases {
        let failure = check(program).expect_err("not a program");
        let message = failure.message;
        assert!(!message.contains('\n'), "{message:?}");
        assert!(message.contains(said), "{program:?}: {message}");
    }
}

/// A program nested as deep as its length allows is compiled and run to an answer or an
/// error, never a stack overflow (an abort): `check` compiled on the main thread's stack,
/// which `[` twenty thousand times overflowed.
#[test]
fn a_program_nested_as_deep_as_it_may_be_is_no_stack_overflow() {
    let most = MAX_PROGRAM_BYTES;
    let nested = |open: &str, middle: &str, close: &str| {
        let levels = (most - middle.len()) / (open.len() + close.len());
        format!("{}{middle}{}", open.repeat(levels), close.repeat(levels))
    };
    let programs = [
        format!("{}1", "-".repeat(most - 1)),
        nested("[", "1", "]"),
        nested("(", "1", ")"),
        nested("-(", "1", ")"),
        nested("{a:", "1", "}"),
        nested("[-", "1", "]"),
        nested("if . then ", "1", " else 0 end"),
        nested("try ", "1", ""),
        nested("1 as $x | ", "1", ""),
        format!("{}1", "1|".repeat((most - 1) / 2)),
        format!("{}1", "1+".repeat((most - 1) / 2)),
        format!("{}1", "1,".repeat((most - 1) / 2)),
    ];
    for program in programs {
        assert!(program.len() <= most, "{}", program.len());
        let start = &program[..20];
        // Compiled, or refused with a reason; then run, or stopped with a reason.
        if check(&program).is_ok() {
            let _ = collect(&program, "{}");
        }
        // Still able to run another program afterwards: the worker lives.
        assert_eq!(
            collect(".a", r#"{"a":1}"#)
                .map_err(|f| f.message)
                .as_deref(),
            Ok(&["1".to_owned()][..]),
            "{start}"
        );
    }
    let long = " ".repeat(most + 1);
    let refused = check(&long).expect_err("longer than the bound");
    assert_eq!(refused.code, 2);
    assert!(
        refused.message.contains(&format!("at most {most}")),
        "{}",
        refused.message
    );
}
