//! The command tree, built at start-up from the operation descriptors, and the request body
//! a leaf's flags describe.
//!
//! Each operation id `a.b_c.d` becomes `geopera a b-c d`; the fields of its input object
//! become flags named as on the wire (camelCase kept, `_` as `-`). Only scalar fields and
//! arrays of scalars get flags; everything else goes through `--json`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use clap::builder::PossibleValuesParser;
use clap::{Arg, ArgAction, ArgMatches, Command};
use geopera_types::shape::{Bounds, Field, Shape};
use geopera_types::{Access, OperationInfo, Paging};
use serde_json::{Map, Value};

use crate::failure::Failure;

/// The long options a leaf may have besides its body fields: the global ones, `--help`, and
/// its own ([`json_arg`], [`all_arg`], [`wait_args`], [`crate::out_arg`]). A body field with
/// one of these names is offered as `--body-<name>` so that both stay reachable. Read from
/// the options' own definitions, so that an option added to them is never left out.
fn reserved() -> &'static [String] {
    static RESERVED: OnceLock<Vec<String>> = OnceLock::new();
    RESERVED.get_or_init(|| {
        let mut options = crate::global_args();
        options.extend([json_arg(), all_arg(), crate::out_arg()]);
        options.extend(wait_args());
        options
            .iter()
            .filter_map(Arg::get_long)
            .chain(["help"])
            .map(str::to_owned)
            .collect()
    })
}

/// The most bytes of a request body read from a file or stdin (`--json @file`, `--json -`,
/// `op -f`): far above any body the API accepts (the emulator takes 2 MiB), small enough
/// that `@/dev/zero` or an endless pipe cannot take the machine's memory. Read into a tree, a
/// body takes up to about forty times its text (a flat array of one-digit numbers), so this
/// bounds a hostile one near 700 MB; at 64 MiB it was near 3 GB.
pub(crate) const MAX_BODY_INPUT_BYTES: u64 = 16 * 1024 * 1024;

/// Prefix of the clap ids of field flags, so that they never collide with other options.
const FIELD: &str = "field:";
/// Prefix of the clap ids of the `--no-x` half of boolean fields.
const FIELD_NO: &str = "field-no:";

