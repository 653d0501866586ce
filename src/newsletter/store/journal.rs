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

/// Which campaign: an edition, or one version of a Sprechstunde's invitation — the event's
/// calendar `UID` and the `SEQUENCE` that version carries (RFC 5545 §3.8.7.4).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CampaignKey {
    Edition(u32),
    Invitation { uid: String, sequence: u32 },
}

impl From<u32> for CampaignKey {
    fn from(edition: u32) -> CampaignKey {
        CampaignKey::Edition(edition)
    }
}

impl From<&CampaignKey> for CampaignKey {
    fn from(key: &CampaignKey) -> CampaignKey {
        key.clone()
    }
}

/// Who a new campaign goes to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Every active member of its list.
    List,
    /// The active members of its list who were sent an earlier version of the same invitation:
    /// a cancellation is news only to those who have the event in their calendar.
    EarlierRecipients,
}

impl Store {
    /// The campaign of `key`, started now with every active member of `list` if it is new.
    /// With `include_new`, members of its list active since it started join it. Returns how many
    /// joined. A campaign keeps the list it was started for.
    pub fn start_campaign(
        &mut self,
        key: impl Into<CampaignKey>,
        subject: &str,
        list: &str,
        include_new: bool,
    ) -> Result<u64, OpError> {
        self.start(
            &key.into(),
            subject,
            list,
            None,
            Audience::List,
            include_new,
        )
    }

