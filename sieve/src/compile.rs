//! From the parsed commands to a [`Cmd`] tree: each name looked up among the commands and
//! tests of RFC 5228 and the extensions the script `require`s, each argument checked for
//! its kind, strings split into text and variable references. Every error names the line
//! and column and says what was expected, as Pigeonhole's CHECKSCRIPT does.

use std::collections::{HashMap, HashSet};

use crate::error::{CompileError, Position};
use crate::parser::{Argument, Command, Test};
use crate::program::{
    AddressPart, BodyTransform, Cmd, Comparator, FlagOp, Index, Match, MatchKind, Modifier, Part,
    Relation, TestNode, VacationSpec, Value, Zone,
};
#[cfg(test)]
use crate::program::{SuiteCommand, SuiteTest};

/// The extensions this crate implements, as `require` names them.
pub const EXTENSIONS: &[&str] = &[
    "body",
    "comparator-i;ascii-numeric",
    "copy",
    "date",
    "duplicate",
    "encoded-character",
    "enotify",
    "envelope",
    "environment",
    "ereject",
    "fileinto",
    "imap4flags",
    "include",
    "index",
    "mailbox",
    "regex",
    "reject",
    "relational",
    "spamtest",
    "spamtestplus",
    "subaddress",
    "vacation",
    "vacation-seconds",
    "variables",
    "virustest",
];

/// What a tag takes after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TagKind {
    Alone,
    Number,
    String,
    Strings,
}

/// The tags of one command or test, and its other arguments in order.
struct Arguments {
    tags: HashMap<String, (Position, Option<Argument>)>,
    positional: Vec<Argument>,
    what: String,
    position: Position,
}

impl Arguments {
    fn has(&self, tag: &str) -> bool {
        self.tags.contains_key(tag)
    }
}

struct Compiler {
    required: HashSet<String>,
}

/// Compiles a parsed script; the extensions it requires.
pub(crate) fn compile(commands: Vec<Command>) -> Result<(Vec<Cmd>, Vec<String>), CompileError> {
    let mut compiler = Compiler {
        required: HashSet::new(),
    };
    let mut seen_other = false;
    let mut rest = Vec::new();
    for command in commands {
        if command.name == "require" {
            if seen_other {
                return Err(CompileError::new(
                    command.position,
                    "require must come before every other command",
                ));
            }
            compiler.require(command)?;
        } else {
            seen_other = true;
            rest.push(command);
        }
    }
    let program = compiler.block(rest)?;
    let mut required: Vec<String> = compiler.required.into_iter().collect();
    required.sort();
    Ok((program, required))
}

fn err<T>(at: Position, message: impl Into<String>) -> Result<T, CompileError> {
    Err(CompileError::new(at, message))
}

impl Compiler {
    fn require(&mut self, command: Command) -> Result<(), CompileError> {
        let at = command.position;
        if command.block.is_some() || !command.tests.is_empty() {
            return err(at, "require takes only a string list");
        }
        let [Argument::Strings { values, .. }] = command.arguments.as_slice() else {
            return err(at, "require takes a string list of extensions");
        };
        for name in values {
            let name = name.to_ascii_lowercase();
            let known = EXTENSIONS.contains(&name.as_str())
                || matches!(
                    name.as_str(),
                    "comparator-i;octet" | "comparator-i;ascii-casemap"
                );
            if !known {
                return err(at, format!("unsupported extension \"{name}\""));
            }
            self.required.insert(name);
        }
        Ok(())
    }

    fn needs(&self, extension: &str, at: Position, what: &str) -> Result<(), CompileError> {
        if self.required.contains(extension) {
            Ok(())
        } else {
            err(at, format!("{what} needs require \"{extension}\""))
        }
    }

    fn block(&self, commands: Vec<Command>) -> Result<Vec<Cmd>, CompileError> {
        let mut out: Vec<Cmd> = Vec::with_capacity(commands.len());
        for command in commands {
            let at = command.position;
            match command.name.as_str() {
                "elsif" | "else" => {
                    let Some(Cmd::If {
                        branches,
                        otherwise,
                    }) = out.last_mut()
                    else {
                        return err(at, format!("{} without an if before it", command.name));
                    };
                    if otherwise.is_some() {
                        return err(at, format!("{} after else", command.name));
                    }
                    let (test, block) = self.control(command)?;
                    match test {
                        Some(test) => branches.push((test, block)),
                        None => *otherwise = Some(block),
                    }
                }
                "if" => {
                    let (test, block) = self.control(command)?;
                    let test = test.ok_or_else(|| CompileError::new(at, "if needs a test"))?;
                    out.push(Cmd::If {
                        branches: vec![(test, block)],
                        otherwise: None,
                    });
                }
                "require" => return err(at, "require must come before every other command"),
                _ => out.push(self.command(command)?),
            }
        }
        Ok(out)
    }

