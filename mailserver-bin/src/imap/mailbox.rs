//! A logged-in user: their folders, the selected mailbox's view (sequence numbers, flags,
//! what this session has told the client), and every command that works on them.

use std::io;

use mailwright_imap::{Code, Command, Response, ServerSession, Status, Tag};

use crate::conn::Conn;

mod append;
mod common;
mod copy_move;
mod fetch;
mod folders;
mod quota;
mod search_sort;
mod select;
pub(super) mod selected;
mod session;
mod shared;
mod store;
mod sync;
mod tree;

use self::common::delimiter;
use crate::conn::Answered;
use fetch::ChangedSince;
pub use session::{User, login};
use store::FlagUpdate;

impl User {
    /// Runs one command and completes it.
    pub async fn command(
        &mut self,
        session: &mut ServerSession,
        conn: &mut Conn,
        tag: &Tag,
        command: Command,
    ) -> io::Result<()> {
        match command {
            Command::Noop | Command::Check => {
                self.sync(session, true);
                session
                    .complete(Status::Ok, None, "NOOP completed")
                    .answered();
            }
            Command::Select(m, params) => self.select(session, &m, &params, false),
            Command::Examine(m, params) => self.select(session, &m, &params, true),
            Command::Create {
                mailbox,
                special_use,
            } => self.create(session, &mailbox, &special_use),
            Command::Delete(m) => self.delete(session, &m),
            Command::Rename { from, to } => self.rename(session, &from, &to),
            Command::Subscribe(m) => self.subscribe(session, &m, true),
            Command::Unsubscribe(m) => self.subscribe(session, &m, false),
            Command::List {
                reference,
                patterns,
                selection,
                returns,
                lsub,
            } => self.list(session, &reference, &patterns, selection, &returns, lsub),
            Command::Namespace => {
                session
                    .send(&Response::Namespace {
                        prefix: String::new(),
                        delimiter: delimiter(),
                    })
                    .answered();
                session
                    .complete(Status::Ok, None, "NAMESPACE completed")
                    .answered();
            }
            Command::Status { mailbox, items } => self.status(session, &mailbox, &items),
            Command::Close => self.close(session),
            Command::Unselect => {
                self.selected = None;
                session
                    .complete(Status::Ok, None, "UNSELECT completed")
                    .answered();
            }
            Command::Expunge => self.expunge_command(session, None),
            Command::UidExpunge(set) => self.expunge_command(session, Some(&set)),
            Command::Search {
                uid,
                charset,
                criteria,
                return_options,
            } => self.search(
                session,
                tag,
                uid,
                charset.as_deref(),
                &criteria,
                return_options.as_deref(),
            ),
            Command::Fetch {
                uid,
                set,
                attributes,
                changed_since,
                vanished,
            } => {
                let since = changed_since.map(|modseq| ChangedSince { modseq, vanished });
                self.fetch(session, conn, uid, &set, &attributes, since)
                    .await?
            }
            Command::Store {
                uid,
                set,
                mode,
                silent,
                flags,
                unchanged_since,
            } => {
                let update = FlagUpdate {
                    mode,
                    flags: &flags,
                    silent,
                };
                self.store(session, uid, &set, update, unchanged_since)
            }
            Command::Copy { uid, set, mailbox } => {
                self.copy(session, uid, &set, &mailbox, false).await
            }
            Command::Move { uid, set, mailbox } => {
                self.copy(session, uid, &set, &mailbox, true).await
            }
            Command::Sort {
                uid,
                criteria,
                charset,
                search,
            } => self.sort(session, uid, &criteria, &charset, &search),
            Command::Thread {
                uid,
                algorithm,
                charset,
                search,
            } => self.thread(session, uid, algorithm.as_str(), &charset, &search),
            Command::GetQuotaRoot(m) => self.get_quota_root(session, &m),
            Command::GetQuota(root) => self.get_quota(session, &root),
            Command::SetQuota { .. } => {
                session
                    .complete(
                        Status::No,
                        Some(Code::NoPerm),
                        "Quotas are set by the administrator",
                    )
                    .answered();
            }
            other => {
                session
                    .complete(
                        Status::Bad,
                        None,
                        &format!("{} is not supported", other.name()),
                    )
                    .answered();
            }
        }
        Ok(())
    }
}
