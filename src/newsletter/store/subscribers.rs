//! Subscribers as the `subscribers` commands see them: adding, unsubscribing, forgetting, and the
//! record of each one's consent.
//!
//! Unsubscribing keeps the subscriber with their consent record and sent editions (proof that
//! every mail had consent) and stops all mail. Forgetting (GDPR Art. 17) deletes every row about
//! the address and keeps only its keyed hash, so a later import cannot add it again.

use rusqlite::{OptionalExtension, Row, params};

use super::{Store, SubscriberStatus, address_key, db_error, new_token, shown};
use crate::diagnostics::Diagnostic;

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

/// How a subscriber left.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Via {
    /// The button on the page of the unsubscribe link.
    Link,
    /// A mail program's one-click unsubscribe (RFC 8058).
    OneClick,
    /// `subscribers remove`.
    Cli,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Link => "link",
            Via::OneClick => "one-click",
            Via::Cli => "cli",
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
    pub token: String,
    pub status: SubscriberStatus,
    pub consent: Consent,
}

impl Subscriber {
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
    /// Active already (or pending: then it is active now, consent given outside ozg-site).
    AlreadyThere,
    /// They unsubscribed at this time: only they can come back, through the form.
    Unsubscribed(String),
    /// They asked to be forgotten: only they can come back, through the form.
    Forgotten,
}

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Imported {
    pub added: u64,
    pub already_there: u64,
    /// Addresses that unsubscribed or were forgotten, with the reason: not added again.
    pub refused: Vec<(String, Added)>,
}

const COLUMNS: &str = "id, email, name, token, status, source, requested_at, confirmed_at,
    consent, unsubscribed_at, unsubscribed_via";

fn subscriber(r: &Row<'_>) -> rusqlite::Result<Subscriber> {
    Ok(Subscriber {
        id: r.get(0)?,
        email: r.get(1)?,
        name: r.get(2)?,
        token: r.get(3)?,
        status: r.get(4)?,
        consent: Consent {
            source: Source::parse(&r.get::<_, String>(5)?),
            requested_at: r.get::<_, Option<String>>(6)?.unwrap_or_default(),
            confirmed_at: r.get(7)?,
            statement: r.get(8)?,
            unsubscribed_at: r.get(9)?,
            unsubscribed_via: r.get(10)?,
        },
    })
}

impl Store {
    /// Adds a subscriber whose consent was given outside ozg-site.
    pub fn add(
        &mut self,
        email: &str,
        name: Option<&str>,
        source: Source,
    ) -> Result<Added, Diagnostic> {
        self.add_all(&[(email.to_string(), name.map(str::to_string))], source)
            .map(|mut imported| match imported.refused.pop() {
                Some((_, why)) => why,
                None if imported.added == 1 => Added::Added,
                None => Added::AlreadyThere,
            })
    }

    /// Adds many in one transaction. Addresses that unsubscribed or were forgotten are refused:
    /// an old list must never bring back someone who left.
    pub fn add_all(
        &mut self,
        list: &[(String, Option<String>)],
        source: Source,
    ) -> Result<Imported, Diagnostic> {
        let path = self.path.clone();
        let hashes: Vec<String> = list.iter().map(|(e, _)| self.address_hash(e)).collect();
        let now = shown(jiff::Timestamp::now());
        let tx = self.write()?;
        let mut imported = Imported::default();
        {
            let fail = |e: rusqlite::Error| db_error(&path, e);
            let mut find = tx
                .prepare("SELECT status, unsubscribed_at FROM subscribers WHERE email_key = ?1")
                .map_err(fail)?;
            let mut forgotten = tx
                .prepare("SELECT 1 FROM forgotten WHERE address_hash = ?1")
                .map_err(fail)?;
            let mut insert = tx
                .prepare(
                    "INSERT INTO subscribers (email, email_key, name, token, added_at, status,
                     source, requested_at) VALUES (?1, ?2, ?3, ?4, ?5, 'active', ?6, ?5)",
                )
                .map_err(fail)?;
            let mut activate = tx
                .prepare(
                    "UPDATE subscribers SET status = 'active', source = ?2, requested_at = ?3,
                     name = coalesce(?4, name) WHERE email_key = ?1",
                )
                .map_err(fail)?;
            for ((email, name), hash) in list.iter().zip(&hashes) {
                let key = address_key(email);
                let existing: Option<(SubscriberStatus, Option<String>)> = find
                    .query_row([&key], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
                    .map_err(fail)?;
                match existing {
                    Some((SubscriberStatus::Active, _)) => imported.already_there += 1,
                    Some((SubscriberStatus::Unsubscribed, at)) => imported
                        .refused
                        .push((email.clone(), Added::Unsubscribed(at.unwrap_or_default()))),
                    Some((SubscriberStatus::Pending, _)) => {
                        activate
                            .execute(params![key, source.as_str(), now, name])
                            .map_err(fail)?;
                        imported.already_there += 1;
                    }
                    None if forgotten.exists([hash]).map_err(fail)? => {
                        imported.refused.push((email.clone(), Added::Forgotten))
                    }
                    None => {
                        insert
                            .execute(params![
                                email.trim(),
                                key,
                                name,
                                new_token()?,
                                now,
                                source.as_str()
                            ])
                            .map_err(fail)?;
                        imported.added += 1;
                    }
                }
            }
        }
        tx.commit().map_err(|e| db_error(&path, e))?;
        Ok(imported)
    }

