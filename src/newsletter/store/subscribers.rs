//! Subscribers as the `subscribers` commands see them: adding, unsubscribing, forgetting, and the
//! record of each one's consent.
//!
//! Unsubscribing keeps the subscriber with their consent record and sent editions (proof that
//! every mail had consent) and stops all mail. Forgetting (GDPR Art. 17) deletes every row about
//! the address and keeps only its keyed hash, so a later import cannot add it again.

use rusqlite::{OptionalExtension, Row, params};

use super::{
    Store, SubscriberStatus, Via, address_key, db_error, end_subscription, new_token, shown,
};
use crate::error::OpError;
use crate::newsletter::address::{Email, clean_name};

/// How a subscriber came onto the list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// Signed up through the form and confirmed by e-mail (double opt-in).
    Form,
    /// `subscribers import`: consent was given outside ozg-site.
    Import,
    /// `subscribers add`: consent was given outside ozg-site.
    Cli,
}

impl Source {
    pub fn as_str(self) -> &'static str {
        match self {
            Source::Form => "form",
            Source::Import => "import",
            Source::Cli => "cli",
        }
    }

    fn parse(s: &str) -> Source {
        match s {
            "form" => Source::Form,
            "cli" => Source::Cli,
            _ => Source::Import,
        }
    }
}

/// When and how a subscriber agreed, and when they left: what UWG §7 and GDPR Art. 7 ask a
/// sender to prove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Consent {
    pub source: Source,
    /// When they signed up (for imports: when they were added).
    pub requested_at: String,
    /// When they clicked the confirmation link (form sign-ups only).
    pub confirmed_at: Option<String>,
    /// The statement they confirmed, word for word (form sign-ups only).
    pub statement: Option<String>,
    pub unsubscribed_at: Option<String>,
    pub unsubscribed_via: Option<String>,
}

/// A subscriber as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    /// What the subscription's unsubscribe token is derived from ([`Store::unsubscribe_token`]);
    /// not a token itself.
    pub link_nonce: String,
    pub status: SubscriberStatus,
    pub consent: Consent,
    /// The lists they belong to or left, by list id, each with its own consent record.
    pub lists: Vec<Membership>,
}

/// Belonging to one list, with the consent record of that list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Membership {
    /// The list's id from `site.yaml` (`newsletter`, `sprechstunden`).
    pub list: String,
    /// [`SubscriberStatus::Active`] or [`SubscriberStatus::Unsubscribed`]: a sign-up not
    /// confirmed yet is no membership.
    pub status: SubscriberStatus,
    pub consent: Consent,
    /// The version of the consent text ([`super::consent_version`]), for form sign-ups.
    pub consent_version: Option<String>,
    /// The confirmation link (its hash) that confirmed this membership, for form sign-ups.
    pub request: Option<String>,
}

impl Membership {
    /// The columns of [`Membership::record`], after the list's id.
    pub const RECORD: [&'static str; 9] = [
        "list",
        "status",
        "source",
        "requested_at",
        "confirmed_at",
        "consent",
        "consent_version",
        "unsubscribed_at",
        "unsubscribed_via",
    ];

    /// The membership's consent record in the order of [`Membership::RECORD`].
    pub fn record(&self) -> [String; 9] {
        let c = &self.consent;
        let or_empty = |v: &Option<String>| v.clone().unwrap_or_default();
        [
            self.list.clone(),
            self.status.as_str().to_string(),
            c.source.as_str().to_string(),
            c.requested_at.clone(),
            or_empty(&c.confirmed_at),
            or_empty(&c.statement),
            or_empty(&self.consent_version),
            or_empty(&c.unsubscribed_at),
            or_empty(&c.unsubscribed_via),
        ]
    }

    pub fn is_active(&self) -> bool {
        self.status == SubscriberStatus::Active
    }
}

impl Subscriber {
    /// Whether they receive what is sent to `list`.
    pub fn receives(&self, list: &str) -> bool {
        self.lists.iter().any(|m| m.list == list && m.is_active())
    }

    /// Their membership of `list`, if they ever had one.
    pub fn membership(&self, list: &str) -> Option<&Membership> {
        self.lists.iter().find(|m| m.list == list)
    }

    /// The columns of [`Subscriber::record`]: an export's header row, the keys of
    /// `subscribers show`.
    pub const RECORD: [&'static str; 9] = [
        "email",
        "name",
        "status",
        "source",
        "requested_at",
        "confirmed_at",
        "consent",
        "unsubscribed_at",
        "unsubscribed_via",
    ];

