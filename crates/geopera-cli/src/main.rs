//! `geopera`: every operation of the Geopera API from the command line.
//!
//! The command tree is built from the SDK's operation descriptors when the program starts:
//! the operation `orders.tasking.templates.save` is `geopera orders tasking templates save`,
//! its scalar body fields are flags named as on the wire (`--splitByDate`), booleans take
//! `--x` / `--no-x`, arrays of scalars repeat the flag, and anything else goes through
//! `--json '<object>' | @file | -` (flags override its members). `geopera op <id> [JSON]`
//! calls any operation, administrative ones included.
//!
//! Commands, flags, environment variables and the credentials file
//! (`~/.config/geopera/credentials.json`) follow the official Python CLI, so scripts and
//! logins carry over; what it gets wrong (exit codes, unchecked flags, global options only
//! after the subcommand, a hidden `profile` body field) is fixed here.
//!
//! # Exit codes
//!
//! One list, `failure::EXIT_CODES`: `--help` prints it, and the README's table (with what
//! each code covers) is checked against it.

mod account;
mod auth;
mod call;
mod failure;
mod files;
mod hidden;
mod jq;
mod json;
mod notice;
mod ordered;
mod pages;
mod paint;
mod progress;
mod store;
mod table;
mod tree;
mod unechoed;
mod upload;
mod waiting;
mod webhook;
mod yaml;

use std::ffi::OsString;
use std::future::Future as _;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use clap::{value_parser, Arg, ArgAction, ArgMatches, Command};

use crate::call::{Output, Settings};
use crate::failure::{Failure, Outcome, EXIT_API_OR_USAGE, EXIT_CODES, EXIT_OTHER};

/// What `--help` ends with: the exit codes, the environment and where credentials live.
fn after_help() -> String {
    let mut text = String::from("Exit codes:\n");
    for (code, meaning) in EXIT_CODES {
        text.push_str(&format!("  {code:<4} {meaning}\n"));
    }
    text.push_str(
        "\nEnvironment: GEOPERA_PROFILE, GEOPERA_API_URL, GEOPERA_API_TOKEN (wins over stored\n\
         credentials and is never written). Credentials: ~/.config/geopera/credentials.json",
    );
    text
}

/// The options every command accepts, before or after the subcommand.
fn global_args() -> Vec<Arg> {
    vec![
        Arg::new("profile")
            .long("profile")
            .global(true)
            .help_heading("Global options")
            .value_name("NAME")
            .value_parser(parse_profile)
            .help("Credential profile [env: GEOPERA_PROFILE, ignored when empty or blank] [default: default]"),
        Arg::new("api-url")
            .long("api-url")
            .global(true)
            .help_heading("Global options")
            .value_name("URL")
            .value_parser(parse_api_url)
            .help("API base URL [env: GEOPERA_API_URL, ignored when empty or blank; then the profile's; then https://api.geopera.com]"),
        Arg::new("rate-budget-redis")
            .long("rate-budget-redis")
            .global(true)
            .help_heading("Global options")
            .value_name("URL")
            .value_parser(parse_rate_budget_redis)
            .help("Share the API's rate budget with every process using this Redis (redis://host:port/, or rediss:// over TLS) [env: GEOPERA_RATE_BUDGET_REDIS, ignored when empty or blank]"),
        Arg::new("rate-budget-redis-ca")
            .long("rate-budget-redis-ca")
            .global(true)
            .help_heading("Global options")
            .value_name("FILE")
            .value_parser(parse_rate_budget_redis_ca)
            .help("Trust the certificate authority in this PEM file for a rediss:// budget, besides the system's trust store [env: GEOPERA_RATE_BUDGET_REDIS_CA, ignored when empty or blank]"),
        Arg::new("rate-budget-org")
            .long("rate-budget-org")
            .global(true)
            .help_heading("Global options")
            .value_name("KEY")
            .value_parser(parse_rate_budget_org)
            .help("The organization whose budget it is: the same key in every process of one organization [env: GEOPERA_RATE_BUDGET_ORG] [default: default]"),
        Arg::new("timeout")
            .long("timeout")
            .global(true)
            .help_heading("Global options")
            .value_name("SECONDS")
            .value_parser(parse_timeout)
            .help("Per-attempt timeout of each API call, and how long an upload's transfer may go without progress [default: 60]"),
        Arg::new("idempotency-key")
            .long("idempotency-key")
            .global(true)
            .help_heading("Global options")
            .value_name("KEY")
            .value_parser(parse_idempotency_key)
            .help("Idempotency-Key to send, so a repeated call executes once (one is generated for calls with side effects); for the operations and op, refused by the other commands and by --all"),
        Arg::new("dry-run")
            .long("dry-run")
            .global(true)
            .help_heading("Global options")
            .action(ArgAction::SetTrue)
            .help("Print the request (credentials redacted) and send nothing"),
        Arg::new("output")
            .long("output")
            .short('o')
            .global(true)
            .help_heading("Global options")
            .value_name("FORMAT")
            .value_parser(["json", "ndjson", "table", "yaml"])
            .help("How to print answers [default: json]; --all prints NDJSON and refuses table and yaml"),
        Arg::new("verbose")
            .long("verbose")
            .short('v')
            .global(true)
            .help_heading("Global options")
            .action(ArgAction::Count)
            .help(
                "Trace each call on stderr: operation, request id, attempts, status, timing \
                 (-vv: as --debug)",
            ),
        Arg::new("debug")
            .long("debug")
            .global(true)
            .help_heading("Global options")
            .action(ArgAction::SetTrue)
            .help("Like --verbose, with the HTTP client's connection events (credentials are never shown)"),
        Arg::new("jq")
            .long("jq")
            .global(true)
            .help_heading("Global options")
            .value_name("EXPR")
            .help("Filter the answer with a jq program before printing (each item with --all)"),
    ]
}

/// `--out FILE`, on the operations that answer bytes (and on `op`).
pub(crate) fn out_arg() -> Arg {
    Arg::new("out")
        .long("out")
        .value_name("FILE")
        .value_parser(value_parser!(std::path::PathBuf))
        .help("Write a binary answer (image, XML) to FILE, replaced only once complete; without it the bytes go to stdout unless that is a terminal")
}

/// An `--api-url` that is empty or blank is refused rather than taken as not given: it is
/// what `--api-url "$UNSET_VARIABLE"` becomes, and falling through to the public API would
/// send the credential to production instead of the server the script meant.
fn parse_api_url(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err(
            "an empty URL names no server (an unset variable?); nothing was sent".to_owned(),
        );
    }
    Ok(text.to_owned())
}

/// An empty or blank `--profile` is refused rather than taken as not given, as `--api-url`
/// is: it is what `--profile "$UNSET_VARIABLE"` becomes, and falling through to the default
/// profile would call with its credential (another account, another organization), or have
/// `login` and `logout` replace or forget it.
fn parse_profile(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err(
            "an empty name names no profile (an unset variable?); nothing was done".to_owned(),
        );
    }
    Ok(text.to_owned())
}