    /// Unsubscribes an address on behalf of its owner (`subscribers remove`); `Ok(false)` if it
    /// receives nothing already.
    pub fn unsubscribe_address(&mut self, email: &str) -> Result<bool, Diagnostic> {
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
        super::optin::end_subscription(&tx, id, Via::Cli, jiff::Timestamp::now())
            .map_err(|e| db_error(&path, e))?;
        tx.commit().map_err(|e| db_error(&path, e))?;
        Ok(true)
    }

    /// Deletes every trace of an address — subscriber, consent record, confirmation links, queued
    /// mails, send journal — and keeps only its keyed hash, so no import adds it again. Deleted
    /// rows are overwritten on disk (`secure_delete`), the file is rewritten and the write-ahead
    /// log emptied.
    /// `Ok(false)` if nothing about the address was stored (the hash is kept all the same).
    pub fn forget(&mut self, email: &str) -> Result<bool, Diagnostic> {
        let key = address_key(email);
        let hash = self.address_hash(email);
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| db_error(&path, e);
        let tx = self.write()?;
        let mut deleted = tx
            .execute(
                "DELETE FROM deliveries WHERE lower(trim(email)) = ?1
                 OR subscriber IN (SELECT id FROM subscribers WHERE email_key = ?1)",
                [&key],
            )
            .map_err(fail)?;
        deleted += tx
            .execute(
                "DELETE FROM outgoing WHERE lower(trim(recipient)) = ?1",
                [&key],
            )
            .map_err(fail)?;
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

    /// Every subscriber, whatever their status, by address.
    pub fn list(&self) -> Result<Vec<Subscriber>, Diagnostic> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT {COLUMNS} FROM subscribers ORDER BY email_key"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt.query_map([], subscriber).map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The subscriber with this address, if any.
    pub fn find(&self, email: &str) -> Result<Option<Subscriber>, Diagnostic> {
        self.conn
            .query_row(
                &format!("SELECT {COLUMNS} FROM subscribers WHERE email_key = ?1"),
                [address_key(email)],
                subscriber,
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Whether the address was forgotten (and has not signed up again since).
    pub fn is_forgotten(&self, email: &str) -> Result<bool, Diagnostic> {
        self.conn
            .prepare_cached("SELECT 1 FROM forgotten WHERE address_hash = ?1")
            .and_then(|mut s| s.exists([self.address_hash(email)]))
            .map_err(|e| self.err(e))
    }

    /// The editions sent to a subscriber: `(edition, state, sent_at)`.
    pub fn deliveries_of(
        &self,
        subscriber: i64,
    ) -> Result<Vec<(u32, String, Option<String>)>, Diagnostic> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT c.edition, d.state, d.sent_at FROM deliveries d
                 JOIN campaigns c ON c.id = d.campaign WHERE d.subscriber = ?1 ORDER BY c.edition",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([subscriber], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The number of subscribers who receive the newsletter.
    pub fn count(&self) -> Result<u64, Diagnostic> {
        self.conn
            .query_row(
                "SELECT count(*) FROM subscribers WHERE status = 'active'",
                [],
                |r| r.get::<_, i64>(0),
            )
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::newsletter::store::tests::store;

    #[test]
    fn addresses_are_unique_in_any_case_and_tokens_differ() {
        let (_d, mut s) = store();
        assert_eq!(
            s.add("Anna@Example.org", Some("Anna"), Source::Cli)
                .unwrap(),
            Added::Added
        );
        assert_eq!(
            s.add("anna@example.ORG", None, Source::Cli).unwrap(),
            Added::AlreadyThere
        );
        let imported = s
            .add_all(
                &[
                    ("b@example.org".into(), None),
                    ("B@example.org".into(), None),
                ],
                Source::Import,
            )
            .unwrap();
        assert_eq!((imported.added, imported.already_there), (1, 1));
        let list = s.list().unwrap();
        assert_eq!(list.len(), 2);
        assert_ne!(list[0].token, list[1].token);
        assert_eq!(list[0].token.len(), 32);
        assert_eq!(list[0].consent.source, Source::Cli);
        assert_eq!(list[1].consent.source, Source::Import);
        assert_eq!(s.count().unwrap(), 2);
    }

    #[test]
    fn unsubscribed_and_forgotten_addresses_are_not_added_again() {
        let (_d, mut s) = store();
        s.add("a@example.org", None, Source::Cli).unwrap();
        s.add("b@example.org", Some("Bea"), Source::Cli).unwrap();
        assert!(s.unsubscribe_address("A@example.org").unwrap());
        assert!(!s.unsubscribe_address("a@example.org").unwrap());
        let a = s.find("a@example.org").unwrap().unwrap();
        assert_eq!(a.status, SubscriberStatus::Unsubscribed);
        assert_eq!(a.consent.unsubscribed_via.as_deref(), Some("cli"));
        assert!(matches!(
            s.add("a@example.org", None, Source::Cli).unwrap(),
            Added::Unsubscribed(at) if at == a.consent.unsubscribed_at.clone().unwrap()
        ));
        s.start_campaign(1, "Betreff", false).unwrap();
        let b = s.pending(1).unwrap().pop().unwrap();
        assert_eq!(b.email, "b@example.org");
        s.mark_sent(1, &b, 1).unwrap();
        assert!(s.forget("B@example.org").unwrap());
        assert!(s.find("b@example.org").unwrap().is_none());
        assert!(s.is_forgotten("b@example.org").unwrap());
        assert_eq!(s.status(1).unwrap().unwrap().sent, 0, "journal rows go too");
        let imported = s
            .add_all(
                &[
                    ("b@example.org".into(), None),
                    ("c@example.org".into(), None),
                ],
                Source::Import,
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
}
