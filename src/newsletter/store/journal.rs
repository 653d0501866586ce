//! The send journal: a campaign per edition and a delivery row per recipient, marked `sent` only
//! after the mail server accepted the message — what makes `newsletter send` safe to run again.
//! Power loss may forget the last few `sent` marks, which then go out again: a duplicate, never
//! a lost recipient.

use rusqlite::{OptionalExtension, params};

use super::{Store, db_error};
use crate::error::OpError;

/// One recipient of a campaign still to be sent (or to be tried again).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub subscriber: i64,
    pub email: String,
    pub name: Option<String>,
    /// The unsubscribe token for this recipient's mail: derived from the subscription, never
    /// stored (see [`super::links`]).
    pub token: String,
}

/// How far a campaign got.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Status {
    pub pending: u64,
    pub sent: u64,
    pub failed: u64,
    /// `(address, last reply)` of the failed ones.
    pub failures: Vec<(String, String)>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
}

impl Store {
    /// The campaign of `edition`, started now with every active member of `list` if it is new.
    /// With `include_new`, members of its list active since it started join it. Returns how many
    /// joined. A campaign keeps the list it was started for.
    pub fn start_campaign(
        &mut self,
        edition: u32,
        subject: &str,
        list: &str,
        include_new: bool,
    ) -> Result<u64, OpError> {
        let path = self.path.clone();
        let tx = self.write()?;
        let existing: Option<i64> = tx
            .query_row(
                "SELECT id FROM campaigns WHERE edition = ?1",
                [edition],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| db_error(&path, e))?;
        let (id, join) = match existing {
            Some(id) => (id, include_new),
            None => {
                tx.execute(
                    "INSERT INTO campaigns (edition, subject, started_at, list)
                     VALUES (?1, ?2, ?3, ?4)",
                    params![edition, subject, jiff::Timestamp::now().to_string(), list],
                )
                .map_err(|e| db_error(&path, e))?;
                (tx.last_insert_rowid(), true)
            }
        };
        let joined = if join {
            tx.execute(
                "INSERT INTO deliveries (campaign, subscriber, email, name, token, state)
                 SELECT ?1, id, email, name, '', 'pending' FROM subscribers
                 WHERE status = 'active' AND bounced_at IS NULL
                 AND id NOT IN (SELECT subscriber FROM deliveries WHERE campaign = ?1)
                 AND id IN (SELECT subscriber FROM memberships WHERE status = 'active'
                     AND list = (SELECT list FROM campaigns WHERE id = ?1))",
                [id],
            )
            .map_err(|e| db_error(&path, e))? as u64
        } else {
            0
        };
        if joined > 0 {
            tx.execute(
                "UPDATE campaigns SET finished_at = NULL WHERE id = ?1",
                [id],
            )
            .map_err(|e| db_error(&path, e))?;
        }
        tx.commit().map_err(|e| db_error(&path, e))?;
        Ok(joined)
    }

