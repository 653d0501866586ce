//! Double opt-in: a sign-up stores a confirmation link (as a hash) and queues the mail carrying it
//! in one transaction; the click on the link makes the subscriber active and records what they
//! agreed to. Unsubscribing by link ends a subscription at once and for good.
//!
//! A sign-up for an address that exists changes nothing about it until its owner confirms, so
//! nobody can alter someone else's subscription by typing their address. What a sign-up asks
//! for (the name, the consent statement) stays with its link in `confirmations` and reaches the
//! subscriber only through the link that is confirmed: a stranger's sign-up of the same address
//! leaves no trace on the subscriber.

use jiff::{SignedDuration, Timestamp};
use rusqlite::{OptionalExtension, params};

use super::outgoing::QueuedMail;
use super::{
    Store, SubscriberStatus, Via, address_key, db_error, end_subscription, millis, new_token, plus,
    shown, token_hash,
};
use crate::error::OpError;

/// A sign-up from the form.
#[derive(Debug, Clone)]
pub struct SignupRequest<'a> {
    pub email: &'a str,
    pub name: Option<&'a str>,
    /// The lists ticked, each with the consent statement shown beside it, recorded when the link
    /// is clicked. At least one.
    pub lists: &'a [Requested<'a>],
    pub now: Timestamp,
    /// How long the confirmation link is valid.
    pub valid_for: SignedDuration,
}

/// A list asked for in a sign-up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Requested<'a> {
    /// The list's id from `site.yaml`.
    pub list: &'a str,
    /// Its consent statement, word for word as shown.
    pub consent: &'a str,
}

/// What a sign-up leads to; the caller turns it into the mail to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signup {
    /// New, not confirmed yet, unsubscribed before, or asking for a list more: this link
    /// confirms the lists asked for that the address does not receive yet.
    Confirm {
        subscriber: i64,
        token: String,
        expires_at: Timestamp,
        /// The consent statements of the lists this link confirms (one paragraph each): the
        /// mail quotes them, not those of lists the address receives already.
        consent: String,
    },
    /// The address receives every list asked for already: tell its owner, with the way out.
    AlreadyActive {
        subscriber: i64,
        unsubscribe_token: String,
    },
}

/// What a click on a confirmation link did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmed {
    /// Active from now on.
    Now {
        email: String,
    },
    /// The link was used before (this subscriber confirmed, or unsubscribed since).
    Used,
    Expired,
    /// No such link: mistyped, made up, or deleted 30 days after it expired.
    Unknown,
}

/// What a confirmation link would do, looked up without using it (the page with the button).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Valid: the button confirms this address, with the consent statements of its request (one
    /// paragraph per list).
    Open {
        email: String,
        consent: String,
    },
    Used,
    Expired,
    Unknown,
}

/// How a checkpoint treats the readers and writers of the moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Checkpoint {
    /// Copies what it can without waiting for anybody: for during a burst.
    Passive,
    /// Waits briefly for readers and writers, copies everything and empties the WAL file: for
    /// quiet moments.
    Truncate,
}

/// What an unsubscribe did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unsubscribed {
    Now {
        email: String,
    },
    /// Unsubscribing twice is fine: it says so.
    Already {
        email: String,
    },
    Unknown,
}

/// How long used and expired confirmation links are kept (to tell "used" from "unknown"), and
/// unconfirmed sign-ups after their last link expired.
const KEEP_EXPIRED: SignedDuration = SignedDuration::from_hours(30 * 24);

