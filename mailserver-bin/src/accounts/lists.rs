//! Mailing lists in the accounts store (`mailing_list`, `mailing_list_member`, our own tables
//! beside PostfixAdmin's): a list is an address of one of our domains, with settings, and
//! members, owners and moderators. What a list does with a post is `crate::lists`'.

use sqlx::Row;

use super::types::{AccountsError, split_address};
use super::{Accounts, normalize_address};

/// Who may post to a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Posting {
    /// Anyone (an announcement list run by its owners is `Owners`).
    Anyone,
    /// Its members, owners and moderators (the default, as mlmmj's `subonlypost`).
    Members,
    /// Its owners and moderators only.
    Owners,
    /// Anyone, but a moderator approves each post from someone other than the owners and
    /// moderators.
    Moderated,
}

impl Posting {
    pub const NAMES: &'static str = "anyone, members, owners, moderated";

    pub fn name(self) -> &'static str {
        match self {
            Self::Anyone => "anyone",
            Self::Members => "members",
            Self::Owners => "owners",
            Self::Moderated => "moderated",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "anyone" => Self::Anyone,
            "members" => Self::Members,
            "owners" => Self::Owners,
            "moderated" => Self::Moderated,
            _ => return None,
        })
    }
}

/// How one joins a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Subscription {
    /// By mail to `LIST+subscribe`, confirmed by replying to the confirmation (the default).
    Confirm,
    /// As `Confirm`, then approved by an owner or moderator replying to the request sent
    /// to them (mlmmj's `submod`).
    Approve,
    /// Only an admin adds members.
    Closed,
}

impl Subscription {
    pub const NAMES: &'static str = "confirm, approve, closed";

    pub fn name(self) -> &'static str {
        match self {
            Self::Confirm => "confirm",
            Self::Approve => "approve",
            Self::Closed => "closed",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "confirm" => Some(Self::Confirm),
            "approve" => Some(Self::Approve),
            "closed" => Some(Self::Closed),
            _ => None,
        }
    }
}

/// What a confirmation token stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pending {
    /// A subscription to confirm (the detail: `digest` for the digest).
    Subscribe,
    Unsubscribe,
    /// A confirmed subscription an owner or moderator is to approve (the detail as
    /// `Subscribe`'s).
    Join,
    /// An owner's commands by mail (the detail: the commands, one per line).
    Admin,
    /// A post held for a moderator (the detail: its queue id).
    Post,
    /// A held post a moderator approved (the detail: its queue id).
    Approved,
}

impl Pending {
    fn name(self) -> &'static str {
        match self {
            Self::Subscribe => "subscribe",
            Self::Unsubscribe => "unsubscribe",
            Self::Join => "join",
            Self::Admin => "admin",
            Self::Post => "post",
            Self::Approved => "approved",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "unsubscribe" => Self::Unsubscribe,
            "join" => Self::Join,
            "admin" => Self::Admin,
            "post" => Self::Post,
            "approved" => Self::Approved,
            _ => Self::Subscribe,
        }
    }
}

/// How long a confirmation token is good for (mlmmj's is a week too).
const PENDING_SECONDS: i64 = 7 * 86_400;

/// The commands a list answers on `LIST+command@domain`, besides `confirm-TOKEN`.
pub const COMMANDS: &[&str] = &[
    "subscribe",
    "subscribe-digest",
    "unsubscribe",
    "help",
    "admin",
];

/// The commands that take a token: `LIST+confirm-TOKEN`, `LIST+approve-TOKEN`,
/// `LIST+reject-TOKEN`, the bounce address of one member, `LIST+bounces-user=host`, and that
/// of the probe sent to a member whose mail bounces, `LIST+probe-user=host`.
pub const TOKEN_COMMANDS: &[&str] = &["confirm-", "approve-", "reject-", "bounces-", "probe-"];

/// Where replies to a post go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyTo {
    /// To the list (a `Reply-To:` of the list is added).
    List,
    /// To the poster (the post's own fields are left alone).
    Sender,
}

impl ReplyTo {
    pub fn name(self) -> &'static str {
        match self {
            Self::List => "list",
            Self::Sender => "sender",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "list" => Some(Self::List),
            "sender" => Some(Self::Sender),
            _ => None,
        }
    }
}