/// What kind of flag a field becomes.
#[derive(Clone, Copy, Debug)]
enum Kind {
    Text,
    Choice(&'static [&'static str]),
    Integer(&'static Bounds),
    Number(&'static Bounds),
    Boolean,
}

/// A field that has a flag, and how it is read.
#[derive(Clone, Copy, Debug)]
struct FlagField {
    field: &'static Field,
    kind: Kind,
    repeated: bool,
}

/// The scalar kind of a shape, looking through references and `anyOf [x, null]`.
fn scalar(shape: &'static Shape) -> Option<Kind> {
    match shape.resolve() {
        Shape::String(_) => Some(Kind::Text),
        Shape::Enum(values) => Some(Kind::Choice(values)),
        Shape::Integer(bounds) => Some(Kind::Integer(bounds)),
        Shape::Number(bounds) => Some(Kind::Number(bounds)),
        Shape::Boolean => Some(Kind::Boolean),
        Shape::AnyOf(branches) => match non_null(branches) {
            Some(only) => scalar(only),
            None => None,
        },
        _ => None,
    }
}

/// The one branch that is not `null`, when there is exactly one.
fn non_null(branches: &'static [Shape]) -> Option<&'static Shape> {
    let mut rest = branches
        .iter()
        .filter(|b| !matches!(b.resolve(), Shape::Null));
    match (rest.next(), rest.next()) {
        (Some(only), None) => Some(only),
        _ => None,
    }
}

/// How a field is given on the command line, or `None` when only `--json` can carry it.
fn flag_field(field: &'static Field) -> Option<FlagField> {
    let mut shape = field.shape.resolve();
    if let Shape::AnyOf(branches) = shape {
        shape = non_null(branches)?.resolve();
    }
    if let Shape::Array(rule) = shape {
        return match scalar(rule.items)? {
            Kind::Boolean => None,
            kind => Some(FlagField {
                field,
                kind,
                repeated: true,
            }),
        };
    }
    Some(FlagField {
        field,
        kind: scalar(shape)?,
        repeated: false,
    })
}

/// The long option of a field: its wire name with `_` as `-`, or `body-<name>` when that
/// would collide with one of the program's own options.
fn long_name(field: &Field) -> String {
    let name = field.name.replace('_', "-");
    if reserved().contains(&name) {
        format!("body-{name}")
    } else {
        name
    }
}

/// Whether the descriptor's operation appears in the tree: scopes under `admin:` are for
/// operators and stay reachable through `geopera op`, as in the official CLI.
pub(crate) fn in_tree(info: &OperationInfo) -> bool {
    !info.is_admin()
}

/// The whole tree of operation commands, and which leaf path is which operation.
pub(crate) struct Tree {
    pub(crate) commands: Vec<Command>,
    pub(crate) leaves: BTreeMap<Vec<String>, &'static OperationInfo>,
}

#[derive(Default)]
struct Node {
    children: BTreeMap<String, Node>,
    operation: Option<&'static OperationInfo>,
}

/// Builds the groups and leaves for every operation in the tree.
pub(crate) fn build() -> Tree {
    let mut root = Node::default();
    let mut leaves = BTreeMap::new();
    for info in geopera_types::operations::ALL.iter().copied() {
        if !in_tree(info) {
            continue;
        }
        let mut node = &mut root;
        let mut path = Vec::new();
        for segment in info.id.split('.') {
            let name = segment.replace('_', "-");
            path.push(name.clone());
            node = node.children.entry(name).or_default();
        }
        node.operation = Some(info);
        leaves.insert(path, info);
    }
    let commands = root
        .children
        .into_iter()
        .map(|(name, node)| {
            let command = to_command(name, node);
            let has_wait = command.find_subcommand("wait").is_some();
            if command.get_name() == "orders" && !has_wait {
                let command = command.subcommand(orders_wait());
                let about = group_about(&command);
                command.about(about)
            } else {
                command
            }
        })
        .collect();
    Tree { commands, leaves }
}

fn to_command(name: String, node: Node) -> Command {
    match node.operation {
        Some(info) => leaf(name, info),
        None => {
            let group = Command::new(name).subcommands(
                node.children
                    .into_iter()
                    .map(|(name, child)| to_command(name, child)),
            );
            let about = group_about(&group);
            group.about(about)
        }
    }
}

/// A group's line in its parent's help: what it holds, so a reader can find a command without
/// opening every group (`archive, get, list, tasking, ...`).
fn group_about(command: &Command) -> String {
    const ROOM: usize = 60;
    let mut names: Vec<&str> = command.get_subcommands().map(Command::get_name).collect();
    names.sort_unstable();
    let mut about = String::new();
    for (i, name) in names.iter().enumerate() {
        let separator = if i == 0 { "" } else { ", " };
        if about.len() + separator.len() + name.len() > ROOM {
            about.push_str(", ...");
            break;
        }
        about.push_str(separator);
        about.push_str(name);
    }
    about
}

/// One-line summary of what calling the operation does.
fn effect(info: &OperationInfo) -> &'static str {
    match info.access {
        Access::Read => "reads, no side effects",
        Access::Write => "creates, changes or spends",
        Access::Process => "starts processing work (usually billed)",
        Access::Destroy => "deletes",
    }
}

fn paging(info: &OperationInfo) -> Option<&'static str> {
    match info.paging {
        Paging::None => None,
        Paging::Cursor => Some("cursor (`limit`, then `next` from the previous answer)"),
        Paging::Offset => Some("`limit` and a zero-based `offset`"),
        Paging::PageSize => Some("zero-based `page` and a page `size`"),
        Paging::LimitPage => Some("`page` and a `limit` per page"),
    }
}