    /// The address and its consent record, in the order of [`Subscriber::RECORD`]: one place for
    /// an export and `subscribers show`, so both always tell the same.
    pub fn record(&self) -> [String; 9] {
        let c = &self.consent;
        let or_empty = |v: &Option<String>| v.clone().unwrap_or_default();
        [
            self.email.clone(),
            or_empty(&self.name),
            self.status.as_str().to_string(),
            c.source.as_str().to_string(),
            c.requested_at.clone(),
            or_empty(&c.confirmed_at),
            or_empty(&c.statement),
            or_empty(&c.unsubscribed_at),
            or_empty(&c.unsubscribed_via),
        ]
    }
}

/// What adding an address did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Added {
    Added,
    /// Active already; nothing changed.
    AlreadyThere,
    /// Active already; `subscribers add --name` gave it this name (`None`: no name).
    Renamed(Option<String>),
    /// Signed up through the form and not confirmed yet: left as it is. Only the confirmation
    /// link activates it — a stranger may have typed someone else's address into the form.
    NotConfirmed,
    /// They unsubscribed at this time: only they can come back, through the form.
    Unsubscribed(String),
    /// They asked to be forgotten: only they can come back, through the form.
    Forgotten,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub added: u64,
    /// Active already: left unchanged, names included (see [`Store::add_all`]).
    pub already_there: u64,
    /// Signed up through the form, not confirmed: left unchanged.
    pub not_confirmed: u64,
    /// Addresses that unsubscribed or were forgotten, with the reason: not added again.
    pub refused: Vec<(String, Added)>,
}

const COLUMNS: &str = "id, email, name, link_nonce, status, source, requested_at, confirmed_at,
    consent, unsubscribed_at, unsubscribed_via";

fn subscriber(r: &Row<'_>) -> rusqlite::Result<Subscriber> {
    Ok(Subscriber {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        link_nonce: r.get(3)?,
        status: r.get(4)?,
        consent: Consent {
            source: Source::parse(&r.get::<_, String>(5)?),
            requested_at: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
            confirmed_at: r.get(7)?,
            statement: r.get(8)?,
            unsubscribed_at: r.get(9)?,
            unsubscribed_via: r.get(10)?,
        },
        lists: Vec::new(),
    })
}

const MEMBERSHIP_COLUMNS: &str = "list, status, source, requested_at, confirmed_at, consent,
    consent_version, request, unsubscribed_at, unsubscribed_via";

fn membership(r: &Row<'_>) -> rusqlite::Result<Membership> {
    Ok(Membership {
        list: r.get(0)?,
        status: r.get(1)?,
        consent: Consent {
            source: Source::parse(&r.get::<_, String>(2)?),
            requested_at: r.get(3)?,
            confirmed_at: r.get(4)?,
            statement: r.get(5)?,
            unsubscribed_at: r.get(8)?,
            unsubscribed_via: r.get(9)?,
        },
        consent_version: r.get(6)?,
        request: r.get(7)?,
    })
}

impl Store {
    /// Adds a subscriber whose consent was given outside ozg-site (`subscribers add`). The
    /// address and name are checked here too ([`Email::parse`], [`clean_name`]), so nothing
    /// reaches the store that sending could not handle.
    ///
    /// For an active subscriber, a given `name` replaces the stored one: one address typed by
    /// an editor is a deliberate correction (a name that cannot be sent, a typo). Without a
    /// name nothing changes. A pending, unsubscribed or forgotten address is left as it is.
    pub fn add(
        &mut self,
        email: &str,
        name: Option<&str>,
        source: Source,
        list: &str,
    ) -> Result<Added, OpError> {
        let email = Email::parse(email).map_err(|e| OpError::Invalid(e.reason(email)))?;
        let name = match name.map(clean_name) {
            Some(Ok(n)) => n,
            Some(Err(e)) => return Err(OpError::Invalid(e.reason())),
            None => None,
        };
        let rename = name.is_some();
        let (imported, renamed) = self.insert(&[(email, name.clone())], source, list, rename)?;
        Ok(match imported {
            _ if renamed > 0 => Added::Renamed(name),
            Imported { added: 1, .. } => Added::Added,
            Imported {
                not_confirmed: 1, ..
            } => Added::NotConfirmed,
            Imported { mut refused, .. } => {
                refused.pop().map_or(Added::AlreadyThere, |(_, why)| why)
            }
        })
    }

