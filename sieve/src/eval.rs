//! The run of a compiled script over one message: tests evaluated, commands carried out into
//! a list of [`Action`]s for the caller, with the implicit keep of RFC 5228 §2.10.2 and the
//! limits of [`Limits`].

use std::collections::HashMap;

use crate::error::RuntimeError;
use crate::matching::{compare, holds, test};
use crate::message::{Envelope, Host, Message, address_part, addresses};
use crate::program::{Cmd, FlagOp, Index, Match, MatchKind, Part, TestNode, Value, Zone};
use crate::{Action, Limits, Outcome, Vacation};

/// The state of one run.
pub(crate) struct Run<'a> {
    pub message: &'a dyn Message,
    pub envelope: &'a Envelope,
    pub host: &'a dyn Host,
    pub limits: &'a Limits,
    /// Whether the script required "variables" (then `:matches` fills `${0}` …).
    pub variables_on: bool,
    steps: usize,
    /// The running script's own variables; those it declared `global` live in `globals`.
    variables: HashMap<String, String>,
    globals: HashMap<String, String>,
    global_names: std::collections::HashSet<String>,
    /// Scripts included so far (for `:once`), and how deep includes are now.
    included: Vec<(bool, String)>,
    depth: usize,
    captures: Vec<String>,
    /// imap4flags' internal variable.
    flags: Vec<String>,
    actions: Vec<Action>,
    implicit_keep: bool,
    redirects: usize,
    duplicates: Vec<(String, Option<u64>, bool)>,
    /// The header as `addheader` and `deleteheader` have left it.
    edited: crate::editheader::Edited,
    /// The test suite's message and envelope, which its scripts change.
    #[cfg(test)]
    pub suite: Option<&'a crate::message::SuiteState>,
}

/// How a block ended.
enum Flow {
    Next,
    Stop,
    /// `return`: the end of the running (included) script.
    Return,
}

/// Includes nested deeper than this fail (Pigeonhole's `sieve_include_max_nesting_depth`).
const MAX_INCLUDE_DEPTH: usize = 10;
/// Scripts one run may include (Pigeonhole's `sieve_include_max_includes`).
const MAX_INCLUDES: usize = 255;

impl<'a> Run<'a> {
    pub(crate) fn new(
        message: &'a dyn Message,
        envelope: &'a Envelope,
        host: &'a dyn Host,
        limits: &'a Limits,
        variables_on: bool,
    ) -> Self {
        Self {
            message,
            envelope,
            host,
            limits,
            variables_on,
            steps: 0,
            variables: HashMap::new(),
            globals: HashMap::new(),
            global_names: std::collections::HashSet::new(),
            included: Vec::new(),
            depth: 0,
            captures: Vec::new(),
            flags: Vec::new(),
            actions: Vec::new(),
            implicit_keep: true,
            redirects: 0,
            duplicates: Vec::new(),
            edited: crate::editheader::Edited::default(),
            #[cfg(test)]
            suite: None,
        }
    }

    /// The tests of spamtest/virustest, duplicate and enotify.
    fn extension_test(&mut self, test: &TestNode) -> Result<bool, RuntimeError> {
        Ok(match test {
            TestNode::SpamTest { percent, keys, how } => {
                let value = self.host.spamtest(*percent).unwrap_or(0).to_string();
                self.matches(*how, &[value], keys)?
            }
            TestNode::VirusTest { keys, how } => {
                let value = self.host.virustest().unwrap_or(0).to_string();
                self.matches(*how, &[value], keys)?
            }
            TestNode::Duplicate { .. } => self.duplicate(test),
            TestNode::ValidNotifyMethod(uris) => uris
                .iter()
                .all(|u| crate::notify::mailto(&self.expand(u)).is_some()),
            TestNode::NotifyMethodCapability {
                uri,
                capability,
                keys,
                how,
            } => {
                // RFC 5436 §2.5: a mailto recipient's "online" state is unknown.
                let valid = crate::notify::mailto(&self.expand(uri)).is_some();
                let online = self.expand(capability).eq_ignore_ascii_case("online");
                let values: Vec<String> = (valid && online)
                    .then(|| "maybe".to_owned())
                    .into_iter()
                    .collect();
                self.matches(*how, &values, keys)?
            }
            _ => false,
        })
    }

