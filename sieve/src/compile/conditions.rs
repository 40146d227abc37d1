//! The tests: match types and comparators, address parts, `:index`, dates, body
//! transforms, and the tests of each extension, each with its arguments checked.

use super::{Arguments, Compiler, TagKind, checked_name, err};
use crate::error::{CompileError, Position};
use crate::parser::{Argument, Test};
#[cfg(test)]
use crate::program::SuiteTest;
use crate::program::{
    AddressPart, BodyTransform, Comparator, Index, Match, MatchKind, Relation, TestNode, Value,
    Zone,
};

impl Compiler {
    /// `test_message (:folder name | :smtp) n` of Pigeonhole's test suite.
    #[cfg(test)]
    pub(super) fn suite_message(&self, mut args: Arguments) -> Result<SuiteTest, CompileError> {
        let at = args.position;
        let folder = args
            .tags
            .remove("folder")
            .and_then(|(_, a)| a)
            .map(|a| self.string(a))
            .transpose()?;
        match self.positional::<1>(&mut args)? {
            [crate::parser::Argument::Number(index, _)] => Ok(SuiteTest::Message { folder, index }),
            _ => err(at, "test_message takes a number"),
        }
    }

    pub(super) fn test(&self, test: Test) -> Result<TestNode, CompileError> {
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
                    "test_message" => {
                        let tags = [("folder", TagKind::String), ("smtp", TagKind::Alone)];
                        let args = self.arguments(&name, at, test.arguments, &tags)?;
                        self.suite_message(args).map(TestNode::Testsuite)
                    }
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
    pub(super) fn keys(&self, argument: Argument, how: Match) -> Result<Vec<Value>, CompileError> {
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

    /// `:index n [:last]` (RFC 5260 §6; deleteheader's is part of editheader).
    pub(super) fn index(&self, args: &mut Arguments) -> Result<Option<Index>, CompileError> {
        self.index_of(args, "index")
    }

    pub(super) fn index_of(
        &self,
        args: &mut Arguments,
        extension: &str,
    ) -> Result<Option<Index>, CompileError> {
        let last = args.tags.remove("last");
        let Some((at, argument)) = args.tags.remove("index") else {
            return match last {
                Some((at, _)) => err(at, ":last needs :index"),
                None => Ok(None),
            };
        };
        self.needs(extension, at, ":index")?;
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
    pub(super) fn match_type(&self, args: &mut Arguments) -> Result<Match, CompileError> {
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

/// Whether the test `name` takes a match type and comparator, and the tags it takes.
pub(super) fn test_tags(name: &str) -> (bool, Vec<(&'static str, TagKind)>) {
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