    /// `if`/`elsif` (one test and a block) and `else` (a block only).
    fn control(&self, command: Command) -> Result<(Option<TestNode>, Vec<Cmd>), CompileError> {
        let at = command.position;
        if !command.arguments.is_empty() {
            return err(at, format!("{} takes no arguments", command.name));
        }
        let Some(block) = command.block else {
            return err(at, format!("{} needs a block", command.name));
        };
        let test = match (command.name.as_str(), command.tests.len()) {
            ("else", 0) => None,
            ("else", _) => return err(at, "else takes no test"),
            (_, 1) => {
                let test = command.tests.into_iter().next();
                Some(self.test(test.ok_or_else(|| CompileError::new(at, "a test"))?)?)
            }
            _ => return err(at, format!("{} needs exactly one test", command.name)),
        };
        Ok((test, self.block(block)?))
    }

    fn command(&self, command: Command) -> Result<Cmd, CompileError> {
        let at = command.position;
        let name = command.name.clone();
        if command.block.is_some() {
            return err(at, format!("{name} takes no block"));
        }
        if !command.tests.is_empty() {
            return err(at, format!("{name} takes no test"));
        }
        let tags: &[(&str, TagKind)] = match name.as_str() {
            "keep" => &[("flags", TagKind::Strings)],
            "fileinto" => &[
                ("copy", TagKind::Alone),
                ("create", TagKind::Alone),
                ("flags", TagKind::Strings),
            ],
            "redirect" => &[("copy", TagKind::Alone)],
            "set" => &[
                ("lower", TagKind::Alone),
                ("upper", TagKind::Alone),
                ("lowerfirst", TagKind::Alone),
                ("upperfirst", TagKind::Alone),
                ("quotewildcard", TagKind::Alone),
                ("length", TagKind::Alone),
                ("encodeurl", TagKind::Alone),
            ],
            "include" => &[
                ("personal", TagKind::Alone),
                ("global", TagKind::Alone),
                ("once", TagKind::Alone),
                ("optional", TagKind::Alone),
            ],
            "notify" => &[
                ("from", TagKind::String),
                ("importance", TagKind::String),
                ("options", TagKind::Strings),
                ("message", TagKind::String),
            ],
            "vacation" => &[
                ("days", TagKind::Number),
                ("seconds", TagKind::Number),
                ("subject", TagKind::String),
                ("from", TagKind::String),
                ("addresses", TagKind::Strings),
                ("mime", TagKind::Alone),
                ("handle", TagKind::String),
            ],
            _ => &[],
        };
        let mut args = self.arguments(&name, at, command.arguments, tags)?;
        let extension = match name.as_str() {
            "fileinto" => Some("fileinto"),
            "reject" => Some("reject"),
            "ereject" => Some("ereject"),
            "setflag" | "addflag" | "removeflag" => Some("imap4flags"),
            "set" => Some("variables"),
            "vacation" => Some("vacation"),
            "notify" => Some("enotify"),
            "include" | "return" => Some("include"),
            "global" => Some("variables"),
            "stop" | "keep" | "discard" | "redirect" => None,
            #[cfg(test)]
            _ if name.starts_with("test_") => {
                return self.suite_command(&name, args).map(Cmd::Testsuite);
            }
            _ => return err(at, format!("unknown command \"{name}\"")),
        };
        if let Some(extension) = extension {
            self.needs(extension, at, &format!("the command \"{name}\""))?;
        }
        for (tag, (position, _)) in &args.tags {
            match tag.as_str() {
                "copy" => self.needs("copy", *position, ":copy")?,
                "create" => self.needs("mailbox", *position, ":create")?,
                "flags" => self.needs("imap4flags", *position, ":flags")?,
                "seconds" => self.needs("vacation-seconds", *position, ":seconds")?,
                "encodeurl" => self.needs("enotify", *position, ":encodeurl")?,
                _ => {}
            }
        }
        let flags = |args: &mut Arguments, c: &Self| -> Result<Option<Vec<Value>>, CompileError> {
            args.tags
                .remove("flags")
                .map(|(_, a)| c.strings(a.ok_or_else(|| CompileError::new(at, ":flags"))?))
                .transpose()
        };
        Ok(match name.as_str() {
            "stop" => self.no_more(args, Cmd::Stop)?,
            "discard" => self.no_more(args, Cmd::Discard)?,
            "keep" => {
                let flags = flags(&mut args, self)?;
                self.no_more(args, Cmd::Keep { flags })?
            }
            "redirect" => {
                let copy = args.has("copy");
                let [address] = self.positional::<1>(&mut args)?;
                Cmd::Redirect {
                    address: self.string(address)?,
                    copy,
                }
            }
            "fileinto" => {
                let (copy, create) = (args.has("copy"), args.has("create"));
                let flags = flags(&mut args, self)?;
                let [mailbox] = self.positional::<1>(&mut args)?;
                Cmd::FileInto {
                    mailbox: self.string(mailbox)?,
                    copy,
                    create,
                    flags,
                }
            }
            "reject" | "ereject" => {
                let [reason] = self.positional::<1>(&mut args)?;
                Cmd::Reject {
                    reason: self.string(reason)?,
                    extended: name == "ereject",
                }
            }
            "setflag" | "addflag" | "removeflag" => self.flag_command(&name, args)?,
            "notify" => self.notify(args)?,
            "return" => self.no_more(args, Cmd::Return)?,
            "global" | "include" => self.include_command(&name, at, args)?,
            "set" => self.set(args)?,
            _ => self.vacation(args)?,
        })
    }