    /// [`Store::start_campaign`] for any campaign: an invitation's records the `facts` it
    /// carries (so a later run sees what changed), and a new version of an invitation takes the
    /// older versions' unsent rows out: nobody should get an outdated date after the new one.
    pub fn start(
        &mut self,
        key: &CampaignKey,
        subject: &str,
        list: &str,
        facts: Option<&str>,
        audience: Audience,
        include_new: bool,
    ) -> Result<u64, OpError> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| db_error(&path, e);
        let existing = self.campaign_id(key)?;
        let tx = self.write()?;
        let (id, join) = match existing {
            Some(id) => (id, include_new),
            None => {
                let (edition, invitation, sequence) = match key {
                    CampaignKey::Edition(n) => (Some(*n), None, None),
                    CampaignKey::Invitation { uid, sequence } => {
                        (None, Some(uid.as_str()), Some(*sequence))
                    }
                };
                tx.execute(
                    "INSERT INTO campaigns (edition, invitation, sequence, facts, subject,
                     started_at, list) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
                    params![
                        edition,
                        invitation,
                        sequence,
                        invitation.map(|_| facts.unwrap_or_default()),
                        subject,
                        jiff::Timestamp::now().to_string(),
                        list
                    ],
                )
                .map_err(fail)?;
                let id = tx.last_insert_rowid();
                if let (Some(uid), Some(sequence)) = (invitation, sequence) {
                    tx.execute(
                        "DELETE FROM deliveries WHERE state = 'pending' AND campaign IN
                         (SELECT id FROM campaigns WHERE invitation = ?1 AND sequence < ?2)",
                        params![uid, sequence],
                    )
                    .map_err(fail)?;
                    tx.execute(
                        "UPDATE campaigns SET finished_at = ?3 WHERE invitation = ?1
                         AND sequence < ?2 AND finished_at IS NULL",
                        params![uid, sequence, jiff::Timestamp::now().to_string()],
                    )
                    .map_err(fail)?;
                }
                (id, true)
            }
        };
        let earlier_only = match audience {
            Audience::List => "",
            Audience::EarlierRecipients => {
                "AND id IN (SELECT d.subscriber FROM deliveries d JOIN campaigns c
                 ON c.id = d.campaign WHERE d.state = 'sent' AND c.id <> ?1
                 AND c.invitation = (SELECT invitation FROM campaigns WHERE id = ?1))"
            }
        };
        let joined = if join {
            tx.execute(
                &format!(
                    "INSERT INTO deliveries (campaign, subscriber, email, name, token, state)
                     SELECT ?1, id, email, name, '', 'pending' FROM subscribers
                     WHERE status = 'active' AND bounced_at IS NULL
                     AND id NOT IN (SELECT subscriber FROM deliveries WHERE campaign = ?1)
                     AND id IN (SELECT subscriber FROM memberships WHERE status = 'active'
                         AND list = (SELECT list FROM campaigns WHERE id = ?1))
                     {earlier_only}"
                ),
                [id],
            )
            .map_err(fail)? as u64
        } else {
            0
        };
        if joined > 0 {
            tx.execute(
                "UPDATE campaigns SET finished_at = NULL WHERE id = ?1",
                [id],
            )
            .map_err(fail)?;
        }
        tx.commit().map_err(fail)?;
        Ok(joined)
    }

    pub(super) fn campaign_id(&self, key: &CampaignKey) -> Result<Option<i64>, OpError> {
        match key {
            CampaignKey::Edition(n) => {
                self.conn
                    .query_row("SELECT id FROM campaigns WHERE edition = ?1", [n], |r| {
                        r.get(0)
                    })
            }
            CampaignKey::Invitation { uid, sequence } => self.conn.query_row(
                "SELECT id FROM campaigns WHERE invitation = ?1 AND sequence = ?2",
                params![uid, sequence],
                |r| r.get(0),
            ),
        }
        .optional()
        .map_err(|e| self.err(e))
    }

    /// Makes the failed recipients of `edition` pending again (those still subscribed); returns
    /// how many. Each row takes the subscriber's address and name as they are now: a name that
    /// could not be sent and was corrected since goes out corrected.
    pub fn retry_failed(&self, key: impl Into<CampaignKey>) -> Result<u64, OpError> {
        let Some(id) = self.campaign_id(&key.into())? else {
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
    pub fn pending(&mut self, key: impl Into<CampaignKey>) -> Result<Vec<Delivery>, OpError> {
        let deliveries = self.pending_unregistered(key)?;
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
    pub fn pending_unregistered(
        &self,
        key: impl Into<CampaignKey>,
    ) -> Result<Vec<Delivery>, OpError> {
        let Some(id) = self.campaign_id(&key.into())? else {
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
    pub fn still_pending(&self, campaign: i64, subscriber: i64) -> Result<bool, OpError> {
        self.conn
            .query_row(
                "SELECT 1 FROM deliveries WHERE state = 'pending' AND subscriber = ?2
                 AND campaign = ?1",
                params![campaign, subscriber],
                |_| Ok(()),
            )
            .optional()
            .map(|found| found.is_some())
            .map_err(|e| self.err(e))
    }

    /// The row id of the campaign of `key`, once it has started: what a sending thread keys
    /// its journal writes with.
    pub fn campaign(&self, key: impl Into<CampaignKey>) -> Result<i64, OpError> {
        let key = key.into();
        self.campaign_id(&key)?
            .ok_or_else(|| OpError::Internal(format!("the campaign {key:?} has not started")))
    }

    /// Records that the server accepted the message (committed before the next is sent).
    ///
    /// Also when the recipient unsubscribed while the message was on its way (their pending row
    /// is gone then): the journal says what was sent. Not for a recipient forgotten meanwhile —
    /// nothing about them may be written again.
    pub fn mark_sent(
        &self,
        campaign: i64,
        delivery: &Delivery,
        attempts: u32,
    ) -> Result<(), OpError> {
        self.conn
            .execute(
                "INSERT INTO deliveries (campaign, subscriber, email, name, token, state, attempts,
                 sent_at)
                 SELECT c.id, ?2, ?3, ?4, '', 'sent', ?5, ?6 FROM campaigns c
                 WHERE c.id = ?1 AND EXISTS (SELECT 1 FROM subscribers WHERE id = ?2)
                 ON CONFLICT (campaign, subscriber) DO UPDATE SET state = 'sent',
                 attempts = excluded.attempts, last_reply = NULL, sent_at = excluded.sent_at",
                params![
                    campaign,
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
        campaign: i64,
        subscriber: i64,
        attempts: u32,
        reply: &str,
    ) -> Result<(), OpError> {
        self.conn
            .execute(
                "UPDATE deliveries SET state = 'failed', attempts = ?3, last_reply = ?4
                 WHERE campaign = ?1 AND subscriber = ?2",
                params![campaign, subscriber, attempts, reply],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// Marks the campaign finished if nothing is pending.
    pub fn finish_if_done(&self, key: impl Into<CampaignKey>) -> Result<(), OpError> {
        let Some(id) = self.campaign_id(&key.into())? else {
            return Ok(());
        };
        self.conn
            .execute(
                "UPDATE campaigns SET finished_at = ?2 WHERE id = ?1 AND finished_at IS NULL
                 AND NOT EXISTS (SELECT 1 FROM deliveries WHERE campaign = campaigns.id AND state = 'pending')",
                params![id, jiff::Timestamp::now().to_string()],
            )
            .map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The subscribers sent an earlier version of the invitation `key` (none for an edition).
    pub fn invited(&self, key: &CampaignKey) -> Result<std::collections::HashSet<i64>, OpError> {
        let CampaignKey::Invitation { uid, sequence } = key else {
            return Ok(Default::default());
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT DISTINCT d.subscriber FROM deliveries d JOIN campaigns c
                 ON c.id = d.campaign WHERE d.state = 'sent' AND c.invitation = ?1
                 AND c.sequence < ?2",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map(params![uid, sequence], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The latest version of the invitation with calendar `UID` `uid`: its `SEQUENCE` and the
    /// facts it carried; `None` if none was started.
    pub fn latest_invitation(&self, uid: &str) -> Result<Option<(u32, String)>, OpError> {
        self.conn
            .query_row(
                "SELECT sequence, facts FROM campaigns WHERE invitation = ?1
                 ORDER BY sequence DESC LIMIT 1",
                [uid],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Counts and failures of the campaign of `key`; `None` if it never started.
    pub fn status(&self, key: impl Into<CampaignKey>) -> Result<Option<Status>, OpError> {
        let Some(id) = self.campaign_id(&key.into())? else {
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
    use super::*;
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
        s.mark_sent(s.campaign(2).unwrap(), &pending[0], 1).unwrap();
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
            s.mark_failed(s.campaign(2).unwrap(), d.subscriber, 3, "550 nein")
                .unwrap();
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
        s.mark_failed(
            s.campaign(3).unwrap(),
            d.subscriber,
            0,
            "the stored name cannot go into a mail",
        )
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
        assert!(
            s.still_pending(s.campaign(7).unwrap(), pending[1].subscriber)
                .unwrap()
        );
        assert!(s.unsubscribe_address("b@example.org", None).unwrap());
        assert!(
            !s.still_pending(s.campaign(7).unwrap(), pending[1].subscriber)
                .unwrap()
        );
        assert_eq!(s.pending(7).unwrap().len(), 1);
        // Its message was already on its way: the journal records that it went out.
        s.mark_sent(s.campaign(7).unwrap(), &pending[1], 1).unwrap();
        assert_eq!(s.status(7).unwrap().unwrap().sent, 1);
        // Not so for someone forgotten meanwhile: nothing about them is written again.
        s.forget("a@example.org").unwrap();
        s.mark_sent(s.campaign(7).unwrap(), &pending[0], 1).unwrap();
        assert_eq!(s.status(7).unwrap().unwrap().sent, 1);
        // Nobody who is not active joins later either.
        assert_eq!(
            s.start_campaign(7, "Betreff", "newsletter", true).unwrap(),
            0
        );
    }

    #[test]
    fn a_database_of_schema_6_migrates_to_invitations_without_loss() {
        use crate::newsletter::store::{MIGRATIONS, Step, Store};
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v6.sqlite");
        {
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            conn.execute_batch("PRAGMA foreign_keys = ON").unwrap();
            let tx = conn.transaction().unwrap();
            for step in &MIGRATIONS[..6] {
                match step {
                    Step::Sql(batch) => tx.execute_batch(batch).unwrap(),
                    Step::Code(run) => run(&tx).unwrap(),
                }
            }
            tx.execute_batch(
                "PRAGMA user_version = 6;
                 INSERT INTO meta (key, value) VALUES ('address_key', '00112233445566778899aabbccddeeff');
                 INSERT INTO subscribers (email, email_key, name, link_nonce, added_at, status)
                 VALUES ('anna@example.org', 'anna@example.org', 'Anna', '0123456789abcdef0123456789abcdef', '2025-01-02T03:04:05Z', 'active'),
                        ('ben@example.org', 'ben@example.org', NULL, 'fedcba9876543210fedcba9876543210', '2025-01-02T03:04:05Z', 'active');
                 INSERT INTO memberships (subscriber, list, status, source, requested_at)
                 VALUES (1, 'newsletter', 'active', 'cli', 'x'), (2, 'newsletter', 'active', 'cli', 'x');
                 INSERT INTO campaigns (id, edition, subject, started_at, finished_at, list)
                 VALUES (5, 1, 'Ausgabe 1', 'a', 'b', 'newsletter'), (9, 2, 'Ausgabe 2', 'c', NULL, 'newsletter');
                 INSERT INTO deliveries (campaign, subscriber, email, name, token, state, attempts, last_reply, sent_at)
                 VALUES (5, 1, 'anna@example.org', 'Anna', '', 'sent', 1, NULL, 'd'),
                        (5, 2, 'ben@example.org', NULL, '', 'failed', 3, '550 nein', NULL),
                        (9, 1, 'anna@example.org', 'Anna', '', 'pending', 0, NULL, NULL);
                 INSERT INTO bounces (subscriber, campaign, kind, status, diagnostic, received_at)
                 VALUES (2, 5, 'hard', '5.1.1', 'unknown user', 'e');",
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let mut s = Store::open(&path).unwrap();
        let one = s.status(1).unwrap().unwrap();
        assert_eq!((one.sent, one.failed, one.pending), (1, 1, 0));
        assert_eq!(
            one.failures,
            vec![("ben@example.org".into(), "550 nein".into())]
        );
        assert_eq!(one.finished_at.as_deref(), Some("b"));
        assert_eq!(s.pending(2).unwrap().len(), 1);
        assert_eq!(s.bounces_of_edition(1).unwrap().len(), 1);
        // The references survived the new tables: nothing points nowhere.
        let dangling: i64 = s
            .conn
            .query_row("SELECT count(*) FROM pragma_foreign_key_check", [], |r| {
                r.get(0)
            })
            .unwrap();
        assert_eq!(dangling, 0);
        let schema: String = s
            .conn
            .query_row(
                "SELECT group_concat(sql, ' ') FROM sqlite_master WHERE name IN ('deliveries', 'bounces')",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert!(!schema.contains("_v7"), "{schema}");
        // An invitation is a campaign without an edition; a row cannot be both or neither.
        let key = CampaignKey::Invitation {
            uid: "sprechstunden-71@example.org".into(),
            sequence: 0,
        };
        s.start(
            &key,
            "Terminanfrage",
            "newsletter",
            Some("f"),
            Audience::List,
            false,
        )
        .unwrap();
        assert_eq!(s.pending(key).unwrap().len(), 2);
        for bad in [
            "INSERT INTO campaigns (edition, invitation, sequence, facts, subject, started_at) VALUES (3, 'u', 0, 'f', 's', 'x')",
            "INSERT INTO campaigns (subject, started_at) VALUES ('s', 'x')",
            "INSERT INTO campaigns (invitation, subject, started_at) VALUES ('u', 's', 'x')",
        ] {
            assert!(s.conn.execute(bad, []).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_new_version_of_an_invitation_replaces_the_old_one_and_a_cancellation_goes_to_the_invited()
    {
        let (_d, mut s) = store();
        for who in ["a@example.org", "b@example.org"] {
            s.add(who, None, Source::Cli, "sprechstunden").unwrap();
        }
        let v = |sequence| CampaignKey::Invitation {
            uid: "u@example.org".into(),
            sequence,
        };
        s.start(
            &v(0),
            "Einladung",
            "sprechstunden",
            Some("t1"),
            Audience::List,
            false,
        )
        .unwrap();
        let first = s.pending(v(0)).unwrap();
        s.mark_sent(s.campaign(v(0)).unwrap(), &first[0], 1)
            .unwrap();
        assert_eq!(
            s.latest_invitation("u@example.org").unwrap(),
            Some((0, "t1".to_string()))
        );
        // The time changes before b got the first version: b gets only the new one.
        s.start(
            &v(1),
            "Geändert",
            "sprechstunden",
            Some("t2"),
            Audience::List,
            false,
        )
        .unwrap();
        assert!(s.pending(v(0)).unwrap().is_empty());
        assert!(s.status(v(0)).unwrap().unwrap().finished_at.is_some());
        assert_eq!(s.pending(v(1)).unwrap().len(), 2);
        for d in s.pending(v(1)).unwrap() {
            if d.email == "a@example.org" {
                s.mark_sent(s.campaign(v(1)).unwrap(), &d, 1).unwrap();
            }
        }
        // Called off: only a, who has it in the calendar, hears of it; someone new does not.
        s.add("c@example.org", None, Source::Cli, "sprechstunden")
            .unwrap();
        assert_eq!(s.invited(&v(2)).unwrap().len(), 1);
        s.start(
            &v(2),
            "Abgesagt",
            "sprechstunden",
            Some("t2x"),
            Audience::EarlierRecipients,
            true,
        )
        .unwrap();
        let told: Vec<_> = s
            .pending(v(2))
            .unwrap()
            .into_iter()
            .map(|d| d.email)
            .collect();
        assert_eq!(told, vec!["a@example.org"]);
        assert_eq!(
            s.latest_invitation("u@example.org").unwrap(),
            Some((2, "t2x".to_string()))
        );
        // Editions and invitations do not meet: edition 0 is not version 0.
        assert!(s.status(0).unwrap().is_none());
    }
}
