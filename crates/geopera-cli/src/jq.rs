//! `--jq EXPR`: filter the answer with a jq program, run in-process by jaq, so scripts need
//! no `jq` installed and numbers and member order survive (jaq keeps both).
//!
//! The program is compiled once before any request is sent, so a typo is a usage error that
//! costs nothing; it runs on the answer with jq's standard library.

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{RecvTimeoutError, Sender, SyncSender};
use std::sync::{Mutex, OnceLock};

use jaq_core::load::{Arena, File, Loader};
use jaq_core::{data, Compiler, Ctx, Cv, DataT, Exn, ValXs, Vars};
use jaq_json::Val;

use crate::failure::Failure;

type Filter = jaq_core::Filter<Watched>;

/// The stack of the thread a program runs on. jaq evaluates a program by recursion, one
/// level or more per call a program makes, with no bound of its own: `def f: 1 + f; f`
/// would overflow any stack, which aborts the process (it is no panic, and cannot be caught).
/// So programs run on a thread whose stack size is known ([`worker`]), and stop with an error
/// at [`STACK_LIMIT`], well before it is used up.
const STACK_BYTES: usize = 256 * 1024 * 1024;

/// How much of [`STACK_BYTES`] a program may use; the rest is for the steps between two
/// checks (a native filter, printing a result). Only what is used is ever committed.
const STACK_LIMIT: usize = 128 * 1024 * 1024;

/// Why a program was stopped from outside: what unwinds out of [`Watch::lut`].
#[derive(Debug)]
enum Stop {
    /// It recursed past [`STACK_LIMIT`].
    TooDeep,
    /// Ctrl-C was pressed.
    Interrupted,
}

/// The data programs run on: jq values, and a [`Watch`] in place of the bare lookup table.
struct Watched;

impl DataT for Watched {
    type V<'a> = Val;
    type Data<'a> = Watch<'a>;
}

/// The lookup table of the running program, which jaq asks for each time it runs a part of
/// it: the one place an evaluation can be watched, so that is where the recursion is bounded
/// and Ctrl-C heard (a program may run for ever without a result, `last(range(1e12))`).
#[derive(Clone)]
struct Watch<'a> {
    lut: &'a jaq_core::Lut<Watched>,
    /// The stack's address where the program started.
    base: usize,
}

impl<'a> data::HasLut<'a, Watched> for Watch<'a> {
    fn lut(&self) -> &'a jaq_core::Lut<Watched> {
        if stack_address().abs_diff(self.base) > STACK_LIMIT {
            // No error can be returned from here: the evaluation is unwound to `run`, which
            // reports it. `resume_unwind` runs no panic hook, so nothing else is printed.
            std::panic::resume_unwind(Box::new(Stop::TooDeep));
        }
        if crate::INTERRUPTED.load(Ordering::Relaxed) {
            std::panic::resume_unwind(Box::new(Stop::Interrupted));
        }
        self.lut
    }
}

/// An address on the current stack, to measure how deep a program has gone.
#[inline(never)]
fn stack_address() -> usize {
    let marker = 0u8;
    std::ptr::addr_of!(marker) as usize
}

/// The longest program taken, in bytes. jaq's parser recurses once per level of nesting, as
/// its evaluation does, with no bound of its own, so a program nested deep enough (`[[[...`)
/// overflows even [`STACK_BYTES`] while it is compiled, an abort. Programs are compiled on
/// the [`worker`]'s stack, and this bound keeps their nesting within it; a jq program is a
/// few hundred bytes.
const MAX_PROGRAM_BYTES: usize = 16 * 1024;

