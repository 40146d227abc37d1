//! The commands: actions (keep, fileinto, redirect, reject, vacation, notify), flags,
//! `set`, `include` and `global`, each with its arguments checked.

use super::{Arguments, Compiler, TagKind, checked_name, err};
use crate::error::{CompileError, Position};
use crate::parser::{Argument, Command};
#[cfg(test)]
use crate::program::SuiteCommand;
use crate::program::{Cmd, FlagOp, Modifier, VacationSpec, Value};

impl Compiler {
    pub(super) fn command(&self, command: Command) -> Result<Cmd, CompileError> {
        let at = command.position;
        let name = command.name.clone();
        if command.block.is_some() {
            return err(at, format!("{name} takes no block"));
        }
        if !command.tests.is_empty() {
            return err(at, format!("{name} takes no test"));
        }
        // deleteheader takes the header test's tags (RFC 5293 §5).
        let header_tags = super::conditions::test_tags("header").1;
        let tags: &[(&str, TagKind)] = match name.as_str() {
            "deleteheader" => &header_tags,
            "addheader" => &[("last", TagKind::Alone)],
            "test_message" => &[("folder", TagKind::String), ("smtp", TagKind::Alone)],
            "test_config_reload" => &[("extension", TagKind::String)],
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
            "addheader" | "deleteheader" => Some("editheader"),
            "stop" | "keep" | "discard" | "redirect" => None,
            #[cfg(test)]
            _ if name == "test_message" => {
                return self
                    .suite_message(args)
                    .map(|t| Cmd::Testsuite(SuiteCommand::Message(t)));
            }
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
            "addheader" | "deleteheader" => self.edit_header(&name, args)?,
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

    /// `addheader [:last] name value` and `deleteheader [:index n [:last]] [comparator]
    /// [match type] name [value patterns]` (RFC 5293); names and values written out are
    /// checked here, the others when the script runs.
    fn edit_header(&self, command: &str, mut args: Arguments) -> Result<Cmd, CompileError> {
        let checked = |argument: Argument, what: &str, ok: fn(&str) -> bool| {
            let at = argument.position();
            let value = self.string(argument)?;
            match &value {
                Value::Literal(v) if !ok(v) => {
                    err(at, format!("{command}: invalid {what} \"{v}\""))
                }
                _ => Ok(value),
            }
        };
        if command == "addheader" {
            let last = args.has("last");
            let [name, value] = self.positional::<2>(&mut args)?;
            return Ok(Cmd::AddHeader {
                last,
                name: checked(name, "field name", crate::editheader::valid_name)?,
                value: checked(value, "field value", crate::editheader::valid_value)?,
            });
        }
        let how = self.match_type(&mut args)?;
        let index = self.index_of(&mut args, "editheader")?;
        let (name, patterns) = match args.positional.len() {
            1 => {
                let [name] = self.positional::<1>(&mut args)?;
                (name, None)
            }
            _ => {
                let [name, patterns] = self.positional::<2>(&mut args)?;
                (name, Some(self.keys(patterns, how)?))
            }
        };
        Ok(Cmd::DeleteHeader {
            index,
            how,
            name: checked(name, "field name", crate::editheader::valid_name)?,
            patterns,
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
            // The harness has no settings: the tests that change one run with the defaults
            // (and fail when they need the change), the files' other tests still run.
            "test_config_set" | "test_config_unset" | "test_config_reload" => SuiteCommand::Ignored,
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