    fn campaign_id(&self, edition: u32) -> Result<Option<i64>, OpError> {
        self.conn
            .query_row(
                "SELECT id FROM campaigns WHERE edition = ?1",
                [edition],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Makes the failed recipients of `edition` pending again (those still subscribed); returns
    /// how many. Each row takes the subscriber's address and name as they are now: a name that
    /// could not be sent and was corrected since goes out corrected.
    pub fn retry_failed(&self, edition: u32) -> Result<u64, OpError> {
        let Some(id) = self.campaign_id(edition)? else {
            return Ok(0);
        };
        let n = self
            .conn
            .execute(
                "UPDATE deliveries SET state = 'pending', attempts = 0,
                 email = (SELECT email FROM subscribers s WHERE s.id = deliveries.subscriber),
                 name = (SELECT name FROM subscribers s WHERE s.id = deliveries.subscriber)
                 WHERE campaign = ?1 AND state = 'failed'
                 AND subscriber IN (SELECT m.subscriber FROM memberships m
                     JOIN campaigns c ON c.id = ?1 AND m.list = c.list
                     JOIN subscribers s ON s.id = m.subscriber
                     WHERE m.status = 'active' AND s.status = 'active' AND s.bounced_at IS NULL)",
                [id],
            )
            .map_err(|e| self.err(e))?;
        if n > 0 {
            self.conn
                .execute(
                    "UPDATE campaigns SET finished_at = NULL WHERE id = ?1",
                    [id],
                )
                .map_err(|e| self.err(e))?;
        }
        Ok(n as u64)
    }

    /// The recipients of `edition` not sent yet, each with the unsubscribe token of their
    /// subscription as it is now — registered before any mail carries it, so the link works
    /// even if this database lost its key file since the token was first made.
    pub fn pending(&mut self, edition: u32) -> Result<Vec<Delivery>, OpError> {
        let deliveries = self.pending_unregistered(edition)?;
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| db_error(&path, e);
        let tx = self.write()?;
        for d in &deliveries {
            super::links::register(&tx, d.subscriber, &d.token).map_err(fail)?;
        }
        tx.commit().map_err(fail)?;
        Ok(deliveries)
    }

    /// [`Store::pending`] without registering the tokens, for a dry run that writes nothing.
    pub fn pending_unregistered(&self, edition: u32) -> Result<Vec<Delivery>, OpError> {
        let Some(id) = self.campaign_id(edition)? else {
            return Ok(Vec::new());
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT d.subscriber, d.email, d.name, s.link_nonce FROM deliveries d
                 JOIN subscribers s ON s.id = d.subscriber
                 WHERE d.campaign = ?1 AND d.state = 'pending' ORDER BY d.subscriber",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(Delivery {
                    subscriber: r.get(0)?,
                    email: r.get(1)?,
                    name: r.get(2)?,
                    token: self.link_key.token(&r.get::<_, String>(3)?),
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Whether the recipient is still to be sent to: unsubscribing removes their pending row,
    /// even while the campaign is being sent.
    pub fn still_pending(&self, edition: u32, subscriber: i64) -> Result<bool, OpError> {
        self.conn
            .query_row(
                "SELECT 1 FROM deliveries WHERE state = 'pending' AND subscriber = ?2
                 AND campaign = (SELECT id FROM campaigns WHERE edition = ?1)",
                params![edition, subscriber],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(|e| self.err(e))
    }

    /// Records that the server accepted the message (committed before the next is sent).
    ///
    /// Also when the recipient unsubscribed while the message was on its way (their pending row
    /// is gone then): the journal says what was sent. Not for a recipient forgotten meanwhile —
    /// nothing about them may be written again.
    pub fn mark_sent(
        &self,
        edition: u32,
        delivery: &Delivery,
        attempts: u32,
    ) -> Result<(), OpError> {
        self.conn
            .execute(
                "INSERT INTO deliveries (campaign, subscriber, email, name, token, state, attempts,
                 sent_at)
                 SELECT c.id, ?2, ?3, ?4, '', 'sent', ?5, ?6 FROM campaigns c
                 WHERE c.edition = ?1 AND EXISTS (SELECT 1 FROM subscribers WHERE id = ?2)
                 ON CONFLICT (campaign, subscriber) DO UPDATE SET state = 'sent',
                 attempts = excluded.attempts, last_reply = NULL, sent_at = excluded.sent_at",
                params![
                    edition,
                    delivery.subscriber,
                    delivery.email,
                    delivery.name,
                    attempts,
                    jiff::Timestamp::now().to_string()
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    pub fn mark_failed(
        &self,
        edition: u32,
        subscriber: i64,
        attempts: u32,
        reply: &str,
    ) -> Result<(), OpError> {
        self.conn
            .execute(
                "UPDATE deliveries SET state = 'failed', attempts = ?3, last_reply = ?4
                 WHERE campaign = (SELECT id FROM campaigns WHERE edition = ?1) AND subscriber = ?2",
                params![edition, subscriber, attempts, reply],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Marks the campaign finished if nothing is pending.
    pub fn finish_if_done(&self, edition: u32) -> Result<(), OpError> {
        self.conn
            .execute(
                "UPDATE campaigns SET finished_at = ?2 WHERE edition = ?1 AND finished_at IS NULL
                 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE campaign = campaigns.id AND state = 'pending')",
                params![edition, jiff::Timestamp::now().to_string()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Counts and failures of the campaign of `edition`; `None` if it never started.
    pub fn status(&self, edition: u32) -> Result<Option<Status>, OpError> {
        let Some(id) = self.campaign_id(edition)? else {
            return Ok(None);
        };
        let mut status = Status::default();
        let (started, finished): (String, Option<String>) = self
            .conn
            .query_row(
                "SELECT started_at, finished_at FROM campaigns WHERE id = ?1",
                [id],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .map_err(|e| self.err(e))?;
        status.started_at = Some(started);
        status.finished_at = finished;
        let mut stmt = self
            .conn
            .prepare("SELECT state, count(*) FROM deliveries WHERE campaign = ?1 GROUP BY state")
            .map_err(|e| self.err(e))?;
        let counts = stmt
            .query_map([id], |r| {
                Ok((r.get::<_, String>(0)?, r.get::<_, i64>(1)?.max(0) as u64))
            })
            .map_err(|e| self.err(e))?;
        for c in counts {
            let (state, n) = c.map_err(|e| self.err(e))?;
            match state.as_str() {
                "pending" => status.pending = n,
                "sent" => status.sent = n,
                _ => status.failed = n,
            }
        }
        let mut stmt = self
            .conn
            .prepare(
                "SELECT email, coalesce(last_reply, '') FROM deliveries
                 WHERE campaign = ?1 AND state = 'failed' ORDER BY email",
            )
            .map_err(|e| self.err(e))?;
        let failures = stmt
            .query_map([id], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(|e| self.err(e))?;
        status.failures = failures
            .collect::<Result<_, _>>()
            .map_err(|e| self.err(e))?;
        Ok(Some(status))
    }
}

#[cfg(test)]
mod tests {
    use crate::newsletter::store::subscribers::Source;
    use crate::newsletter::store::tests::store;

    #[test]
    fn a_campaign_keeps_its_recipients_and_resumes() {
        let (_d, mut s) = store();
        s.add("a@example.org", None, Source::Cli, "newsletter")
            .unwrap();
        s.add("b@example.org", None, Source::Cli, "newsletter")
            .unwrap();
        assert_eq!(
            s.start_campaign(2, "Betreff", "newsletter", false).unwrap(),
            2
        );
        let pending = s.pending(2).unwrap();
        s.mark_sent(2, &pending[0], 1).unwrap();
        s.add("c@example.org", None, Source::Cli, "newsletter")
            .unwrap();
        // Started again: nobody new joins unless asked, and only the unsent one is pending.
        assert_eq!(
            s.start_campaign(2, "Betreff", "newsletter", false).unwrap(),
            0
        );
        assert_eq!(s.pending(2).unwrap().len(), 1);
        assert_eq!(
            s.start_campaign(2, "Betreff", "newsletter", true).unwrap(),
            1
        );
        assert_eq!(s.pending(2).unwrap().len(), 2);
        for d in s.pending(2).unwrap() {
            s.mark_failed(2, d.subscriber, 3, "550 nein").unwrap();
        }
        s.finish_if_done(2).unwrap();
        let st = s.status(2).unwrap().unwrap();
        assert_eq!((st.sent, st.failed, st.pending), (1, 2, 0));
        assert!(st.finished_at.is_some());
        // One of the failed unsubscribes: only the other is tried again.
        assert!(s.unsubscribe_address("B@example.org", None).unwrap());
        assert_eq!(s.retry_failed(2).unwrap(), 1);
        assert_eq!(s.status(2).unwrap().unwrap().finished_at, None);
        assert_eq!(s.pending(2).unwrap().len(), 1);
    }

    #[test]
    fn a_retry_takes_the_corrected_name() {
        let (_d, mut s) = store();
        s.add("a@example.org", Some("Anna"), Source::Cli, "newsletter")
            .unwrap();
        s.start_campaign(3, "Betreff", "newsletter", false).unwrap();
        s.conn
            .execute("UPDATE deliveries SET name = 'An\r\nna'", [])
            .unwrap();
        let d = s.pending(3).unwrap().pop().unwrap();
        s.mark_failed(3, d.subscriber, 0, "the stored name cannot go into a mail")
            .unwrap();
        s.add("a@example.org", Some("Anna Neu"), Source::Cli, "newsletter")
            .unwrap();
        assert_eq!(s.retry_failed(3).unwrap(), 1);
        let again = s.pending(3).unwrap().pop().unwrap();
        assert_eq!(again.name.as_deref(), Some("Anna Neu"));
    }

    #[test]
    fn unsubscribing_during_a_campaign_takes_the_recipient_out() {
        let (_d, mut s) = store();
        s.add("a@example.org", None, Source::Cli, "newsletter")
            .unwrap();
        s.add("b@example.org", None, Source::Cli, "newsletter")
            .unwrap();
        s.start_campaign(7, "Betreff", "newsletter", false).unwrap();
        let pending = s.pending(7).unwrap();
        assert!(s.still_pending(7, pending[1].subscriber).unwrap());
        assert!(s.unsubscribe_address("b@example.org", None).unwrap());
        assert!(!s.still_pending(7, pending[1].subscriber).unwrap());
        assert_eq!(s.pending(7).unwrap().len(), 1);
        // Its message was already on its way: the journal records that it went out.
        s.mark_sent(7, &pending[1], 1).unwrap();
        assert_eq!(s.status(7).unwrap().unwrap().sent, 1);
        // Not so for someone forgotten meanwhile: nothing about them is written again.
        s.forget("a@example.org").unwrap();
        s.mark_sent(7, &pending[0], 1).unwrap();
        assert_eq!(s.status(7).unwrap().unwrap().sent, 1);
        // Nobody who is not active joins later either.
        assert_eq!(
            s.start_campaign(7, "Betreff", "newsletter", true).unwrap(),
            0
        );
    }
}
