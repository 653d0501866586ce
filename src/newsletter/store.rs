//! The subscribers and the send journal, in one SQLite file outside the published site.
//!
//! The journal is what makes `newsletter send` safe to run again: a campaign per edition and a
//! delivery row per recipient, marked `sent` only after the mail server accepted the message. WAL
//! mode lets every sending thread commit its own rows; `synchronous=NORMAL` makes each commit
//! survive a killed process (power loss may forget the last few `sent` marks, which then go out
//! again — a duplicate, never a lost recipient).

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::{Connection, OptionalExtension, params};

use crate::diagnostics::Diagnostic;

/// Where the database lives unless `site.yaml` or `--db` say otherwise.
pub const DEFAULT_DB: &str = ".ozg-site/newsletter.sqlite";

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS subscribers (
    id INTEGER PRIMARY KEY,
    email TEXT NOT NULL,
    email_key TEXT NOT NULL UNIQUE,
    name TEXT,
    token TEXT NOT NULL UNIQUE,
    added_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS campaigns (
    id INTEGER PRIMARY KEY,
    edition INTEGER NOT NULL UNIQUE,
    subject TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT
);
CREATE TABLE IF NOT EXISTS deliveries (
    campaign INTEGER NOT NULL REFERENCES campaigns(id),
    subscriber INTEGER NOT NULL,
    email TEXT NOT NULL,
    name TEXT,
    token TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('pending', 'sent', 'failed')),
    attempts INTEGER NOT NULL DEFAULT 0,
    last_reply TEXT,
    sent_at TEXT,
    PRIMARY KEY (campaign, subscriber)
);
CREATE INDEX IF NOT EXISTS deliveries_state ON deliveries (campaign, state);
";

/// A subscriber as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscriber {
    pub id: i64,
    pub email: String,
    pub name: Option<String>,
    pub token: String,
}

