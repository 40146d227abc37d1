//! From the parsed commands to a [`Cmd`] tree: each name looked up among the commands and
//! tests of RFC 5228 and the extensions the script `require`s, each argument checked for
//! its kind, strings split into text and variable references. Every error names the line
//! and column and says what was expected, as Pigeonhole's CHECKSCRIPT does.

mod commands;
mod conditions;

use std::collections::{HashMap, HashSet};

use crate::error::{CompileError, Position};
use crate::parser::{Argument, Command};
use crate::program::{Cmd, Part, TestNode, Value};

/// The extensions this crate implements, as `require` names them.
pub const EXTENSIONS: &[&str] = &[
    "body",
    "comparator-i;ascii-numeric",
    "copy",
    "date",
    "duplicate",
    "editheader",
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
            // RFC 6131 §2 and RFC 5235 §3.2: each of these implies the extension it
            // extends (their RFCs' examples require only the newer name).
            match name.as_str() {
                "vacation-seconds" => self.required.insert("vacation".to_owned()),
                "spamtestplus" => self.required.insert("spamtest".to_owned()),
                _ => false,
            };
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