fn leaf(name: String, info: &'static OperationInfo) -> Command {
    let about = format!("`{}` — {}; scope {}", info.id, effect(info), info.scope);
    let mut long = format!(
        "Calls `{}`.\n\nScope:        {}\nEffect:       {}\nSuccess:      HTTP {}\n",
        info.id,
        info.scope,
        effect(info),
        info.success_status
    );
    if let Some(style) = paging(info) {
        long.push_str(&format!("Paging:       {style}; --all walks every page\n"));
    }
    if info.access != Access::Read {
        long.push_str(
            "Retries:      safe, with an Idempotency-Key (generated, or --idempotency-key)\n",
        );
    }
    let complex: Vec<&str> = info
        .input
        .fields()
        .iter()
        .filter(|f| flag_field(f).is_none())
        .map(|f| f.name)
        .collect();
    if !complex.is_empty() {
        long.push_str(&format!("Via --json:   {}\n", complex.join(", ")));
    }
    long.push_str(&format!("\nOperation: {}", info.id));

    let mut command = Command::new(name)
        .about(about)
        .long_about(long)
        .arg(json_arg());
    if info.paging != Paging::None {
        command = command.arg(all_arg());
    }
    if crate::waiting::kind_of(info.id).is_some() {
        command = command.args(wait_args());
    }
    if info.may_answer_binary() {
        command = command.arg(crate::out_arg());
    }
    for field in info.input.fields() {
        let Some(flag) = flag_field(field) else {
            continue;
        };
        command = add_flag(command, flag);
    }
    command
}

/// `--json`, on every operation.
fn json_arg() -> Arg {
    Arg::new("json")
        .long("json")
        .value_name("JSON")
        .help("The body as a JSON object, @FILE to read it from a file, or - for stdin; flags override its members")
}

/// `--all`, on paged operations.
fn all_arg() -> Arg {
    Arg::new("all")
        .long("all")
        .action(ArgAction::SetTrue)
        .help("Walk every page and print each item as one line of JSON (NDJSON); -o table, -o yaml and --idempotency-key are refused")
}

/// `--wait` and `--wait-timeout`, on operations that start an order or a job. Without
/// `--wait` there is no wait for `--wait-timeout` to bound, so it is refused rather than
/// ignored.
pub(crate) fn wait_args() -> [Arg; 2] {
    [
        Arg::new("wait")
            .long("wait")
            .action(ArgAction::SetTrue)
            .help("Wait until the order or job is done and print it as it ended"),
        wait_timeout_arg().requires("wait"),
    ]
}

/// `--wait-timeout`: how long a wait may take.
fn wait_timeout_arg() -> Arg {
    Arg::new("wait-timeout")
        .long("wait-timeout")
        .value_name("SECONDS")
        .value_parser(|s: &str| {
            s.trim()
                .parse::<u64>()
                .ok()
                .filter(|n| *n > 0)
                .map(std::time::Duration::from_secs)
                .ok_or_else(|| "expected a whole number of seconds above 0".to_owned())
        })
        // Without the flag the SDK's waiters end a wait themselves: orders may wait weeks
        // for a satellite pass, jobs take hours at most.
        .help(format!(
            "Give up waiting after this long [default: {} days for an order, {} hours for \
             a job]",
            geopera::wait::DEFAULT_ORDER_DEADLINE.as_secs() / (24 * 3600),
            geopera::wait::DEFAULT_WORK_DEADLINE.as_secs() / 3600
        ))
}

/// `geopera orders wait ORDER_ID`, added to the `orders` group.
pub(crate) fn orders_wait() -> Command {
    Command::new("wait")
        .about("Wait until an order is fulfilled (a cancelled order fails) and print it")
        .arg(
            Arg::new("order-id")
                .value_name("ORDER_ID")
                .required(true)
                .value_parser(parse_order_id)
                .help("The order, e.g. ord_0123"),
        )
        .arg(wait_timeout_arg())
}

/// A blank order id is what `orders wait "$UNSET"` becomes: refused before anything is sent,
/// as `--profile ""` is, where it was polled once and answered 404.
fn parse_order_id(text: &str) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("an empty id names no order (an unset variable?); nothing was sent".to_owned());
    }
    Ok(text.to_owned())
}