    /// Adds many to `list` in one transaction (`subscribers import`). Nothing already stored changes: an
    /// active subscriber keeps their name (they may have given it themselves, through the form;
    /// an old list must not overwrite it — `subscribers add --name` corrects one); a pending
    /// sign-up stays pending (only its confirmation link activates it); addresses that
    /// unsubscribed or were forgotten are refused (an old list must never bring back someone who
    /// left, that list or all). An active subscriber of other lists joins `list`.
    /// Names must be [`clean_name`]'s; others are refused as a whole.
    pub fn add_all(
        &mut self,
        people: &[(Email, Option<String>)],
        source: Source,
        list: &str,
    ) -> Result<Imported, OpError> {
        self.insert(people, source, list, false)
            .map(|(imported, _)| imported)
    }

    /// [`Store::add_all`]; with `rename`, active subscribers get the given names. Returns how
    /// many were renamed, too.
    fn insert(
        &mut self,
        people: &[(Email, Option<String>)],
        source: Source,
        list_id: &str,
        rename: bool,
    ) -> Result<(Imported, u64), OpError> {
        for (email, name) in people {
            if let Some(n) = name
                && clean_name(n) != Ok(Some(n.clone()))
            {
                return Err(OpError::Internal(format!(
                    "the name given for {email} is not in its stored form"
                )));
            }
        }
        let path = self.path.clone();
        let hashes: Vec<Vec<String>> = people
            .iter()
            .map(|(e, _)| self.forgotten_hashes(e.as_str()))
            .collect();
        let now = shown(jiff::Timestamp::now());
        let link_key = self.link_key.clone();
        let tx = self.write()?;
        let mut imported = Imported::default();
        let mut renamed = 0;
        {
            let fail = |e: rusqlite::Error| db_error(&path, e);
            let mut find = tx
                .prepare(
                    "SELECT id, status, unsubscribed_at, name FROM subscribers WHERE email_key = ?1",
                )
                .map_err(fail)?;
            let mut member = tx
                .prepare(
                    "SELECT status, unsubscribed_at FROM memberships
                     WHERE subscriber = ?1 AND list = ?2",
                )
                .map_err(fail)?;
            let mut join = tx
                .prepare(
                    "INSERT INTO memberships (subscriber, list, status, source, requested_at)
                     VALUES (?1, ?2, 'active', ?3, ?4)",
                )
                .map_err(fail)?;
            let mut forgotten = tx
                .prepare("SELECT 1 FROM forgotten WHERE address_hash = ?1")
                .map_err(fail)?;
            let mut insert = tx
                .prepare(
                    "INSERT INTO subscribers (email, email_key, name, link_nonce, added_at, status,
                     source, requested_at) VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, ?5)",
                )
                .map_err(fail)?;
            let mut set_name = tx
                .prepare(
                    "UPDATE subscribers SET name = ?2 WHERE email_key = ?1 AND status = 'active'",
                )
                .map_err(fail)?;
            for ((email, name), hashes) in people.iter().zip(&hashes) {
                let key = email.key();
                type Found = (i64, SubscriberStatus, Option<String>, Option<String>);
                let existing: Option<Found> = find
                    .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))
                    .optional()
                    .map_err(fail)?;
                let membership: Option<(SubscriberStatus, Option<String>)> = match &existing {
                    Some((id, ..)) => member
                        .query_row(params![id, list_id], |r| Ok((r.get(0)?, r.get(1)?)))
                        .optional()
                        .map_err(fail)?,
                    None => None,
                };
                match (existing, membership) {
                    (Some((_, _, _, stored)), Some((SubscriberStatus::Active, _))) => {
                        if rename && *name != stored {
                            set_name.execute(params![key, name]).map_err(fail)?;
                            renamed += 1;
                        }
                        imported.already_there += 1;
                    }
                    (Some(_), Some((_, at))) => imported.refused.push((
                        email.to_string(),
                        Added::Unsubscribed(at.unwrap_or_default()),
                    )),
                    // Active on other lists: consent to this one was given outside ozg-site.
                    (Some((id, SubscriberStatus::Active, _, stored)), None) => {
                        join.execute(params![id, list_id, source.as_str(), now])
                            .map_err(fail)?;
                        if rename && *name != stored {
                            set_name.execute(params![key, name]).map_err(fail)?;
                        }
                        imported.added += 1;
                    }
                    (Some((_, SubscriberStatus::Unsubscribed, at, _)), None) => {
                        imported.refused.push((
                            email.to_string(),
                            Added::Unsubscribed(at.unwrap_or_default()),
                        ))
                    }
                    (Some((_, SubscriberStatus::Pending, _, _)), None) => {
                        imported.not_confirmed += 1
                    }
                    (None, _) if is_forgotten(&mut forgotten, hashes).map_err(fail)? => {
                        imported.refused.push((email.to_string(), Added::Forgotten))
                    }
                    (None, _) => {
                        let nonce = new_token()?;
                        insert
                            .execute(params![
                                email.as_str(),
                                key,
                                name,
                                nonce,
                                now,
                                source.as_str()
                            ])
                            .map_err(fail)?;
                        let id = tx.last_insert_rowid();
                        join.execute(params![id, list_id, source.as_str(), now])
                            .map_err(fail)?;
                        super::links::register(&tx, id, &link_key.token(&nonce)).map_err(fail)?;
                        imported.added += 1;
                    }
                }
            }
        }
        tx.commit().map_err(|e| db_error(&path, e))?;
        Ok((imported, renamed))
    }

    /// Unsubscribes an address on behalf of its owner (`subscribers remove`): from `list`, or
    /// with `None` from every list; `Ok(false)` if it receives nothing of that already.
    pub fn unsubscribe_address(
        &mut self,
        email: &str,
        list: Option<&str>,
    ) -> Result<bool, OpError> {
        let key = address_key(email);
        let path = self.path.clone();
        let tx = self.write()?;
        let id: Option<i64> = tx
            .query_row(
                "SELECT id FROM subscribers WHERE email_key = ?1 AND status != 'unsubscribed'",
                [&key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| db_error(&path, e))?;
        let Some(id) = id else { return Ok(false) };
        if let Some(list) = list {
            let member = tx
                .query_row(
                    "SELECT 1 FROM memberships WHERE subscriber = ?1 AND list = ?2
                     AND status = 'active'",
                    params![id, list],
                    |_| Ok(()),
                )
                .optional()
                .map_err(|e| db_error(&path, e))?;
            if member.is_none() {
                return Ok(false);
            }
        }
        end_subscription(&tx, id, list, Via::Cli, jiff::Timestamp::now())
            .map_err(|e| db_error(&path, e))?;
        tx.commit().map_err(|e| db_error(&path, e))?;
        Ok(true)
    }

    /// Deletes every trace of an address — subscriber, consent record, confirmation links, queued
    /// mails, send journal — and keeps only its keyed hash, so no import adds it again. Deleted
    /// rows are overwritten on disk (`secure_delete`), the file is rewritten and the write-ahead
    /// log emptied.
    /// `Ok(false)` if nothing about the address was stored (the hash is kept all the same).
    pub fn forget(&mut self, email: &str) -> Result<bool, OpError> {
        let key = address_key(email);
        let hash = self.address_hash(email);
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| db_error(&path, e);
        let tx = self.write()?;
        let mut deleted = tx
            .execute(
                "DELETE FROM deliveries
                 WHERE subscriber IN (SELECT id FROM subscribers WHERE email_key = ?1)",
                [&key],
            )
            .map_err(fail)?;
        // Rows that name the address in another spelling, or outlived their subscriber: SQL's
        // lower() knows only ASCII, so the one form is compared here.
        for (table, column) in [("deliveries", "email"), ("outgoing", "recipient")] {
            for rowid in rows_naming(&tx, table, column, &key).map_err(fail)? {
                deleted += tx
                    .execute(&format!("DELETE FROM {table} WHERE rowid = ?1"), [rowid])
                    .map_err(fail)?;
            }
        }
        // Confirmation links and queued mails of the subscriber go with it (ON DELETE CASCADE).
        deleted += tx
            .execute("DELETE FROM subscribers WHERE email_key = ?1", [&key])
            .map_err(fail)?;
        tx.execute(
            "INSERT OR IGNORE INTO forgotten (address_hash, forgotten_at) VALUES (?1, ?2)",
            params![hash, shown(jiff::Timestamp::now())],
        )
        .map_err(fail)?;
        tx.commit().map_err(fail)?;
        // Rewriting the file drops what deletions by older versions (without secure_delete) left
        // in free pages; emptying the write-ahead log drops the old copies of changed pages.
        self.conn.execute_batch("VACUUM").map_err(fail)?;
        self.conn
            .query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
            .map_err(fail)?;
        Ok(deleted > 0)
    }

    /// Every subscriber, whatever their status, by address, each with their lists.
    pub fn list(&self) -> Result<Vec<Subscriber>, OpError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM subscribers ORDER BY email_key"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], subscriber).map_err(|e| self.err(e))?;
        let mut all: Vec<Subscriber> = rows.collect::<Result<_, _>>().map_err(|e| self.err(e))?;
        for s in &mut all {
            s.lists = self.memberships(s.id)?;
        }
        Ok(all)
    }

    /// The subscribers who belong to `list` or left it, by address.
    pub fn list_of(&self, list: &str) -> Result<Vec<Subscriber>, OpError> {
        let mut all = self.list()?;
        all.retain(|s| s.membership(list).is_some());
        Ok(all)
    }

    /// The subscriber with this address, if any, with their lists.
    pub fn find(&self, email: &str) -> Result<Option<Subscriber>, OpError> {
        let found = self
            .conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM subscribers WHERE email_key = ?1"),
                [address_key(email)],
                subscriber,
            )
            .optional()
            .map_err(|e| self.err(e))?;
        match found {
            Some(mut s) => {
                s.lists = self.memberships(s.id)?;
                Ok(Some(s))
            }
            None => Ok(None),
        }
    }

    /// The memberships of `subscriber`, by list id.
    fn memberships(&self, subscriber: i64) -> Result<Vec<Membership>, OpError> {
        let mut stmt = self
            .conn
            .prepare_cached(&format!(
                "SELECT {MEMBERSHIP_COLUMNS} FROM memberships WHERE subscriber = ?1 ORDER BY list"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([subscriber], membership)
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Whether the address was forgotten (and has not signed up again since), in any spelling.
    pub fn is_forgotten(&self, email: &str) -> Result<bool, OpError> {
        self.conn
            .prepare_cached("SELECT 1 FROM forgotten WHERE address_hash = ?1")
            .and_then(|mut s| is_forgotten(&mut s, &self.forgotten_hashes(email)))
            .map_err(|e| self.err(e))
    }

    /// The editions sent to a subscriber: `(edition, state, sent_at)`.
    pub fn deliveries_of(
        &self,
        subscriber: i64,
    ) -> Result<Vec<(String, String, Option<String>)>, OpError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT c.edition, c.invitation, c.sequence, d.state, d.sent_at FROM deliveries d
                 JOIN campaigns c ON c.id = d.campaign WHERE d.subscriber = ?1
                 ORDER BY c.edition IS NULL, c.edition, c.invitation, c.sequence",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([subscriber], |r| {
                let edition: Option<u32> = r.get(0)?;
                let invitation: Option<String> = r.get(1)?;
                let sequence: Option<u32> = r.get(2)?;
                let what = match (edition, invitation) {
                    (Some(n), _) => format!("edition {n}"),
                    (None, Some(uid)) => {
                        format!("invitation {uid} version {}", sequence.unwrap_or_default())
                    }
                    (None, None) => "campaign".to_string(),
                };
                Ok((what, r.get(3)?, r.get(4)?))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The number of subscribers who receive what is sent to `list`, or with `None` anything.
    pub fn count(&self, list: Option<&str>) -> Result<u64, OpError> {
        self.conn
            .query_row(
                "SELECT count(*) FROM subscribers s WHERE status = 'active'
                 AND (?1 IS NULL OR EXISTS (SELECT 1 FROM memberships m
                      WHERE m.subscriber = s.id AND m.list = ?1 AND m.status = 'active'))",
                [list],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err(e))
    }
}

/// The rowids of `table` whose address `column` has the key `key` ([`address_key`]).
fn rows_naming(
    tx: &rusqlite::Transaction<'_>,
    table: &str,
    column: &str,
    key: &str,
) -> rusqlite::Result<Vec<i64>> {
    let mut stmt = tx.prepare(&format!("SELECT rowid, {column} FROM {table}"))?;
    let rows = stmt.query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))?;
    let mut found = Vec::new();
    for row in rows {
        let (rowid, address) = row?;
        if address_key(&address) == key {
            found.push(rowid);
        }
    }
    Ok(found)
}