/// An empty or blank `--rate-budget-redis` is refused rather than taken as not given, as
/// `--api-url` is: it is what `--rate-budget-redis "$UNSET_VARIABLE"` becomes, and going ahead
/// without the shared budget would pace this process alone while the user believes the fleet
/// is paced together.
fn parse_rate_budget_redis(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err(
            "an empty URL names no Redis (an unset variable?); nothing was sent".to_owned(),
        );
    }
    Ok(text.to_owned())
}

/// An empty path is what `--rate-budget-redis-ca "$UNSET"` becomes: the budget would then
/// trust only the system's store, and a private Redis would be refused for a reason far from
/// the mistake.
fn parse_rate_budget_redis_ca(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err(
            "an empty path names no certificate file (an unset variable?); nothing was sent"
                .to_owned(),
        );
    }
    Ok(text.to_owned())
}

/// An empty key is what `--rate-budget-org "$UNSET"` becomes: taken as a key, every process
/// that makes the mistake, of whatever organization, would draw on one budget.
fn parse_rate_budget_org(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("an empty key names no organization".to_owned());
    }
    Ok(text.to_owned())
}

/// A key with a control character other than a tab is refused here, as a usage error: no
/// HTTP header can carry one, so the real run could never send it, while a dry run printed it
/// (a line break in it printed as a header line of its own) and exited 0.
fn parse_idempotency_key(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("an empty key would make every call that sends it one call".to_owned());
    }
    if text.chars().any(|c| c.is_ascii_control() && c != '\t') {
        return Err(
            "a header cannot carry a control character (a line break, an escape); nothing was \
             sent"
                .to_owned(),
        );
    }
    Ok(text.to_owned())
}

/// A positive number of seconds up to a day. Judged as the duration it becomes, not as the
/// number: a value that rounds to no time at all (`1e-10`) would be a timeout of zero, which
/// every attempt runs out of at once.
fn parse_timeout(text: &str) -> Result<Duration, String> {
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|seconds| *seconds <= 86_400.0)
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .filter(|timeout| !timeout.is_zero())
        .ok_or_else(|| {
            "expected a number of seconds above 0 (at least a nanosecond) and up to 86400"
                .to_owned()
        })
}

/// The whole command line.
fn cli(operations: Vec<Command>) -> Command {
    Command::new("geopera")
        .version(env!("CARGO_PKG_VERSION"))
        .about("Every Geopera API operation from the shell")
        .after_help(after_help())
        .args(global_args())
        .subcommand(
            Command::new("login")
                .about("Sign in: in a browser (device code), or with an API key")
                .arg(
                    Arg::new("api-key")
                        .long("api-key")
                        .value_name("KEY")
                        .help("Store this API key (checked first); - reads one line from stdin"),
                )
                // Both shape the browser sign-in alone, and an API key is stored with the
                // permissions it was made with: taken beside `--api-key` and ignored, `--scope`
                // would let a user believe the stored key was narrowed to those scopes.
                .arg(
                    Arg::new("no-browser")
                        .long("no-browser")
                        .action(ArgAction::SetTrue)
                        .conflicts_with("api-key")
                        .help("Only print the sign-in link, do not open a browser"),
                )
                .arg(
                    Arg::new("scope")
                        .long("scope")
                        .value_name("SCOPES")
                        .conflicts_with("api-key")
                        .help(format!(
                            "Scopes to ask for, space-separated [default: {}]; not with \
                             --api-key, whose scopes are the key's own",
                            geopera_types::oidc::DEFAULT_SCOPE
                        )),
                ),
        )
        .subcommand(
            Command::new("logout")
                .about("Forget the profile's credential (a session is revoked first, where the profile logged in; --api-url is refused); keeps its API URL"),
        )
        .subcommand(
            Command::new("whoami")
                .about("Show who the credential belongs to")
                .arg(
                    Arg::new("json")
                        .long("json")
                        .action(ArgAction::SetTrue)
                        .help("Print the identity claims as JSON"),
                ),
        )
        .subcommand(
            Command::new("op")
                .about("Call any operation by id with any JSON body (administrative ones too)")
                .arg(Arg::new("id").value_name("OPERATION_ID").help("e.g. catalog.search"))
                .arg(
                    Arg::new("body")
                        .value_name("JSON")
                        .help("The body; - reads stdin [default: {}]"),
                )
                // Refused together rather than one of them ignored: the official CLI sends
                // `--file` and drops the JSON without a word, and `--list` would print the
                // list to stdout whatever `--out` named, exit 0, leaving no file.
                .arg(
                    Arg::new("file")
                        .long("file")
                        .short('f')
                        .value_name("PATH")
                        .conflicts_with("body")
                        .help("Read the body from a file, or stdin for - (instead of JSON)"),
                )
                .arg(out_arg())
                .arg(
                    Arg::new("list")
                        .long("list")
                        .action(ArgAction::SetTrue)
                        .conflicts_with_all(["id", "body", "file", "out"])
                        .help("List every operation id this program knows (from its built-in descriptors, no request)"),
                ),
        )
        .subcommand(
            Command::new("completions")
                .about("Print a shell completion script")
                .arg(
                    Arg::new("shell")
                        .required(true)
                        .value_parser(value_parser!(clap_complete::Shell)),
                ),
        )
        .subcommand(
            Command::new("man")
                .about("Manual pages: one per command into a folder, or this program's page on stdout")
                .arg(
                    Arg::new("out-dir")
                        .long("out-dir")
                        .value_name("DIR")
                        .value_parser(value_parser!(std::path::PathBuf))
                        .help("Write geopera.1 and a page for every subcommand (geopera-orders-wait.1, ...) into DIR, created if missing"),
                ),
        )
        .subcommand(upload::command())
        .subcommand(webhook::command())
        .subcommands(operations)
}