    /// `duplicate`: whether the message's id (its Message-ID, another field, or a value) was
    /// seen within the period, by an earlier delivery; the key is noted for the caller to
    /// record. A message without the id is no duplicate (RFC 7352 §3).
    fn duplicate(&mut self, test: &TestNode) -> bool {
        let TestNode::Duplicate {
            handle,
            header,
            uniqueid,
            seconds,
            last,
        } = test
        else {
            return false;
        };
        let id = match (uniqueid, header) {
            (Some(v), _) => Some(self.expand(v)),
            (None, h) => {
                let name = h
                    .as_ref()
                    .map_or_else(|| "message-id".to_owned(), |h| self.expand(h));
                self.header(&name)
                    .into_iter()
                    .next()
                    .map(|v| v.trim().to_owned())
            }
        };
        let Some(id) = id.filter(|i| !i.is_empty()) else {
            return false;
        };
        let handle = handle.as_ref().map(|h| self.expand(h)).unwrap_or_default();
        let key = format!("{handle}\u{0}{id}");
        let seen = self.host.duplicate_seen(&key);
        if !self.duplicates.iter().any(|(k, _, _)| *k == key) {
            self.duplicates.push((key, *seconds, *last));
        }
        seen
    }

    /// The date part a `date` or `currentdate` test compares (none when the header holds no
    /// date, or the host has no clock: then only a `:count` can still hold, of 0).
    fn date_values(&self, test: &TestNode) -> Vec<String> {
        let value = match test {
            TestNode::Date {
                header,
                zone,
                part,
                index,
                ..
            } => {
                let fields = self.header(&self.expand(header));
                // The first occurrence unless :index says which (RFC 5260 §4).
                let field = indexed(fields, Some(index.unwrap_or(Index { n: 1, last: false })));
                let date = field.first().and_then(|f| crate::date::parse(f));
                date.and_then(|d| self.zoned(d, *zone).part(&self.expand(part)))
            }
            TestNode::CurrentDate { zone, part, .. } => self
                .host
                .now()
                .and_then(|now| self.zoned(now, *zone).part(&self.expand(part))),
            _ => None,
        };
        value.into_iter().collect()
    }

    /// `date` shown in `zone`: the server's own (from the host's clock), its own, or a fixed
    /// one.
    fn zoned(&self, date: crate::date::DateTime, zone: Zone) -> crate::date::DateTime {
        match zone {
            Zone::Original => date,
            Zone::Fixed(offset) => date.in_zone(offset),
            Zone::Local => date.in_zone(self.host.now().map_or(0, |n| n.offset_minutes)),
        }
    }

    /// Runs a command of Pigeonhole's test suite (see `testsuite`).
    #[cfg(test)]
    fn suite_command(
        &mut self,
        command: &crate::program::SuiteCommand,
    ) -> Result<(), RuntimeError> {
        use crate::program::SuiteCommand;
        let Some(state) = self.suite else {
            return Err(RuntimeError::Invalid("not in a test suite".into()));
        };
        // Envelope addresses are given as SMTP paths: `<>`, `<user@domain>`.
        let path = |v: String| {
            let t = v.trim();
            t.strip_prefix('<')
                .and_then(|t| t.strip_suffix('>'))
                .unwrap_or(t)
                .to_owned()
        };
        match command {
            SuiteCommand::Fail(reason) => {
                return Err(RuntimeError::Invalid(format!(
                    "test_fail: {}",
                    self.expand(reason)
                )));
            }
            SuiteCommand::Set(what, value) => {
                let value = self.expand(value);
                match self.expand(what).as_str() {
                    "message" => {
                        *state.message.borrow_mut() =
                            crate::message::ParsedMessage::parse(value.as_bytes());
                        *state.raw.borrow_mut() = value.into_bytes();
                        self.edited = crate::editheader::Edited::default();
                        // A new message comes with its own envelope (test_set may follow).
                        *state.envelope.borrow_mut() = Envelope::default();
                        *state.envelope_set.borrow_mut() = (false, false);
                    }
                    "envelope.from" => {
                        state.envelope.borrow_mut().from = path(value);
                        state.envelope_set.borrow_mut().0 = true;
                    }
                    "envelope.to" => {
                        state.envelope.borrow_mut().to = path(value);
                        state.envelope_set.borrow_mut().1 = true;
                    }
                    "envelope.auth" => state.envelope.borrow_mut().auth = Some(path(value)),
                    other => {
                        return Err(RuntimeError::Invalid(format!(
                            "test_set {other}: not in this harness"
                        )));
                    }
                }
            }
            SuiteCommand::ResultReset => {
                self.actions.clear();
                self.implicit_keep = true;
                self.redirects = 0;
                state.sent.borrow_mut().clear();
            }
            SuiteCommand::Message(test) => {
                if !self.suite_test(test) {
                    return Err(RuntimeError::Invalid(
                        "test_message: no such message".into(),
                    ));
                }
            }
            SuiteCommand::Ignored => {}
            SuiteCommand::MailboxCreate(name) => {
                let name = self.expand(name);
                state.mailboxes.borrow_mut().push(name);
            }
        }
        Ok(())
    }