    /// `global` and `include` (RFC 6609).
    fn include_command(
        &self,
        name: &str,
        at: Position,
        mut args: Arguments,
    ) -> Result<Cmd, CompileError> {
        Ok(match name {
            "global" => {
                self.needs("include", at, "the command \"global\"")?;
                let [names] = self.positional::<1>(&mut args)?;
                let Argument::Strings {
                    values, position, ..
                } = names
                else {
                    return err(at, "global takes a list of variable names");
                };
                let names = values
                    .iter()
                    .map(|n| checked_name(n, position))
                    .collect::<Result<Vec<_>, _>>()?;
                Cmd::Global(names)
            }
            "include" => {
                if args.has("personal") && args.has("global") {
                    return err(at, "include takes :personal or :global, not both");
                }
                let (global, once, optional) =
                    (args.has("global"), args.has("once"), args.has("optional"));
                let [name] = self.positional::<1>(&mut args)?;
                let name_at = name.position();
                let name = self.string(name)?;
                if let Value::Literal(n) = &name
                    && (n.is_empty() || n.contains('/'))
                {
                    return err(name_at, format!("invalid script name \"{n}\""));
                }
                Cmd::Include {
                    global,
                    once,
                    optional,
                    name,
                }
            }
            _ => return err(at, format!("unknown command \"{name}\"")),
        })
    }

    fn no_more(&self, args: Arguments, cmd: Cmd) -> Result<Cmd, CompileError> {
        match args.positional.first() {
            Some(a) => err(
                a.position(),
                format!("{} takes no such argument", args.what),
            ),
            None => Ok(cmd),
        }
    }

    fn flag_command(&self, name: &str, mut args: Arguments) -> Result<Cmd, CompileError> {
        let op = match name {
            "setflag" => FlagOp::Set,
            "addflag" => FlagOp::Add,
            _ => FlagOp::Remove,
        };
        let (variable, flags) = match args.positional.len() {
            2 => {
                let [variable, flags] = self.positional::<2>(&mut args)?;
                (Some(self.variable_name(variable)?), flags)
            }
            _ => {
                let [flags] = self.positional::<1>(&mut args)?;
                (None, flags)
            }
        };
        Ok(Cmd::Flags {
            op,
            variable,
            flags: self.strings(flags)?,
        })
    }

    fn set(&self, mut args: Arguments) -> Result<Cmd, CompileError> {
        let mut modifiers: Vec<Modifier> = args
            .tags
            .keys()
            .map(|t| match t.as_str() {
                "lower" => Modifier::Lower,
                "upper" => Modifier::Upper,
                "lowerfirst" => Modifier::LowerFirst,
                "upperfirst" => Modifier::UpperFirst,
                "quotewildcard" => Modifier::QuoteWildcard,
                "encodeurl" => Modifier::EncodeUrl,
                _ => Modifier::Length,
            })
            .collect();
        // Applied by precedence: :length last, the case ones first (RFC 5229 §4.1).
        modifiers.sort_by_key(|m| std::cmp::Reverse(precedence(*m)));
        let at = args.position;
        if modifiers.contains(&Modifier::Lower) && modifiers.contains(&Modifier::Upper)
            || modifiers.contains(&Modifier::LowerFirst)
                && modifiers.contains(&Modifier::UpperFirst)
        {
            return err(at, "set: two modifiers of the same precedence");
        }
        let [name, value] = self.positional::<2>(&mut args)?;
        Ok(Cmd::Set {
            name: self.variable_name(name)?,
            modifiers,
            value: self.string(value)?,
        })
    }

    /// `notify [:from f] [:importance 1-3] [:options list] [:message m] method`; a method
    /// written out must be a mailto URI this server can send to.
    fn notify(&self, mut args: Arguments) -> Result<Cmd, CompileError> {
        let mut string = |tag: &str| -> Result<Option<Value>, CompileError> {
            args.tags
                .remove(tag)
                .and_then(|(_, a)| a)
                .map(|a| self.string(a))
                .transpose()
        };
        let from = string("from")?;
        let importance = string("importance")?;
        let message = string("message")?;
        if let Some(Value::Literal(i)) = &importance
            && !matches!(i.as_str(), "1" | "2" | "3")
        {
            return err(args.position, ":importance is 1, 2 or 3");
        }
        let options = match args.tags.remove("options").and_then(|(_, a)| a) {
            Some(a) => self.strings(a)?,
            None => Vec::new(),
        };
        let [method] = self.positional::<1>(&mut args)?;
        let at = method.position();
        let method = self.string(method)?;
        if let Value::Literal(uri) = &method
            && crate::notify::mailto(uri).is_none()
        {
            return err(
                at,
                format!("unsupported or invalid notification method \"{uri}\""),
            );
        }
        Ok(Cmd::Notify {
            method,
            from,
            importance,
            options,
            message,
        })
    }

