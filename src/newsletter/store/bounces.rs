//! Bounces and complaints read from the sender's mailbox (`newsletter bounces`): a row per failed
//! recipient of a report, and the subscriber's `bounced_at` once they get nothing more.
//!
//! A report is recorded whole or not at all, together with its hash in `bounce_reports`: a second
//! run over the same mailbox (or an mbox that still holds it) finds the hash and counts nothing
//! twice.

use rusqlite::{OptionalExtension, params};

use super::{Store, address_key, db_error};
use crate::error::OpError;

/// What kind of failure a report says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BounceKind {
    /// Permanent (status 5.x.x): the address is dead.
    Hard,
    /// Temporary (status 4.x.x), given up by the sending server: counts towards the soft limit.
    Soft,
    /// The recipient marked the mail as spam (an ARF feedback report).
    Complaint,
}

impl BounceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            BounceKind::Hard => "hard",
            BounceKind::Soft => "soft",
            BounceKind::Complaint => "complaint",
        }
    }
}

/// The campaign a VERP address names: an edition by its number (what mails sent before
/// invitations carry), any other campaign by its row in the journal, as `c<row>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CampaignRef {
    Edition(u32),
    Row(i64),
}

impl std::fmt::Display for CampaignRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CampaignRef::Edition(n) => write!(f, "{n}"),
            CampaignRef::Row(id) => write!(f, "c{id}"),
        }
    }
}

impl CampaignRef {
    pub fn parse(s: &str) -> Option<CampaignRef> {
        match s.strip_prefix('c') {
            Some(row) => row.parse().ok().map(CampaignRef::Row),
            None => s.parse().ok().map(CampaignRef::Edition),
        }
    }
}

/// One recipient of a report, as the parser found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBounce {
    pub email: String,
    /// The campaign the bounced mail was part of, when the report names it.
    pub campaign: Option<CampaignRef>,
    /// The subscriber, when the VERP return path names them (checked by its tag).
    pub subscriber: Option<i64>,
    pub kind: BounceKind,
    /// `5.1.1`, or the feedback type of a complaint.
    pub status: Option<String>,
    pub diagnostic: Option<String>,
}

/// What became of one recipient of a report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Recorded {
    /// Counted; `stopped`: the address gets nothing more from now on (or did already).
    Counted { stopped: bool, soft_count: u32 },
    /// No subscriber has this address (forgotten, or never on the list).
    Unknown,
}

/// A bounce as `newsletter status` and `subscribers show` list it.
#[derive(Debug, Clone)]
pub struct BounceRow {
    pub email: String,
    pub edition: Option<u32>,
    pub kind: String,
    pub status: Option<String>,
    pub diagnostic: Option<String>,
    pub received_at: String,
}

impl Store {
    /// Whether the report with `hash` was read before.
    pub fn bounce_report_seen(&self, hash: &str) -> Result<bool, OpError> {
        self.conn
            .query_row(
                "SELECT 1 FROM bounce_reports WHERE hash = ?1",
                [hash],
                |_| Ok(()),
            )
            .optional()
            .map(|f| f.is_some())
            .map_err(|e| self.err(e))
    }

