//! Double opt-in: a sign-up stores a confirmation link (as a hash) and queues the mail carrying it
//! in one transaction; the click on the link makes the subscriber active and records what they
//! agreed to. Unsubscribing by link ends a subscription at once and for good.
//!
//! A sign-up for an address that exists changes nothing about it until its owner confirms, so
//! nobody can alter someone else's subscription by typing their address.

use jiff::{SignedDuration, Timestamp};
use rusqlite::{OptionalExtension, Transaction, params};

use super::outgoing::QueuedMail;
use super::subscribers::Via;
use super::{
    Store, SubscriberStatus, address_key, db_error, millis, new_token, plus, shown, token_hash,
};
use crate::diagnostics::Diagnostic;

/// A sign-up from the form.
#[derive(Debug, Clone)]
pub struct SignupRequest<'a> {
    pub email: &'a str,
    pub name: Option<&'a str>,
    /// The statement shown beside the form, recorded when the link is clicked.
    pub consent: &'a str,
    pub now: Timestamp,
    /// How long the confirmation link is valid.
    pub valid_for: SignedDuration,
}

/// What a sign-up leads to; the caller turns it into the mail to queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Signup {
    /// New, not confirmed yet, or unsubscribed before: this link confirms.
    Confirm {
        subscriber: i64,
        token: String,
        expires_at: Timestamp,
    },
    /// The address receives the newsletter already: tell its owner, with the way out.
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
        mail: impl FnOnce(&Signup) -> Result<QueuedMail, Diagnostic>,
    ) -> Result<Signup, Diagnostic> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| db_error(&path, e);
        let key = address_key(request.email);
        let tx = self.write()?;
        let existing: Option<(i64, SubscriberStatus, String)> = tx
            .query_row(
                "SELECT id, status, token FROM subscribers WHERE email_key = ?1",
                [&key],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(fail)?;
        let outcome = match existing {
            Some((id, SubscriberStatus::Active, token)) => Signup::AlreadyActive {
                subscriber: id,
                unsubscribe_token: token,
            },
            found => {
                let id = match found {
                    Some((id, _, _)) => id,
                    None => {
                        let now = shown(request.now);
                        tx.execute(
                            "INSERT INTO subscribers (email, email_key, name, token, added_at,
                             status, source, requested_at)
                             VALUES (?1, ?2, ?3, ?4, ?5, 'pending', 'form', ?5)",
                            params![request.email.trim(), key, request.name, new_token()?, now],
                        )
                        .map_err(fail)?;
                        tx.last_insert_rowid()
                    }
                };
                let token = new_token()?;
                let expires_at = plus(request.now, request.valid_for);
                tx.execute(
                    "INSERT INTO confirmations (token_hash, subscriber, name, consent, created_at,
                     expires_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                    params![
                        token_hash(&token),
                        id,
                        request.name,
                        request.consent,
                        shown(request.now),
                        millis(expires_at)
                    ],
                )
                .map_err(fail)?;
                Signup::Confirm {
                    subscriber: id,
                    token,
                    expires_at,
                }
            }
        };
        let queued = mail(&outcome)?;
        super::outgoing::enqueue(&tx, &queued, request.now).map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(outcome)
    }

    /// Confirms the sign-up of `token` at `now`: single use, valid until it expires.
    pub fn confirm(&mut self, token: &str, now: Timestamp) -> Result<Confirmed, Diagnostic> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| db_error(&path, e);
        let hash = token_hash(token);
        let address_key = self.address_key.clone();
        let tx = self.write()?;
        type Row = (
            i64,
            Option<String>,
            String,
            String,
            i64,
            Option<i64>,
            String,
        );
        let found: Option<Row> = tx
            .query_row(
                "SELECT c.subscriber, c.name, c.consent, c.created_at, c.expires_ms, c.used_ms,
                 s.email FROM confirmations c JOIN subscribers s ON s.id = c.subscriber
                 WHERE c.token_hash = ?1",
                [&hash],
                |r| {
                    Ok((
                        r.get(0)?,
                        r.get(1)?,
                        r.get(2)?,
                        r.get(3)?,
                        r.get(4)?,
                        r.get(5)?,
                        r.get(6)?,
                    ))
                },
            )
            .optional()
            .map_err(fail)?;
        let Some((id, name, consent, requested_at, expires_ms, used_ms, email)) = found else {
            return Ok(Confirmed::Unknown);
        };
        if used_ms.is_some() {
            return Ok(Confirmed::Used);
        }
        if millis(now) >= expires_ms {
            return Ok(Confirmed::Expired);
        }
        // Every other link of this subscriber is spent too: one confirmation, one record.
        tx.execute(
            "UPDATE confirmations SET used_ms = ?2 WHERE subscriber = ?1 AND used_ms IS NULL",
            params![id, millis(now)],
        )
        .map_err(fail)?;
        tx.execute(
            "UPDATE subscribers SET status = 'active', source = 'form', requested_at = ?2,
             confirmed_at = ?3, consent = ?4, name = coalesce(?5, name),
             unsubscribed_at = NULL, unsubscribed_via = NULL WHERE id = ?1",
            params![id, requested_at, shown(now), consent, name],
        )
        .map_err(fail)?;
        let hash = super::hash_address(&address_key, &email);
        tx.execute("DELETE FROM forgotten WHERE address_hash = ?1", [hash])
            .map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(Confirmed::Now { email })
    }

    /// The address and status behind an unsubscribe token, for the page with the button.
    pub fn by_unsubscribe_token(
        &self,
        token: &str,
    ) -> Result<Option<(String, SubscriberStatus)>, Diagnostic> {
        self.conn
            .prepare_cached("SELECT email, status FROM subscribers WHERE token = ?1")
            .and_then(|mut s| {
                s.query_row([token], |r| Ok((r.get(0)?, r.get(1)?)))
                    .optional()
            })
            .map_err(|e| self.err(e))
    }

    /// Unsubscribes the owner of `token`: no more editions, not even of a campaign being sent.
    pub fn unsubscribe(
        &mut self,
        token: &str,
        via: Via,
        now: Timestamp,
    ) -> Result<Unsubscribed, Diagnostic> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| db_error(&path, e);
        let tx = self.write()?;
        let found: Option<(i64, String, SubscriberStatus)> = tx
            .query_row(
                "SELECT id, email, status FROM subscribers WHERE token = ?1",
                [token],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()
            .map_err(fail)?;
        let outcome = match found {
            None => Unsubscribed::Unknown,
            Some((_, email, SubscriberStatus::Unsubscribed)) => Unsubscribed::Already { email },
            Some((id, email, _)) => {
                end_subscription(&tx, id, via, now).map_err(fail)?;
                Unsubscribed::Now { email }
            }
        };
        tx.commit().map_err(fail)?;
        Ok(outcome)
    }

    /// Deletes confirmation links 30 days after they expired, and sign-ups never confirmed
    /// whose links are all gone: unconfirmed addresses are not kept longer than that.
    /// Returns how many sign-ups were deleted.
    pub fn delete_stale_signups(&mut self, now: Timestamp) -> Result<u64, Diagnostic> {
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
}