    /// `test_result_execute` and `test_message` (see `testsuite`).
    #[cfg(test)]
    fn suite_test(&mut self, test: &crate::program::SuiteTest) -> bool {
        use crate::program::SuiteTest;
        let Some(state) = self.suite else {
            return false;
        };
        match test {
            SuiteTest::ResultExecute => {
                let raw = state.raw.borrow().clone();
                let mut edits = Vec::new();
                let store = |folder: &str, edits: &[crate::HeaderEdit]| {
                    let copy = crate::apply_header_edits(&raw, edits);
                    let mut folders = state.folders.borrow_mut();
                    folders.entry(folder.to_owned()).or_default().push(copy);
                };
                for action in &self.actions {
                    match action {
                        Action::EditHeader(e) => edits.push(e.clone()),
                        Action::Keep { .. } => store("INBOX", &edits),
                        Action::FileInto { mailbox, .. } => store(mailbox, &edits),
                        Action::Redirect { address } => {
                            let envelope = Envelope {
                                to: address.clone(),
                                ..state.envelope()
                            };
                            let copy = crate::apply_header_edits(&raw, &edits);
                            state.sent.borrow_mut().push((envelope, copy));
                        }
                        Action::Vacation(v) => {
                            let envelope = state.envelope();
                            if v.refusal(self.message, &envelope).is_none() {
                                let date = "Sat, 5 Dec 2026 12:00:00 +0000";
                                let reply = v.reply(self.message, &envelope, date, "<1@test>");
                                let to = Envelope {
                                    from: String::new(),
                                    to: envelope.from,
                                    auth: None,
                                };
                                state.sent.borrow_mut().push((to, reply));
                            }
                        }
                        _ => {}
                    }
                }
                if self.implicit_keep {
                    store("INBOX", &edits);
                }
                true
            }
            SuiteTest::Message { folder, index } => {
                let found = match folder {
                    Some(f) => {
                        let f = self.expand(f);
                        let folders = state.folders.borrow();
                        folders
                            .get(&f)
                            .and_then(|m| m.get(*index as usize).cloned())
                    }
                    None => {
                        let sent = state.sent.borrow().get(*index as usize).cloned();
                        sent.map(|(envelope, raw)| {
                            *state.envelope.borrow_mut() = envelope;
                            *state.envelope_set.borrow_mut() = (true, true);
                            raw
                        })
                    }
                };
                let Some(raw) = found else {
                    return false;
                };
                *state.message.borrow_mut() = crate::message::ParsedMessage::parse(&raw);
                *state.raw.borrow_mut() = raw;
                self.edited = crate::editheader::Edited::default();
                true
            }
        }
    }

    /// The envelope in force (the test suite's, when it set one).
    fn envelope(&self) -> Envelope {
        #[cfg(test)]
        if let Some(suite) = self.suite {
            return suite.envelope();
        }
        self.envelope.clone()
    }