fn add_flag(command: Command, flag: FlagField) -> Command {
    let field = flag.field;
    let long = long_name(field);
    let mut help = format!("Body field `{}`", field.name);
    if field.required {
        help.push_str(" [required]");
    }
    if flag.repeated {
        help.push_str("; repeat for each item");
    }
    let arg = Arg::new(format!("{FIELD}{}", field.name))
        .long(long.clone())
        .help_heading("Body fields");
    let arg = match flag.kind {
        Kind::Boolean => {
            let no = Arg::new(format!("{FIELD_NO}{}", field.name))
                .long(format!("no-{long}"))
                .help_heading("Body fields")
                .action(ArgAction::SetTrue)
                .help(format!("Sends `{}` as false", field.name))
                .conflicts_with(format!("{FIELD}{}", field.name));
            return command
                .arg(
                    arg.action(ArgAction::SetTrue)
                        .help(format!("{help}; sends true")),
                )
                .arg(no);
        }
        // A value that begins with `-` (`-b1`) is joined to its flag before parsing
        // (`joined_option_values` in main.rs).
        Kind::Text => arg.value_name("TEXT"),
        Kind::Choice(values) => arg
            .value_name("CHOICE")
            .value_parser(PossibleValuesParser::new(values.iter().copied())),
        Kind::Integer(bounds) => {
            if let Some(range) = range_text(bounds) {
                help.push_str(&format!(" ({range})"));
            }
            // Negative numbers that clap does not read as such (`-1e-5`) are joined to their
            // flag before parsing (`joined_option_values` in main.rs).
            arg.value_name("INTEGER")
                .allow_negative_numbers(true)
                .value_parser(move |s: &str| parse_integer(s, bounds))
        }
        Kind::Number(bounds) => {
            if let Some(range) = range_text(bounds) {
                help.push_str(&format!(" ({range})"));
            }
            arg.value_name("NUMBER")
                .allow_negative_numbers(true)
                .value_parser(move |s: &str| parse_number(s, bounds))
        }
    };
    let arg = if flag.repeated {
        arg.action(ArgAction::Append)
    } else {
        arg.action(ArgAction::Set)
    };
    command.arg(arg.help(help))
}

fn range_text(bounds: &Bounds) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(min) = bounds.minimum {
        parts.push(format!("≥ {min}"));
    }
    if let Some(min) = bounds.exclusive_minimum {
        parts.push(format!("> {min}"));
    }
    if let Some(max) = bounds.maximum {
        parts.push(format!("≤ {max}"));
    }
    if let Some(max) = bounds.exclusive_maximum {
        parts.push(format!("< {max}"));
    }
    (!parts.is_empty()).then(|| parts.join(", "))
}

/// Why `value` is outside `bounds`, if it is.
fn out_of_bounds(value: f64, bounds: &Bounds) -> Option<String> {
    if let Some(min) = bounds.minimum.filter(|min| value < *min) {
        return Some(format!("must be at least {min}"));
    }
    if let Some(min) = bounds.exclusive_minimum.filter(|min| value <= *min) {
        return Some(format!("must be greater than {min}"));
    }
    if let Some(max) = bounds.maximum.filter(|max| value > *max) {
        return Some(format!("must be at most {max}"));
    }
    if let Some(max) = bounds.exclusive_maximum.filter(|max| value >= *max) {
        return Some(format!("must be less than {max}"));
    }
    None
}

/// An integer flag takes every whole number `--json` sends exactly, up to 2^64 - 1, not only
/// an `i64`'s; one beyond 64 bits is named as such ([`json::inexact`]) rather than refused as
/// "expected a whole number", which it is.
///
/// [`json::inexact`]: crate::json::inexact
fn parse_integer(text: &str, bounds: &Bounds) -> Result<serde_json::Number, String> {
    let text = text.trim();
    let number = text
        .parse::<i64>()
        .map(serde_json::Number::from)
        .or_else(|_| text.parse::<u64>().map(serde_json::Number::from))
        .map_err(|_| {
            let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
            match crate::json::inexact(text) {
                Some(why) if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) => {
                    format!("{text} cannot be sent exactly ({why})")
                }
                _ => "expected a whole number".to_owned(),
            }
        })?;
    // The contract's bounds are small integers, so comparing as floats loses nothing.
    match number
        .as_f64()
        .and_then(|value| out_of_bounds(value, bounds))
    {
        Some(why) => Err(why),
        None => Ok(number),
    }
}

/// A number flag is held to the rule a number in `--json` is held to ([`json::inexact`]): a
/// value that would go out as another number (`1e-400` as `0.0`) is refused, not sent. A
/// whole number goes out as an integer, as `--json` sends one: read as a float, `10` went out
/// as `10.0`, and `9007199254740993` as `9007199254740992.0`, another number.
///
/// [`json::inexact`]: crate::json::inexact
fn parse_number(text: &str, bounds: &Bounds) -> Result<serde_json::Number, String> {
    let text = text.trim();
    let value: f64 = text
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| "expected a finite number".to_owned())?;
    if let Some(why) = crate::json::inexact(text) {
        return Err(format!("{text} cannot be sent exactly ({why})"));
    }
    if let Some(why) = out_of_bounds(value, bounds) {
        return Err(why);
    }
    // `-0` stays the float `-0.0`, as `--json` sends it: as an integer it would lose its sign.
    let whole = if text.contains(['.', 'e', 'E']) || (value == 0.0 && value.is_sign_negative()) {
        None
    } else {
        text.parse::<i64>()
            .map(serde_json::Number::from)
            .or_else(|_| text.parse::<u64>().map(serde_json::Number::from))
            .ok()
    };
    whole
        .or_else(|| serde_json::Number::from_f64(value))
        .ok_or_else(|| "expected a finite number".to_owned())
}