/// What becomes of a list's posts once sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Archive {
    /// Not kept.
    Off,
    /// Kept in the list's archive, a Maildir the admins read (the default).
    Kept,
    /// Kept, and its members (owners and moderators too) read it over IMAP, under `Lists/`.
    Members,
}

impl Archive {
    pub const NAMES: &'static str = "no, yes, members";

    pub fn name(self) -> &'static str {
        match self {
            Self::Off => "no",
            Self::Kept => "yes",
            Self::Members => "members",
        }
    }

    pub fn parse(text: &str) -> Option<Self> {
        Some(match text {
            "no" | "false" | "0" => Self::Off,
            "yes" | "true" | "1" => Self::Kept,
            "members" => Self::Members,
            _ => return None,
        })
    }

    /// The `archive` column: 0, 1, 2.
    fn column(self) -> i64 {
        match self {
            Self::Off => 0,
            Self::Kept => 1,
            Self::Members => 2,
        }
    }

    fn from_column(value: i64) -> Self {
        match value {
            0 => Self::Off,
            2 => Self::Members,
            _ => Self::Kept,
        }
    }
}

/// A member's part in a list.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Role {
    Member,
    Moderator,
    Owner,
}

impl Role {
    pub fn name(self) -> &'static str {
        match self {
            Self::Member => "member",
            Self::Moderator => "moderator",
            Self::Owner => "owner",
        }
    }

    fn parse(text: &str) -> Self {
        match text {
            "owner" => Self::Owner,
            "moderator" => Self::Moderator,
            _ => Self::Member,
        }
    }
}

/// A list's settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MailingList {
    pub address: String,
    pub name: String,
    pub description: String,
    pub posting: Posting,
    pub subscription: Subscription,
    /// Put in front of each post's subject (`[team]`), unless it is there already.
    pub subject_prefix: String,
    pub reply_to: ReplyTo,
    /// The largest post, in octets (0: the server's message size limit).
    pub max_size: u64,
    /// Whether posts are kept in the list's archive ([`Accounts::list_archive`]), and
    /// who reads it.
    pub archive: Archive,
    pub active: bool,
}

/// What a member receives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Receives {
    /// Each post as it comes.
    Posts,
    /// The digest of the posts, now and then (`[lists] digest_interval`).
    Digest,
    /// Nothing (an owner who only moderates, a member on leave).
    Nothing,
}

impl Receives {
    pub fn name(self) -> &'static str {
        match self {
            Self::Posts => "posts",
            Self::Digest => "digest",
            Self::Nothing => "nothing",
        }
    }

    /// The `digest` and `nomail` columns.
    fn columns(self) -> (i64, i64) {
        match self {
            Self::Posts => (0, 0),
            Self::Digest => (1, 0),
            Self::Nothing => (0, 1),
        }
    }
}

/// One row of a list's people.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Member {
    pub address: String,
    pub role: Role,
    pub receives: Receives,
}

/// A change to a list's settings (`mailserver list set`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListSetting {
    Name(String),
    Description(String),
    Posting(Posting),
    Subscription(Subscription),
    SubjectPrefix(String),
    ReplyTo(ReplyTo),
    MaxSize(u64),
    Archive(Archive),
    Active(bool),
}

impl ListSetting {
    /// The setting `name` (as `mailserver list set` and owners' mail name it) = `value`, or
    /// why not.
    pub fn parse(name: &str, value: &str) -> Result<Self, String> {
        let bad = |expected: &str| format!("{name} is one of {expected}, not {value:?}");
        Ok(match name {
            "name" => Self::Name(value.to_owned()),
            "description" => Self::Description(value.to_owned()),
            "posting" => Self::Posting(Posting::parse(value).ok_or_else(|| bad(Posting::NAMES))?),
            "subscription" => Self::Subscription(
                Subscription::parse(value).ok_or_else(|| bad(Subscription::NAMES))?,
            ),
            "subject-prefix" => Self::SubjectPrefix(value.to_owned()),
            "reply-to" => Self::ReplyTo(ReplyTo::parse(value).ok_or_else(|| bad("list, sender"))?),
            "max-size" => Self::MaxSize(
                super::types::parse_size(value).ok_or_else(|| bad("a size such as 10M"))?,
            ),
            "archive" => Self::Archive(Archive::parse(value).ok_or_else(|| bad(Archive::NAMES))?),
            "active" => Self::Active(match value {
                "yes" | "true" | "1" => true,
                "no" | "false" | "0" => false,
                _ => return Err(bad("yes, no")),
            }),
            _ => {
                return Err(format!(
                    "no setting {name:?}: name, description, posting, subscription, \
                     subject-prefix, reply-to, max-size, archive, active"
                ));
            }
        })
    }
}