    /// Runs `commands`, then the implicit keep if nothing cancelled it.
    pub(crate) fn finish(mut self, commands: &[Cmd]) -> Result<Outcome, RuntimeError> {
        #[cfg(test)]
        if let Some(suite) = self.suite {
            self.variables = suite.variables.take();
            self.globals = suite.globals.take();
            self.global_names = suite.global_names.take();
            let ran = self.block(commands);
            *suite.variables.borrow_mut() = std::mem::take(&mut self.variables);
            *suite.globals.borrow_mut() = std::mem::take(&mut self.globals);
            *suite.global_names.borrow_mut() = std::mem::take(&mut self.global_names);
            ran?;
        } else {
            self.block(commands)?;
        }
        #[cfg(not(test))]
        self.block(commands)?;
        Ok(Outcome {
            actions: self.actions,
            implicit_keep: self.implicit_keep,
            keep_flags: self.flags,
            duplicates: self.duplicates,
        })
    }

    /// The values of the header fields named `name`, as the script has edited them.
    fn header(&self, name: &str) -> Vec<String> {
        self.edited.header(self.message, name)
    }

    /// `addheader` and `deleteheader` (RFC 5293): the header later tests see changes, and
    /// the edit goes into the actions for the caller. A name or value from a variable that
    /// is not valid stops the run, as one written out stops the compile.
    fn edit_header(&mut self, command: &Cmd) -> Result<(), RuntimeError> {
        use crate::editheader::{valid_name, valid_value};
        let invalid = |what: &str, v: &str| {
            Err(RuntimeError::Invalid(format!(
                "editheader: invalid {what} \"{v}\""
            )))
        };
        let edits = match command {
            Cmd::AddHeader { last, name, value } => {
                let (name, value) = (self.expand(name), self.expand(value));
                if !valid_name(&name) {
                    return invalid("field name", &name);
                }
                if !valid_value(&value) {
                    return invalid("field value", &value);
                }
                let value = crate::editheader::unfold(&value);
                if name.len() + value.len() + 2 > self.limits.max_header_size {
                    return Err(RuntimeError::Invalid(format!(
                        "addheader: the field is over {} octets",
                        self.limits.max_header_size
                    )));
                }
                self.edited
                    .add(self.message, &name, value, *last)
                    .into_iter()
                    .collect()
            }
            Cmd::DeleteHeader {
                index,
                how,
                name,
                patterns,
            } => {
                let name = self.expand(name);
                if !valid_name(&name) {
                    return invalid("field name", &name);
                }
                let values = self.header(&name);
                let chosen: Vec<usize> = match index {
                    None => (0..values.len()).collect(),
                    Some(Index { n, last }) => match last {
                        false => n.checked_sub(1),
                        true => values.len().checked_sub(*n),
                    }
                    .filter(|&i| i < values.len())
                    .into_iter()
                    .collect(),
                };
                let mut doomed = Vec::new();
                // deleteheader's matches leave the match variables alone (RFC 5293 §5).
                let captures = std::mem::take(&mut self.captures);
                for i in chosen {
                    let hit = match patterns {
                        None => true,
                        Some(keys) => self.matches(*how, std::slice::from_ref(&values[i]), keys)?,
                    };
                    if hit {
                        doomed.push(i);
                    }
                }
                self.captures = captures;
                self.edited.delete(self.message, &name, &doomed)
            }
            _ => Vec::new(),
        };
        self.actions
            .extend(edits.into_iter().map(Action::EditHeader));
        Ok(())
    }

    fn step(&mut self) -> Result<(), RuntimeError> {
        self.steps += 1;
        if self.steps > self.limits.max_steps {
            return Err(RuntimeError::TooManySteps(self.limits.max_steps));
        }
        Ok(())
    }

    fn block(&mut self, commands: &[Cmd]) -> Result<Flow, RuntimeError> {
        for command in commands {
            self.step()?;
            match self.command(command)? {
                Flow::Next => {}
                end => return Ok(end),
            }
        }
        Ok(Flow::Next)
    }