/// Reads `reader` to its end, at most `limit` bytes: `Ok(None)` as soon as there is more, so
/// endless input costs at most the cap.
fn read_at_most(reader: impl std::io::Read, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    let mut content = Vec::new();
    std::io::Read::read_to_end(&mut reader.take(limit.saturating_add(1)), &mut content)?;
    Ok((content.len() as u64 <= limit).then_some(content))
}

/// `bytes` for a message: `64 MiB`, `16 KiB`, or `500 bytes`.
pub(crate) fn size_text(bytes: u64) -> String {
    const KIB: u64 = 1024;
    const MIB: u64 = 1024 * KIB;
    if bytes >= MIB && bytes % MIB == 0 {
        format!("{} MiB", bytes / MIB)
    } else if bytes >= KIB && bytes % KIB == 0 {
        format!("{} KiB", bytes / KIB)
    } else {
        format!("{bytes} bytes")
    }
}

/// Input a command reads whole: stdin (`-`) or a file the user named.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Input<'a> {
    Stdin,
    File(&'a std::path::Path),
}

/// Opens and reads `input` to its end, at most `limit` bytes ([`read_at_most`]), hearing
/// Ctrl-C meanwhile ([`crate::interruptible`]): stdin may be a terminal nobody types into,
/// and a file a named pipe (`--json @<(command)`) whose writer never comes, which opening
/// alone waits for.
pub(crate) fn read_input(input: Input<'_>, limit: u64) -> std::io::Result<Option<Vec<u8>>> {
    crate::interruptible(|| match input {
        Input::Stdin => read_at_most(std::io::stdin().lock(), limit),
        Input::File(path) => read_at_most(std::fs::File::open(path)?, limit),
    })
}

/// A request body's text from `input`, which `source` names in messages (`--json -`,
/// `--file body.json`), within [`MAX_BODY_INPUT_BYTES`]. A UTF-8 byte-order mark at the start
/// is skipped, as RFC 8259 lets a parser do: editors on Windows write one, and it is a mark of
/// the file's encoding, not a character of the body, which JSON parsers otherwise refuse as
/// "expected value at line 1 column 1" without saying what they saw.
fn read_body(input: Input<'_>, source: &str) -> Result<String, Failure> {
    let content = read_input(input, MAX_BODY_INPUT_BYTES)
        .map_err(|e| Failure::other(format!("cannot read {source}: {e}")))?
        .ok_or_else(|| {
            Failure::other(format!(
                "cannot read {source}: it is larger than {}, the most a request body may be",
                size_text(MAX_BODY_INPUT_BYTES)
            ))
        })?;
    let mut text = String::from_utf8(content).map_err(|_| {
        Failure::other(format!(
            "cannot read {source}: stream did not contain valid UTF-8"
        ))
    })?;
    if text.starts_with(BYTE_ORDER_MARK) {
        text.drain(..BYTE_ORDER_MARK.len_utf8());
    }
    Ok(text)
}

/// U+FEFF, which as the first character of a file marks its encoding ([`read_body`]).
const BYTE_ORDER_MARK: char = '\u{feff}';

/// A request body's text from the file at `path`, which `source` names in messages.
fn read_body_file(path: &str, source: &str) -> Result<String, Failure> {
    read_body(Input::File(std::path::Path::new(path)), source)
}

/// Reads the file a `flag` such as `op --file` names: `-` is stdin, as for `--json -` and
/// `op`'s body argument (`./-` names a file called `-`).
pub(crate) fn read_file_argument(path: &str, flag: &str) -> Result<String, Failure> {
    if path == "-" {
        read_body(Input::Stdin, &format!("{flag} from stdin"))
    } else {
        read_body_file(path, &format!("{flag} {}", crate::paint::inert(path)))
    }
}