/// One recipient of a campaign still to be sent (or to be tried again).
#[derive(Debug, Clone)]
pub struct Delivery {
    pub subscriber: i64,
    pub email: String,
    pub name: Option<String>,
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

pub struct Store {
    conn: Connection,
    path: PathBuf,
}

fn db_error(path: &Path, e: impl std::fmt::Display) -> Diagnostic {
    Diagnostic::error(format!("the subscriber database {} cannot be used: {e}", path.display()))
        .hint("check that the folder is writable and the file is an ozg-site database (or pass another with --db)")
}

impl Store {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, Diagnostic> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| db_error(path, e))?;
        }
        let conn = Connection::open(path).map_err(|e| db_error(path, e))?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| db_error(path, e))?;
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;",
        )
        .map_err(|e| db_error(path, e))?;
        conn.execute_batch(SCHEMA).map_err(|e| db_error(path, e))?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
        })
    }

    /// Another connection to the same file, for a sending thread.
    pub fn reopen(&self) -> Result<Store, Diagnostic> {
        Store::open(&self.path)
    }

    fn err(&self, e: impl std::fmt::Display) -> Diagnostic {
        db_error(&self.path, e)
    }

    /// Adds a subscriber; `Ok(false)` if the address (in any letter case) is already there.
    pub fn add(&self, email: &str, name: Option<&str>) -> Result<bool, Diagnostic> {
        let added = self
            .conn
            .execute(
                "INSERT INTO subscribers (email, email_key, name, token, added_at)
                 VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (email_key) DO NOTHING",
                params![
                    email,
                    email.to_lowercase(),
                    name,
                    new_token()?,
                    jiff::Timestamp::now().to_string()
                ],
            )
            .map_err(|e| self.err(e))?;
        Ok(added == 1)
    }

    /// Adds many in one transaction: `(added, duplicates)`.
    pub fn add_all(&mut self, list: &[(String, Option<String>)]) -> Result<(u64, u64), Diagnostic> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| db_error(&path, e))?;
        let (mut added, mut duplicates) = (0, 0);
        {
            let mut insert = tx
                .prepare(
                    "INSERT INTO subscribers (email, email_key, name, token, added_at)
                     VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (email_key) DO NOTHING",
                )
                .map_err(|e| db_error(&path, e))?;
            let now = jiff::Timestamp::now().to_string();
            for (email, name) in list {
                let n = insert
                    .execute(params![
                        email,
                        email.to_lowercase(),
                        name,
                        new_token()?,
                        now
                    ])
                    .map_err(|e| db_error(&path, e))?;
                if n == 1 {
                    added += 1;
                } else {
                    duplicates += 1;
                }
            }
        }
        tx.commit().map_err(|e| db_error(&path, e))?;
        Ok((added, duplicates))
    }

    /// Removes a subscriber and every trace of them in the journal; `Ok(false)` if unknown.
    pub fn remove(&self, email: &str) -> Result<bool, Diagnostic> {
        let key = email.trim().to_lowercase();
        let id: Option<i64> = self
            .conn
            .query_row(
                "SELECT id FROM subscribers WHERE email_key = ?1",
                [&key],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))?;
        let Some(id) = id else { return Ok(false) };
        self.conn
            .execute("DELETE FROM deliveries WHERE subscriber = ?1", [id])
            .map_err(|e| self.err(e))?;
        self.conn
            .execute("DELETE FROM subscribers WHERE id = ?1", [id])
            .map_err(|e| self.err(e))?;
        Ok(true)
    }

    pub fn list(&self) -> Result<Vec<Subscriber>, Diagnostic> {
        let mut stmt = self
            .conn
            .prepare("SELECT id, email, name, token FROM subscribers ORDER BY email_key")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok(Subscriber {
                    id: r.get(0)?,
                    email: r.get(1)?,
                    name: r.get(2)?,
                    token: r.get(3)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    pub fn count(&self) -> Result<u64, Diagnostic> {
        self.conn
            .query_row("SELECT count(*) FROM subscribers", [], |r| {
                r.get::<_, i64>(0)
            })
            .map(|n| n.max(0) as u64)
            .map_err(|e| self.err(e))
    }

    /// The campaign of `edition`, started now with every current subscriber if it is new.
    /// With `include_new`, subscribers added since it started join it. Returns how many joined.
    pub fn start_campaign(
        &mut self,
        edition: u32,
        subject: &str,
        include_new: bool,
    ) -> Result<u64, Diagnostic> {
        let path = self.path.clone();
        let tx = self.conn.transaction().map_err(|e| db_error(&path, e))?;
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
                    "INSERT INTO campaigns (edition, subject, started_at) VALUES (?1, ?2, ?3)",
                    params![edition, subject, jiff::Timestamp::now().to_string()],
                )
                .map_err(|e| db_error(&path, e))?;
                (tx.last_insert_rowid(), true)
            }
        };
        let joined = if join {
            tx.execute(
                "INSERT INTO deliveries (campaign, subscriber, email, name, token, state)
                 SELECT ?1, id, email, name, token, 'pending' FROM subscribers
                 WHERE id NOT IN (SELECT subscriber FROM deliveries WHERE campaign = ?1)",
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

    fn campaign_id(&self, edition: u32) -> Result<Option<i64>, Diagnostic> {
        self.conn
            .query_row(
                "SELECT id FROM campaigns WHERE edition = ?1",
                [edition],
                |r| r.get(0),
            )
            .optional()
            .map_err(|e| self.err(e))
    }

    /// Makes the failed recipients of `edition` pending again; returns how many.
    pub fn retry_failed(&self, edition: u32) -> Result<u64, Diagnostic> {
        let Some(id) = self.campaign_id(edition)? else {
            return Ok(0);
        };
        let n = self
            .conn
            .execute(
                "UPDATE deliveries SET state = 'pending', attempts = 0 WHERE campaign = ?1 AND state = 'failed'",
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

    /// The recipients of `edition` not sent yet.
    pub fn pending(&self, edition: u32) -> Result<Vec<Delivery>, Diagnostic> {
        let Some(id) = self.campaign_id(edition)? else {
            return Ok(Vec::new());
        };
        let mut stmt = self
            .conn
            .prepare(
                "SELECT subscriber, email, name, token FROM deliveries
                 WHERE campaign = ?1 AND state = 'pending' ORDER BY subscriber",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(Delivery {
                    subscriber: r.get(0)?,
                    email: r.get(1)?,
                    name: r.get(2)?,
                    token: r.get(3)?,
                })
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// Records that the server accepted the message (committed before the next is sent).
    pub fn mark_sent(
        &self,
        edition: u32,
        subscriber: i64,
        attempts: u32,
    ) -> Result<(), Diagnostic> {
        self.conn
            .execute(
                "UPDATE deliveries SET state = 'sent', attempts = ?3, last_reply = NULL, sent_at = ?4
                 WHERE campaign = (SELECT id FROM campaigns WHERE edition = ?1) AND subscriber = ?2",
                params![edition, subscriber, attempts, jiff::Timestamp::now().to_string()],
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
    ) -> Result<(), Diagnostic> {
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
    pub fn finish_if_done(&self, edition: u32) -> Result<(), Diagnostic> {
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
    pub fn status(&self, edition: u32) -> Result<Option<Status>, Diagnostic> {
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

/// 128 random bits from the operating system, as 32 hex digits: unguessable, URL-safe.
fn new_token() -> Result<String, Diagnostic> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes)
        .map_err(|e| Diagnostic::error(format!("no random numbers from the system: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("a/b.sqlite")).unwrap();
        (dir, s)
    }

    #[test]
    fn addresses_are_unique_in_any_case_and_tokens_differ() {
        let (_d, mut s) = store();
        assert!(s.add("Anna@Example.org", Some("Anna")).unwrap());
        assert!(!s.add("anna@example.ORG", None).unwrap());
        let (added, dup) = s
            .add_all(&[
                ("b@example.org".into(), None),
                ("B@example.org".into(), None),
            ])
            .unwrap();
        assert_eq!((added, dup), (1, 1));
        let list = s.list().unwrap();
        assert_eq!(list.len(), 2);
        assert_ne!(list[0].token, list[1].token);
        assert_eq!(list[0].token.len(), 32);
    }

    #[test]
    fn a_campaign_keeps_its_recipients_and_resumes() {
        let (_d, mut s) = store();
        s.add("a@example.org", None).unwrap();
        s.add("b@example.org", None).unwrap();
        assert_eq!(s.start_campaign(2, "Betreff", false).unwrap(), 2);
        let pending = s.pending(2).unwrap();
        s.mark_sent(2, pending[0].subscriber, 1).unwrap();
        s.add("c@example.org", None).unwrap();
        // Started again: nobody new joins unless asked, and only the unsent one is pending.
        assert_eq!(s.start_campaign(2, "Betreff", false).unwrap(), 0);
        assert_eq!(s.pending(2).unwrap().len(), 1);
        assert_eq!(s.start_campaign(2, "Betreff", true).unwrap(), 1);
        assert_eq!(s.pending(2).unwrap().len(), 2);
        for d in s.pending(2).unwrap() {
            s.mark_failed(2, d.subscriber, 3, "550 nein").unwrap();
        }
        s.finish_if_done(2).unwrap();
        let st = s.status(2).unwrap().unwrap();
        assert_eq!((st.sent, st.failed, st.pending), (1, 2, 0));
        assert!(st.finished_at.is_some());
        assert_eq!(s.retry_failed(2).unwrap(), 2);
        assert_eq!(s.status(2).unwrap().unwrap().finished_at, None);
        assert!(s.remove("B@example.org").unwrap());
        assert_eq!(s.pending(2).unwrap().len(), 1);
    }
}