impl Store {
    /// Stores a sign-up and, in the same transaction, the mail `mail` makes of it: no sign-up is
    /// ever kept without its mail, nor a mail queued for a sign-up that was not stored.
    pub fn signup(
        &mut self,
        request: &SignupRequest<'_>,
        mail: impl FnOnce(&Signup) -> Result<QueuedMail, OpError>,
    ) -> Result<Signup, OpError> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| db_error(&path, e);
        let key = address_key(request.email);
        let link_key = self.link_key.clone();
        if request.lists.is_empty() {
            return Err(OpError::Internal("a sign-up asked for no list".into()));
        }
        let tx = self.write()?;
        let existing: Option<(i64, SubscriberStatus, String)> = tx
            .query_row(
                "SELECT id, status, link_nonce FROM subscribers WHERE email_key = ?1",
                [&key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(fail)?;
        // The lists asked for that the address does not receive yet.
        let mut wanted = Vec::new();
        for r in request.lists {
            let receives = match &existing {
                Some((id, ..)) => tx
                    .query_row(
                        "SELECT 1 FROM memberships WHERE subscriber = ?1 AND list = ?2
                         AND status = 'active'",
                        params![id, r.list],
                        |_| Ok(()),
                    )
                    .optional()
                    .map_err(fail)?
                    .is_some(),
                None => false,
            };
            if !receives && !wanted.iter().any(|w: &&Requested<'_>| w.list == r.list) {
                wanted.push(r);
            }
        }
        let outcome = match existing {
            Some((id, SubscriberStatus::Active, nonce)) if wanted.is_empty() => {
                let token = link_key.token(&nonce);
                super::links::register(&tx, id, &token).map_err(fail)?;
                Signup::AlreadyActive {
                    subscriber: id,
                    unsubscribe_token: token,
                }
            }
            found => {
                let id = match found {
                    Some((id, _, _)) => id,
                    None => {
                        let now = shown(request.now);
                        tx.execute(
                            // No name: it belongs to this request, kept with its link, and
                            // reaches the subscriber only if this link is the one confirmed.
                            "INSERT INTO subscribers (email, email_key, name, link_nonce, added_at,
                             status, source, requested_at)
                             VALUES (?1, ?2, NULL, ?3, ?4, 'pending', 'form', ?4)",
                            params![request.email.trim(), key, new_token()?, now],
                        )
                        .map_err(fail)?;
                        tx.last_insert_rowid()
                    }
                };
                let token = new_token()?;
                let expires_at = plus(request.now, request.valid_for);
                let statements: Vec<&str> = wanted.iter().map(|r| r.consent).collect();
                let consent = statements.join("\n\n");
                tx.execute(
                    "INSERT INTO confirmations (token_hash, subscriber, name, consent, created_at,
                     expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        token_hash(&token),
                        id,
                        request.name,
                        consent,
                        shown(request.now),
                        millis(expires_at)
                    ],
                )
                .map_err(fail)?;
                for r in &wanted {
                    tx.execute(
                        "INSERT INTO requested_lists (token_hash, list, consent) VALUES (?1, ?2, ?3)",
                        params![token_hash(&token), r.list, r.consent],
                    )
                    .map_err(fail)?;
                }
                Signup::Confirm {
                    subscriber: id,
                    token,
                    expires_at,
                    consent,
                }
            }
        };
        let queued = mail(&outcome)?;
        super::outgoing::enqueue(&tx, &queued, request.now).map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(outcome)
    }

    /// What the link of `token` would do at `now`, without using it.
    pub fn confirmation_link(&self, token: &str, now: Timestamp) -> Result<Link, OpError> {
        let found = find_link(&self.conn, &token_hash(token)).map_err(|e| self.err(e))?;
        Ok(match found {
            None => Link::Unknown,
            Some(row) => row.state(now),
        })
    }

    /// Confirms the sign-up of `token` at `now`: single use, valid until it expires. The lists of
    /// this link's request become active, each with its own consent record; the subscriber takes
    /// the name of this request — and only of this one: an empty name clears one given before.
    pub fn confirm(&mut self, token: &str, now: Timestamp) -> Result<Confirmed, OpError> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| db_error(&path, e);
        let hash = token_hash(token);
        let address_key = self.address_key.clone();
        let link_key = self.link_key.clone();
        let tx = self.write()?;
        let Some(row) = find_link(&tx, &hash).map_err(fail)? else {
            return Ok(Confirmed::Unknown);
        };
        match row.state(now) {
            Link::Open { .. } => {}
            Link::Used => return Ok(Confirmed::Used),
            Link::Expired => return Ok(Confirmed::Expired),
            Link::Unknown => return Ok(Confirmed::Unknown),
        }
        let was_active: bool = tx
            .query_row(
                "SELECT status = 'active' FROM subscribers WHERE id = ?1",
                [row.subscriber],
                |r| r.get(0),
            )
            .map_err(fail)?;
        let lists: Vec<(String, String)> = {
            let mut stmt = tx
                .prepare("SELECT list, consent FROM requested_lists WHERE token_hash = ?1")
                .map_err(fail)?;
            let rows = stmt
                .query_map([&hash], |r| Ok((r.get(0)?, r.get(1)?)))
                .map_err(fail)?;
            rows.collect::<rusqlite::Result<_>>().map_err(fail)?
        };
        for (list, consent) in &lists {
            tx.execute(
                "INSERT INTO memberships (subscriber, list, status, source, requested_at,
                 confirmed_at, consent, consent_version, request)
                 VALUES (?1, ?2, 'active', 'form', ?3, ?4, ?5, ?6, ?7)
                 ON CONFLICT (subscriber, list) DO UPDATE SET status = 'active', source = 'form',
                 requested_at = ?3, confirmed_at = ?4, consent = ?5, consent_version = ?6,
                 request = ?7, unsubscribed_at = NULL, unsubscribed_via = NULL",
                params![
                    row.subscriber,
                    list,
                    row.requested_at,
                    shown(now),
                    consent,
                    super::consent_version(consent),
                    hash
                ],
            )
            .map_err(fail)?;
        }
        // Every link of this subscriber that asks for nothing more is spent too: one
        // confirmation, one record. A link asking for a list still missing stays open.
        tx.execute(
            "UPDATE confirmations SET used_ms = ?2 WHERE subscriber = ?1 AND used_ms IS NULL
             AND NOT EXISTS (SELECT 1 FROM requested_lists r
                 WHERE r.token_hash = confirmations.token_hash AND r.list NOT IN
                 (SELECT list FROM memberships WHERE subscriber = ?1 AND status = 'active'))",
            params![row.subscriber, millis(now)],
        )
        .map_err(fail)?;
        tx.execute(
            "UPDATE confirmations SET used_ms = ?2 WHERE token_hash = ?1",
            params![hash, millis(now)],
        )
        .map_err(fail)?;
        tx.execute(
            "UPDATE subscribers SET status = 'active', source = 'form', requested_at = ?2,
             confirmed_at = ?3, consent = ?4, name = ?5,
             unsubscribed_at = NULL, unsubscribed_via = NULL WHERE id = ?1",
            params![
                row.subscriber,
                row.requested_at,
                shown(now),
                row.consent,
                row.name
            ],
        )
        .map_err(fail)?;
        // A new subscription, a new unsubscribe link: one from before (an earlier subscription
        // that ended, a mail someone forwarded) no longer ends this one. A list added to a
        // subscription that goes on keeps the link its earlier mails carry.
        if !was_active {
            super::links::renew(&tx, &path, &link_key, row.subscriber)?;
        }
        let hash = super::hash_address(&address_key, &row.email);
        tx.execute("DELETE FROM forgotten WHERE address_hash = ?1", [hash])
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(Confirmed::Now { email: row.email })
    }

    /// The address and status behind an unsubscribe token, for the page with the button.
    pub fn by_unsubscribe_token(
        &self,
        token: &str,
    ) -> Result<Option<(String, SubscriberStatus)>, OpError> {
        let Some(id) = super::links::subscriber_of(&self.conn, token).map_err(|e| self.err(e))?
        else {
            return Ok(None);
        };
        self.conn
            .prepare_cached("SELECT email, status FROM subscribers WHERE id = ?1")
            .and_then(|mut s| s.query_row([id], |r| Ok((r.get(0)?, r.get(1)?))).optional())
            .map_err(|e| self.err(e))
    }

    /// The address and lists behind an unsubscribe token, for the page that offers ending one
    /// list or all.
    pub fn lists_by_unsubscribe_token(
        &self,
        token: &str,
    ) -> Result<Option<super::Subscriber>, OpError> {
        let Some(id) = super::links::subscriber_of(&self.conn, token).map_err(|e| self.err(e))?
        else {
            return Ok(None);
        };
        let email: Option<String> = self
            .conn
            .query_row("SELECT email FROM subscribers WHERE id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?;
        match email {
            Some(email) => self.find(&email),
            None => Ok(None),
        }
    }

    /// Unsubscribes the owner of `token` from `list`, or with `None` from every list: nothing
    /// more of it, not even of a campaign being sent.
    pub fn unsubscribe(
        &mut self,
        token: &str,
        list: Option<&str>,
        via: Via,
        now: Timestamp,
    ) -> Result<Unsubscribed, OpError> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| db_error(&path, e);
        let tx = self.write()?;
        let found: Option<(i64, String, SubscriberStatus)> =
            match super::links::subscriber_of(&tx, token).map_err(fail)? {
                None => None,
                Some(id) => tx
                    .query_row(
                        "SELECT id, email, status FROM subscribers WHERE id = ?1",
                        [id],
                        |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
                    )
                    .optional()
                    .map_err(fail)?,
            };
        let member = |id: i64, list: &str| {
            tx.query_row(
                "SELECT 1 FROM memberships WHERE subscriber = ?1 AND list = ?2
                 AND status = 'active'",
                params![id, list],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
        };
        let outcome = match (found, list) {
            (None, _) => Unsubscribed::Unknown,
            (Some((_, email, SubscriberStatus::Unsubscribed)), _) => {
                Unsubscribed::Already { email }
            }
            (Some((id, email, _)), Some(list)) if !member(id, list).map_err(fail)? => {
                Unsubscribed::Already { email }
            }
            (Some((id, email, _)), list) => {
                end_subscription(&tx, id, list, via, now).map_err(fail)?;
                Unsubscribed::Now { email }
            }
        };
        tx.commit().map_err(fail)?;
        Ok(outcome)
    }

    /// Deletes confirmation links 30 days after they expired, and sign-ups never confirmed
    /// whose links are all gone: unconfirmed addresses are not kept longer than that.
    /// Returns how many sign-ups were deleted.
    pub fn delete_stale_signups(&mut self, now: Timestamp) -> Result<u64, OpError> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| db_error(&path, e);
        let tx = self.write()?;
        tx.execute(
            "DELETE FROM confirmations WHERE expires_ms < ?1",
            [millis(plus(now, -KEEP_EXPIRED))],
        )
        .map_err(fail)?;
        let deleted = tx
            .execute(
                "DELETE FROM subscribers WHERE status = 'pending'
                 AND NOT EXISTS (SELECT 1 FROM confirmations WHERE subscriber = subscribers.id)
                 AND NOT EXISTS (SELECT 1 FROM outgoing WHERE subscriber = subscribers.id)",
                [],
            )
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(deleted as u64)
    }

    /// Copies the WAL into the database file (`PRAGMA wal_checkpoint`), so the WAL stays small
    /// after a burst of sign-ups: with `journal_size_limit` the file shrinks back once a
    /// checkpoint got through, to nothing after a TRUNCATE. Returns whether it copied everything; `false` means readers of an
    /// older snapshot were still busy (another process sending, say), which the next one catches.
    pub fn checkpoint(&mut self, mode: Checkpoint) -> Result<bool, OpError> {
        let sql = match mode {
            Checkpoint::Passive => "PRAGMA wal_checkpoint(PASSIVE)",
            Checkpoint::Truncate => "PRAGMA wal_checkpoint(TRUNCATE)",
        };
        // TRUNCATE holds the write lock while it waits for readers: a second at most, so a
        // sign-up arriving meanwhile is delayed by no more than that.
        let wait = match mode {
            Checkpoint::Passive => None,
            Checkpoint::Truncate => Some(CHECKPOINT_WAIT),
        };
        if let Some(wait) = wait {
            self.conn.busy_timeout(wait).map_err(|e| self.err(e))?;
        }
        let busy = self
            .conn
            .query_row(sql, [], |r| r.get::<_, i64>(0))
            .map_err(|e| self.err(e));
        if wait.is_some() {
            self.conn
                .busy_timeout(BUSY_TIMEOUT)
                .map_err(|e| self.err(e))?;
        }
        Ok(busy? == 0)
    }
}