    fn command(&mut self, command: &Cmd) -> Result<Flow, RuntimeError> {
        match command {
            Cmd::If {
                branches,
                otherwise,
            } => {
                for (test, block) in branches {
                    if self.test(test)? {
                        return self.block(block);
                    }
                }
                if let Some(block) = otherwise {
                    return self.block(block);
                }
            }
            Cmd::Stop => return Ok(Flow::Stop),
            Cmd::Return => return Ok(Flow::Return),
            Cmd::Global(names) => self.global_names.extend(names.iter().cloned()),
            Cmd::Include {
                global,
                once,
                optional,
                name,
            } => return self.include(*global, *once, *optional, name),
            Cmd::Keep { flags } => {
                let flags = self.flag_list(flags.as_deref())?;
                self.implicit_keep = false;
                self.push(Action::Keep { flags })?;
            }
            Cmd::Discard => {
                self.implicit_keep = false;
                self.push(Action::Discard)?;
            }
            Cmd::Redirect { address, copy } => {
                let address = self.expand(address);
                if !plausible_address(&address) {
                    return Err(RuntimeError::Invalid(format!(
                        "redirect: \"{address}\" is not an address"
                    )));
                }
                self.redirects += 1;
                if self.redirects > self.limits.max_redirects {
                    return Err(RuntimeError::TooManyRedirects(self.limits.max_redirects));
                }
                if !copy {
                    self.implicit_keep = false;
                }
                self.push(Action::Redirect { address })?;
            }
            Cmd::FileInto {
                mailbox,
                copy,
                create,
                flags,
            } => {
                let mailbox = self.expand(mailbox);
                let flags = self.flag_list(flags.as_deref())?;
                if !copy {
                    self.implicit_keep = false;
                }
                self.push(Action::FileInto {
                    mailbox,
                    flags,
                    create: *create,
                })?;
            }
            Cmd::Reject { reason, extended } => {
                let reason = self.expand(reason);
                self.implicit_keep = false;
                self.push(Action::Reject {
                    reason,
                    extended: *extended,
                })?;
            }
            Cmd::Flags {
                op,
                variable,
                flags,
            } => self.flags_command(*op, variable.as_deref(), flags),
            Cmd::Set {
                name,
                modifiers,
                value,
            } => {
                let value = crate::variables::modify(self.expand(value), modifiers);
                self.set_variable(name, value);
            }
            #[cfg(test)]
            Cmd::Testsuite(c) => self.suite_command(c)?,
            Cmd::AddHeader { .. } | Cmd::DeleteHeader { .. } => self.edit_header(command)?,
            Cmd::Notify {
                method,
                from,
                importance,
                options,
                message,
            } => {
                let method = self.expand(method);
                if crate::notify::mailto(&method).is_none() {
                    return Err(RuntimeError::Invalid(format!(
                        "notify: \"{method}\" is not a mailto URI this server can use"
                    )));
                }
                let action = Action::Notify {
                    method,
                    from: from.as_ref().map(|v| self.expand(v)),
                    importance: importance.as_ref().map(|v| self.expand(v)),
                    options: options.iter().map(|v| self.expand(v)).collect(),
                    message: message.as_ref().map(|v| self.expand(v)),
                };
                self.push(action)?;
            }
            Cmd::Vacation(spec) => {
                let period = spec.period;
                let reason = self.expand(&spec.reason);
                let subject = spec.subject.as_ref().map(|s| self.expand(s));
                let from = spec.from.as_ref().map(|s| self.expand(s));
                let addresses = spec.addresses.iter().map(|a| self.expand(a)).collect();
                // The default handle changes with what the reply says (RFC 5230 §4.2).
                let handle = match &spec.handle {
                    Some(h) => self.expand(h),
                    None => format!("{}\0{}", subject.as_deref().unwrap_or(""), reason),
                };
                self.push(Action::Vacation(Vacation {
                    reason,
                    subject,
                    from,
                    addresses,
                    mime: spec.mime,
                    handle,
                    period,
                }))?;
            }
        }
        Ok(Flow::Next)
    }

