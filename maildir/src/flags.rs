//! Changing a message's flags and removing it while other sessions (and Dovecot) do the same:
//! each change is a rename from the name that carries the flags it saw, found again under its
//! current name when another writer renamed it, so no writer's change is lost and a removal
//! or a claim of new mail happens once.

use std::fs;
use std::io;

use crate::message::FlagStrings;
use crate::{Error, Maildir, Message, Subdir};

impl Maildir {
    /// Adds flags (letters) to a message, moving it to `cur/` as `base:2,<sorted flags>`.
    /// Flags another session gave it meanwhile are kept. Returns the message as it now is;
    /// an error if it is gone (expunged).
    pub fn add_flags(&self, message: &Message, add: &str) -> Result<Message, Error> {
        self.update_flags(message, |current| format!("{current}{add}"))?
            .ok_or_else(|| self.gone(message))
    }

    /// Replaces a message's flags (letters), moving it to `cur/` as `base:2,<sorted flags>`.
    /// Returns the message as it now is; an error if it is gone (expunged).
    pub fn set_flags(&self, message: &Message, flags: &str) -> Result<Message, Error> {
        self.update_flags(message, |_| flags.to_owned())?
            .ok_or_else(|| self.gone(message))
    }

    fn gone(&self, message: &Message) -> Error {
        Error::from_io(
            "renaming",
            &self.message_path(message),
            io::Error::from(io::ErrorKind::NotFound),
        )
    }

    /// Moves a message from `new/` to `cur/` (keeping its flags) if it is still there: the
    /// rename succeeds for exactly one of the sessions that try, which makes the message
    /// `\Recent` to that session alone (RFC 3501 §2.3.2). `None` when another session (or
    /// program) moved or removed it first.
    pub fn claim_new(&self, message: &Message) -> Result<Option<Message>, Error> {
        if message.subdir != Subdir::New {
            return Ok(None);
        }
        let name = format!("{}:2,{}", message.base, message.flags);
        let from = self.message_path(message);
        let to = self.path().join("cur").join(&name);
        match fs::rename(&from, &to) {
            Ok(()) => Ok(Some(Message {
                name: name.into(),
                subdir: Subdir::Cur,
                ..message.clone()
            })),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::from_io("renaming", &from, e)),
        }
    }

    /// Gives a message the flags `change` makes of its current ones, moving it to `cur/` as
    /// `base:2,<sorted flags>`. The rename from the name that carries the flags `change` saw is
    /// a compare-and-swap: when another session (or Dovecot) renamed the file meanwhile, its
    /// current name is looked up and `change` applied again to the flags it carries, so no
    /// session's change is lost. Returns the message as it now is, `None` if it is gone.
    pub fn update_flags(
        &self,
        message: &Message,
        change: impl Fn(&str) -> String,
    ) -> Result<Option<Message>, Error> {
        let mut current = message.clone();
        // Each retry follows a rename by someone else; a file renamed this often while we
        // look is in a fight we report rather than prolong.
        for _ in 0..16 {
            let mut flags: Vec<char> = change(&current.flags).chars().collect();
            flags.sort_unstable();
            flags.dedup();
            let flags: String = flags.into_iter().collect();
            let from = self.message_path(&current);
            let result = if *flags == *current.flags && current.subdir == Subdir::Cur {
                // Nothing to change, if the flags we went by are still the file's: a name
                // that still exists says so.
                match fs::symlink_metadata(&from) {
                    Ok(_) => return Ok(Some(current)),
                    Err(e) => Err(e),
                }
            } else {
                let name = format!("{}:2,{flags}", current.base);
                let to = self.path().join("cur").join(&name);
                fs::rename(&from, &to).map(|()| name)
            };
            match result {
                Ok(name) => {
                    return Ok(Some(Message {
                        name: name.into(),
                        subdir: Subdir::Cur,
                        flags: flags.into(),
                        ..current
                    }));
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    match self.current_name(&current.base)? {
                        Some((name, subdir)) => {
                            current = current.found_as(&name, subdir, &mut FlagStrings::default());
                        }
                        None => return Ok(None),
                    }
                }
                Err(e) => return Err(Error::from_io("renaming", &from, e)),
            }
        }
        Err(Error::from_io(
            "renaming",
            &self.message_path(&current),
            io::Error::other("renamed by others on every attempt"),
        ))
    }

    /// Where the message with base name `base` is now: its name and directory, `None` when
    /// it is in neither `cur/` nor `new/`.
    pub(crate) fn current_name(&self, base: &str) -> Result<Option<(String, Subdir)>, Error> {
        let prefix = format!("{base}:");
        if let Some(name) = self
            .list_cur()?
            .into_iter()
            .find(|n| n.starts_with(&prefix) || n == base)
        {
            return Ok(Some((name, Subdir::Cur)));
        }
        if let Some(name) = self.list_new()?.into_iter().find(|n| n == base) {
            return Ok(Some((name, Subdir::New)));
        }
        // It may have moved from new/ to cur/ between the two reads.
        Ok(self
            .list_cur()?
            .into_iter()
            .find(|n| n.starts_with(&prefix) || n == base)
            .map(|name| (name, Subdir::Cur)))
    }

    /// Removes a message for good, under whatever name it has now (another session may have
    /// renamed it with new flags). Returns whether this call removed it: `false` when it was
    /// gone already (another session expunged it), so that its size is taken off a quota
    /// once, by whoever removed it.
    pub fn expunge(&self, message: &Message) -> Result<bool, Error> {
        let mut path = self.message_path(message);
        for _ in 0..16 {
            match fs::remove_file(&path) {
                Ok(()) => return Ok(true),
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(Error::from_io("removing", &path, e)),
            }
            match self.current_name(&message.base)? {
                Some((name, subdir)) => path = self.file_path(subdir, &name),
                None => return Ok(false),
            }
        }
        Err(Error::from_io(
            "removing",
            &path,
            io::Error::other("renamed by others on every attempt"),
        ))
    }
}