/// How long a TRUNCATE checkpoint waits for other connections.
const CHECKPOINT_WAIT: std::time::Duration = std::time::Duration::from_secs(1);
/// The busy timeout every connection has (see [`Store::open`]), restored after a checkpoint.
const BUSY_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(30);

/// A confirmation link as stored, with its subscriber's address.
struct LinkRow {
    subscriber: i64,
    name: Option<String>,
    consent: String,
    requested_at: String,
    expires_ms: i64,
    used_ms: Option<i64>,
    email: String,
}

impl LinkRow {
    fn state(&self, now: Timestamp) -> Link {
        if self.used_ms.is_some() {
            Link::Used
        } else if millis(now) >= self.expires_ms {
            Link::Expired
        } else {
            Link::Open {
                email: self.email.clone(),
                consent: self.consent.clone(),
            }
        }
    }
}

fn find_link(conn: &rusqlite::Connection, hash: &str) -> rusqlite::Result<Option<LinkRow>> {
    conn.prepare_cached(
        "SELECT c.subscriber, c.name, c.consent, c.created_at, c.expires_ms, c.used_ms, s.email
         FROM confirmations c JOIN subscribers s ON s.id = c.subscriber WHERE c.token_hash = ?1",
    )?
    .query_row([hash], |r| {
        Ok(LinkRow {
            subscriber: r.get(0)?,
            name: r.get(1)?,
            consent: r.get(2)?,
            requested_at: r.get(3)?,
            expires_ms: r.get(4)?,
            used_ms: r.get(5)?,
            email: r.get(6)?,
        })
    })
    .optional()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::newsletter::store::consent_version;
    use crate::newsletter::store::subscribers::Source;
    use crate::newsletter::store::tests::store;

    fn named<'a>(email: &'a str, name: Option<&'a str>, now: Timestamp) -> SignupRequest<'a> {
        SignupRequest {
            name,
            ..request(email, now)
        }
    }

    fn request(email: &str, now: Timestamp) -> SignupRequest<'_> {
        SignupRequest {
            email,
            name: Some("Erika"),
            lists: &[Requested {
                list: "newsletter",
                consent: "Ich möchte den Newsletter.",
            }],
            now,
            valid_for: SignedDuration::from_hours(48),
        }
    }

    fn mail(outcome: &Signup) -> Result<QueuedMail, OpError> {
        Ok(QueuedMail {
            kind: match outcome {
                Signup::Confirm { .. } => "confirm",
                Signup::AlreadyActive { .. } => "already-subscribed",
            },
            subscriber: Some(match outcome {
                Signup::Confirm { subscriber, .. } | Signup::AlreadyActive { subscriber, .. } => {
                    *subscriber
                }
            }),
            sender: "team@example.org".into(),
            recipient: "x@example.org".into(),
            message: b"Subject: x\r\n\r\nx\r\n".to_vec(),
            give_up_at: Timestamp::MAX,
        })
    }

    fn token_of(s: &Signup) -> String {
        match s {
            Signup::Confirm { token, .. } => token.clone(),
            other => panic!("expected a confirmation, got {other:?}"),
        }
    }

    #[test]
    fn sign_up_confirm_once_and_the_record_says_what_was_agreed() {
        let (_d, mut s) = store();
        let t0: Timestamp = "2026-01-10T09:00:00Z".parse().unwrap();
        let first = s.signup(&request("Erika@Example.org", t0), mail).unwrap();
        let pending = s.find("erika@example.org").unwrap().unwrap();
        assert_eq!(pending.status, SubscriberStatus::Pending);
        assert_eq!(s.count(None).unwrap(), 0, "pending receives nothing");
        assert_eq!(s.queued().unwrap(), 1);
        let t1 = plus(t0, SignedDuration::from_hours(1));
        assert_eq!(
            s.confirm(&token_of(&first), t1).unwrap(),
            Confirmed::Now {
                email: "Erika@Example.org".into()
            }
        );
        assert_eq!(s.confirm(&token_of(&first), t1).unwrap(), Confirmed::Used);
        let active = s.find("erika@example.org").unwrap().unwrap();
        assert_eq!(active.status, SubscriberStatus::Active);
        assert_eq!(active.name.as_deref(), Some("Erika"));
        assert_eq!(active.consent.source, Source::Form);
        assert_eq!(active.consent.requested_at, "2026-01-10T09:00:00Z");
        assert_eq!(
            active.consent.confirmed_at.as_deref(),
            Some("2026-01-10T10:00:00Z")
        );
        assert_eq!(
            active.consent.statement.as_deref(),
            Some("Ich möchte den Newsletter.")
        );
        // Signing up again changes nothing and tells the owner instead.
        let again = s.signup(&request("erika@example.org", t1), mail).unwrap();
        assert!(
            matches!(again, Signup::AlreadyActive { unsubscribe_token, .. } if unsubscribe_token == s.unsubscribe_token(&active.link_nonce))
        );
        assert_eq!(s.queued().unwrap(), 2);
    }

    fn for_lists<'a>(
        email: &'a str,
        lists: &'a [Requested<'a>],
        now: Timestamp,
    ) -> SignupRequest<'a> {
        SignupRequest {
            email,
            name: None,
            lists,
            now,
            valid_for: SignedDuration::from_hours(48),
        }
    }

    const NEWSLETTER: Requested<'static> = Requested {
        list: "newsletter",
        consent: "Ich möchte den Newsletter.",
    };
    const SPRECHSTUNDEN: Requested<'static> = Requested {
        list: "sprechstunden",
        consent: "Ich möchte zu den Sprechstunden eingeladen werden.",
    };

    #[test]
    fn a_confirmation_confirms_the_lists_of_its_request_each_with_its_own_record() {
        let (_d, mut s) = store();
        let t0: Timestamp = "2026-01-10T09:00:00Z".parse().unwrap();
        let both = [NEWSLETTER, SPRECHSTUNDEN];
        let link = token_of(
            &s.signup(&for_lists("a@example.org", &both, t0), mail)
                .unwrap(),
        );
        let t1 = plus(t0, SignedDuration::from_hours(1));
        s.confirm(&link, t1).unwrap();
        let a = s.find("a@example.org").unwrap().unwrap();
        assert!(a.receives("newsletter") && a.receives("sprechstunden"));
        let m = a.membership("sprechstunden").unwrap();
        assert_eq!(m.consent.statement.as_deref(), Some(SPRECHSTUNDEN.consent));
        assert_eq!(
            m.consent.confirmed_at.as_deref(),
            Some("2026-01-10T10:00:00Z")
        );
        assert_eq!(m.consent.requested_at, "2026-01-10T09:00:00Z");
        assert_eq!(
            m.consent_version.as_deref(),
            Some(consent_version(SPRECHSTUNDEN.consent).as_str())
        );
        assert_eq!(m.request.as_deref(), Some(token_hash(&link).as_str()));
        assert_eq!(s.count(Some("sprechstunden")).unwrap(), 1);
        // One-click from a Sprechstunden mail ends that list only.
        let token = s.unsubscribe_token(&a.link_nonce);
        assert!(matches!(
            s.unsubscribe(&token, Some("sprechstunden"), Via::OneClick, t1)
                .unwrap(),
            Unsubscribed::Now { .. }
        ));
        assert!(matches!(
            s.unsubscribe(&token, Some("sprechstunden"), Via::OneClick, t1)
                .unwrap(),
            Unsubscribed::Already { .. }
        ));
        let a = s.find("a@example.org").unwrap().unwrap();
        assert_eq!(a.status, SubscriberStatus::Active);
        assert!(a.receives("newsletter") && !a.receives("sprechstunden"));
        let left = a.membership("sprechstunden").unwrap();
        assert_eq!(left.consent.unsubscribed_via.as_deref(), Some("one-click"));
        assert_eq!(
            left.consent.statement.as_deref(),
            Some(SPRECHSTUNDEN.consent),
            "the record stays"
        );
        // "All lists" ends the rest, and the subscriber.
        assert!(matches!(
            s.unsubscribe(&token, None, Via::Link, t1).unwrap(),
            Unsubscribed::Now { .. }
        ));
        let a = s.find("a@example.org").unwrap().unwrap();
        assert_eq!(a.status, SubscriberStatus::Unsubscribed);
        assert!(!a.receives("newsletter"));
    }

    #[test]
    fn a_second_sign_up_adds_its_list_only_after_its_own_confirmation() {
        let (_d, mut s) = store();
        let t0: Timestamp = "2026-01-10T09:00:00Z".parse().unwrap();
        let first = token_of(
            &s.signup(&for_lists("a@example.org", &[NEWSLETTER], t0), mail)
                .unwrap(),
        );
        s.confirm(&first, t0).unwrap();
        let before = s.find("a@example.org").unwrap().unwrap();
        // Asking for the newsletter again: nothing to confirm.
        assert!(matches!(
            s.signup(&for_lists("a@example.org", &[NEWSLETTER], t0), mail)
                .unwrap(),
            Signup::AlreadyActive { .. }
        ));
        // Asking for both: a link for the list still missing, and nothing changes until it is used.
        let second = token_of(
            &s.signup(
                &for_lists("a@example.org", &[NEWSLETTER, SPRECHSTUNDEN], t0),
                mail,
            )
            .unwrap(),
        );
        assert_eq!(s.find("a@example.org").unwrap().unwrap(), before);
        assert_eq!(
            s.confirmation_link(&second, t0).unwrap(),
            Link::Open {
                email: "a@example.org".into(),
                consent: SPRECHSTUNDEN.consent.into()
            }
        );
        s.confirm(&second, t0).unwrap();
        let after = s.find("a@example.org").unwrap().unwrap();
        assert!(after.receives("sprechstunden"));
        assert_eq!(
            after.membership("newsletter"),
            before.membership("newsletter"),
            "the newsletter's record is the first confirmation's"
        );
        assert_eq!(
            after.link_nonce, before.link_nonce,
            "links in earlier mails still work"
        );
    }

    #[test]
    fn expired_unknown_and_superseded_links() {
        let (_d, mut s) = store();
        let t0: Timestamp = "2026-01-10T09:00:00Z".parse().unwrap();
        let a = token_of(&s.signup(&request("a@example.org", t0), mail).unwrap());
        let later = plus(t0, SignedDuration::from_hours(48));
        assert_eq!(s.confirm(&a, later).unwrap(), Confirmed::Expired);
        assert_eq!(
            s.confirm(&new_token().unwrap(), t0).unwrap(),
            Confirmed::Unknown
        );
        // Two links for one address: either confirms, then both are spent.
        let b1 = token_of(&s.signup(&request("b@example.org", t0), mail).unwrap());
        let b2 = token_of(&s.signup(&request("b@example.org", t0), mail).unwrap());
        assert!(matches!(s.confirm(&b2, t0).unwrap(), Confirmed::Now { .. }));
        assert_eq!(s.confirm(&b1, t0).unwrap(), Confirmed::Used);
    }

    #[test]
    fn unsubscribing_is_idempotent_and_beats_open_links() {
        let (_d, mut s) = store();
        let t0: Timestamp = "2026-01-10T09:00:00Z".parse().unwrap();
        let t = token_of(&s.signup(&request("a@example.org", t0), mail).unwrap());
        s.confirm(&t, t0).unwrap();
        let nonce = s.find("a@example.org").unwrap().unwrap().link_nonce;
        let token = s.unsubscribe_token(&nonce);
        // Someone signs the address up again; then its owner unsubscribes.
        let s2 = s.signup(&request("a@example.org", t0), mail).unwrap();
        assert!(matches!(s2, Signup::AlreadyActive { .. }));
        assert_eq!(
            s.unsubscribe(&token, None, Via::OneClick, t0).unwrap(),
            Unsubscribed::Now {
                email: "a@example.org".into()
            }
        );
        assert_eq!(
            s.unsubscribe(&token, None, Via::Link, t0).unwrap(),
            Unsubscribed::Already {
                email: "a@example.org".into()
            }
        );
        let gone = s.find("a@example.org").unwrap().unwrap();
        assert_eq!(gone.consent.unsubscribed_via.as_deref(), Some("one-click"));
        assert_eq!(
            s.unsubscribe(&new_token().unwrap(), None, Via::Link, t0)
                .unwrap(),
            Unsubscribed::Unknown
        );
        // A new sign-up leaves the record alone until confirmed, then subscribes again.
        let t3 = token_of(&s.signup(&request("a@example.org", t0), mail).unwrap());
        assert_eq!(
            s.find("a@example.org").unwrap().unwrap().status,
            SubscriberStatus::Unsubscribed
        );
        assert!(matches!(s.confirm(&t3, t0).unwrap(), Confirmed::Now { .. }));
        let back = s.find("a@example.org").unwrap().unwrap();
        assert_eq!(back.status, SubscriberStatus::Active);
        assert_eq!(back.consent.unsubscribed_at, None);
    }

    #[test]
    fn a_forgotten_address_may_sign_up_again_itself() {
        let (_d, mut s) = store();
        let t0: Timestamp = "2026-01-10T09:00:00Z".parse().unwrap();
        s.add("a@example.org", None, Source::Cli, "newsletter")
            .unwrap();
        s.forget("a@example.org").unwrap();
        let t = token_of(&s.signup(&request("a@example.org", t0), mail).unwrap());
        assert!(s.is_forgotten("a@example.org").unwrap());
        s.confirm(&t, t0).unwrap();
        assert!(!s.is_forgotten("a@example.org").unwrap());
        assert_eq!(s.count(None).unwrap(), 1);
    }

    #[test]
    fn unconfirmed_sign_ups_are_deleted_30_days_after_their_link_expired() {
        let (_d, mut s) = store();
        let t0: Timestamp = "2026-01-10T09:00:00Z".parse().unwrap();
        s.signup(&request("a@example.org", t0), mail).unwrap();
        s.add("b@example.org", None, Source::Cli, "newsletter")
            .unwrap();
        // The queued mail went out.
        for m in s.claim_due(t0, SignedDuration::from_secs(60), 10).unwrap() {
            s.mail_done(m.id).unwrap();
        }
        let day29 = plus(t0, SignedDuration::from_hours(48 + 29 * 24));
        assert_eq!(s.delete_stale_signups(day29).unwrap(), 0);
        let day31 = plus(t0, SignedDuration::from_hours(48 + 31 * 24));
        assert_eq!(s.delete_stale_signups(day31).unwrap(), 1);
        assert!(s.find("a@example.org").unwrap().is_none());
        assert!(s.find("b@example.org").unwrap().is_some());
    }

    #[test]
    fn a_strangers_name_never_reaches_the_subscriber_the_confirmed_request_decides() {
        let (_d, mut s) = store();
        let t0: Timestamp = "2026-01-10T09:00:00Z".parse().unwrap();
        let phishing = "Ihr Konto wird gesperrt: http://boese.example/";
        // A stranger signs the victim up with a name of their own …
        let strangers = token_of(
            &s.signup(&named("opfer@example.org", Some(phishing), t0), mail)
                .unwrap(),
        );
        let pending = s.find("opfer@example.org").unwrap().unwrap();
        assert_eq!(pending.name, None, "an unconfirmed request names nobody");
        // … the owner signs up later without a name and confirms their own link.
        let t1 = plus(t0, SignedDuration::from_hours(1));
        let owners = token_of(
            &s.signup(&named("opfer@example.org", None, t1), mail)
                .unwrap(),
        );
        assert!(matches!(
            s.confirm(&owners, t1).unwrap(),
            Confirmed::Now { .. }
        ));
        let active = s.find("opfer@example.org").unwrap().unwrap();
        assert_eq!(active.status, SubscriberStatus::Active);
        assert_eq!(active.name, None, "the stranger's name is gone");
        assert_eq!(active.consent.requested_at, "2026-01-10T10:00:00Z");
        assert_eq!(s.confirm(&strangers, t1).unwrap(), Confirmed::Used);
        // Unsubscribed and back with a name: the new link's name counts, and a later
        // confirmation without one clears it again.
        let token = s.unsubscribe_token(&active.link_nonce);
        s.unsubscribe(&token, None, Via::Link, t1).unwrap();
        let t2 = plus(t1, SignedDuration::from_hours(1));
        let with_name = token_of(
            &s.signup(&named("opfer@example.org", Some("Olga"), t2), mail)
                .unwrap(),
        );
        assert_eq!(s.find("opfer@example.org").unwrap().unwrap().name, None);
        s.confirm(&with_name, t2).unwrap();
        assert_eq!(
            s.find("opfer@example.org")
                .unwrap()
                .unwrap()
                .name
                .as_deref(),
            Some("Olga")
        );
    }

    #[test]
    fn a_link_is_looked_up_without_being_used() {
        let (_d, mut s) = store();
        let t0: Timestamp = "2026-01-10T09:00:00Z".parse().unwrap();
        let t = token_of(&s.signup(&request("a@example.org", t0), mail).unwrap());
        for _ in 0..3 {
            assert_eq!(
                s.confirmation_link(&t, t0).unwrap(),
                Link::Open {
                    email: "a@example.org".into(),
                    consent: "Ich möchte den Newsletter.".into(),
                }
            );
        }
        assert_eq!(
            s.find("a@example.org").unwrap().unwrap().status,
            SubscriberStatus::Pending
        );
        let later = plus(t0, SignedDuration::from_hours(48));
        assert_eq!(s.confirmation_link(&t, later).unwrap(), Link::Expired);
        assert_eq!(
            s.confirmation_link(&new_token().unwrap(), t0).unwrap(),
            Link::Unknown
        );
        s.confirm(&t, t0).unwrap();
        assert_eq!(s.confirmation_link(&t, t0).unwrap(), Link::Used);
    }

    #[test]
    fn a_checkpoint_empties_the_wal() {
        let (_d, mut s) = store();
        let t0: Timestamp = "2026-01-10T09:00:00Z".parse().unwrap();
        for i in 0..200 {
            s.signup(&request(&format!("a{i}@example.org"), t0), mail)
                .unwrap();
        }
        let wal = s.path().with_extension("sqlite-wal");
        assert!(std::fs::metadata(&wal).unwrap().len() > 0);
        assert!(s.checkpoint(Checkpoint::Passive).unwrap());
        assert!(s.checkpoint(Checkpoint::Truncate).unwrap());
        assert_eq!(std::fs::metadata(&wal).unwrap().len(), 0);
        let limit: i64 = s
            .conn
            .query_row("PRAGMA journal_size_limit", [], |r| r.get(0))
            .unwrap();
        assert_eq!(limit, 64 * 1024 * 1024);
        // The busy timeout is back to what every connection has.
        s.signup(&request("b@example.org", t0), mail).unwrap();
    }
}