    /// Adds `action`, checking the limits and the conflicts of RFC 5228 §2.10.1 and RFC 5429
    /// §2.1; the same keep or fileinto twice is one.
    fn push(&mut self, action: Action) -> Result<(), RuntimeError> {
        let rejecting = self
            .actions
            .iter()
            .any(|a| matches!(a, Action::Reject { .. }));
        let delivering = |a: &Action| {
            matches!(
                a,
                Action::Keep { .. } | Action::FileInto { .. } | Action::Redirect { .. }
            )
        };
        if (rejecting && delivering(&action))
            || (matches!(action, Action::Reject { .. })
                && (rejecting || self.actions.iter().any(delivering)))
        {
            return Err(RuntimeError::Conflict(
                "reject cannot be combined with keep, fileinto, redirect or another reject".into(),
            ));
        }
        if matches!(action, Action::Vacation(_))
            && self
                .actions
                .iter()
                .any(|a| matches!(a, Action::Vacation(_)))
        {
            return Err(RuntimeError::Conflict("vacation is used twice".into()));
        }
        let duplicate = self.actions.iter_mut().find(|a| match (&**a, &action) {
            (Action::Keep { .. }, Action::Keep { .. }) => true,
            (Action::FileInto { mailbox: m, .. }, Action::FileInto { mailbox, .. }) => m == mailbox,
            (Action::Redirect { address: x }, Action::Redirect { address: y }) => {
                x.eq_ignore_ascii_case(y)
            }
            (Action::Discard, Action::Discard) => true,
            _ => false,
        });
        if let Some(existing) = duplicate {
            // The last flags given win (RFC 5232 §3.1).
            *existing = action;
            return Ok(());
        }
        if self.actions.len() >= self.limits.max_actions {
            return Err(RuntimeError::TooManyActions(self.limits.max_actions));
        }
        self.actions.push(action);
        Ok(())
    }

    fn expand(&self, value: &Value) -> String {
        match value {
            Value::Literal(s) => s.clone(),
            Value::Template(parts) => {
                let mut out = String::new();
                for part in parts {
                    match part {
                        Part::Text(t) => out.push_str(t),
                        Part::Variable(name) => out.push_str(self.variable(name)),
                        Part::Match(n) => {
                            out.push_str(self.captures.get(*n).map_or("", String::as_str))
                        }
                    }
                    if out.len() > self.limits.max_variable_size {
                        truncate(&mut out, self.limits.max_variable_size);
                        break;
                    }
                }
                out
            }
        }
    }

    fn set_variable(&mut self, name: &str, mut value: String) {
        truncate(&mut value, self.limits.max_variable_size);
        if let Some(global) = name.strip_prefix("global.") {
            self.globals.insert(global.to_owned(), value);
            return;
        }
        match self.global_names.contains(name) {
            true => self.globals.insert(name.to_owned(), value),
            false => self.variables.insert(name.to_owned(), value),
        };
    }

    fn variable(&self, name: &str) -> &str {
        if let Some(global) = name.strip_prefix("global.") {
            return self.globals.get(global).map_or("", String::as_str);
        }
        let map = match self.global_names.contains(name) {
            true => &self.globals,
            false => &self.variables,
        };
        map.get(name).map_or("", String::as_str)
    }

    /// `include`: the script runs here, with its own variables (but the global ones) and
    /// this run's actions; its `return` comes back, its `stop` stops everything.
    fn include(
        &mut self,
        global: bool,
        once: bool,
        optional: bool,
        name: &Value,
    ) -> Result<Flow, RuntimeError> {
        let name = self.expand(name);
        if once
            && self
                .included
                .iter()
                .any(|(g, n)| *g == global && *n == name)
        {
            return Ok(Flow::Next);
        }
        if self.depth >= MAX_INCLUDE_DEPTH || self.included.len() >= MAX_INCLUDES {
            return Err(RuntimeError::Include(format!(
                "\"{name}\": more than {MAX_INCLUDE_DEPTH} deep or {MAX_INCLUDES} scripts"
            )));
        }
        let script = match self.host.include(global, &name) {
            Ok(Some(s)) => s,
            Ok(None) if optional => return Ok(Flow::Next),
            Ok(None) => return Err(RuntimeError::Include(format!("no script \"{name}\""))),
            Err(e) => return Err(RuntimeError::Include(format!("\"{name}\": {e}"))),
        };
        self.included.push((global, name));
        let locals = std::mem::take(&mut self.variables);
        let declared = std::mem::take(&mut self.global_names);
        self.depth += 1;
        let ran = self.block(script.commands());
        self.depth -= 1;
        self.variables = locals;
        self.global_names = declared;
        match ran? {
            Flow::Stop => Ok(Flow::Stop),
            Flow::Next | Flow::Return => Ok(Flow::Next),
        }
    }