/// Parses and compiles `expr`, or says why it is not a jq program.
fn compile(expr: &str) -> Result<Filter, Failure> {
    if expr.len() > MAX_PROGRAM_BYTES {
        return Err(Failure::usage(format!(
            "--jq: the program is {} bytes long; at most {MAX_PROGRAM_BYTES} are taken",
            expr.len()
        )));
    }
    let defs = jaq_core::defs()
        .chain(jaq_std::defs())
        .chain(jaq_json::defs());
    // jaq's own `fromjson` gives way to [`fromjson`], which bounds the nesting it reads, its
    // `env` to [`env`], which shows no credential (`$ENV` is left undefined), and the two
    // natives behind `debug`, `stderr` and `halt_error` to ones that write on stderr.
    let replaced = ["fromjson", "env", "debug_empty", "stderr_empty"];
    let funs = jaq_core::funs()
        .chain(jaq_std::funs())
        .chain(jaq_json::funs())
        .filter(|(name, ..)| !replaced.contains(name))
        .chain([
            jaq_core::native::run::<Watched>(("fromjson", jaq_core::native::v(0), fromjson)),
            jaq_core::native::run::<Watched>(("env", jaq_core::native::v(0), env)),
            jaq_core::native::run::<Watched>(("debug_empty", jaq_core::native::v(0), debug)),
            jaq_core::native::run::<Watched>(("stderr_empty", jaq_core::native::v(0), stderr)),
        ]);
    let arena = Arena::default();
    let modules = Loader::new(defs)
        .load(
            &arena,
            File {
                code: expr,
                path: (),
            },
        )
        .map_err(|errors| {
            use jaq_core::load::Error;
            let detail = match errors.first().map(|(_, e)| e) {
                Some(Error::Io(_)) => "cannot load a module".to_owned(),
                Some(Error::Lex(found)) => found.first().map_or_else(
                    || "unbalanced or unexpected token".to_owned(),
                    |(expected, at)| expected_at(expected.as_str(), expr, at),
                ),
                Some(Error::Parse(found)) => found.first().map_or_else(
                    || "syntax error".to_owned(),
                    |(expected, at)| expected_at(expected.as_str(), expr, at),
                ),
                None => "syntax error".to_owned(),
            };
            // The program as one line: written over several, each of its lines would be
            // printed as an `Error:` line of its own.
            Failure::usage(format!(
                "--jq: not a jq program ({detail}): {}",
                crate::paint::inert(expr)
            ))
        })?;
    Compiler::default()
        .with_funs(funs)
        .compile(modules)
        .map_err(|errors| {
            let names: Vec<&str> = errors
                .iter()
                .flat_map(|(_, list)| list.iter().map(|(name, _)| *name))
                .collect();
            Failure::usage(format!(
                "--jq: undefined in the program: {}",
                names.join(", ")
            ))
        })
}

/// "expected `expected` at line L, column C", where `at` is the part of `program` jaq stopped
/// at (one of its slices), counted in characters from 1; without the place when `at` lies
/// outside the program.
fn expected_at(expected: &str, program: &str, at: &str) -> String {
    let offset = (at.as_ptr() as usize)
        .checked_sub(program.as_ptr() as usize)
        .filter(|offset| program.is_char_boundary(*offset));
    let Some(before) = offset.and_then(|offset| program.get(..offset)) else {
        return format!("expected {expected}");
    };
    let line = before.matches('\n').count() + 1;
    let column = before.rsplit('\n').next().unwrap_or(before).chars().count() + 1;
    format!("expected {expected} at line {line}, column {column}")
}

