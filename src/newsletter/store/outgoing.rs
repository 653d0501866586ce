//! The service's outgoing mails (confirmation links, "already subscribed" notes): queued in the
//! transaction that made them necessary, sent by a worker that leases a few at a time, deleted
//! once the mail server took them — they hold a live link, so nothing keeps them afterwards.
//!
//! A worker that dies leaves its lease to run out; the mail is then sent by the next one. A mail
//! server that is down delays mails, it does not lose them.

use jiff::{SignedDuration, Timestamp};
use rusqlite::{Transaction, params};

use super::{Store, db_error, millis, plus};
use crate::error::OpError;

/// A mail to queue: the finished message and its envelope.
#[derive(Debug, Clone)]
pub struct QueuedMail {
    /// What it is, for the log: `confirm`, `already-subscribed`.
    pub kind: &'static str,
    /// Deleted with this subscriber (forgotten, or an unconfirmed sign-up cleaned up).
    pub subscriber: Option<i64>,
    pub sender: String,
    pub recipient: String,
    /// The whole message as sent (RFC 5322).
    pub message: Vec<u8>,
    /// Not worth sending after this (a confirmation link that expired).
    pub give_up_at: Timestamp,
}

/// A queued mail whose turn has come, leased to the caller.
#[derive(Debug, Clone)]
pub struct DueMail {
    pub id: i64,
    pub kind: String,
    pub sender: String,
    pub recipient: String,
    pub message: Vec<u8>,
    pub attempts: u32,
    pub give_up_at: Timestamp,
}

pub(super) fn enqueue(
    tx: &Transaction<'_>,
    mail: &QueuedMail,
    now: Timestamp,
) -> rusqlite::Result<()> {
    tx.execute(
        "INSERT INTO outgoing (kind, subscriber, sender, recipient, message, created_ms,
         give_up_ms, next_attempt_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?6)",
        params![
            mail.kind,
            mail.subscriber,
            mail.sender,
            mail.recipient,
            mail.message,
            millis(now),
            millis(mail.give_up_at)
        ],
    )?;
    Ok(())
}

fn timestamp(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::MAX)
}

impl Store {
    /// Queues a mail that belongs to no subscriber (a report from the feedback form): nothing
    /// else is written, and the worker deletes it once the mail server took it.
    pub fn queue_mail(&mut self, mail: &QueuedMail, now: Timestamp) -> Result<(), OpError> {
        let path = self.path.clone();
        let tx = self.write()?;
        enqueue(&tx, mail, now).map_err(|e| db_error(&path, e))?;
        tx.commit().map_err(|e| db_error(&path, e))
    }

    /// Leases up to `limit` mails due at `now` for `lease`: nobody else takes them meanwhile.
    pub fn claim_due(
        &mut self,
        now: Timestamp,
        lease: SignedDuration,
        limit: usize,
    ) -> Result<Vec<DueMail>, OpError> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| db_error(&path, e);
        let tx = self.write()?;
        let due = {
            let mut stmt = tx
                .prepare_cached(
                    "SELECT id, kind, sender, recipient, message, attempts, give_up_ms
                     FROM outgoing WHERE next_attempt_ms <= ?1
                     AND (lease_ms IS NULL OR lease_ms <= ?1) ORDER BY next_attempt_ms, id
                     LIMIT ?2",
                )
                .map_err(fail)?;
            let rows = stmt
                .query_map(params![millis(now), limit as i64], |r| {
                    Ok(DueMail {
                        id: r.get(0)?,
                        kind: r.get(1)?,
                        sender: r.get(2)?,
                        recipient: r.get(3)?,
                        message: r.get(4)?,
                        attempts: r.get(5)?,
                        give_up_at: timestamp(r.get(6)?),
                    })
                })
                .map_err(fail)?;
            rows.collect::<Result<Vec<_>, _>>().map_err(fail)?
        };
        {
            let mut lease_stmt = tx
                .prepare_cached("UPDATE outgoing SET lease_ms = ?2 WHERE id = ?1")
                .map_err(fail)?;
            let until = millis(plus(now, lease));
            for m in &due {
                lease_stmt.execute(params![m.id, until]).map_err(fail)?;
            }
        }
        tx.commit().map_err(fail)?;
        Ok(due)
    }

    /// The mail server took it (or refused it for good): it leaves the queue.
    pub fn mail_done(&self, id: i64) -> Result<(), OpError> {
        self.conn
            .execute("DELETE FROM outgoing WHERE id = ?1", [id])
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Tries again at `next`, remembering why it failed this time.
    pub fn mail_later(&self, id: i64, next: Timestamp, error: &str) -> Result<(), OpError> {
        self.conn
            .execute(
                "UPDATE outgoing SET attempts = attempts + 1, next_attempt_ms = ?2,
                 lease_ms = NULL, last_error = ?3 WHERE id = ?1",
                params![id, millis(next), error],
            )
            .map(|_| ())
            .map_err(|e| self.err(e))
    }

    /// Mails waiting to be sent.
    pub fn queued(&self) -> Result<u64, OpError> {
        self.conn
            .query_row("SELECT count(*) FROM outgoing", [], |r| r.get::<_, i64>(0))
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err(e))
    }

    /// When the next queued mail is due, if any.
    pub fn next_due(&self) -> Result<Option<Timestamp>, OpError> {
        self.conn
            .query_row(
                "SELECT min(max(next_attempt_ms, coalesce(lease_ms, 0))) FROM outgoing",
                [],
                |r| r.get::<_, Option<i64>>(0),
            )
            .map(|ms| ms.map(timestamp))
            .map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::newsletter::store::tests::store;

    fn mail(to: &str) -> QueuedMail {
        QueuedMail {
            kind: "confirm",
            subscriber: None,
            sender: "team@example.org".into(),
            recipient: to.into(),
            message: b"Subject: x\r\n\r\nx\r\n".to_vec(),
            give_up_at: Timestamp::MAX,
        }
    }

    #[test]
    fn leased_mails_are_not_taken_twice_until_the_lease_runs_out() {
        let (_d, mut s) = store();
        let t0: Timestamp = "2026-01-10T09:00:00Z".parse().unwrap();
        {
            let tx = s.write().unwrap();
            enqueue(&tx, &mail("a@example.org"), t0).unwrap();
            enqueue(&tx, &mail("b@example.org"), t0).unwrap();
            tx.commit().unwrap();
        }
        let lease = SignedDuration::from_secs(60);
        let first = s.claim_due(t0, lease, 1).unwrap();
        assert_eq!(first[0].recipient, "a@example.org");
        let second = s.claim_due(t0, lease, 10).unwrap();
        assert_eq!(second.len(), 1, "a is leased");
        assert_eq!(second[0].recipient, "b@example.org");
        s.mail_done(second[0].id).unwrap();
        // The worker holding a died: after its lease, a is due again.
        let t1 = plus(t0, SignedDuration::from_secs(61));
        assert_eq!(s.next_due().unwrap(), Some(plus(t0, lease)));
        let again = s.claim_due(t1, lease, 10).unwrap();
        assert_eq!(again.len(), 1);
        s.mail_later(again[0].id, plus(t1, lease), "451 later")
            .unwrap();
        assert!(s.claim_due(t1, lease, 10).unwrap().is_empty());
        let retried = s.claim_due(plus(t1, lease), lease, 10).unwrap();
        assert_eq!(retried[0].attempts, 1);
        assert_eq!(s.queued().unwrap(), 1);
    }
}