    fn vacation(&self, mut args: Arguments) -> Result<Cmd, CompileError> {
        let at = args.position;
        let number = |a: Option<(Position, Option<Argument>)>| match a {
            Some((_, Some(Argument::Number(n, _)))) => Some(n),
            _ => None,
        };
        let days = number(args.tags.remove("days"));
        let seconds = number(args.tags.remove("seconds"));
        if days.is_some() && seconds.is_some() {
            return err(at, "vacation takes :days or :seconds, not both");
        }
        let period = days.map(|d| d.saturating_mul(86_400)).or(seconds);
        let mut string = |tag: &str| -> Result<Option<Value>, CompileError> {
            args.tags
                .remove(tag)
                .and_then(|(_, a)| a)
                .map(|a| self.string(a))
                .transpose()
        };
        let subject = string("subject")?;
        let from = string("from")?;
        let handle = string("handle")?;
        let addresses = match args.tags.remove("addresses").and_then(|(_, a)| a) {
            Some(a) => self.strings(a)?,
            None => Vec::new(),
        };
        let mime = args.has("mime");
        let [reason] = self.positional::<1>(&mut args)?;
        Ok(Cmd::Vacation(Box::new(VacationSpec {
            period,
            subject,
            from,
            addresses,
            mime,
            handle,
            reason: self.string(reason)?,
        })))
    }

    fn test(&self, test: Test) -> Result<TestNode, CompileError> {
        let at = test.position;
        let name = test.name.clone();
        let logic = matches!(name.as_str(), "allof" | "anyof" | "not");
        if !logic && !test.tests.is_empty() {
            return err(at, format!("the test \"{name}\" takes no tests"));
        }
        let extension = match name.as_str() {
            "envelope" => Some("envelope"),
            "body" => Some("body"),
            "string" => Some("variables"),
            "hasflag" => Some("imap4flags"),
            "mailboxexists" => Some("mailbox"),
            "environment" => Some("environment"),
            "date" | "currentdate" => Some("date"),
            "spamtest" => Some("spamtest"),
            "virustest" => Some("virustest"),
            "duplicate" => Some("duplicate"),
            "valid_notify_method" | "notify_method_capability" => Some("enotify"),
            "address" | "header" | "exists" | "size" | "true" | "false" | "allof" | "anyof"
            | "not" => None,
            #[cfg(test)]
            _ if name.starts_with("test_") => {
                return match name.as_str() {
                    "test_result_execute" => Ok(TestNode::Testsuite(SuiteTest::ResultExecute)),
                    _ => err(at, format!("{name} is not in this harness")),
                };
            }
            _ => return err(at, format!("unknown test \"{name}\"")),
        };
        if let Some(extension) = extension {
            self.needs(extension, at, &format!("the test \"{name}\""))?;
        }
        let (matching, tags) = test_tags(&name);
        let mut args = self.arguments(&name, at, test.arguments, &tags)?;
        let explicit_comparator = args.has("comparator");
        if logic {
            if !args.positional.is_empty() || !args.tags.is_empty() {
                return err(at, format!("{name} takes only tests"));
            }
            let mut inner = test
                .tests
                .into_iter()
                .map(|t| self.test(t))
                .collect::<Result<Vec<_>, _>>()?;
            return match (name.as_str(), inner.len()) {
                ("not", 1) => Ok(TestNode::Not(Box::new(inner.remove(0)))),
                ("not", _) => err(at, "not takes one test"),
                (_, 0) => err(at, format!("{name} needs a test list")),
                ("allof", _) => Ok(TestNode::AllOf(inner)),
                _ => Ok(TestNode::AnyOf(inner)),
            };
        }
        let how = if matching {
            let mut how = self.match_type(&mut args)?;
            // Pigeonhole compares the `string` test's values octet by octet unless told
            // otherwise (`string :is "Value" "value"` is false in sieve-test 0.5.19, and its
            // test suite checks so); scripts moved from it must behave the same.
            if name == "string" && !explicit_comparator {
                how.comparator = Comparator::Octet;
            }
            how
        } else {
            Match {
                kind: MatchKind::Is,
                comparator: Comparator::AsciiCasemap,
            }
        };
        Ok(match name.as_str() {
            "true" => self.no_more_test(args, TestNode::True)?,
            "false" => self.no_more_test(args, TestNode::False)?,
            "exists" => {
                let [names] = self.positional::<1>(&mut args)?;
                TestNode::Exists(self.strings(names)?)
            }
            "size" => self.size(args)?,
            "mailboxexists" => {
                let [names] = self.positional::<1>(&mut args)?;
                TestNode::MailboxExists(self.strings(names)?)
            }
            "address" | "envelope" => {
                let part = self.address_part(&args)?;
                let index = self.index(&mut args)?;
                let [names, keys] = self.positional::<2>(&mut args)?;
                let (names, keys) = (self.strings(names)?, self.keys(keys, how)?);
                match name.as_str() {
                    "address" => TestNode::Address {
                        part,
                        names,
                        keys,
                        how,
                        index,
                    },
                    _ => TestNode::Envelope {
                        part,
                        names,
                        keys,
                        how,
                    },
                }
            }
            "header" => {
                let index = self.index(&mut args)?;
                let [names, keys] = self.positional::<2>(&mut args)?;
                TestNode::Header {
                    names: self.strings(names)?,
                    keys: self.keys(keys, how)?,
                    how,
                    index,
                }
            }
            "string" => {
                let [sources, keys] = self.positional::<2>(&mut args)?;
                TestNode::String {
                    sources: self.strings(sources)?,
                    keys: self.keys(keys, how)?,
                    how,
                }
            }
            "environment" => {
                let [name, keys] = self.positional::<2>(&mut args)?;
                TestNode::Environment {
                    name: self.string(name)?,
                    keys: self.keys(keys, how)?,
                    how,
                }
            }
            "hasflag" => self.hasflag(args, how)?,
            "body" => self.body(args, how)?,
            _ => self.extension_test(&name, args, how)?,
        })
    }