/// `args` with each word that begins like a negative number (`-` and a digit or a `.`) and
/// follows an option of `options.numbers`, and each word that begins with one `-` and
/// follows an option of `options.texts`, joined to it (`--bbox -1e-5` as `--bbox=-1e-5`,
/// `--formula -b1` as `--formula=-b1`), or `None` when there is none to join; tried only once
/// the words as given failed to parse.
///
/// clap reads a word that begins with `-` as a value only when it looks like a negative
/// number by its own test (digits, one `.` after one, an `e` without a sign), so `-1e-5`,
/// `-.5` and `-1E+2`, numbers to Rust and to JSON, left their option without a value (`a value
/// is required for '--bbox'`) or were taken for unknown flags; and a text value such as a
/// formula `-b1` was refused as unknown flags, `--formula -h` printed help. The official CLI
/// takes the word after the flag as its value. Joined, the word is the option's value, and the
/// option's parser names it when the value is no number it takes. A word that begins with
/// `--` is never joined: a text option left without its value before `--dry-run` must not
/// send the request with `--dry-run` for its value (`--name=--dry-run` means that). Words
/// after `--` stay as given.
fn joined_option_values(args: &[OsString], options: &ValueOptions) -> Option<Vec<OsString>> {
    let is_number = |word: &OsString| {
        word.to_str()
            .and_then(|word| word.strip_prefix('-'))
            .is_some_and(|rest| rest.starts_with(|c: char| c.is_ascii_digit() || c == '.'))
    };
    let is_text = |word: &OsString| {
        word.to_str()
            .and_then(|word| word.strip_prefix('-'))
            .is_some_and(|rest| !rest.is_empty() && !rest.starts_with('-'))
    };
    let option_of = |word: &OsString, names: &std::collections::HashSet<String>| {
        word.to_str()
            .and_then(|word| word.strip_prefix("--"))
            .is_some_and(|name| names.contains(name))
    };
    let mut joined = Vec::with_capacity(args.len());
    let mut changed = false;
    let mut words = args.iter().peekable();
    while let Some(word) = words.next() {
        if word == "--" {
            joined.push(word.clone());
            joined.extend(words.cloned());
            break;
        }
        let takes = |next: &&OsString| {
            (option_of(word, &options.numbers) && is_number(next))
                || (option_of(word, &options.texts) && is_text(next))
        };
        match words.next_if(takes) {
            Some(value) => {
                let mut option = word.clone();
                option.push("=");
                option.push(value);
                joined.push(option);
                changed = true;
            }
            None => joined.push(word.clone()),
        }
    }
    changed.then_some(joined)
}

/// The long names of the options anywhere in a command tree that [`joined_option_values`]
/// joins a value to, by what they take. By name alone: the same name as an option of another
/// kind in another command takes the word as typed either way.
#[derive(Default)]
struct ValueOptions {
    /// The body fields typed as integers or numbers.
    numbers: std::collections::HashSet<String>,
    /// The body fields typed as text.
    texts: std::collections::HashSet<String>,
}

impl ValueOptions {
    fn of(command: &Command) -> Self {
        let mut options = ValueOptions::default();
        let mut pending = vec![command];
        while let Some(command) = pending.pop() {
            pending.extend(command.get_subcommands());
            for arg in command.get_arguments() {
                let (Some(long), Some(names)) = (arg.get_long(), arg.get_value_names()) else {
                    continue;
                };
                if names
                    .iter()
                    .any(|name| *name == "NUMBER" || *name == "INTEGER")
                {
                    options.numbers.insert(long.to_owned());
                } else if names.iter().any(|name| *name == "TEXT") {
                    options.texts.insert(long.to_owned());
                }
            }
        }
        options
    }
}

fn main() -> ExitCode {
    let tree = tree::build();
    let mut command = cli(tree.commands);
    let args: Vec<OsString> = std::env::args_os().collect();
    let (args, parsed) = match command.try_get_matches_from_mut(&args) {
        Err(error) => match joined_option_values(&args, &ValueOptions::of(&command)) {
            Some(joined) => {
                let parsed = command.try_get_matches_from_mut(&joined);
                (joined, parsed)
            }
            None => (args, Err(error)),
        },
        parsed => (args, parsed),
    };
    let matches = match parsed {
        Ok(matches) => matches,
        Err(mut error) => {
            quote_inert(&mut error);
            let code = u8::try_from(error.exit_code()).unwrap_or(EXIT_API_OR_USAGE);
            return match print_parse_outcome(&error) {
                Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
                    // `--help > /dev/full`: the text was asked for and not written.
                    paint::error(&format!("cannot print: {e}"));
                    ExitCode::from(EXIT_OTHER.max(code))
                }
                _ => ExitCode::from(code),
            };
        }
    };
    if let Err(failure) = given_at_two_levels(&args) {
        paint::error(&failure.message);
        return ExitCode::from(failure.code);
    }
    tracing_to_stderr(&matches);
    watch_for_interrupts();
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(e) => {
            paint::error(&format!("cannot start: {e}"));
            return ExitCode::from(EXIT_OTHER);
        }
    };
    let outcome = runtime.block_on(async {
        let work = Box::pin(run(&mut command, &matches, &tree.leaves));
        let interrupted = std::pin::pin!(interrupted());
        match futures::future::select(work, interrupted).await {
            futures::future::Either::Left((outcome, _)) => outcome,
            futures::future::Either::Right(((), work)) => {
                // An upload ends itself on Ctrl-C, releasing its reservation: heard out for a
                // moment, it says how that went. Anything else stops at once.
                let ended = if upload::ENDS_ITSELF_ON_INTERRUPT.load(Ordering::SeqCst) {
                    tokio::time::timeout(INTERRUPTED_UPLOAD_GRACE, work)
                        .await
                        .ok()
                } else {
                    drop(work);
                    None
                };
                unechoed::restore_on_interrupt();
                files::remove_partial();
                settle().await;
                // The upload was committed before it heard the interruption, and its answer
                // is printed: the file is stored, and a script told otherwise by the exit
                // status would send it again.
                if let Some(Ok(())) = ended {
                    paint::warning("interrupted after the upload was complete; it is stored");
                    return Ok(());
                }
                let mut message = interrupted_message();
                match ended {
                    Some(Err(failure)) => {
                        message.push('\n');
                        message.push_str(&failure.message);
                    }
                    // An upload not done releasing within its moment was dropped: its release
                    // goes on where nobody hears how it went.
                    None => {
                        if let Some(advice) = upload::release_cut_short() {
                            message.push('\n');
                            message.push_str(&advice);
                        }
                    }
                    Some(Ok(())) => {}
                }
                Err(Failure {
                    message,
                    ..Failure::interrupted()
                })
            }
        }
    });
    let code = match outcome {
        Ok(()) => 0,
        Err(failure) => {
            for line in failure.message.lines() {
                paint::error(line);
            }
            failure.code
        }
    };
    OUTCOME_CODE.store(code, Ordering::SeqCst);
    OUTCOME_SAID.store(true, Ordering::SeqCst);
    // Said first, then: a blocking task nobody waits for any more, a name lookup abandoned by
    // an interrupted or timed-out call above all, would hold the exit until the resolver gives
    // up (tens of seconds on a network whose DNS does not answer); a file write still under
    // way is given a moment.
    runtime.shutdown_timeout(ABANDONED_WORK_GRACE);
    ExitCode::from(code)
}

/// What an interrupted command says: "interrupted", the order or job its `--wait` started,
/// and how to retry a call with side effects that was sent and not answered.
fn interrupted_message() -> String {
    let mut message = Failure::interrupted().message;
    if let Some(started) = waiting::started() {
        message.push_str("; ");
        message.push_str(started);
    }
    if let Some(advice) = call::unanswered() {
        message.push('\n');
        message.push_str(&advice);
    }
    message
}

/// Prints what clap stopped the parse with: a usage error on stderr, as clap prints it, and
/// `--help` or `--version` on stdout through [`call::write_stdout`], since clap's own print
/// takes a write refused by the descriptor for one that succeeded and the text would be lost
/// with exit 0.
fn print_parse_outcome(error: &clap::Error) -> std::io::Result<()> {
    if error.use_stderr() {
        return error.print();
    }
    let styled = error.render();
    let text = if paint::stdout() {
        styled.ansi().to_string()
    } else {
        styled.to_string()
    };
    call::write_stdout(&[text.as_bytes()])
}