    /// The flags of `:flags` (given) or the internal variable, one name each, no repeats.
    fn flag_list(&self, given: Option<&[Value]>) -> Result<Vec<String>, RuntimeError> {
        Ok(match given {
            Some(values) => {
                let texts: Vec<String> = values.iter().map(|v| self.expand(v)).collect();
                normalize_flags(texts.iter().map(String::as_str))
            }
            None => self.flags.clone(),
        })
    }

    fn flags_command(&mut self, op: FlagOp, variable: Option<&str>, flags: &[Value]) {
        let given: Vec<String> = flags.iter().map(|v| self.expand(v)).collect();
        let given = normalize_flags(given.iter().map(String::as_str));
        let current = match variable {
            Some(name) => normalize_flags(self.variables.get(name).map(String::as_str).into_iter()),
            None => self.flags.clone(),
        };
        let new = match op {
            FlagOp::Set => given,
            FlagOp::Add => normalize_flags(current.iter().chain(&given).map(String::as_str)),
            FlagOp::Remove => current
                .into_iter()
                .filter(|f| !given.iter().any(|g| g.eq_ignore_ascii_case(f)))
                .collect(),
        };
        match variable {
            Some(name) => self.set_variable(name, new.join(" ")),
            None => self.flags = new,
        }
    }

    fn test(&mut self, test: &TestNode) -> Result<bool, RuntimeError> {
        self.step()?;
        Ok(match test {
            TestNode::True => true,
            TestNode::False => false,
            TestNode::Not(t) => !self.test(t)?,
            TestNode::AllOf(tests) => {
                for t in tests {
                    if !self.test(t)? {
                        return Ok(false);
                    }
                }
                true
            }
            TestNode::AnyOf(tests) => {
                for t in tests {
                    if self.test(t)? {
                        return Ok(true);
                    }
                }
                false
            }
            TestNode::Exists(names) => names
                .iter()
                .all(|n| !self.header(&self.expand(n)).is_empty()),
            TestNode::Size { over, limit } => match over {
                true => self.edited.size(self.message) > *limit,
                false => self.edited.size(self.message) < *limit,
            },
            TestNode::Header {
                names,
                keys,
                how,
                index,
            } => {
                let mut values = Vec::new();
                for name in names {
                    values.extend(indexed(self.header(&self.expand(name)), *index));
                }
                self.matches(*how, &values, keys)?
            }
            TestNode::SpamTest { .. }
            | TestNode::VirusTest { .. }
            | TestNode::Duplicate { .. }
            | TestNode::ValidNotifyMethod(_)
            | TestNode::NotifyMethodCapability { .. } => self.extension_test(test)?,
            TestNode::Date { keys, how, .. } | TestNode::CurrentDate { keys, how, .. } => {
                let values = self.date_values(test);
                self.matches(*how, &values, keys)?
            }
            TestNode::Address {
                part,
                names,
                keys,
                how,
                index,
            } => {
                let mut values = Vec::new();
                for name in names {
                    for field in indexed(self.header(&self.expand(name)), *index) {
                        values.extend(
                            addresses(&field)
                                .iter()
                                .filter_map(|a| address_part(a, *part)),
                        );
                    }
                }
                self.matches(*how, &values, keys)?
            }
            TestNode::Envelope {
                part,
                names,
                keys,
                how,
            } => {
                let mut values = Vec::new();
                let envelope = self.envelope();
                for name in names {
                    let address = match self.expand(name).to_ascii_lowercase().as_str() {
                        "from" => Some(envelope.from.clone()),
                        "to" => Some(envelope.to.clone()),
                        "auth" => envelope.auth.clone(),
                        _ => None,
                    };
                    // The null reverse path is "" whatever the part (RFC 5228 §5.4).
                    values.extend(address.and_then(|a| match a.is_empty() {
                        true => Some(String::new()),
                        false => address_part(&a, *part),
                    }));
                }
                self.matches(*how, &values, keys)?
            }
            TestNode::Body {
                transform,
                keys,
                how,
            } => {
                let values = self.message.body(transform);
                self.matches(*how, &values, keys)?
            }
            TestNode::String { sources, keys, how } => {
                let mut values: Vec<String> = sources.iter().map(|s| self.expand(s)).collect();
                if matches!(how.kind, MatchKind::Count(_)) {
                    values.retain(|v| !v.is_empty());
                }
                self.matches(*how, &values, keys)?
            }
            TestNode::HasFlag {
                variables,
                keys,
                how,
            } => {
                let values = match variables.is_empty() {
                    true => self.flags.clone(),
                    false => {
                        let lists: Vec<&str> = variables
                            .iter()
                            .filter_map(|v| self.variables.get(v).map(String::as_str))
                            .collect();
                        normalize_flags(lists.into_iter())
                    }
                };
                self.matches(*how, &values, keys)?
            }
            #[cfg(test)]
            TestNode::Testsuite(t) => self.suite_test(t),
            TestNode::MailboxExists(names) => names
                .iter()
                .all(|n| self.host.mailbox_exists(&self.expand(n))),
            TestNode::Environment { name, keys, how } => {
                match self
                    .host
                    .environment(&self.expand(name).to_ascii_lowercase())
                {
                    Some(value) => self.matches(*how, &[value], keys)?,
                    None => false,
                }
            }
        })
    }