    /// The tests of date, spamtest/virustest, duplicate and enotify.
    fn extension_test(
        &self,
        name: &str,
        mut args: Arguments,
        how: Match,
    ) -> Result<TestNode, CompileError> {
        Ok(match name {
            "date" | "currentdate" => self.date(name, args, how)?,
            "spamtest" | "virustest" => {
                let percent = args.tags.remove("percent");
                if let Some((at, _)) = percent {
                    self.needs("spamtestplus", at, ":percent")?;
                }
                let [keys] = self.positional::<1>(&mut args)?;
                let keys = self.keys(keys, how)?;
                match name {
                    "spamtest" => TestNode::SpamTest {
                        percent: percent.is_some(),
                        keys,
                        how,
                    },
                    _ => TestNode::VirusTest { keys, how },
                }
            }
            "duplicate" => self.duplicate(args)?,
            "valid_notify_method" => {
                let [uris] = self.positional::<1>(&mut args)?;
                TestNode::ValidNotifyMethod(self.strings(uris)?)
            }
            "notify_method_capability" => {
                let [uri, capability, keys] = self.positional::<3>(&mut args)?;
                TestNode::NotifyMethodCapability {
                    uri: self.string(uri)?,
                    capability: self.string(capability)?,
                    keys: self.keys(keys, how)?,
                    how,
                }
            }
            _ => return err(args.position, format!("unknown test \"{name}\"")),
        })
    }

    /// The keys of a test matching `how`: a `:regex` key written out is compiled now, so a
    /// bad expression is an error here, with where.
    fn keys(&self, argument: Argument, how: Match) -> Result<Vec<Value>, CompileError> {
        let at = argument.position();
        let keys = self.strings(argument)?;
        if how.kind == MatchKind::Regex {
            for key in &keys {
                if let Value::Literal(pattern) = key {
                    crate::matching::regex(pattern, how.comparator).map_err(|e| {
                        CompileError::new(at, format!("invalid regular expression: {e}"))
                    })?;
                }
            }
        }
        Ok(keys)
    }

    /// `:index n [:last]` (RFC 5260 §6).
    fn index(&self, args: &mut Arguments) -> Result<Option<Index>, CompileError> {
        let last = args.tags.remove("last");
        let Some((at, argument)) = args.tags.remove("index") else {
            return match last {
                Some((at, _)) => err(at, ":last needs :index"),
                None => Ok(None),
            };
        };
        self.needs("index", at, ":index")?;
        match argument {
            Some(Argument::Number(n, _)) if n > 0 => Ok(Some(Index {
                n: usize::try_from(n).unwrap_or(usize::MAX),
                last: last.is_some(),
            })),
            _ => err(at, ":index takes a number from 1"),
        }
    }

    /// `date [:zone z | :originalzone] … header part keys` and `currentdate [:zone z] … part
    /// keys` (RFC 5260 §4, §5).
    fn date(&self, name: &str, mut args: Arguments, how: Match) -> Result<TestNode, CompileError> {
        let at = args.position;
        let index = self.index(&mut args)?;
        let zone = match (args.tags.remove("zone"), args.tags.remove("originalzone")) {
            (Some(_), Some(_)) => return err(at, ":zone and :originalzone together"),
            (None, Some(_)) => Zone::Original,
            (None, None) => Zone::Local,
            (Some((position, argument)), None) => {
                let text = match argument {
                    Some(Argument::Strings { values, .. }) => values.concat(),
                    _ => String::new(),
                };
                Zone::Fixed(crate::date::zone(&text).ok_or_else(|| {
                    CompileError::new(position, format!("invalid time zone \"{text}\""))
                })?)
            }
        };
        let check_part = |part: &Value, at: Position| match part {
            Value::Literal(p) if !crate::date::is_part(p) => {
                err(at, format!("unknown date part \"{p}\""))
            }
            _ => Ok(()),
        };
        if name == "date" {
            let [header, part, keys] = self.positional::<3>(&mut args)?;
            let part_at = part.position();
            let part = self.string(part)?;
            check_part(&part, part_at)?;
            return Ok(TestNode::Date {
                header: self.string(header)?,
                zone,
                part,
                keys: self.keys(keys, how)?,
                how,
                index,
            });
        }
        let [part, keys] = self.positional::<2>(&mut args)?;
        let part_at = part.position();
        let part = self.string(part)?;
        check_part(&part, part_at)?;
        Ok(TestNode::CurrentDate {
            zone,
            part,
            keys: self.keys(keys, how)?,
            how,
        })
    }