/// Ends a subscription inside `tx`: status and record, no pending delivery of any campaign, no
/// open confirmation link that could bring it back unnoticed.
pub(super) fn end_subscription(
    tx: &Transaction<'_>,
    id: i64,
    via: Via,
    now: Timestamp,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = ?2,
         unsubscribed_via = ?3 WHERE id = ?1",
        params![id, shown(now), via.as_str()],
    )?;
    tx.execute(
        "DELETE FROM deliveries WHERE subscriber = ?1 AND state = 'pending'",
        [id],
    )?;
    tx.execute(
        "UPDATE confirmations SET used_ms = ?2 WHERE subscriber = ?1 AND used_ms IS NULL",
        params![id, millis(now)],
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::newsletter::store::subscribers::Source;
    use crate::newsletter::store::tests::store;

    fn request(email: &str, now: Timestamp) -> SignupRequest<'_> {
        SignupRequest {
            email,
            name: Some("Erika"),
            consent: "Ich möchte den Newsletter.",
            now,
            valid_for: SignedDuration::from_hours(48),
        }
    }

    fn mail(outcome: &Signup) -> Result<QueuedMail, Diagnostic> {
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
        assert_eq!(s.count().unwrap(), 0, "pending receives nothing");
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
            matches!(again, Signup::AlreadyActive { unsubscribe_token, .. } if unsubscribe_token == active.token)
        );
        assert_eq!(s.queued().unwrap(), 2);
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
        let token = s.find("a@example.org").unwrap().unwrap().token;
        // Someone signs the address up again; then its owner unsubscribes.
        let s2 = s.signup(&request("a@example.org", t0), mail).unwrap();
        assert!(matches!(s2, Signup::AlreadyActive { .. }));
        assert_eq!(
            s.unsubscribe(&token, Via::OneClick, t0).unwrap(),
            Unsubscribed::Now {
                email: "a@example.org".into()
            }
        );
        assert_eq!(
            s.unsubscribe(&token, Via::Link, t0).unwrap(),
            Unsubscribed::Already {
                email: "a@example.org".into()
            }
        );
        let gone = s.find("a@example.org").unwrap().unwrap();
        assert_eq!(gone.consent.unsubscribed_via.as_deref(), Some("one-click"));
        assert_eq!(
            s.unsubscribe(&new_token().unwrap(), Via::Link, t0).unwrap(),
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
        s.add("a@example.org", None, Source::Cli).unwrap();
        s.forget("a@example.org").unwrap();
        let t = token_of(&s.signup(&request("a@example.org", t0), mail).unwrap());
        assert!(s.is_forgotten("a@example.org").unwrap());
        s.confirm(&t, t0).unwrap();
        assert!(!s.is_forgotten("a@example.org").unwrap());
        assert_eq!(s.count().unwrap(), 1);
    }

    #[test]
    fn unconfirmed_sign_ups_are_deleted_30_days_after_their_link_expired() {
        let (_d, mut s) = store();
        let t0: Timestamp = "2026-01-10T09:00:00Z".parse().unwrap();
        s.signup(&request("a@example.org", t0), mail).unwrap();
        s.add("b@example.org", None, Source::Cli).unwrap();
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
}