/// Reads the `--json` text: `-` is stdin, `@path` a file, anything else the JSON itself.
/// `@-` is stdin too, as curl and gh read it (`@./-` names a file called `-`).
/// `what` names the argument in messages (`--json`, `the body`).
pub(crate) fn read_json_text(argument: &str, what: &str) -> Result<String, Failure> {
    if argument == "-" || argument == "@-" {
        read_body(Input::Stdin, &format!("{what} from stdin"))
    } else if let Some(path) = argument.strip_prefix('@') {
        read_body_file(path, &format!("{what} @{}", crate::paint::inert(path)))
    } else {
        Ok(argument.to_owned())
    }
}

/// The body a leaf's `--json` and flags describe, after checking that every required field
/// is present. Flags override members of `--json`.
pub(crate) fn body(info: &OperationInfo, matches: &ArgMatches) -> Result<Value, Failure> {
    let mut body = match matches.get_one::<String>("json") {
        None => Map::new(),
        Some(argument) => {
            let text = read_json_text(argument, "--json")?;
            let text = text.trim();
            if text.is_empty() {
                Map::new()
            } else {
                match crate::json::parse_body(text) {
                    Ok(Value::Object(map)) => map,
                    Ok(_) => {
                        return Err(Failure::other(
                            "--json must be a JSON object for this command",
                        ))
                    }
                    Err(e) => return Err(Failure::other(format!("invalid --json body: {e}"))),
                }
            }
        }
    };
    let mut missing = Vec::new();
    for field in info.input.fields() {
        let flag = flag_field(field);
        if let Some(flag) = flag {
            if let Some(value) = flag_value(flag, matches) {
                body.insert(field.name.to_owned(), value);
            }
        }
        if field.required && !body.contains_key(field.name) {
            missing.push(match flag {
                Some(_) => format!("--{}", long_name(field)),
                None => format!("`{}` (inside --json)", field.name),
            });
        }
    }
    if !missing.is_empty() {
        return Err(Failure::usage(format!(
            "missing required {}: {}",
            if missing.len() == 1 {
                "field"
            } else {
                "fields"
            },
            missing.join(", ")
        )));
    }
    Ok(Value::Object(body))
}

/// Warns on stderr of members of `body` that `info`'s input does not declare: the API ignores
/// them, so a misspelled optional field (`limt`) would be sent and change nothing, without a
/// word. A warning, not a refusal: a server newer than this program may declare them.
pub(crate) fn warn_of_undeclared(info: &OperationInfo, body: &Value) {
    let members = geopera_types::validate::undeclared(info.input, body);
    if members.is_empty() {
        return;
    }
    let effect = if members.len() == 1 {
        "it is sent but has no effect"
    } else {
        "they are sent but have no effect"
    };
    crate::paint::warning(&crate::json::escape_controls(&format!(
        "{} does not declare {}; the API ignores what it does not declare, so {effect}",
        info.id,
        members.join(", ")
    )));
}

fn flag_value(flag: FlagField, matches: &ArgMatches) -> Option<Value> {
    let id = format!("{FIELD}{}", flag.field.name);
    match flag.kind {
        Kind::Boolean => {
            if matches.get_flag(&id) {
                Some(Value::Bool(true))
            } else if matches.get_flag(&format!("{FIELD_NO}{}", flag.field.name)) {
                Some(Value::Bool(false))
            } else {
                None
            }
        }
        Kind::Text | Kind::Choice(_) => collect::<String>(matches, &id, flag.repeated),
        Kind::Integer(_) => collect::<serde_json::Number>(matches, &id, flag.repeated),
        Kind::Number(_) => collect::<serde_json::Number>(matches, &id, flag.repeated),
    }
}

fn collect<T>(matches: &ArgMatches, id: &str, repeated: bool) -> Option<Value>
where
    T: Clone + Send + Sync + 'static + Into<Value>,
{
    let values: Vec<Value> = matches
        .get_many::<T>(id)?
        .cloned()
        .map(Into::into)
        .collect();
    if repeated {
        (!values.is_empty()).then_some(Value::Array(values))
    } else {
        values.into_iter().next()
    }
}

#[cfg(test)]
#[path = "tree_tests.rs"]
mod tests;