impl Accounts {
    /// Makes the list `address` (on one of our domains, not already a mailbox, alias or list).
    pub async fn add_list(&self, address: &str, name: &str) -> Result<String, AccountsError> {
        let address = normalize_address(address)?;
        let Some((_, domain)) = split_address(&address) else {
            return Err(AccountsError::BadAddress(address));
        };
        let domain = domain.to_owned();
        self.require_domain(&domain).await?;
        let taken: i64 = sqlx::query_scalar(
            "SELECT (SELECT COUNT(*) FROM mailbox WHERE username = ?)
                + (SELECT COUNT(*) FROM alias WHERE address = ?)
                + (SELECT COUNT(*) FROM mailing_list WHERE address = ?)",
        )
        .bind(&address)
        .bind(&address)
        .bind(&address)
        .fetch_one(&self.pool)
        .await?;
        if taken > 0 {
            return Err(AccountsError::AddressTaken(address));
        }
        sqlx::query(
            "INSERT INTO mailing_list (address, domain, name, created, modified, active)
             VALUES (?, ?, ?, CURRENT_TIMESTAMP, CURRENT_TIMESTAMP, 1)",
        )
        .bind(&address)
        .bind(&domain)
        .bind(name)
        .execute(&self.pool)
        .await?;
        Ok(address)
    }

    /// Removes a list and its members.
    pub async fn remove_list(&self, address: &str) -> Result<String, AccountsError> {
        let list = self.require_list(address).await?;
        sqlx::query("DELETE FROM mailing_list_member WHERE list = ?")
            .bind(&list)
            .execute(&self.pool)
            .await?;
        sqlx::query("DELETE FROM mailing_list WHERE address = ?")
            .bind(&list)
            .execute(&self.pool)
            .await?;
        Ok(list)
    }

    /// The lists, optionally of one domain, in address order.
    pub async fn lists(&self, domain: Option<&str>) -> Result<Vec<MailingList>, AccountsError> {
        let rows = sqlx::query(
            "SELECT address, name, description, posting, subscription, subject_prefix, reply_to,
                    CAST(max_size AS SIGNED) AS max_size, CAST(archive AS SIGNED) AS archive,
                    CAST(active AS SIGNED) AS active
             FROM mailing_list WHERE ? IS NULL OR domain = ? ORDER BY address",
        )
        .bind(domain)
        .bind(domain)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(list_row).collect()
    }

    /// The list `address`, if there is one (active or not).
    pub async fn list(&self, address: &str) -> Result<Option<MailingList>, AccountsError> {
        let Ok(address) = normalize_address(address) else {
            return Ok(None);
        };
        let row = sqlx::query(
            "SELECT address, name, description, posting, subscription, subject_prefix, reply_to,
                    CAST(max_size AS SIGNED) AS max_size, CAST(archive AS SIGNED) AS archive,
                    CAST(active AS SIGNED) AS active
             FROM mailing_list WHERE address = ?",
        )
        .bind(&address)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(list_row).transpose()
    }

    /// Changes one setting of a list.
    pub async fn set_list(
        &self,
        address: &str,
        setting: ListSetting,
    ) -> Result<String, AccountsError> {
        let list = self.require_list(address).await?;
        let (column, text, number): (&str, Option<String>, Option<i64>) = match setting {
            ListSetting::Name(v) => ("name", Some(v), None),
            ListSetting::Description(v) => ("description", Some(v), None),
            ListSetting::Posting(p) => ("posting", Some(p.name().into()), None),
            ListSetting::Subscription(p) => ("subscription", Some(p.name().into()), None),
            ListSetting::SubjectPrefix(v) => ("subject_prefix", Some(v), None),
            ListSetting::ReplyTo(r) => ("reply_to", Some(r.name().into()), None),
            ListSetting::MaxSize(n) => {
                ("max_size", None, Some(i64::try_from(n).unwrap_or(i64::MAX)))
            }
            ListSetting::Archive(a) => ("archive", None, Some(a.column())),
            ListSetting::Active(a) => ("active", None, Some(i64::from(a))),
        };
        if text.as_deref().is_some_and(|t| t.contains(['\r', '\n'])) {
            return Err(AccountsError::BadListSetting(format!(
                "the {column} of a list is one line"
            )));
        }
        let sql = format!(
            "UPDATE mailing_list SET {column} = ?, modified = CURRENT_TIMESTAMP WHERE address = ?"
        );
        // The column is one of the names above, never the caller's text.
        let query = sqlx::query(sqlx::AssertSqlSafe(sql));
        let query = match (text, number) {
            (Some(t), _) => query.bind(t),
            (None, n) => query.bind(n.unwrap_or(0)),
        };
        query.bind(&list).execute(&self.pool).await?;
        Ok(list)
    }