    /// `duplicate [:handle h] [:header name | :uniqueid id] [:seconds n] [:last]`.
    fn duplicate(&self, mut args: Arguments) -> Result<TestNode, CompileError> {
        let at = args.position;
        let mut string = |tag: &str| -> Result<Option<Value>, CompileError> {
            args.tags
                .remove(tag)
                .and_then(|(_, a)| a)
                .map(|a| self.string(a))
                .transpose()
        };
        let handle = string("handle")?;
        let header = string("header")?;
        let uniqueid = string("uniqueid")?;
        if header.is_some() && uniqueid.is_some() {
            return err(at, "duplicate takes :header or :uniqueid, not both");
        }
        let seconds = match args.tags.remove("seconds") {
            Some((_, Some(Argument::Number(n, _)))) => Some(n),
            _ => None,
        };
        let last = args.tags.remove("last").is_some();
        let test = TestNode::Duplicate {
            handle,
            header,
            uniqueid,
            seconds,
            last,
        };
        self.no_more_test(args, test)
    }

    fn no_more_test(&self, args: Arguments, test: TestNode) -> Result<TestNode, CompileError> {
        match args.positional.first() {
            Some(a) => err(a.position(), format!("{} takes no arguments", args.what)),
            None => Ok(test),
        }
    }

    fn size(&self, mut args: Arguments) -> Result<TestNode, CompileError> {
        let at = args.position;
        let over = args.tags.remove("over");
        let under = args.tags.remove("under");
        let (over, limit) = match (over, under) {
            (Some((_, Some(Argument::Number(n, _)))), None) => (true, n),
            (None, Some((_, Some(Argument::Number(n, _))))) => (false, n),
            _ => return err(at, "size takes :over or :under and a number"),
        };
        self.no_more_test(args, TestNode::Size { over, limit })
    }

    fn hasflag(&self, mut args: Arguments, how: Match) -> Result<TestNode, CompileError> {
        let (variables, flags) = match args.positional.len() {
            2 => {
                let [variables, flags] = self.positional::<2>(&mut args)?;
                let Argument::Strings {
                    values, position, ..
                } = variables
                else {
                    return err(args.position, "hasflag: a list of variable names");
                };
                let names = values
                    .into_iter()
                    .map(|v| checked_name(&v, position))
                    .collect::<Result<Vec<_>, _>>()?;
                (names, flags)
            }
            _ => {
                let [flags] = self.positional::<1>(&mut args)?;
                (Vec::new(), flags)
            }
        };
        Ok(TestNode::HasFlag {
            variables,
            keys: self.strings(flags)?,
            how,
        })
    }

    fn body(&self, mut args: Arguments, how: Match) -> Result<TestNode, CompileError> {
        let at = args.position;
        let raw = args.tags.remove("raw");
        let content = args.tags.remove("content");
        let text = args.tags.remove("text");
        let transform = match (raw, content, text) {
            (None, None, _) => BodyTransform::Text,
            (Some(_), None, None) => BodyTransform::Raw,
            (None, Some((_, Some(Argument::Strings { values, .. }))), None) => {
                BodyTransform::Content(values)
            }
            _ => return err(at, "body takes one of :raw, :content or :text"),
        };
        let [keys] = self.positional::<1>(&mut args)?;
        Ok(TestNode::Body {
            transform,
            keys: self.strings(keys)?,
            how,
        })
    }

    fn address_part(&self, args: &Arguments) -> Result<AddressPart, CompileError> {
        let mut part = AddressPart::All;
        let mut seen = 0;
        for (tag, (at, _)) in &args.tags {
            let p = match tag.as_str() {
                "all" => AddressPart::All,
                "localpart" => AddressPart::LocalPart,
                "domain" => AddressPart::Domain,
                "user" | "detail" => {
                    self.needs("subaddress", *at, &format!(":{tag}"))?;
                    if tag == "user" {
                        AddressPart::User
                    } else {
                        AddressPart::Detail
                    }
                }
                _ => continue,
            };
            seen += 1;
            part = p;
        }
        if seen > 1 {
            return err(args.position, "more than one address part");
        }
        Ok(part)
    }