/// jq's `fromjson`, with jaq's parser behind it, which recurses once per level of nesting
/// with no limit of its own: a string of a million `[` (made by a program, or a member of an
/// answer holding JSON text) would overflow the stack, an abort rather than an error, and no
/// check of the program's recursion ([`Watch::lut`]) runs inside a native filter. So the text
/// is measured first, without recursion, and one nested [`crate::json::DEPTH_LIMIT`] levels
/// deep or more is a jq error, which `try` catches like any other. Everything else is read
/// as jaq reads it.
fn fromjson(cv: Cv<'_, Watched>) -> ValXs<'_, Val> {
    let input = cv.1;
    let bytes = match input.try_as_utf8_bytes_owned() {
        Ok(bytes) => bytes,
        Err(error) => return jaq_core::native::bome(Err(error)),
    };
    if crate::json::too_deep(&String::from_utf8_lossy(&bytes)) {
        return jaq_core::native::bome(Err(jaq_json::Error::str(format_args!(
            "cannot parse {} as JSON: it nests arrays and objects {} levels deep or more",
            cut(&input, QUOTE_CHARS),
            crate::json::DEPTH_LIMIT
        ))));
    }
    let results = jaq_json::bytes_valrs(bytes, move |text| {
        Box::new(jaq_json::read::parse_many(text).map(move |result| {
            result.map_err(|e| {
                jaq_json::Error::str(format_args!(
                    "cannot parse {} as JSON: {e}",
                    cut(&input, QUOTE_CHARS)
                ))
            })
        }))
    });
    Box::new(results.map(|result| result.map_err(Exn::from)))
}

/// jq's `env`, with the values of the credentials this program reads replaced (see
/// [`crate::hidden::environment`]): a program is given to filter the answer, and the token in
/// `GEOPERA_API_TOKEN` or a webhook signing secret is no part of it, while `--jq env` or a
/// program copied from elsewhere would print it into a terminal, a CI log or a file. jaq's
/// own `env` also panics on a variable that is not UTF-8, which this one reads as jq does.
fn env(_: Cv<'_, Watched>) -> ValXs<'_, Val> {
    let members = crate::hidden::environment()
        .into_iter()
        .map(|(name, value)| (Val::from(name), Val::from(value)));
    jaq_core::native::bome(<Val as jaq_core::ValT>::from_map(members))
}

/// What `debug` and `debug(msg)` write: `["DEBUG:",<value>]` on a line of stderr, as jq
/// writes it. jaq hands it to the `log` crate, which nothing in this program listens to, so a
/// program's own tracing was dropped without a word.
fn debug(cv: Cv<'_, Watched>) -> ValXs<'_, Val> {
    let shown = compact_or_note(&cv.1);
    show_on_stderr(&format!("[\"DEBUG:\",{shown}]"));
    Box::new(std::iter::empty())
}

/// What `stderr` writes, and so the message of `halt_error`: a string as its text, anything
/// else as compact JSON, as jq writes them. Dropped as [`debug`]'s was, `"no items\n" |
/// halt_error` ended the command with only "the program stopped".
fn stderr(cv: Cv<'_, Watched>) -> ValXs<'_, Val> {
    let text = match <Val as jaq_std::ValT>::as_utf8_bytes(&cv.1) {
        Some(bytes) => String::from_utf8_lossy(bytes).into_owned(),
        None => compact_or_note(&cv.1),
    };
    show_on_stderr(text.strip_suffix('\n').unwrap_or(&text));
    Box::new(std::iter::empty())
}

/// `value` as compact JSON, or a note in its place where it nests too deep to be written
/// without overflowing the stack ([`nests_too_deep`]).
fn compact_or_note(value: &Val) -> String {
    if nests_too_deep(value) {
        return format!(
            "\"(a value nested {} levels deep or more, not shown)\"",
            crate::json::DEPTH_LIMIT
        );
    }
    as_json(value).unwrap_or_else(|| value.clone()).to_string()
}

/// Writes `text` on stderr line by line, each made [`crate::paint::inert`] and without the
/// credentials this process holds, as every line it writes there: the values a program
/// shows come from the server.
fn show_on_stderr(text: &str) {
    for line in text.split('\n') {
        crate::paint::note(line);
    }
}

/// The most characters of a jq error message shown: a message quotes the value it is about,
/// which may be a string of megabytes from the answer, to be printed on one line.
const MESSAGE_CHARS: usize = 300;

/// The most characters of the text [`fromjson`] quotes in its messages, so that a message
/// stays within [`MESSAGE_CHARS`] and keeps the reason after the quote.
const QUOTE_CHARS: usize = 80;

/// `message`, or its first `max` characters, an ellipsis and how long it is. It is written
/// into a [`Cut`] rather than whole into a `String`, so what it quotes is never copied
/// whole, only measured.
fn cut(message: &impl std::fmt::Display, max: usize) -> String {
    let mut cut = Cut {
        kept: String::new(),
        max,
        chars: 0,
    };
    // `Cut` never fails; a `Display` that does leaves what it wrote so far.
    let _ = std::fmt::Write::write_fmt(&mut cut, format_args!("{message}"));
    if cut.chars > max {
        // A credential the cut went through would show its start, which the printing of
        // the message cannot tell for one.
        format!(
            "{}… ({} characters in all)",
            crate::hidden::redacted_cut(&cut.kept),
            cut.chars
        )
    } else {
        cut.kept
    }
}

/// The start of a message written into it, up to `max` characters, and how many characters
/// were written in all.
struct Cut {
    kept: String,
    max: usize,
    chars: usize,
}

impl std::fmt::Write for Cut {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let room = self.max.saturating_sub(self.chars);
        if room > 0 {
            // Cut on a character boundary: the end of the `room`-th character, or all of it.
            let end = s.char_indices().nth(room).map_or(s.len(), |(end, _)| end);
            self.kept.push_str(&s[..end]);
        }
        self.chars += s.chars().count();
        Ok(())
    }
}

thread_local! {
    /// The last program compiled, as `--all` and NDJSON answers run one program on thousands
    /// of documents and compiling it (with jq's standard library) costs milliseconds.
    static COMPILED: RefCell<Option<(String, Rc<Filter>)>> = const { RefCell::new(None) };
}

/// `expr` compiled, from [`COMPILED`] when it was the last one.
fn compiled(expr: &str) -> Result<Rc<Filter>, Failure> {
    let cached = COMPILED.with_borrow(|last| {
        last.as_ref()
            .filter(|(source, _)| source == expr)
            .map(|(_, filter)| Rc::clone(filter))
    });
    if let Some(filter) = cached {
        return Ok(filter);
    }
    let filter = Rc::new(compile(expr)?);
    COMPILED.set(Some((expr.to_owned(), Rc::clone(&filter))));
    Ok(filter)
}

/// Checks `expr` compiles, before anything is sent: on the [`worker`], whose stack a deeply
/// nested program's compiling needs, and which keeps it compiled for the answer.
pub(crate) fn check(expr: &str) -> Result<(), Failure> {
    let (sender, results) = std::sync::mpsc::sync_channel(1);
    let job = Job {
        expr: expr.to_owned(),
        text: None,
        results: sender,
    };
    worker()?
        .send(job)
        .map_err(|_| Failure::other("--jq: the program's thread has ended"))?;
    match results.recv() {
        Ok(Err(failure)) => Err(failure),
        // Closed with nothing said: it compiled.
        Ok(Ok(_)) | Err(_) => Ok(()),
    }
}

/// How many results a program may run ahead of their printing: enough to keep both threads
/// busy, few enough that a program with endless results (`repeat`) does not fill memory.
const RESULTS_AHEAD: usize = 64;

/// One program to run on one document, for the [`worker`]; each result, or the failure that
/// ends it, goes back through `results`, whose closing says the program is done. Without a
/// document, the program is only compiled ([`check`]).
struct Job {
    expr: String,
    text: Option<String>,
    results: SyncSender<Result<String, Failure>>,
}

/// The thread every program runs on, started with the first: one thread of a known stack
/// ([`STACK_BYTES`]) for the whole command, since `--all` and NDJSON answers run a program on
/// thousands of documents and starting a thread with such a stack for each costs more than
/// most programs do. It keeps the compiled program ([`COMPILED`]) between documents too.
fn worker() -> Result<Sender<Job>, Failure> {
    static WORKER: OnceLock<Result<Mutex<Sender<Job>>, String>> = OnceLock::new();
    let started = WORKER.get_or_init(|| {
        let (jobs, queue) = std::sync::mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("jq".to_owned())
            .stack_size(STACK_BYTES)
            .spawn(move || {
                for job in queue {
                    evaluate(job);
                }
            })
            .map(|_| Mutex::new(jobs))
            .map_err(|e| e.to_string())
    });
    match started {
        Ok(jobs) => Ok(jobs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()),
        Err(why) => Err(Failure::other(format!(
            "--jq: cannot start the program: {why}"
        ))),
    }
}

/// Runs one job on the worker's thread, sending each result as it is made; a closed result
/// channel (the caller stopped reading: stdout closed) stops the program.
fn evaluate(job: Job) {
    let Job {
        expr,
        text,
        results,
    } = job;
    let run = || -> Result<(), Failure> {
        let filter = compiled(&expr)?;
        let Some(text) = text else {
            return Ok(());
        };
        let input = jaq_json::read::parse_single(text.as_bytes())
            .map_err(|e| Failure::other(format!("--jq: the answer is not JSON: {e}")))?;
        let watch = Watch {
            lut: &filter.lut,
            base: stack_address(),
        };
        let ctx = Ctx::<Watched>::new(watch, Vars::new([]));
        for result in filter.id.run((ctx, input)) {
            match result {
                Ok(value) if nests_too_deep(&value) => {
                    drop_flat(value);
                    return Err(Failure::other(format!(
                        "--jq: a result of the program nests arrays and objects {} levels \
                         deep or more, which is not printed",
                        crate::json::DEPTH_LIMIT
                    )));
                }
                Ok(value) => {
                    let value = as_json(&value).unwrap_or(value);
                    if results.send(Ok(value.to_string())).is_err() {
                        return Ok(());
                    }
                }
                Err(exn) => {
                    let message = match exn.get_err().map_err(|exn| exn.get_halt()) {
                        Ok(error) => cut(&error, MESSAGE_CHARS),
                        // `halt`: a program's way to stop with success, as jq exits 0.
                        Err(Ok(0)) => return Err(Failure::halted()),
                        // `halt_error` (5) and `halt(n)`: what it said is on stderr, and
                        // the command fails with its own status, as for any other failure.
                        Err(Ok(code)) => format!("the program stopped with exit code {code}"),
                        Err(Err(_)) => "the program stopped (break)".to_owned(),
                    };
                    return Err(Failure::other(format!("--jq: {message}")));
                }
            }
        }
        Ok(())
    };
    // Caught so that the thread lives on for the next document, and the caller hears why
    // this one ended rather than that the channel closed, which means success.
    let failure = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(run)) {
        Ok(Ok(())) => return,
        Ok(Err(failure)) => failure,
        Err(payload) => match payload.downcast::<Stop>() {
            Ok(stop) => match *stop {
                Stop::TooDeep => Failure::other(
                    "--jq: the program recursed too deep (a recursive function without an end?)",
                ),
                Stop::Interrupted => Failure::interrupted(),
            },
            // A panic of jaq's own, whose message the panic hook has printed.
            Err(_) => Failure::other("--jq: the program failed"),
        },
    };
    let _ = results.send(Err(failure));
}

/// Whether `value` nests arrays and objects [`crate::json::DEPTH_LIMIT`] levels deep or more,
/// as an answer that is not printed does. A program builds such a value without recursing
/// (`reduce range(200000) as $i (null; [.])`), so the bound on its recursion never meets it,
/// and jaq writes a value out by recursion, once per level: written, it would overflow the
/// stack, an abort rather than an error. So it is measured here without recursion, and no
/// deeper than the limit.
fn nests_too_deep(value: &Val) -> bool {
    let nests = |v: &&Val| matches!(v, Val::Arr(_) | Val::Obj(_));
    let mut pending = vec![(value, 1usize)];
    while let Some((value, depth)) = pending.pop() {
        match value {
            Val::Arr(_) | Val::Obj(_) if depth >= crate::json::DEPTH_LIMIT => return true,
            Val::Arr(items) => pending.extend(items.iter().filter(nests).map(|v| (v, depth + 1))),
            Val::Obj(members) => pending.extend(
                members
                    .iter()
                    .flat_map(|(k, v)| [k, v])
                    .filter(nests)
                    .map(|v| (v, depth + 1)),
            ),
            _ => {}
        }
    }
    false
}

/// `value` with the numbers JSON has no spelling for written as jq writes them: NaN as
/// `null`, infinities as the largest finite numbers of their sign. jaq writes them `NaN` and
/// `Infinity`, which no JSON reader takes, so a script moved from jq would break on them.
/// `None` when there is nothing to change, which is nearly always, so nothing is copied then.
/// Recursive: it only sees values that [`nests_too_deep`] has let through.
fn as_json(value: &Val) -> Option<Val> {
    match value {
        Val::Num(jaq_json::Num::Float(x)) if x.is_nan() => Some(Val::Null),
        Val::Num(jaq_json::Num::Float(x)) if x.is_infinite() => {
            Some(Val::Num(jaq_json::Num::Float(f64::MAX.copysign(*x))))
        }
        Val::Arr(items) => {
            // Copied at the first member that changes, each member looked at once.
            let mut changed: Option<Vec<Val>> = None;
            for (at, item) in items.iter().enumerate() {
                if let Some(written) = as_json(item) {
                    let copy = changed.get_or_insert_with(|| items.as_ref().clone());
                    copy[at] = written;
                }
            }
            changed.map(|items| Val::Arr(items.into()))
        }
        Val::Obj(members) => {
            let mut changed: Option<jaq_json::Map> = None;
            for (at, member) in members.values().enumerate() {
                if let Some(written) = as_json(member) {
                    let copy = changed.get_or_insert_with(|| members.as_ref().clone());
                    if let Some((_, slot)) = copy.get_index_mut(at) {
                        *slot = written;
                    }
                }
            }
            changed.map(|members| Val::Obj(jaq_json::Rc::new(members)))
        }
        _ => None,
    }
}

/// Drops `value` a level at a time: dropped whole, a value nested [`nests_too_deep`] would be
/// dropped by recursion, once per level, which a deep enough one overflows the stack with.
/// Parts that the program still holds elsewhere are left to it.
fn drop_flat(value: Val) {
    let mut pending = vec![value];
    while let Some(value) = pending.pop() {
        match value {
            Val::Arr(items) => {
                if let Ok(items) = jaq_json::Rc::try_unwrap(items) {
                    pending.extend(items);
                }
            }
            Val::Obj(members) => {
                if let Ok(members) = jaq_json::Rc::try_unwrap(members) {
                    pending.extend(members.into_iter().flat_map(|(k, v)| [k, v]));
                }
            }
            _ => {}
        }
    }
}

/// Runs `expr` on the JSON document `text` and hands each result, as compact JSON, to `each`
/// as soon as it is made: a program with endless results (`repeat`) streams them rather
/// than filling memory, results before an error are printed, and an error from `each` (a
/// closed stdout) stops the program.
pub(crate) fn run(
    expr: &str,
    text: &str,
    mut each: impl FnMut(String) -> Result<(), Failure>,
) -> Result<(), Failure> {
    // jaq's parser recurses once per level, with no limit of its own: a deep answer would
    // overflow the stack (an abort, not an error).
    if crate::json::too_deep(text) {
        return Err(Failure::other(format!(
            "--jq: the answer nests arrays and objects {} levels deep or more, which is not read",
            crate::json::DEPTH_LIMIT
        )));
    }
    let (sender, results) = std::sync::mpsc::sync_channel(RESULTS_AHEAD);
    let job = Job {
        expr: expr.to_owned(),
        text: Some(crate::json::lone_surrogates_replaced(text).into_owned()),
        results: sender,
    };
    worker()?
        .send(job)
        .map_err(|_| Failure::other("--jq: the program's thread has ended"))?;
    loop {
        // A native filter can run for ever without asking for the lookup table
        // (`last(range(1e12))`), so the wait also watches for Ctrl-C, and leaves on it.
        match results.recv_timeout(std::time::Duration::from_millis(50)) {
            Ok(Ok(line)) => each(line)?,
            Ok(Err(failure)) => return Err(failure),
            Err(RecvTimeoutError::Timeout) => {
                if crate::INTERRUPTED.load(Ordering::SeqCst) {
                    crate::exit_interrupted();
                }
            }
            Err(RecvTimeoutError::Disconnected) => return Ok(()),
        }
    }
}

#[cfg(test)]
#[path = "jq_tests.rs"]
mod tests;