/// Whether any of `hashes` is in `forgotten` (`SELECT 1 FROM forgotten WHERE address_hash = ?1`).
fn is_forgotten(
    forgotten: &mut rusqlite::Statement<'_>,
    hashes: &[String],
) -> rusqlite::Result<bool> {
    for hash in hashes {
        if forgotten.exists([hash])? {
            return Ok(true);
        }
    }
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::newsletter::store::is_token;
    use crate::newsletter::store::tests::store;

    fn email(s: &str) -> Email {
        Email::parse(s).unwrap()
    }

    #[test]
    fn add_and_remove_per_list_and_an_edition_reaches_only_its_list() {
        let (_d, mut s) = store();
        assert_eq!(
            s.add("a@example.org", None, Source::Cli, "newsletter")
                .unwrap(),
            Added::Added
        );
        assert_eq!(
            s.add("a@example.org", None, Source::Cli, "sprechstunden")
                .unwrap(),
            Added::Added
        );
        assert_eq!(
            s.add("b@example.org", None, Source::Cli, "sprechstunden")
                .unwrap(),
            Added::Added
        );
        assert_eq!(s.count(Some("newsletter")).unwrap(), 1);
        assert_eq!(s.count(Some("sprechstunden")).unwrap(), 2);
        assert_eq!(s.count(None).unwrap(), 2);
        assert_eq!(
            s.start_campaign(9, "Einladung", "sprechstunden", false)
                .unwrap(),
            2
        );
        assert_eq!(
            s.start_campaign(10, "Ausgabe", "newsletter", false)
                .unwrap(),
            1
        );
        // Ending one list leaves the other, and takes the pending mail of that list only.
        assert!(
            s.unsubscribe_address("a@example.org", Some("sprechstunden"))
                .unwrap()
        );
        assert!(
            !s.unsubscribe_address("a@example.org", Some("sprechstunden"))
                .unwrap()
        );
        let pending: Vec<_> = s.pending(9).unwrap().into_iter().map(|d| d.email).collect();
        assert_eq!(pending, vec!["b@example.org"]);
        assert_eq!(s.pending(10).unwrap().len(), 1);
        let a = s.find("a@example.org").unwrap().unwrap();
        assert_eq!(a.status, SubscriberStatus::Active);
        // The list left refuses the address again; the person stays on the other.
        assert!(matches!(
            s.add("a@example.org", None, Source::Cli, "sprechstunden")
                .unwrap(),
            Added::Unsubscribed(_)
        ));
        assert_eq!(
            s.list_of("sprechstunden").unwrap().len(),
            2,
            "members and those who left"
        );
        // Without a list, everything ends; --forget removes every list with the person.
        assert!(s.unsubscribe_address("a@example.org", None).unwrap());
        assert_eq!(
            s.find("a@example.org").unwrap().unwrap().status,
            SubscriberStatus::Unsubscribed
        );
        assert!(s.forget("b@example.org").unwrap());
        assert!(
            s.list_of("sprechstunden")
                .unwrap()
                .iter()
                .all(|x| x.email != "b@example.org")
        );
        let rows: i64 = s
            .conn
            .query_row("SELECT count(*) FROM memberships", [], |r| r.get(0))
            .unwrap();
        assert_eq!(rows, 2, "only a@example.org's two memberships are left");
    }

    /// A sign-up through the form that was never confirmed, as the service stores it.
    fn pending(s: &Store, address: &str, name: &str) {
        s.conn
            .execute(
                "INSERT INTO subscribers (email, email_key, name, link_nonce, added_at, status, source,
                 requested_at) VALUES (?1, ?2, ?3, ?4, '2026-01-01T00:00:00Z', 'pending', 'form',
                 '2026-01-01T00:00:00Z')",
                params![address, address_key(address), name, new_token().unwrap()],
            )
            .unwrap();
    }

    #[test]
    fn addresses_are_unique_in_any_case_and_tokens_differ() {
        let (_d, mut s) = store();
        assert_eq!(
            s.add("Anna@Example.org", Some("Anna"), Source::Cli, "newsletter")
                .unwrap(),
            Added::Added
        );
        assert_eq!(
            s.add("anna@example.ORG", None, Source::Cli, "newsletter")
                .unwrap(),
            Added::AlreadyThere
        );
        let imported = s
            .add_all(
                &[
                    (email("b@example.org"), None),
                    (email("B@example.org"), None),
                ],
                Source::Import,
                "newsletter",
            )
            .unwrap();
        assert_eq!((imported.added, imported.already_there), (1, 1));
        let list = s.list().unwrap();
        assert_eq!(list.len(), 2);
        let (t0, t1) = (
            s.unsubscribe_token(&list[0].link_nonce),
            s.unsubscribe_token(&list[1].link_nonce),
        );
        assert_ne!(t0, t1);
        assert!(is_token(&t0), "{t0}");
        assert_eq!(list[0].consent.source, Source::Cli);
        assert_eq!(list[1].consent.source, Source::Import);
        assert_eq!(s.count(None).unwrap(), 2);
    }

    #[test]
    fn unsubscribed_and_forgotten_addresses_are_not_added_again() {
        let (_d, mut s) = store();
        s.add("a@example.org", None, Source::Cli, "newsletter")
            .unwrap();
        s.add("b@example.org", Some("Bea"), Source::Cli, "newsletter")
            .unwrap();
        assert!(s.unsubscribe_address("A@example.org", None).unwrap());
        assert!(!s.unsubscribe_address("a@example.org", None).unwrap());
        let a = s.find("a@example.org").unwrap().unwrap();
        assert_eq!(a.status, SubscriberStatus::Unsubscribed);
        assert_eq!(a.consent.unsubscribed_via.as_deref(), Some("cli"));
        assert!(matches!(
            s.add("a@example.org", None, Source::Cli, "newsletter").unwrap(),
            Added::Unsubscribed(at) if at == a.consent.unsubscribed_at.clone().unwrap()
        ));
        s.start_campaign(1, "Betreff", "newsletter", false).unwrap();
        let b = s.pending(1).unwrap().pop().unwrap();
        assert_eq!(b.email, "b@example.org");
        s.mark_sent(s.campaign(1).unwrap(), &b, 1).unwrap();
        assert!(s.forget("B@example.org").unwrap());
        assert!(s.find("b@example.org").unwrap().is_none());
        assert!(s.is_forgotten("b@example.org").unwrap());
        assert_eq!(s.status(1).unwrap().unwrap().sent, 0, "journal rows go too");
        let imported = s
            .add_all(
                &[
                    (email("b@example.org"), None),
                    (email("c@example.org"), None),
                ],
                Source::Import,
                "newsletter",
            )
            .unwrap();
        assert_eq!(imported.added, 1);
        assert_eq!(
            imported.refused,
            vec![("b@example.org".to_string(), Added::Forgotten)]
        );
        // Forgetting an address never stored still keeps its hash.
        assert!(!s.forget("nie@example.org").unwrap());
        assert!(s.is_forgotten("nie@example.org").unwrap());
    }

    #[test]
    fn a_pending_sign_up_is_neither_activated_nor_renamed_by_import_or_add() {
        let (_d, mut s) = store();
        pending(&s, "fremd@example.org", "vom Formular");
        let imported = s
            .add_all(
                &[(email("Fremd@example.org"), Some("Aus der Liste".into()))],
                Source::Import,
                "newsletter",
            )
            .unwrap();
        assert_eq!((imported.added, imported.not_confirmed), (0, 1));
        assert_eq!(
            s.add(
                "fremd@example.org",
                Some("Per Hand"),
                Source::Cli,
                "newsletter"
            )
            .unwrap(),
            Added::NotConfirmed
        );
        let row = s.find("fremd@example.org").unwrap().unwrap();
        assert_eq!(row.status, SubscriberStatus::Pending);
        assert_eq!(row.name.as_deref(), Some("vom Formular"));
        assert_eq!(row.consent.source, Source::Form);
        assert_eq!(s.count(None).unwrap(), 0);
    }

    #[test]
    fn an_import_keeps_active_names_and_add_with_a_name_corrects_one() {
        let (_d, mut s) = store();
        s.add("a@example.org", Some("Anna"), Source::Cli, "newsletter")
            .unwrap();
        let imported = s
            .add_all(
                &[(email("a@example.org"), Some("Alte Liste".into()))],
                Source::Import,
                "newsletter",
            )
            .unwrap();
        assert_eq!(imported.already_there, 1);
        assert_eq!(
            s.find("a@example.org").unwrap().unwrap().name.as_deref(),
            Some("Anna")
        );
        assert_eq!(
            s.add("a@example.org", None, Source::Cli, "newsletter")
                .unwrap(),
            Added::AlreadyThere
        );
        assert_eq!(
            s.add("a@example.org", Some("Anna"), Source::Cli, "newsletter")
                .unwrap(),
            Added::AlreadyThere
        );
        assert_eq!(
            s.add(
                "A@example.org",
                Some(" Anna  Schmidt "),
                Source::Cli,
                "newsletter"
            )
            .unwrap(),
            Added::Renamed(Some("Anna  Schmidt".into()))
        );
        assert_eq!(
            s.find("a@example.org").unwrap().unwrap().name.as_deref(),
            Some("Anna  Schmidt")
        );
    }

    #[test]
    fn add_refuses_what_sending_could_not_handle() {
        let (_d, mut s) = store();
        for (address, name) in [
            ("a@example.org", "Erika\r\nBcc: x@example.org"),
            ("a@example.org", "\u{1b}[31mrot"),
            ("a@example.org", "a\u{0}b"),
            ("\"a b\"@example.org", "Anna"),
            ("a\n@example.org", "Anna"),
        ] {
            assert!(
                s.add(address, Some(name), Source::Cli, "newsletter")
                    .is_err(),
                "{address:?} {name:?}"
            );
        }
        assert!(
            s.add(
                "a@example.org",
                Some(&"x".repeat(30_000_000)),
                Source::Cli,
                "newsletter"
            )
            .is_err()
        );
        assert!(
            s.add_all(
                &[(email("a@example.org"), Some("a\nb".into()))],
                Source::Import,
                "newsletter"
            )
            .is_err()
        );
        assert!(s.list().unwrap().is_empty());
    }

    #[test]
    fn a_forgotten_address_stays_forgotten_in_every_spelling() {
        let (_d, mut s) = store();
        s.add("jörg@bücher.de", Some("Jörg"), Source::Cli, "newsletter")
            .unwrap();
        let stored = s.list().unwrap().pop().unwrap();
        assert_eq!(
            stored.email, "jörg@xn--bcher-kva.de",
            "the domain is stored as Punycode"
        );
        assert!(s.forget("JÖRG@BÜCHER.DE").unwrap());
        for spelling in [
            "jörg@xn--bcher-kva.de",
            "jo\u{308}rg@bu\u{308}cher.de",
            "Jörg@Bücher.de",
        ] {
            assert!(s.is_forgotten(spelling).unwrap(), "{spelling}");
            assert!(matches!(
                s.add(spelling, None, Source::Cli, "newsletter").unwrap(),
                Added::Forgotten
            ));
        }
        assert!(s.list().unwrap().is_empty());
    }

    #[test]
    fn forgetting_deletes_journal_rows_in_every_spelling() {
        let (_d, mut s) = store();
        s.add("ÄRGER@bücher.de", None, Source::Cli, "newsletter")
            .unwrap();
        s.start_campaign(1, "Betreff", "newsletter", false).unwrap();
        // A row that outlived its subscriber, in an older spelling.
        s.conn
            .execute_batch(
                "INSERT INTO deliveries (campaign, subscriber, email, token, state)
                 VALUES (1, 99, 'A\u{308}RGER@Bücher.DE', 'x', 'sent')",
            )
            .unwrap();
        assert!(s.forget("ärger@xn--bcher-kva.de").unwrap());
        let left: i64 = s
            .conn
            .query_row("SELECT count(*) FROM deliveries", [], |r| r.get(0))
            .unwrap();
        assert_eq!(left, 0);
    }

    #[test]
    fn an_address_forgotten_by_an_older_version_stays_forgotten() {
        let (_d, mut s) = store();
        // Older versions hashed the lower-cased address as typed, here decomposed and in Unicode.
        let old_key = "jo\u{308}rg@bu\u{308}cher.de";
        s.conn
            .execute(
                "INSERT INTO forgotten (address_hash, forgotten_at) VALUES (?1, '2025-01-01T00:00:00Z')",
                [super::super::hash_key(&s.address_key, old_key)],
            )
            .unwrap();
        assert!(s.is_forgotten("jörg@xn--bcher-kva.de").unwrap());
        let imported = s
            .add_all(
                &[(email("JÖRG@bücher.de"), None)],
                Source::Import,
                "newsletter",
            )
            .unwrap();
        assert_eq!(imported.refused.len(), 1);
        assert_eq!(imported.added, 0);
    }
}