    /// The match type and comparator tags (taken out of `args`).
    fn match_type(&self, args: &mut Arguments) -> Result<Match, CompileError> {
        let at = args.position;
        let mut kind = None;
        let mut set = |k: MatchKind| {
            if kind.replace(k).is_some() {
                return err(at, "more than one match type");
            }
            Ok(())
        };
        for (tag, simple) in [
            ("is", MatchKind::Is),
            ("contains", MatchKind::Contains),
            ("matches", MatchKind::Matches),
            ("regex", MatchKind::Regex),
        ] {
            if let Some((position, _)) = args.tags.remove(tag) {
                if tag == "regex" {
                    self.needs("regex", position, ":regex")?;
                }
                set(simple)?;
            }
        }
        for tag in ["value", "count"] {
            if let Some((position, argument)) = args.tags.remove(tag) {
                self.needs("relational", position, &format!(":{tag}"))?;
                let relation = match argument {
                    Some(Argument::Strings { values, .. }) if values.len() == 1 => {
                        relation(&values[0]).ok_or_else(|| {
                            CompileError::new(
                                position,
                                format!("unknown relation \"{}\"", values[0]),
                            )
                        })?
                    }
                    _ => return err(position, format!(":{tag} takes one relation")),
                };
                set(match tag {
                    "value" => MatchKind::Value(relation),
                    _ => MatchKind::Count(relation),
                })?;
            }
        }
        let comparator = match args.tags.remove("comparator") {
            None => Comparator::AsciiCasemap,
            Some((position, argument)) => {
                let name = match argument {
                    Some(Argument::Strings { values, .. }) if values.len() == 1 => {
                        values[0].to_ascii_lowercase()
                    }
                    _ => return err(position, ":comparator takes one name"),
                };
                match name.as_str() {
                    "i;octet" => Comparator::Octet,
                    "i;ascii-casemap" => Comparator::AsciiCasemap,
                    "i;ascii-numeric" => {
                        self.needs("comparator-i;ascii-numeric", position, "i;ascii-numeric")?;
                        Comparator::AsciiNumeric
                    }
                    _ => return err(position, format!("unknown comparator \"{name}\"")),
                }
            }
        };
        let kind = kind.unwrap_or(MatchKind::Is);
        if comparator == Comparator::AsciiNumeric
            && matches!(
                kind,
                MatchKind::Contains | MatchKind::Matches | MatchKind::Regex
            )
        {
            return err(
                at,
                "i;ascii-numeric compares whole numbers only (:is, :value, :count)",
            );
        }
        Ok(Match { kind, comparator })
    }

    /// Splits `arguments` into the `allowed` tags (each with what it takes) and the rest.
    fn arguments(
        &self,
        what: &str,
        position: Position,
        arguments: Vec<Argument>,
        allowed: &[(&str, TagKind)],
    ) -> Result<Arguments, CompileError> {
        let mut tags = HashMap::new();
        let mut positional = Vec::new();
        let mut iter = arguments.into_iter();
        while let Some(argument) = iter.next() {
            let Argument::Tag(tag, at) = argument else {
                positional.push(argument);
                continue;
            };
            if !positional.is_empty() {
                return err(
                    at,
                    format!("{what}: the tag :{tag} must come before the other arguments"),
                );
            }
            let Some((_, kind)) = allowed.iter().find(|(t, _)| *t == tag) else {
                return err(at, format!("{what} has no tag :{tag}"));
            };
            let value = match kind {
                TagKind::Alone => None,
                TagKind::Number => match iter.next() {
                    Some(n @ Argument::Number(..)) => Some(n),
                    _ => return err(at, format!(":{tag} takes a number")),
                },
                TagKind::String => match iter.next() {
                    Some(s @ Argument::Strings { .. }) => {
                        if let Argument::Strings { values, .. } = &s
                            && values.len() != 1
                        {
                            return err(at, format!(":{tag} takes one string"));
                        }
                        Some(s)
                    }
                    _ => return err(at, format!(":{tag} takes a string")),
                },
                TagKind::Strings => match iter.next() {
                    Some(s @ Argument::Strings { .. }) => Some(s),
                    _ => return err(at, format!(":{tag} takes a string list")),
                },
            };
            if tags.insert(tag.clone(), (at, value)).is_some() {
                return err(at, format!("{what}: :{tag} given twice"));
            }
        }
        Ok(Arguments {
            tags,
            positional,
            what: what.to_owned(),
            position,
        })
    }

    /// Exactly `N` positional arguments left.
    fn positional<const N: usize>(
        &self,
        args: &mut Arguments,
    ) -> Result<[Argument; N], CompileError> {
        let taken = std::mem::take(&mut args.positional);
        let count = taken.len();
        taken.try_into().map_err(|_| {
            CompileError::new(
                args.position,
                format!(
                    "{} takes {N} argument(s) besides its tags, not {count}",
                    args.what
                ),
            )
        })
    }

    /// One string (a list of one is taken too, as Pigeonhole does).
    fn string(&self, argument: Argument) -> Result<Value, CompileError> {
        match argument {
            Argument::Strings {
                mut values,
                position,
                ..
            } if values.len() == 1 => self.value(values.remove(0), position),
            other => err(other.position(), "a string was expected"),
        }
    }

    fn strings(&self, argument: Argument) -> Result<Vec<Value>, CompileError> {
        match argument {
            Argument::Strings {
                values, position, ..
            } => values
                .into_iter()
                .map(|v| self.value(v, position))
                .collect(),
            other => err(other.position(), "a string list was expected"),
        }
    }

    fn variable_name(&self, argument: Argument) -> Result<String, CompileError> {
        match argument {
            Argument::Strings {
                values, position, ..
            } if values.len() == 1 => checked_name(&values[0], position),
            other => err(other.position(), "a variable name was expected"),
        }
    }