/// Makes the words of the command line that a usage error quotes (`invalid value '...'`,
/// `unrecognized subcommand '...'`) [`paint::inert`], with any API key among them hidden:
/// clap quotes them as they are. A value a script passed on from elsewhere (`--limit
/// "$FROM_A_FILE"`) holding a line break, a carriage return or an escape sequence would forge
/// a line of output (`Error: ...`) or steer the terminal, as no other message of this program
/// lets a word it did not write do; a key typed where another argument belongs (`geopera login
/// gpra_...`) would be printed back into the terminal's scroll-back or a CI job's log.
///
/// clap's tips (`tip: to pass '...' as a value, use '-- ...'`) quote the word too, inside
/// styled text whose escape sequences cannot be told from the word's own. Once any word was
/// quoted, or a tip's plain text shows what a terminal would act on, each tip is replaced by
/// its plain text (clap's styles stripped) with each quoted word as the error line shows it,
/// made inert. The tip loses its colours, never its advice.
fn quote_inert(error: &mut clap::Error) {
    use clap::builder::StyledStr;
    use clap::error::ContextValue;
    fn shown(word: &str) -> Option<String> {
        let hidden = hidden::redacted(word);
        let shown = paint::inert(&hidden);
        (shown != word).then(|| shown.into_owned())
    }
    let mut quoted: Vec<_> = error
        .context()
        .filter_map(|(kind, value)| match value {
            ContextValue::String(word) => shown(word).map(|w| (kind, ContextValue::String(w))),
            ContextValue::Strings(words) if words.iter().any(|w| shown(w).is_some()) => Some((
                kind,
                ContextValue::Strings(
                    words
                        .iter()
                        .map(|w| shown(w).unwrap_or_else(|| w.clone()))
                        .collect(),
                ),
            )),
            _ => None,
        })
        .collect();
    // Each quoted word as a tip's plain text holds it, with how the error line shows it: the
    // tip then names the word as that line does.
    let words: Vec<(String, String)> = error
        .context()
        .filter_map(|(_, value)| match value {
            ContextValue::String(word) => Some(std::slice::from_ref(word)),
            ContextValue::Strings(words) => Some(words.as_slice()),
            _ => None,
        })
        .flatten()
        .filter_map(|word| {
            let stripped = StyledStr::from(word.as_str().to_owned()).to_string();
            Some((stripped, shown(word)?)).filter(|(stripped, _)| !stripped.is_empty())
        })
        .collect();
    let tainted = !quoted.is_empty();
    let tips: Vec<_> = error
        .context()
        .filter_map(|(kind, value)| match value {
            ContextValue::StyledStrs(tips) => {
                let plain: Vec<String> = tips
                    .iter()
                    .map(|tip| {
                        // Where the tip quotes the word (`'WORD'`, `'-- WORD'`), not wherever
                        // its text happens to stand in clap's own wording.
                        words
                            .iter()
                            .fold(tip.to_string(), |tip, (stripped, shown)| {
                                tip.replace(&format!("'{stripped}'"), &format!("'{shown}'"))
                                    .replace(&format!(" {stripped}'"), &format!(" {shown}'"))
                            })
                    })
                    .collect();
                let changed: Vec<Option<String>> = plain.iter().map(|tip| shown(tip)).collect();
                (tainted || changed.iter().any(Option::is_some)).then(|| {
                    let tips = plain
                        .into_iter()
                        .zip(changed)
                        .map(|(tip, shown)| StyledStr::from(shown.unwrap_or(tip)))
                        .collect();
                    (kind, ContextValue::StyledStrs(tips))
                })
            }
            _ => None,
        })
        .collect();
    quoted.extend(tips);
    for (kind, value) in quoted {
        error.insert(kind, value);
    }
}

/// Refuses a global option with a value given at two levels of the command line, before and
/// after a subcommand (`--timeout 1 catalog search --timeout 10`, `orders --api-url A list
/// --api-url B`). clap lets the later silently win there, while the same option twice at one
/// level is its usage error: two values on one command line are a mistake either way, and
/// quietly using one of them may be the wrong call or timeout.
///
/// Which level an option was given at is clap's own parse, not a reading of the words here:
/// the command line is parsed again with the global options made local and defined on every
/// subcommand, as clap's propagation defines them, so each level's matches hold only what
/// was given at that level. A value that looks like an option or a subcommand, `-oyaml`,
/// `--` and body fields are read as in the parse that runs the command. That second parse
/// happens only when some such option is possibly given twice.
fn given_at_two_levels(args: &[std::ffi::OsString]) -> Outcome {
    let globals: Vec<Arg> = global_args()
        .into_iter()
        .map(|arg| arg.global(false))
        .collect();
    let valued: Vec<&Arg> = globals
        .iter()
        .filter(|arg| arg.get_action().takes_values())
        .collect();
    // A word that could give `arg`: `--long`, `--long=value`, or a cluster of short options
    // holding its short one. Every real occurrence is such a word; not every such word is one.
    let could_give = |arg: &Arg, word: &std::ffi::OsString| {
        let word = word.to_string_lossy();
        if let Some(long) = word.strip_prefix("--") {
            let name = long.split_once('=').map_or(long, |(name, _)| name);
            arg.get_long() == Some(name)
        } else {
            word.strip_prefix('-')
                .zip(arg.get_short())
                .is_some_and(|(cluster, short)| cluster.contains(short))
        }
    };
    let possible = valued.iter().any(|arg| {
        args.iter()
            .skip(1)
            .filter(|word| could_give(arg, word))
            .nth(1)
            .is_some()
    });
    if !possible {
        return Ok(());
    }
    let command = globals_local(cli(tree::build().commands), &globals);
    let Ok(matches) = command.try_get_matches_from(args) else {
        return Ok(());
    };
    let mut levels = vec![0usize; valued.len()];
    let mut current = Some(&matches);
    while let Some(level) = current {
        for (arg, count) in valued.iter().zip(levels.iter_mut()) {
            let id = arg.get_id().as_str();
            let given = level.ids().any(|present| present.as_str() == id)
                && level.value_source(id) == Some(clap::parser::ValueSource::CommandLine);
            if given {
                *count += 1;
            }
        }
        current = level.subcommand().map(|(_, next)| next);
    }
    for (arg, count) in valued.iter().zip(levels) {
        if count > 1 {
            let name = match (arg.get_long(), arg.get_short()) {
                (Some(long), _) => format!("--{long}"),
                (None, Some(short)) => format!("-{short}"),
                (None, None) => arg.get_id().to_string(),
            };
            return Err(Failure::usage(format!(
                "{name} is given twice, before and after a subcommand; give it once"
            )));
        }
    }
    Ok(())
}