    /// The list's people, owners first, then moderators, then members, each in address
    /// order.
    pub async fn list_members(&self, address: &str) -> Result<Vec<Member>, AccountsError> {
        let list = self.require_list(address).await?;
        let rows = sqlx::query(
            "SELECT address, role, CAST(nomail AS SIGNED) AS nomail,
                    CAST(digest AS SIGNED) AS digest
             FROM mailing_list_member WHERE list = ? ORDER BY address",
        )
        .bind(&list)
        .fetch_all(&self.pool)
        .await?;
        let mut members = rows
            .iter()
            .map(|r| {
                Ok(Member {
                    address: r.try_get("address")?,
                    role: Role::parse(&r.try_get::<String, _>("role")?),
                    receives: match (
                        r.try_get::<i64, _>("nomail")?,
                        r.try_get::<i64, _>("digest")?,
                    ) {
                        (0, 0) => Receives::Posts,
                        (0, _) => Receives::Digest,
                        _ => Receives::Nothing,
                    },
                })
            })
            .collect::<Result<Vec<_>, sqlx::Error>>()?;
        members.sort_by(|a, b| b.role.cmp(&a.role).then(a.address.cmp(&b.address)));
        Ok(members)
    }

    /// Adds `member` to the list in `role` (again: what it receives is updated).
    pub async fn subscribe(
        &self,
        list: &str,
        member: &str,
        role: Role,
        receives: Receives,
    ) -> Result<(String, String), AccountsError> {
        let (digest, nomail) = receives.columns();
        let list = self.require_list(list).await?;
        let member = normalize_address(member)?;
        sqlx::query("DELETE FROM mailing_list_member WHERE list = ? AND address = ? AND role = ?")
            .bind(&list)
            .bind(&member)
            .bind(role.name())
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO mailing_list_member (list, address, role, digest, nomail, created)
             VALUES (?, ?, ?, ?, ?, CURRENT_TIMESTAMP)",
        )
        .bind(&list)
        .bind(&member)
        .bind(role.name())
        .bind(digest)
        .bind(nomail)
        .execute(&self.pool)
        .await?;
        Ok((list, member))
    }

    /// Removes `member` from the list in `role` (every role: `None`); whether it was there.
    pub async fn unsubscribe(
        &self,
        list: &str,
        member: &str,
        role: Option<Role>,
    ) -> Result<bool, AccountsError> {
        let list = self.require_list(list).await?;
        let member = normalize_address(member)?;
        let done = sqlx::query(
            "DELETE FROM mailing_list_member WHERE list = ? AND address = ?
             AND (? IS NULL OR role = ?)",
        )
        .bind(&list)
        .bind(&member)
        .bind(role.map(Role::name))
        .bind(role.map(Role::name))
        .execute(&self.pool)
        .await?;
        Ok(done.rows_affected() > 0)
    }

    /// The owners of the list whose `+owner` or `+bounces` address `address` is (RFC 2369's
    /// List-Owner; bounces go to them until the list processes them itself); `None` for any
    /// other address.
    pub(super) async fn list_owners_of(
        &self,
        address: &str,
    ) -> Result<Option<Vec<String>>, AccountsError> {
        let Some((local, domain)) = split_address(address) else {
            return Ok(None);
        };
        let Some((list, command)) = local.split_once('+') else {
            return Ok(None);
        };
        if !matches!(command, "owner" | "bounces") {
            return Ok(None);
        }
        let list = format!("{list}@{domain}");
        let owners: Vec<String> = sqlx::query_scalar(
            "SELECT m.address FROM mailing_list_member m JOIN mailing_list l ON l.address = m.list
             WHERE m.list = ? AND m.role = 'owner' AND l.active = 1 ORDER BY m.address",
        )
        .bind(&list)
        .fetch_all(&self.pool)
        .await?;
        // A list without owners: its address is as unknown as any other.
        Ok((!owners.is_empty()).then_some(owners))
    }

    /// The command address `address` is (`LIST+subscribe@domain`, `LIST+confirm-TOKEN@…`) of
    /// an active list: the list and the command; `None` for any other address.
    pub async fn list_command_of(
        &self,
        address: &str,
    ) -> Result<Option<(String, String)>, AccountsError> {
        let Some((local, domain)) = split_address(address) else {
            return Ok(None);
        };
        let Some((list, command)) = local.split_once('+') else {
            return Ok(None);
        };
        if !COMMANDS.contains(&command) && !TOKEN_COMMANDS.iter().any(|c| command.starts_with(c)) {
            return Ok(None);
        }
        let list = format!("{list}@{domain}");
        let found: Option<i64> =
            sqlx::query_scalar("SELECT 1 FROM mailing_list WHERE address = ? AND active = 1")
                .bind(&list)
                .fetch_optional(&self.pool)
                .await?;
        Ok(found.map(|_| (list, command.to_owned())))
    }

    /// Records that `member` asked to (un)subscribe to `list`; the token its confirmation
    /// names. Requests older than a week are forgotten here.
    pub async fn add_pending(
        &self,
        list: &str,
        member: &str,
        action: Pending,
        detail: &str,
        now: i64,
    ) -> Result<String, AccountsError> {
        let mut raw = [0u8; 12];
        crate::password::random_bytes(&mut raw)
            .map_err(|e| AccountsError::BadListSetting(format!("no random token: {e}")))?;
        let token: String = raw.iter().map(|b| format!("{b:02x}")).collect();
        sqlx::query("DELETE FROM mailing_list_pending WHERE created < ?")
            .bind(now - PENDING_SECONDS)
            .execute(&self.pool)
            .await?;
        sqlx::query(
            "INSERT INTO mailing_list_pending (token, list, address, action, detail, created)
             VALUES (?, ?, ?, ?, ?, ?)",
        )
        .bind(&token)
        .bind(list)
        .bind(member)
        .bind(action.name())
        .bind(detail)
        .bind(now)
        .execute(&self.pool)
        .await?;
        Ok(token)
    }

    /// Counts a bounce of `member`'s copy of a post to `list`: the member's bounces so far,
    /// `None` when it is not a member (any more).
    pub async fn record_bounce(
        &self,
        list: &str,
        member: &str,
    ) -> Result<Option<i64>, AccountsError> {
        let done = sqlx::query(
            "UPDATE mailing_list_member SET bounces = bounces + 1
             WHERE list = ? AND address = ? AND role = 'member'",
        )
        .bind(list)
        .bind(member)
        .execute(&self.pool)
        .await?;
        if done.rows_affected() == 0 {
            return Ok(None);
        }
        let count: i64 = sqlx::query_scalar(
            "SELECT CAST(bounces AS SIGNED) FROM mailing_list_member
             WHERE list = ? AND address = ? AND role = 'member'",
        )
        .bind(list)
        .bind(member)
        .fetch_one(&self.pool)
        .await?;
        Ok(Some(count))
    }

    /// Starts `member`'s count of bounces again (a probe was sent).
    pub async fn reset_bounces(&self, list: &str, member: &str) -> Result<(), AccountsError> {
        sqlx::query(
            "UPDATE mailing_list_member SET bounces = 0
             WHERE list = ? AND address = ? AND role = 'member'",
        )
        .bind(list)
        .bind(member)
        .execute(&self.pool)
        .await?;
        Ok(())
    }

    /// Takes the request `token` of `list` (once): who, what, and its detail, if it is still
    /// good.
    pub async fn take_pending(
        &self,
        list: &str,
        token: &str,
        now: i64,
    ) -> Result<Option<(String, Pending, String)>, AccountsError> {
        let row = sqlx::query(
            "SELECT address, action, detail FROM mailing_list_pending
             WHERE token = ? AND list = ? AND created >= ?",
        )
        .bind(token)
        .bind(list)
        .bind(now - PENDING_SECONDS)
        .fetch_optional(&self.pool)
        .await?;
        let Some(row) = row else {
            return Ok(None);
        };
        sqlx::query("DELETE FROM mailing_list_pending WHERE token = ?")
            .bind(token)
            .execute(&self.pool)
            .await?;
        let action = Pending::parse(&row.try_get::<String, _>("action")?);
        Ok(Some((
            row.try_get("address")?,
            action,
            row.try_get("detail")?,
        )))
    }

    /// What became of the post queued as `queue_id` for `list`: held (for a moderator) or
    /// approved; `None` when it was never held. An approved post's record is taken.
    pub async fn moderation(
        &self,
        list: &str,
        queue_id: &str,
    ) -> Result<Option<Pending>, AccountsError> {
        let action: Option<String> = sqlx::query_scalar(
            "SELECT action FROM mailing_list_pending
             WHERE list = ? AND detail = ? AND action IN ('post', 'approved')",
        )
        .bind(list)
        .bind(queue_id)
        .fetch_optional(&self.pool)
        .await?;
        let state = action.map(|a| Pending::parse(&a));
        if state == Some(Pending::Approved) {
            sqlx::query("DELETE FROM mailing_list_pending WHERE list = ? AND detail = ?")
                .bind(list)
                .bind(queue_id)
                .execute(&self.pool)
                .await?;
        }
        Ok(state)
    }

    /// Where the list `address` keeps its archive, a Maildir: `<mail root>/<domain>/.lists/
    /// <local part>` (a local part never begins with a dot, so no mailbox is there).
    pub fn list_archive(&self, address: &str) -> std::path::PathBuf {
        let address = address.to_ascii_lowercase();
        let (local, domain) = address.rsplit_once('@').unwrap_or((&address, ""));
        self.mail_root.join(domain).join(".lists").join(local)
    }

    /// The lists whose archives `user` reads over IMAP (member, owner or moderator of an
    /// active list whose archive is open to its members): each one's address.
    pub async fn readable_archives(&self, user: &str) -> Result<Vec<String>, AccountsError> {
        Ok(sqlx::query_scalar(
            "SELECT DISTINCT l.address FROM mailing_list l
             JOIN mailing_list_member m ON m.list = l.address
             WHERE m.address = ? AND l.archive = 2 AND l.active = 1 ORDER BY l.address",
        )
        .bind(user)
        .fetch_all(&self.pool)
        .await?)
    }

    async fn require_list(&self, address: &str) -> Result<String, AccountsError> {
        let address = normalize_address(address)?;
        let found: Option<i64> = sqlx::query_scalar("SELECT 1 FROM mailing_list WHERE address = ?")
            .bind(&address)
            .fetch_optional(&self.pool)
            .await?;
        match found {
            Some(_) => Ok(address),
            None => Err(AccountsError::UnknownList(address)),
        }
    }
}

fn list_row(row: &sqlx::any::AnyRow) -> Result<MailingList, AccountsError> {
    let address: String = row.try_get("address")?;
    let stored = |column: &'static str, value: String, expected: &'static str| {
        AccountsError::BadStoredValue {
            table: "mailing_list",
            column,
            row: address.clone(),
            value,
            expected,
        }
    };
    let posting: String = row.try_get("posting")?;
    let reply_to: String = row.try_get("reply_to")?;
    let subscription: String = row.try_get("subscription")?;
    Ok(MailingList {
        subscription: Subscription::parse(&subscription)
            .ok_or_else(|| stored("subscription", subscription.clone(), Subscription::NAMES))?,
        posting: Posting::parse(&posting)
            .ok_or_else(|| stored("posting", posting.clone(), Posting::NAMES))?,
        reply_to: ReplyTo::parse(&reply_to)
            .ok_or_else(|| stored("reply_to", reply_to.clone(), "list, sender"))?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        subject_prefix: row.try_get("subject_prefix")?,
        max_size: row.try_get::<i64, _>("max_size")?.max(0) as u64,
        archive: Archive::from_column(row.try_get::<i64, _>("archive")?),
        active: row.try_get::<i64, _>("active")? != 0,
        address,
    })
}