    /// Records every recipient of one report and the report's hash, in one transaction. Hard
    /// bounces and complaints stop the address at once, soft ones once it has `soft_limit`;
    /// a stopped address's pending deliveries are marked failed, so a running campaign skips it.
    pub fn record_bounce_report(
        &mut self,
        hash: &str,
        bounces: &[NewBounce],
        soft_limit: u32,
    ) -> Result<Vec<Recorded>, OpError> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| db_error(&path, e);
        let now = jiff::Timestamp::now().to_string();
        let tx = self.write()?;
        let mut out = Vec::new();
        for b in bounces {
            let by_key: Option<i64> = tx
                .query_row(
                    "SELECT id FROM subscribers WHERE email_key = ?1",
                    [address_key(&b.email)],
                    |r| r.get(0),
                )
                .optional()
                .map_err(fail)?;
            // The VERP tag names the subscriber even when the DSN's address is a forward's.
            let subscriber = match (b.subscriber, by_key) {
                (Some(id), _) => tx
                    .query_row("SELECT id FROM subscribers WHERE id = ?1", [id], |r| {
                        r.get::<_, i64>(0)
                    })
                    .optional()
                    .map_err(fail)?
                    .or(by_key),
                (None, key) => key,
            };
            let Some(subscriber) = subscriber else {
                out.push(Recorded::Unknown);
                continue;
            };
            let campaign: Option<i64> = match b.campaign {
                Some(CampaignRef::Edition(n)) => tx
                    .query_row("SELECT id FROM campaigns WHERE edition = ?1", [n], |r| {
                        r.get(0)
                    })
                    .optional()
                    .map_err(fail)?,
                Some(CampaignRef::Row(id)) => tx
                    .query_row("SELECT id FROM campaigns WHERE id = ?1", [id], |r| r.get(0))
                    .optional()
                    .map_err(fail)?,
                None => None,
            };
            tx.execute(
                "INSERT INTO bounces (subscriber, campaign, kind, status, diagnostic, received_at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![
                    subscriber,
                    campaign,
                    b.kind.as_str(),
                    b.status,
                    b.diagnostic,
                    now
                ],
            )
            .map_err(fail)?;
            let soft_count: u32 = tx
                .query_row(
                    "SELECT count(*) FROM bounces WHERE subscriber = ?1 AND kind = 'soft'",
                    [subscriber],
                    |r| r.get(0),
                )
                .map_err(fail)?;
            let stops = match b.kind {
                BounceKind::Hard | BounceKind::Complaint => true,
                BounceKind::Soft => soft_count >= soft_limit.max(1),
            };
            if stops {
                let reason = format!(
                    "{} bounce{}",
                    b.kind.as_str(),
                    b.status
                        .as_deref()
                        .map(|s| format!(" {s}"))
                        .unwrap_or_default()
                );
                tx.execute(
                    "UPDATE subscribers SET bounced_at = ?2, bounce_reason = ?3
                     WHERE id = ?1 AND bounced_at IS NULL",
                    params![subscriber, now, reason],
                )
                .map_err(fail)?;
                tx.execute(
                    "UPDATE deliveries SET state = 'failed', last_reply = ?2
                     WHERE subscriber = ?1 AND state = 'pending'",
                    params![subscriber, format!("not sent: {reason}")],
                )
                .map_err(fail)?;
            }
            let stopped: bool = tx
                .query_row(
                    "SELECT bounced_at IS NOT NULL FROM subscribers WHERE id = ?1",
                    [subscriber],
                    |r| r.get(0),
                )
                .map_err(fail)?;
            out.push(Recorded::Counted {
                stopped,
                soft_count,
            });
        }
        tx.execute(
            "INSERT OR IGNORE INTO bounce_reports (hash, read_at) VALUES (?1, ?2)",
            params![hash, now],
        )
        .map_err(fail)?;
        tx.commit().map_err(fail)?;
        Ok(out)
    }

    /// The bounces of `edition`'s mails, oldest first.
    pub fn bounces_of_edition(&self, edition: u32) -> Result<Vec<BounceRow>, OpError> {
        self.bounce_rows(
            "c.edition = ?1",
            rusqlite::types::Value::Integer(i64::from(edition)),
        )
    }

    /// The bounces of one subscriber, oldest first.
    pub fn bounces_of(&self, subscriber: i64) -> Result<Vec<BounceRow>, OpError> {
        self.bounce_rows(
            "b.subscriber = ?1",
            rusqlite::types::Value::Integer(subscriber),
        )
    }

    /// Lets a stopped address receive again (its mailbox works again) and starts its soft count
    /// anew: its bounces go. `false` when no subscriber has the address.
    pub fn reset_bounces(&mut self, email: &str) -> Result<bool, OpError> {
        let path = self.path.clone();
        let fail = |e: rusqlite::Error| db_error(&path, e);
        let tx = self.write()?;
        let id: Option<i64> = tx
            .query_row(
                "SELECT id FROM subscribers WHERE email_key = ?1",
                [address_key(email)],
                |r| r.get(0),
            )
            .optional()
            .map_err(fail)?;
        if let Some(id) = id {
            tx.execute("DELETE FROM bounces WHERE subscriber = ?1", [id])
                .map_err(fail)?;
            tx.execute(
                "UPDATE subscribers SET bounced_at = NULL, bounce_reason = NULL WHERE id = ?1",
                [id],
            )
            .map_err(fail)?;
        }
        tx.commit().map_err(fail)?;
        Ok(id.is_some())
    }

    /// When and why the subscriber stopped receiving because of bounces, if they did.
    pub fn bounced(&self, subscriber: i64) -> Result<Option<(String, String)>, OpError> {
        self.conn
            .query_row(
                "SELECT bounced_at, coalesce(bounce_reason, '') FROM subscribers
                 WHERE id = ?1 AND bounced_at IS NOT NULL",
                [subscriber],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    fn bounce_rows(
        &self,
        filter: &str,
        value: rusqlite::types::Value,
    ) -> Result<Vec<BounceRow>, OpError> {
        let mut stmt = self
            .conn
            .prepare(&format!(
                "SELECT s.email, c.edition, b.kind, b.status, b.diagnostic, b.received_at
                 FROM bounces b JOIN subscribers s ON s.id = b.subscriber
                 LEFT JOIN campaigns c ON c.id = b.campaign
                 WHERE {filter} ORDER BY b.id"
            ))
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([value], |r| {
                Ok(BounceRow {
                    email: r.get(0)?,
                    edition: r.get(1)?,
                    kind: r.get(2)?,
                    status: r.get(3)?,
                    diagnostic: r.get(4)?,
                    received_at: r.get(5)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_database_of_today_migrates_to_bounces_without_loss() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v4.sqlite");
        {
            let mut conn = rusqlite::Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            for step in &super::super::MIGRATIONS[..4] {
                match step {
                    super::super::Step::Sql(batch) => tx.execute_batch(batch).unwrap(),
                    super::super::Step::Code(run) => run(&tx).unwrap(),
                }
            }
            tx.execute_batch(
                "PRAGMA user_version = 4;
                 INSERT INTO meta (key, value) VALUES ('address_key', '00112233445566778899aabbccddeeff');
                 INSERT INTO subscribers (email, email_key, name, link_nonce, added_at, status)
                 VALUES ('anna@example.org', 'anna@example.org', 'Anna', '0123456789abcdef0123456789abcdef', '2025-01-02T03:04:05Z', 'active');
                 INSERT INTO campaigns (edition, subject, started_at) VALUES (1, 'Ausgabe 1', 'x');
                 INSERT INTO deliveries (campaign, subscriber, email, token, state, sent_at)
                 VALUES (1, 1, 'anna@example.org', '', 'sent', '2025-01-03T00:00:00Z');",
            )
            .unwrap();
            tx.commit().unwrap();
        }
        let mut s = Store::open(&path).unwrap();
        let anna = s.find("anna@example.org").unwrap().unwrap();
        assert_eq!(anna.name.as_deref(), Some("Anna"));
        assert_eq!(s.status(1).unwrap().unwrap().sent, 1);
        assert_eq!(s.bounced(anna.id).unwrap(), None);
        assert!(s.bounces_of(anna.id).unwrap().is_empty());
        let version: i64 = s
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(version, super::super::MIGRATIONS.len() as i64);
        // The new tables work on the migrated data.
        let r = s
            .record_bounce_report("h", &[bounce("anna@example.org", BounceKind::Hard)], 3)
            .unwrap();
        assert_eq!(
            r,
            vec![Recorded::Counted {
                stopped: true,
                soft_count: 0
            }]
        );
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("db.sqlite")).unwrap();
        (dir, store)
    }

    fn bounce(email: &str, kind: BounceKind) -> NewBounce {
        NewBounce {
            email: email.into(),
            campaign: Some(CampaignRef::Edition(1)),
            subscriber: None,
            kind,
            status: Some("4.2.2".into()),
            diagnostic: None,
        }
    }

    #[test]
    fn soft_bounces_stop_an_address_at_the_limit_and_hard_ones_at_once() {
        let (_dir, mut store) = store();
        store
            .add(
                "soft@example.org",
                None,
                crate::newsletter::store::subscribers::Source::Cli,
                crate::newsletter::store::DEFAULT_LIST,
            )
            .unwrap();
        store
            .add(
                "hard@example.org",
                None,
                crate::newsletter::store::subscribers::Source::Cli,
                crate::newsletter::store::DEFAULT_LIST,
            )
            .unwrap();
        store
            .add(
                "fine@example.org",
                None,
                crate::newsletter::store::subscribers::Source::Cli,
                crate::newsletter::store::DEFAULT_LIST,
            )
            .unwrap();
        store
            .start_campaign(
                1,
                "Ausgabe 1",
                crate::newsletter::store::DEFAULT_LIST,
                false,
            )
            .unwrap();
        for (i, expect) in [(1, false), (2, false), (3, true)] {
            let r = store
                .record_bounce_report(
                    &format!("r{i}"),
                    &[bounce("Soft@Example.org", BounceKind::Soft)],
                    3,
                )
                .unwrap();
            assert_eq!(
                r,
                vec![Recorded::Counted {
                    stopped: expect,
                    soft_count: i
                }]
            );
        }
        let r = store
            .record_bounce_report(
                "h",
                &[
                    bounce("hard@example.org", BounceKind::Hard),
                    bounce("nobody@example.org", BounceKind::Hard),
                ],
                3,
            )
            .unwrap();
        assert_eq!(r[1], Recorded::Unknown);
        assert!(store.bounce_report_seen("h").unwrap());
        assert!(!store.bounce_report_seen("x").unwrap());
        // The running campaign skips them, the next one leaves them out.
        let pending: Vec<String> = store
            .pending_unregistered(1)
            .unwrap()
            .into_iter()
            .map(|d| d.email)
            .collect();
        assert_eq!(pending, vec!["fine@example.org"]);
        store
            .start_campaign(
                2,
                "Ausgabe 2",
                crate::newsletter::store::DEFAULT_LIST,
                false,
            )
            .unwrap();
        assert_eq!(store.pending_unregistered(2).unwrap().len(), 1);
        assert_eq!(store.bounces_of_edition(1).unwrap().len(), 4);
        let hard = store.find("hard@example.org").unwrap().unwrap();
        assert_eq!(
            store.bounced(hard.id).unwrap().map(|b| b.1),
            Some("hard bounce 4.2.2".to_string())
        );
        // Forgetting an address deletes its bounces with it.
        store.forget("hard@example.org").unwrap();
        assert_eq!(store.bounces_of_edition(1).unwrap().len(), 3);
        // Reset: the address gets the next campaign again, its soft count starts anew.
        assert!(store.reset_bounces("SOFT@example.org").unwrap());
        assert!(!store.reset_bounces("nobody@example.org").unwrap());
        store
            .start_campaign(
                3,
                "Ausgabe 3",
                crate::newsletter::store::DEFAULT_LIST,
                false,
            )
            .unwrap();
        assert_eq!(store.pending_unregistered(3).unwrap().len(), 2);
        let r = store
            .record_bounce_report("r4", &[bounce("soft@example.org", BounceKind::Soft)], 3)
            .unwrap();
        assert_eq!(
            r,
            vec![Recorded::Counted {
                stopped: false,
                soft_count: 1
            }]
        );
    }
}