/// `command` with the global options `globals` (made local) defined on it and on every
/// command under it that does not define an option of the same id itself, as clap's
/// propagation of global options defines them, but with no values carried between levels.
fn globals_local(command: Command, globals: &[Arg]) -> Command {
    let mut command = command.mut_args(|arg| arg.global(false));
    for global in globals {
        if command
            .get_arguments()
            .all(|arg| arg.get_id() != global.get_id())
        {
            command = command.arg(global.clone());
        }
    }
    command.mut_subcommands(|sub| globals_local(sub, globals))
}

/// The matches of the subcommand that runs, where global options given anywhere are visible.
fn deepest(matches: &ArgMatches) -> &ArgMatches {
    let mut current = matches;
    while let Some((_, next)) = current.subcommand() {
        current = next;
    }
    current
}

/// `-v` / `--debug`: the SDK's tracing on stderr (this binary is also named `geopera`, so its
/// own events fall under the same target). The filter is fixed rather than read from
/// `RUST_LOG`, so that no wire-level crate (which could log header values, credentials
/// among them) is ever switched on by accident; the SDK itself never logs a credential.
/// Without either, a terminal is told of a long wait before a retry, and any stderr that the
/// shared rate budget is unreachable ([`notice`]).
fn tracing_to_stderr(matches: &ArgMatches) {
    use tracing_subscriber::layer::SubscriberExt as _;
    let leaf = deepest(matches);
    let flag = |name: &str| matches!(leaf.try_get_one::<bool>(name), Ok(Some(true)));
    let verbose = leaf
        .try_get_one::<u8>("verbose")
        .ok()
        .flatten()
        .copied()
        .unwrap_or(0);
    let filter = if flag("debug") || verbose >= 2 {
        "geopera=trace,hyper_util=debug"
    } else if verbose == 1 {
        "geopera=debug"
    } else {
        let terminal = std::io::IsTerminal::is_terminal(&std::io::stderr());
        let notices = tracing_subscriber::registry().with(notice::Notices::new(terminal));
        let _ = tracing::subscriber::set_global_default(notices);
        return;
    };
    // A failed write of an event is dropped: tracing's default reports it with `eprintln!`,
    // which panics when stderr itself is what failed.
    let ansi = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .log_internal_errors(false)
        .with_writer(move || InertEvents { ansi })
        .with_ansi(ansi)
        .try_init();
}

/// Stderr for the `-v` / `--debug` events, each made [`paint::inert`] but for its colours and
/// its closing line break. An event quotes what a server chose (an order's id, a state, a
/// header) in its fields, which the formatter writes as they are (it escapes the message
/// alone): an escape sequence there would steer the terminal, a carriage return or line break
/// forge a line (`Error: ...`), a bidirectional override reorder one. The formatter hands each
/// event over in one write.
struct InertEvents {
    /// Whether the formatter writes colours, whose sequences (SGR: `ESC [ 1;31 m`) are kept;
    /// every other escape sequence, and any at all without colours, is shown escaped.
    ansi: bool,
}

impl std::io::Write for InertEvents {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let text = String::from_utf8_lossy(buf);
        let (body, end) = match text.strip_suffix('\n') {
            Some(body) => (body, "\n"),
            None => (text.as_ref(), ""),
        };
        let mut pieces = body.split('\u{1b}');
        let mut line = paint::inert(pieces.next().unwrap_or_default()).into_owned();
        for piece in pieces {
            // `[`, parameters, `m`: a colour, the formatter's own or a field's, which can
            // only change how text looks.
            let colour = piece
                .strip_prefix('[')
                .and_then(|rest| rest.find(|c: char| !c.is_ascii_digit() && c != ';'))
                .filter(|&at| piece.as_bytes().get(at + 1) == Some(&b'm'))
                .map(|at| at + 2);
            match colour {
                Some(length) if self.ansi => {
                    line.push('\u{1b}');
                    line.push_str(&piece[..length]);
                    line.push_str(&paint::inert(&piece[length..]));
                }
                _ => line.push_str(&paint::inert(&format!("\u{1b}{piece}"))),
            }
        }
        line.push_str(end);
        std::io::stderr().write_all(line.as_bytes())?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        std::io::stderr().flush()
    }
}

/// Resolves on Ctrl-C or SIGTERM. Installing the handler means SIGINT no longer kills the
/// process at once, so a wait or an upload is abandoned cleanly and a file being written is
/// removed. When no handler can be installed this never resolves and Ctrl-C keeps its
/// default effect.
async fn interrupted() {
    if stop_asked().await.is_err() {
        std::future::pending::<()>().await;
    }
}

/// Resolves when Ctrl-C is pressed or, on Unix, SIGTERM arrives, which then sets
/// [`failure::TERMINATED`]. SIGTERM is how `kill`, `timeout`, a service manager or a cancelled
/// CI job stop a command, and it deserves the clean-up Ctrl-C gets: an upload's reservation
/// released, no partial `--out` file left, the order a `--wait` placed named. SIGHUP is left
/// to its default: a handler would also override `nohup`'s ignoring it, ending the uploads a
/// user meant to outlive the terminal. The first poll installs both handlers; if the one for
/// SIGTERM cannot be installed, SIGTERM keeps its default effect.
async fn stop_asked() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut terminate) = signal(SignalKind::terminate()) {
            let ctrl_c = std::pin::pin!(tokio::signal::ctrl_c());
            let terminated = std::pin::pin!(async move {
                // `None` only once the runtime is shutting down: nothing more is heard.
                if terminate.recv().await.is_none() {
                    std::future::pending::<()>().await;
                }
            });
            return match futures::future::select(ctrl_c, terminated).await {
                futures::future::Either::Left((heard, _)) => heard,
                futures::future::Either::Right(((), _)) => {
                    failure::TERMINATED.store(true, Ordering::SeqCst);
                    Ok(())
                }
            };
        }
    }
    tokio::signal::ctrl_c().await
}

/// Set once Ctrl-C is pressed, for work that runs without yielding to the runtime (a `--jq`
/// program), which [`interrupted`] cannot end while it runs: such work checks it and stops.
pub(crate) static INTERRUPTED: AtomicBool = AtomicBool::new(false);

/// Set once the command has said how it ended, before the runtime waits for work it left
/// behind ([`ABANDONED_WORK_GRACE`]), with the exit code it ended with.
static OUTCOME_SAID: AtomicBool = AtomicBool::new(false);
/// See [`OUTCOME_SAID`].
static OUTCOME_CODE: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);

/// How long the command's runtime waits, once the command has ended, for blocking work it
/// left behind.
const ABANDONED_WORK_GRACE: Duration = Duration::from_secs(1);

/// How long one write to stdout may stay under way after Ctrl-C, with no write ending
/// meanwhile, before the command is taken to be blocked in it: far longer than a write to a
/// reader that reads takes.
const STUCK_WRITING_AFTER: Duration = Duration::from_secs(1);