    /// Whether any of `values` matches any of `keys` (or, for `:count`, their number does).
    fn matches(
        &mut self,
        how: Match,
        values: &[String],
        keys: &[Value],
    ) -> Result<bool, RuntimeError> {
        let keys: Vec<String> = keys.iter().map(|k| self.expand(k)).collect();
        if let MatchKind::Count(relation) = how.kind {
            let count = values.len().to_string();
            for key in &keys {
                self.step()?;
                if holds(relation, compare(how.comparator, &count, key)) {
                    return Ok(true);
                }
            }
            return Ok(false);
        }
        let capture =
            self.variables_on && matches!(how.kind, MatchKind::Matches | MatchKind::Regex);
        let mut found = Vec::new();
        if how.kind == MatchKind::Regex {
            // Each expression built once for all the values (a bad one, from a variable,
            // matches nothing).
            let compiled: Vec<regex::bytes::Regex> = keys
                .iter()
                .filter_map(|k| crate::matching::regex(k, how.comparator).ok())
                .collect();
            for value in values {
                for re in &compiled {
                    self.step()?;
                    if crate::matching::regex_test(re, value, capture.then_some(&mut found)) {
                        if capture {
                            self.captures = std::mem::take(&mut found);
                        }
                        return Ok(true);
                    }
                }
            }
            return Ok(false);
        }
        for value in values {
            for key in &keys {
                self.step()?;
                let mut budget = self.limits.max_steps.saturating_sub(self.steps);
                let before = budget;
                let matched = test(how, value, key, capture.then_some(&mut found), &mut budget);
                self.steps += before - budget;
                if budget == 0 {
                    return Err(RuntimeError::TooManySteps(self.limits.max_steps));
                }
                if matched {
                    if capture {
                        self.captures = std::mem::take(&mut found);
                    }
                    return Ok(true);
                }
            }
        }
        Ok(false)
    }
}

/// The occurrences of a header field `index` picks (all without one).
fn indexed(mut fields: Vec<String>, index: Option<Index>) -> Vec<String> {
    let Some(Index { n, last }) = index else {
        return fields;
    };
    let at = match last {
        false => n.checked_sub(1),
        true => fields.len().checked_sub(n),
    };
    match at.filter(|&i| i < fields.len()) {
        Some(i) => vec![fields.swap_remove(i)],
        None => Vec::new(),
    }
}

/// Flag names from space-separated lists, each once (compared without case).
fn normalize_flags<'s>(lists: impl Iterator<Item = &'s str>) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for flag in lists.flat_map(str::split_whitespace) {
        if !out.iter().any(|f| f.eq_ignore_ascii_case(flag)) {
            out.push(flag.to_owned());
        }
    }
    out
}

/// `local@domain`, with neither part empty and no white space or brackets.
fn plausible_address(address: &str) -> bool {
    match address.rsplit_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && !domain.is_empty()
                && !address
                    .chars()
                    .any(|c| c.is_whitespace() || matches!(c, '<' | '>' | ',' | ';'))
        }
        None => false,
    }
}

/// Cuts `s` to at most `max` octets, on a character boundary.
fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut at = max;
        while !s.is_char_boundary(at) {
            at -= 1;
        }
        s.truncate(at);
    }
}