    /// A string as the script's extensions read it: `${hex:…}`/`${unicode:…}` decoded now
    /// (encoded-character), `${name}` kept for the run (variables).
    fn value(&self, text: String, at: Position) -> Result<Value, CompileError> {
        let text = if self.required.contains("encoded-character") {
            crate::variables::decode_encoded(&text)
                .ok_or_else(|| CompileError::new(at, "an encoded character is not valid"))?
        } else {
            text
        };
        if !self.required.contains("variables") || !text.contains("${") {
            return Ok(Value::Literal(text));
        }
        let parts = crate::variables::template(&text);
        Ok(match parts.as_slice() {
            [Part::Text(t)] => Value::Literal(t.clone()),
            [] => Value::Literal(String::new()),
            _ => Value::Template(parts),
        })
    }
}

/// Pigeonhole's test suite commands (see `testsuite`), only in this crate's tests.
#[cfg(test)]
impl Compiler {
    fn suite_command(&self, name: &str, args: Arguments) -> Result<SuiteCommand, CompileError> {
        let at = args
            .positional
            .first()
            .map(Argument::position)
            .unwrap_or(args.position);
        let mut strings = args
            .positional
            .into_iter()
            .map(|a| self.string(a))
            .collect::<Result<Vec<_>, _>>()?
            .into_iter();
        let mut next = || {
            strings
                .next()
                .ok_or_else(|| CompileError::new(at, format!("{name}: an argument is missing")))
        };
        Ok(match name {
            "test_fail" => SuiteCommand::Fail(next()?),
            "test_set" => SuiteCommand::Set(next()?, next()?),
            "test_result_reset" => SuiteCommand::ResultReset,
            "test_mailbox_create" => SuiteCommand::MailboxCreate(next()?),
            _ => return err(at, format!("{name} is not in this harness")),
        })
    }
}

fn precedence(m: Modifier) -> u8 {
    match m {
        Modifier::Length => 10,
        Modifier::EncodeUrl => 15,
        Modifier::QuoteWildcard => 20,
        Modifier::LowerFirst | Modifier::UpperFirst => 30,
        Modifier::Lower | Modifier::Upper => 40,
    }
}

fn relation(name: &str) -> Option<Relation> {
    Some(match name.to_ascii_lowercase().as_str() {
        "gt" => Relation::Gt,
        "ge" => Relation::Ge,
        "lt" => Relation::Lt,
        "le" => Relation::Le,
        "eq" => Relation::Eq,
        "ne" => Relation::Ne,
        _ => return None,
    })
}

/// A variable name `set` or a flag command may use: an identifier (RFC 5229 §3), or one in
/// the `global` namespace (RFC 6609 §3.5).
fn checked_name(name: &str, at: Position) -> Result<String, CompileError> {
    if crate::variables::is_global(name) {
        return Ok(name.to_ascii_lowercase());
    }
    let mut chars = name.chars();
    let valid = chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_');
    if valid {
        Ok(name.to_ascii_lowercase())
    } else {
        err(at, format!("\"{name}\" is not a variable name"))
    }
}

/// Whether the test `name` takes a match type and comparator, and the tags it takes.
fn test_tags(name: &str) -> (bool, Vec<(&'static str, TagKind)>) {
    let mut tags: Vec<(&str, TagKind)> = Vec::new();
    let matching = matches!(
        name,
        "address"
            | "envelope"
            | "header"
            | "body"
            | "string"
            | "hasflag"
            | "environment"
            | "date"
            | "currentdate"
            | "spamtest"
            | "virustest"
            | "notify_method_capability"
    );
    if matching {
        tags.extend([
            ("is", TagKind::Alone),
            ("contains", TagKind::Alone),
            ("matches", TagKind::Alone),
            ("regex", TagKind::Alone),
            ("value", TagKind::String),
            ("count", TagKind::String),
            ("comparator", TagKind::String),
        ]);
    }
    if matches!(name, "address" | "envelope") {
        tags.extend(["all", "localpart", "domain", "user", "detail"].map(|t| (t, TagKind::Alone)));
    }
    if matches!(name, "address" | "header" | "date") {
        tags.extend([("index", TagKind::Number), ("last", TagKind::Alone)]);
    }
    match name {
        "size" => tags.extend([("over", TagKind::Number), ("under", TagKind::Number)]),
        "body" => tags.extend([
            ("raw", TagKind::Alone),
            ("content", TagKind::Strings),
            ("text", TagKind::Alone),
        ]),
        "date" => tags.extend([("zone", TagKind::String), ("originalzone", TagKind::Alone)]),
        "currentdate" => tags.push(("zone", TagKind::String)),
        "spamtest" => tags.push(("percent", TagKind::Alone)),
        "duplicate" => tags.extend([
            ("handle", TagKind::String),
            ("header", TagKind::String),
            ("uniqueid", TagKind::String),
            ("seconds", TagKind::Number),
            ("last", TagKind::Alone),
        ]),
        _ => {}
    }
    (matching, tags)
}