/// Ends the process as interrupted if, after Ctrl-C, the command stays blocked in a write to
/// stdout (a pipe whose reader stopped reading): the write restarts after the signal, so the
/// command never hears it and would wait for the reader for ever. A command doing anything
/// else, printing included, ends by itself and says what it must (an order to resume, an
/// upload's reservation); this returns when it does, as the process ends.
async fn end_if_stuck_writing() {
    use crate::call::{STDOUT_WRITES_ENDED, STDOUT_WRITING};
    loop {
        let ended = STDOUT_WRITES_ENDED.load(Ordering::SeqCst);
        let writing = STDOUT_WRITING.load(Ordering::SeqCst);
        tokio::time::sleep(STUCK_WRITING_AFTER).await;
        if writing
            && STDOUT_WRITING.load(Ordering::SeqCst)
            && STDOUT_WRITES_ENDED.load(Ordering::SeqCst) == ended
        {
            exit_stuck_writing();
        }
    }
}

/// The longest a command goes on after SIGTERM: past the moment an upload is given to release
/// its reservation ([`INTERRUPTED_UPLOAD_GRACE`]), the settling after it and the printing.
const TERMINATION_OVERDUE_AFTER: Duration = Duration::from_secs(6);

/// Returns [`TERMINATION_OVERDUE_AFTER`] from now once SIGTERM stopped the command, and never
/// after Ctrl-C. A command can be blocked where it hears nothing (a write to a stderr pipe
/// nobody reads, under `-v`), and, unlike a person at a terminal, whoever sent SIGTERM (`kill`,
/// `timeout`, a service manager) may never send a second signal: the default action it
/// replaced would have ended the process.
async fn end_when_termination_is_overdue() {
    if !failure::TERMINATED.load(Ordering::SeqCst) {
        std::future::pending::<()>().await;
    }
    tokio::time::sleep(TERMINATION_OVERDUE_AFTER).await;
}

/// [`exit_interrupted`] for a command blocked writing to stdout, or pressed to end by a second
/// Ctrl-C, whose stderr may be a full pipe: the message is written from a thread of its own
/// and waited for only briefly.
fn exit_stuck_writing() -> ! {
    unechoed::restore_on_interrupt();
    files::remove_partial();
    // Once the command has said how it ended, a second Ctrl-C in the moment after (given to
    // work it abandoned) ends it with the code it said: a success announced (an upload
    // stored) must not turn into 130, which a script would take for "send it again".
    if OUTCOME_SAID.load(Ordering::SeqCst) {
        std::process::exit(i32::from(OUTCOME_CODE.load(Ordering::SeqCst)));
    }
    let (said, saying) = std::sync::mpsc::channel();
    let mut message = interrupted_message();
    if let Some(advice) = upload::release_cut_short() {
        message.push('\n');
        message.push_str(&advice);
    }
    let speaker = std::thread::Builder::new().spawn(move || {
        for line in message.lines() {
            paint::error(line);
        }
        let _ = said.send(());
    });
    if speaker.is_ok() {
        let _ = saying.recv_timeout(Duration::from_millis(100));
    }
    std::process::exit(i32::from(Failure::interrupted().code))
}

/// Sets [`INTERRUPTED`] on Ctrl-C or SIGTERM, from a thread of its own: the command's runtime has one
/// thread, which long synchronous work keeps from hearing the signal. Returns once the
/// handler is installed (or could not be), so that a Ctrl-C from then on is heard.
fn watch_for_interrupts() {
    let (installed, installing) = std::sync::mpsc::channel();
    let spawned = std::thread::Builder::new()
        .name("ctrl-c".to_owned())
        .spawn(move || {
            let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            runtime.block_on(async {
                let mut ctrl_c = std::pin::pin!(stop_asked());
                // The first poll installs the handlers.
                let first =
                    std::future::poll_fn(|cx| std::task::Poll::Ready(ctrl_c.as_mut().poll(cx)))
                        .await;
                let _ = installed.send(());
                let heard = match first {
                    std::task::Poll::Ready(heard) => heard,
                    std::task::Poll::Pending => ctrl_c.await,
                };
                if heard.is_ok() {
                    INTERRUPTED.store(true, Ordering::SeqCst);
                    // A second Ctrl-C (or SIGTERM) is the user insisting: whatever the
                    // command is still doing (hearing out an upload's release, a write to a
                    // full stderr), it ends now.
                    let again = std::pin::pin!(stop_asked());
                    let stuck = std::pin::pin!(end_if_stuck_writing());
                    let overdue = std::pin::pin!(end_when_termination_is_overdue());
                    let pressed = futures::future::select(again, stuck);
                    futures::future::select(pressed, overdue).await;
                    exit_stuck_writing();
                }
            });
        });
    if spawned.is_ok() {
        let _ = installing.recv_timeout(Duration::from_secs(1));
    }
}

/// Ends the process as an interrupted command ends, from synchronous work that cannot
/// return to the runtime in time (a `--jq` program inside a native filter): partial files
/// removed, "interrupted" said, exit 130.
pub(crate) fn exit_interrupted() -> ! {
    unechoed::restore_on_interrupt();
    files::remove_partial();
    let failure = Failure::interrupted();
    paint::error(&failure.message);
    if let Some(advice) = upload::release_cut_short() {
        paint::error(&advice);
    }
    std::process::exit(i32::from(failure.code))
}

/// Ends the process as [`exit_interrupted`] does once Ctrl-C has been pressed. For synchronous
/// work that grows with the answer (reading and laying out `-o table` and `-o yaml`), during
/// which the runtime cannot hear the signal: it asks at each value, one relaxed load, so a
/// huge answer is no longer than a moment to stop.
///
/// Not while an upload ends itself on the interruption
/// ([`ENDS_ITSELF_ON_INTERRUPT`](upload::ENDS_ITSELF_ON_INTERRUPT)): the release of its
/// reservation reads the credentials file on its way (a session due for renewal), and a stop
/// in that read ended the command before the release was sent, with no word of it.
pub(crate) fn stop_if_interrupted() {
    if INTERRUPTED.load(Ordering::Relaxed)
        && !upload::ENDS_ITSELF_ON_INTERRUPT.load(Ordering::SeqCst)
    {
        exit_interrupted();
    }
}

/// Runs `work` on a thread of its own while this one listens for Ctrl-C, and ends the process
/// as [`exit_interrupted`] does when it is pressed. For synchronous work that may wait on
/// somebody else (reading stdin from a terminal nobody types into, opening a named pipe
/// nobody writes to) or take seconds (checking a huge answer): with the handler installed,
/// SIGINT no longer ends the process, and a blocked read restarts after it, never hearing
/// the key. A `work` still blocked when the process exits is abandoned with it.
pub(crate) fn interruptible<T: Send>(work: impl FnOnce() -> T + Send) -> T {
    let listening = std::thread::current();
    std::thread::scope(|scope| {
        let working = scope.spawn(move || {
            let done = work();
            listening.unpark();
            done
        });
        while !working.is_finished() {
            stop_if_interrupted();
            std::thread::park_timeout(Duration::from_millis(10));
        }
        working
            .join()
            .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
    })
}

/// How long an interrupted upload may take to release its reservation and report it before
/// it is dropped (and releases it on a task of its own, unheard).
const INTERRUPTED_UPLOAD_GRACE: Duration = Duration::from_millis(2500);

/// Gives tasks spawned while the abandoned work was dropped (an upload releasing its
/// reservation) a moment to finish, without delaying the exit for long.
async fn settle() {
    let handle = tokio::runtime::Handle::current();
    let started = std::time::Instant::now();
    while handle.metrics().num_alive_tasks() > 0 && started.elapsed() < Duration::from_secs(2) {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn run(
    command: &mut Command,
    top: &ArgMatches,
    leaves: &std::collections::BTreeMap<Vec<String>, &'static geopera_types::OperationInfo>,
) -> Outcome {
    let Some((name, sub)) = top.subcommand() else {
        return print_help(command, &[]);
    };
    // A jq program that does not compile is a usage error, found before anything is sent.
    if let Ok(Some(expr)) = deepest(sub).try_get_one::<String>("jq") {
        jq::check(expr)?;
    }
    refuse_what_cannot_apply(&invoked(name, sub), deepest(sub))?;
    match name {
        "login" => return account::login(sub, top).await,
        "logout" => return account::logout(top).await,
        "whoami" => return account::whoami(sub, top).await,
        "op" => return op(sub, top).await,
        "completions" => return completions(command, sub),
        "man" => return man(sub),
        "upload" => {
            auth::check_rate_budget(sub)?;
            return upload::run(sub, &settings(sub, true)).await;
        }
        "webhooks" => {
            return match sub.subcommand() {
                Some(("verify", verify)) => webhook::verify(verify, &settings(verify, true)),
                _ => print_help(command, &["webhooks".to_owned()]),
            }
        }
        _ => {}
    }
    let mut path = vec![name.to_owned()];
    let mut matches = sub;
    while let Some((name, next)) = matches.subcommand() {
        path.push(name.to_owned());
        matches = next;
    }
    if path == ["orders", "wait"] || leaves.contains_key(&path) {
        auth::check_rate_budget(matches)?;
    }
    if path == ["orders", "wait"] {
        return orders_wait(matches).await;
    }
    let Some(info) = leaves.get(&path) else {
        return print_help(command, &path);
    };
    let body = tree::body(info, matches)?;
    tree::warn_of_undeclared(info, &body);
    let target = auth::target(matches, true)?;
    call::call(&target, info.id, body, &settings(matches, true)).await
}

/// A global option some commands have no use for.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Inapplicable {
    /// `--dry-run`: the command has no request of its own it could show instead, and going
    /// ahead would send, store or write what the flag promises to leave alone.
    DryRun,
    /// `--jq` and `-o/--output`: the command prints text of its own (status lines, a script,
    /// a manual, a list of ids) and no JSON, and ignoring them would hand a script that asked
    /// for JSON or YAML something else, with exit 0.
    Shaping,
    /// `--idempotency-key`: the command sends no one operation the key could name (it makes
    /// several calls, or none that takes a key), and ignoring it would let a script believe a
    /// repeated run is executed once.
    IdempotencyKey,
    /// `--api-url`: the command talks to the server the profile's credential was stored for,
    /// and ignoring the flag would let a user believe it signed out of another one; or it asks
    /// no server at all, and ignoring it would pass this program's list of operations off as
    /// the server's.
    ApiUrl,
}

/// The commands that do not send one operation as the flags ask, with the global options each
/// refuses as a usage error rather than ignores. All but `upload` make no call of their own
/// that a dry run could show (they sign in or out, read a local file, print from this
/// program, or wait on the server); `whoami` and `webhooks verify` print JSON, so `--jq` and
/// `-o` apply to them. `upload` makes several calls, which one Idempotency-Key cannot name.
/// `logout` signs out at the server the profile signed in to, whatever `--api-url` says, and
/// `op --list` lists the operations this program was built with, asking no server.
const REFUSED_BY: [(&str, &[Inapplicable]); 9] = {
    use Inapplicable::{ApiUrl, DryRun, IdempotencyKey, Shaping};
    [
        ("completions", &[DryRun, Shaping, IdempotencyKey]),
        ("login", &[DryRun, Shaping, IdempotencyKey]),
        ("logout", &[DryRun, Shaping, IdempotencyKey, ApiUrl]),
        ("man", &[DryRun, Shaping, IdempotencyKey]),
        ("op --list", &[DryRun, Shaping, IdempotencyKey, ApiUrl]),
        ("orders wait", &[DryRun, IdempotencyKey]),
        ("upload", &[IdempotencyKey]),
        ("webhooks verify", &[DryRun, IdempotencyKey]),
        ("whoami", &[DryRun, IdempotencyKey]),
    ]
};

/// The command that runs, as [`REFUSED_BY`] names it: its words, and `--list` for `op`'s list.
fn invoked(name: &str, matches: &ArgMatches) -> String {
    let mut words = name.to_owned();
    let mut current = matches;
    while let Some((next_name, next)) = current.subcommand() {
        words.push(' ');
        words.push_str(next_name);
        current = next;
    }
    if name == "op" && matches!(matches.try_get_one::<bool>("list"), Ok(Some(true))) {
        words.push_str(" --list");
    }
    words
}

/// Refuses, before anything is sent or written, the global options [`REFUSED_BY`] says
/// `command` cannot apply.
fn refuse_what_cannot_apply(command: &str, matches: &ArgMatches) -> Outcome {
    let Some((_, refused)) = REFUSED_BY.iter().find(|(name, _)| *name == command) else {
        return Ok(());
    };
    for option in *refused {
        match option {
            Inapplicable::DryRun => {
                if matches!(matches.try_get_one::<bool>("dry-run"), Ok(Some(true))) {
                    return Err(Failure::usage(format!(
                        "--dry-run: 'geopera {command}' has no dry run; nothing was done"
                    )));
                }
            }
            Inapplicable::Shaping => {
                for (id, flag) in [("jq", "--jq"), ("output", "-o/--output")] {
                    if matches!(matches.try_get_one::<String>(id), Ok(Some(_))) {
                        return Err(Failure::usage(format!(
                            "{flag}: 'geopera {command}' prints no JSON to filter or format; \
                             nothing was done"
                        )));
                    }
                }
            }
            Inapplicable::IdempotencyKey => {
                if matches!(
                    matches.try_get_one::<String>("idempotency-key"),
                    Ok(Some(_))
                ) {
                    let why = if command == "upload" {
                        "makes several calls (reserve, sign, send, complete), which one key \
                         cannot name"
                    } else {
                        "sends no operation that an Idempotency-Key applies to"
                    };
                    return Err(Failure::usage(format!(
                        "--idempotency-key: 'geopera {command}' {why}; nothing was done"
                    )));
                }
            }
            Inapplicable::ApiUrl => {
                if matches!(matches.try_get_one::<String>("api-url"), Ok(Some(_))) {
                    let why = if command == "logout" {
                        "signs out where the profile logged in (its stored API URL), not at \
                         another server; choose the profile with --profile"
                            .to_owned()
                    } else {
                        format!(
                            "lists the {} operations this program was built with and asks no \
                             server",
                            geopera_types::operations::ALL.len()
                        )
                    };
                    return Err(Failure::usage(format!(
                        "--api-url: 'geopera {command}' {why}; nothing was done"
                    )));
                }
            }
        }
    }
    Ok(())
}

fn settings(matches: &ArgMatches, validate: bool) -> Settings {
    Settings {
        timeout: matches
            .get_one::<Duration>("timeout")
            .copied()
            .unwrap_or(geopera::DEFAULT_TIMEOUT),
        idempotency_key: matches.get_one::<String>("idempotency-key").cloned(),
        dry_run: matches.get_flag("dry-run"),
        output: match matches.get_one::<String>("output").map(String::as_str) {
            Some("ndjson") => Output::Ndjson,
            Some("table") => Output::Table,
            Some("yaml") => Output::Yaml,
            _ => Output::Json,
        },
        output_given: matches!(matches.try_get_one::<String>("output"), Ok(Some(_))),
        validate,
        all: matches!(matches.try_get_one::<bool>("all"), Ok(Some(true))),
        wait: matches!(matches.try_get_one::<bool>("wait"), Ok(Some(true))),
        wait_timeout: matches
            .try_get_one::<Duration>("wait-timeout")
            .ok()
            .flatten()
            .copied(),
        out: matches
            .try_get_one::<std::path::PathBuf>("out")
            .ok()
            .flatten()
            .cloned(),
        jq: matches.get_one::<String>("jq").cloned(),
    }
}

/// A group named without a subcommand shows its help, successfully.
fn print_help(command: &mut Command, path: &[String]) -> Outcome {
    let mut current = command.clone();
    for name in path {
        match current.find_subcommand(name) {
            Some(next) => current = next.clone(),
            None => break,
        }
    }
    let help = current.render_help();
    let text = if paint::stdout() {
        help.ansi().to_string()
    } else {
        help.to_string()
    };
    call::print(text.trim_end())
}

fn completions(command: &mut Command, matches: &ArgMatches) -> Outcome {
    let Some(shell) = matches.get_one::<clap_complete::Shell>("shell").copied() else {
        return Err(Failure::usage("name a shell"));
    };
    // Rendered first and printed as any answer: clap_complete panics on a failed write, and
    // a closed pipe or a full disk must end with an exit code, not a panic.
    let mut script = Vec::new();
    clap_complete::generate(shell, command, "geopera", &mut script);
    call::print(String::from_utf8_lossy(&script).trim_end())
}

/// `geopera man`: roff pages rendered from the same command tree as `--help`, so the two
/// never disagree. Pages are plain writes, not atomic replacements: an interrupted run leaves
/// pages to regenerate, never a credential or an answer half-written.
fn man(matches: &ArgMatches) -> Outcome {
    // clap's `help` subcommands only repeat the help of their parent's other commands: a page
    // for each would be most of the folder and tell nothing new. The pages are rendered from a
    // tree without them, so that no page lists one either.
    let mut command = without_help_subcommands(cli(tree::build().commands));
    command.build();
    let render = |command: Command| -> Result<(String, Vec<u8>), Failure> {
        let man = clap_mangen::Man::new(command);
        let mut page = Vec::new();
        man.render(&mut page)
            .map_err(|e| Failure::other(format!("cannot render a manual page: {e}")))?;
        Ok((man.get_filename(), page))
    };
    let Some(dir) = matches.get_one::<std::path::PathBuf>("out-dir") else {
        let (_, page) = render(command.clone())?;
        return call::print(String::from_utf8_lossy(&page).trim_end());
    };
    std::fs::create_dir_all(dir).map_err(|e| {
        // `create_dir_all` says "File exists" of a path that is taken by something else.
        if dir.exists() && !dir.is_dir() {
            Failure::other(format!(
                "--out-dir {} is not a folder; name a folder, or a path where one can be made",
                paint::path(dir)
            ))
        } else {
            Failure::other(format!("cannot create {}: {e}", paint::path(dir)))
        }
    })?;
    let mut pending = vec![command.clone()];
    let mut written = 0usize;
    while let Some(next) = pending.pop() {
        if next.is_hide_set() {
            continue;
        }
        pending.extend(next.get_subcommands().cloned());
        let (name, page) = render(next)?;
        // Written as `--out` writes: a link or FIFO another user planted under the name in a
        // shared folder (`--out-dir /tmp`) is refused, not written through.
        files::write_as("--out-dir", &dir.join(name), &page)?;
        written += 1;
    }
    paint::to_stderr(&format!(
        "{written} manual pages written to {}",
        paint::path(dir)
    ));
    Ok(())
}

/// `command` and every command under it without clap's generated `help` subcommand.
fn without_help_subcommands(command: Command) -> Command {
    command
        .disable_help_subcommand(true)
        .mut_subcommands(without_help_subcommands)
}

/// `geopera op`: any operation id, any JSON body, sent as given.
async fn op(matches: &ArgMatches, top: &ArgMatches) -> Outcome {
    if matches.get_flag("list") {
        let ids: Vec<&str> = geopera_types::operations::ALL
            .iter()
            .map(|info| info.id)
            .collect();
        call::print(&ids.join("\n"))?;
        paint::to_stderr(&format!("\n{} operations.", ids.len()));
        return Ok(());
    }
    auth::check_rate_budget(matches)?;
    let Some(id) = matches.get_one::<String>("id") else {
        return Err(Failure::usage("OPERATION_ID is required (or use --list)"));
    };
    let text = match (
        matches.get_one::<String>("file"),
        matches.get_one::<String>("body"),
    ) {
        (Some(path), _) => tree::read_file_argument(path, "--file")?,
        (None, Some(body)) => tree::read_json_text(body, "the body")?,
        (None, None) => String::new(),
    };
    let text = text.trim();
    let body = if text.is_empty() {
        serde_json::Value::Object(serde_json::Map::new())
    } else {
        json::parse_body(text).map_err(|e| Failure::other(format!("invalid JSON body: {e}")))?
    };
    if let Some(info) = geopera_types::operations::find(id) {
        tree::warn_of_undeclared(info, &body);
    }
    let target = auth::target(top, true)?;
    call::call(&target, id, body, &settings(matches, false)).await
}

/// `geopera orders wait ORDER_ID`.
async fn orders_wait(matches: &ArgMatches) -> Outcome {
    let Some(id) = matches.get_one::<String>("order-id") else {
        return Err(Failure::usage("ORDER_ID is required"));
    };
    let target = auth::target(matches, true)?;
    let settings = settings(matches, true);
    let held = auth::held(&target, true)
        .await?
        .ok_or_else(|| auth::not_signed_in(&target))?;
    let client = auth::client(&target, Some(&held), |builder| {
        call::configure(builder, &settings)
    })?;
    waiting::wait_for(
        &client,
        waiting::Kind::Order,
        id,
        settings.wait_timeout,
        &settings,
    )
    .await
}
