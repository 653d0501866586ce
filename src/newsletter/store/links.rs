//! Unsubscribe links whose tokens the database does not hold.
//!
//! Every mail carries the subscriber's unsubscribe token, so `newsletter send` must be able to
//! produce it again for each edition — but a copy of the database (a backup, a leaked file)
//! must not let anyone unsubscribe the whole list. So the token is derived: an HMAC, with a key
//! kept in a file of its own beside the database ([`key_path`]), of a random value the
//! subscription stores (`subscribers.link_nonce`). The database keeps only SHA-256 hashes of
//! the tokens it issued (`unsubscribe_links`), which is what an incoming link is looked up by.
//!
//! A new subscription (a confirmed sign-up after unsubscribing) gets a new nonce, so links from
//! the old one stop working. Losing the key file breaks no link already sent: its hash is still
//! registered, and the next send registers the tokens of the new key.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use rusqlite::{Connection, params};

use super::{db_error, hex, hex_decode, new_token, token_hash};
use crate::error::OpError;

/// The key file beside a database: `newsletter.sqlite` → `newsletter.sqlite.key`.
pub fn key_path(db: &Path) -> PathBuf {
    let mut name = db.as_os_str().to_os_string();
    name.push(".key");
    PathBuf::from(name)
}

/// The key that derives unsubscribe tokens, read from [`key_path`] or made there once.
#[derive(Clone)]
pub struct LinkKey(ring::hmac::Key);

impl LinkKey {
    /// Reads the key beside `db`, creating it (readable by its owner only) if there is none. Two
    /// processes opening a new database at once agree on one key: the file appears complete or
    /// not at all (written aside, then hard-linked into place, which fails if it exists).
    pub fn load_or_create(db: &Path) -> Result<LinkKey, OpError> {
        let path = key_path(db);
        let fail = |e: &dyn std::fmt::Display| OpError::LinkKey {
            path: path.clone(),
            source: e.to_string().into(),
        };
        match std::fs::read_to_string(&path) {
            Ok(text) => return LinkKey::from_hex(text.trim()).ok_or_else(|| fail(&"damaged")),
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(fail(&e)),
            Err(_) => {}
        }
        let hex_key = super::random_hex(32)?;
        let aside = path.with_file_name(format!(
            ".{}.{}.tmp",
            path.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default(),
            new_token()?
        ));
        let written = (|| -> std::io::Result<()> {
            let mut options = std::fs::OpenOptions::new();
            options.write(true).create_new(true);
            #[cfg(unix)]
            std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
            let mut file = options.open(&aside)?;
            file.write_all(hex_key.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()
        })();
        let linked = written.and_then(|()| std::fs::hard_link(&aside, &path));
        let _ = std::fs::remove_file(&aside);
        match linked {
            Ok(()) => LinkKey::from_hex(&hex_key).ok_or_else(|| fail(&"damaged")),
            // Another process made it first: use theirs.
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let text = std::fs::read_to_string(&path).map_err(|e| fail(&e))?;
                LinkKey::from_hex(text.trim()).ok_or_else(|| fail(&"damaged"))
            }
            Err(e) => Err(fail(&e)),
        }
    }

    fn from_hex(text: &str) -> Option<LinkKey> {
        let bytes = hex_decode(text).filter(|b| b.len() == 32)?;
        Some(LinkKey(ring::hmac::Key::new(
            ring::hmac::HMAC_SHA256,
            &bytes,
        )))
    }

    /// The token of the subscription with `nonce`: 128 bits as 32 hex digits, like every other
    /// token ([`super::is_token`]).
    pub fn token(&self, nonce: &str) -> String {
        let tag = ring::hmac::sign(&self.0, format!("unsubscribe\0{nonce}").as_bytes());
        let mut token = hex(tag.as_ref());
        token.truncate(32);
        token
    }
}

/// Records that `token` unsubscribes `subscriber` (again if it is known: nothing changes).
pub(super) fn register(conn: &Connection, subscriber: i64, token: &str) -> rusqlite::Result<()> {
    conn.prepare_cached(
        "INSERT OR IGNORE INTO unsubscribe_links (token_hash, subscriber) VALUES (?1, ?2)",
    )?
    .execute(params![token_hash(token), subscriber])?;
    Ok(())
}

/// Starts a new subscription's links: a new nonce, the old links gone, the new one registered.
/// Returns the new token.
pub(super) fn renew(
    conn: &Connection,
    path: &Path,
    key: &LinkKey,
    subscriber: i64,
) -> Result<String, OpError> {
    let nonce = new_token()?;
    let fail = |e: rusqlite::Error| db_error(path, e);
    conn.execute(
        "DELETE FROM unsubscribe_links WHERE subscriber = ?1",
        [subscriber],
    )
    .map_err(fail)?;
    conn.execute(
        "UPDATE subscribers SET link_nonce = ?2 WHERE id = ?1",
        params![subscriber, nonce],
    )
    .map_err(fail)?;
    let token = key.token(&nonce);
    register(conn, subscriber, &token).map_err(fail)?;
    Ok(token)
}

/// The subscriber an unsubscribe token belongs to.
pub(super) fn subscriber_of(conn: &Connection, token: &str) -> rusqlite::Result<Option<i64>> {
    use rusqlite::OptionalExtension as _;
    conn.prepare_cached("SELECT subscriber FROM unsubscribe_links WHERE token_hash = ?1")?
        .query_row([token_hash(token)], |r| r.get(0))
        .optional()
}

/// Migration 4: tokens leave the database. Every token stored so far (in mails already sent)
/// stays valid through its hash; each subscription gets a nonce its future tokens are derived
/// from; the journal's copies of the tokens are blanked.
pub(super) fn hash_stored_tokens(tx: &rusqlite::Transaction<'_>) -> rusqlite::Result<()> {
    tx.execute_batch(
        "CREATE TABLE unsubscribe_links (
             token_hash TEXT PRIMARY KEY,
             subscriber INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE
         );
         CREATE INDEX unsubscribe_links_subscriber ON unsubscribe_links (subscriber);",
    )?;
    let old: Vec<(i64, String)> = {
        let mut stmt = tx.prepare("SELECT id, token FROM subscribers")?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    // Old links of the journal too: a token changed by an older version's re-import still
    // unsubscribes the reader who has it in a mail.
    let journal: Vec<(i64, String)> = {
        let mut stmt = tx.prepare(
            "SELECT DISTINCT d.subscriber, d.token FROM deliveries d
             JOIN subscribers s ON s.id = d.subscriber WHERE d.token != ''",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    for (id, token) in old.iter().chain(&journal) {
        register(tx, *id, token)?;
    }
    tx.execute_batch("ALTER TABLE subscribers RENAME COLUMN token TO link_nonce;")?;
    for (id, _) in &old {
        let nonce =
            new_token().map_err(|e| rusqlite::Error::ToSqlConversionFailure(Box::new(e)))?;
        tx.execute(
            "UPDATE subscribers SET link_nonce = ?2 WHERE id = ?1",
            params![id, nonce],
        )?;
    }
    tx.execute("UPDATE deliveries SET token = ''", [])?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::Via;
    use super::super::optin::{Requested, SignupRequest, Unsubscribed};
    use super::super::subscribers::Source;
    use super::super::{MIGRATIONS, Step, Store, is_token};
    use super::*;
    use crate::newsletter::store::tests::store;

    fn file_bytes(db: &Path) -> Vec<u8> {
        let mut all = std::fs::read(db).unwrap();
        let mut wal = db.as_os_str().to_os_string();
        wal.push("-wal");
        all.extend(std::fs::read(PathBuf::from(wal)).unwrap_or_default());
        all
    }

    fn queued(
        outcome: &super::super::optin::Signup,
    ) -> Result<super::super::outgoing::QueuedMail, OpError> {
        let (super::super::optin::Signup::Confirm { subscriber, .. }
        | super::super::optin::Signup::AlreadyActive { subscriber, .. }) = outcome;
        Ok(super::super::outgoing::QueuedMail {
            kind: "confirm",
            subscriber: Some(*subscriber),
            sender: "team@example.org".into(),
            recipient: "a@example.org".into(),
            message: b"Subject: x\r\n\r\nx\r\n".to_vec(),
            give_up_at: jiff::Timestamp::MAX,
        })
    }

    fn contains(hay: &[u8], needle: &str) -> bool {
        hay.windows(needle.len()).any(|w| w == needle.as_bytes())
    }

    #[test]
    fn the_database_holds_no_unsubscribe_token_only_its_hash() {
        let (_d, mut s) = store();
        s.add("leser@example.org", None, Source::Cli, "newsletter")
            .unwrap();
        s.start_campaign(1, "Ausgabe", "newsletter", false).unwrap();
        let [delivery] = s.pending(1).unwrap().try_into().unwrap();
        assert!(is_token(&delivery.token), "{}", delivery.token);
        let bytes = file_bytes(s.path());
        assert!(
            !contains(&bytes, &delivery.token),
            "a clear token in the database"
        );
        assert!(contains(&bytes, &token_hash(&delivery.token)));
        let (email, _) = s.by_unsubscribe_token(&delivery.token).unwrap().unwrap();
        assert_eq!(email, "leser@example.org");
        // The same token for every edition of one subscription.
        s.start_campaign(2, "Ausgabe 2", "newsletter", false)
            .unwrap();
        assert_eq!(s.pending(2).unwrap()[0].token, delivery.token);
    }

    #[test]
    fn the_key_lives_beside_the_database_readable_by_its_owner_only() {
        let (_d, s) = store();
        let key = key_path(s.path());
        assert!(
            key.to_string_lossy().ends_with("b.sqlite.key"),
            "{}",
            key.display()
        );
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(&key).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // Another process opening the same database derives the same tokens.
        let again = Store::open(s.path()).unwrap();
        assert_eq!(again.unsubscribe_token("n"), s.unsubscribe_token("n"));
    }

    #[test]
    fn a_new_subscription_gets_a_new_link_and_the_old_one_ends_nothing() {
        let (_d, mut s) = store();
        let t0: jiff::Timestamp = "2026-01-10T09:00:00Z".parse().unwrap();
        let request = SignupRequest {
            email: "a@example.org",
            name: None,
            lists: &[Requested {
                list: "newsletter",
                consent: "Ja.",
            }],
            now: t0,
            valid_for: jiff::SignedDuration::from_hours(48),
        };
        let confirm = |s: &mut Store| {
            let signup = s.signup(&request, queued).unwrap();
            let super::super::optin::Signup::Confirm { token, .. } = signup else {
                panic!("{signup:?}")
            };
            s.confirm(&token, t0).unwrap();
            let nonce = s.find("a@example.org").unwrap().unwrap().link_nonce;
            s.unsubscribe_token(&nonce)
        };
        let first = confirm(&mut s);
        assert!(matches!(
            s.unsubscribe(&first, None, Via::Link, t0).unwrap(),
            Unsubscribed::Now { .. }
        ));
        let second = confirm(&mut s);
        assert_ne!(first, second);
        assert_eq!(s.by_unsubscribe_token(&first).unwrap(), None);
        assert_eq!(
            s.unsubscribe(&first, None, Via::Link, t0).unwrap(),
            Unsubscribed::Unknown
        );
        assert!(s.by_unsubscribe_token(&second).unwrap().is_some());
    }

    #[test]
    fn losing_the_key_file_breaks_no_link_already_sent() {
        let (_d, mut s) = store();
        s.add("leser@example.org", None, Source::Cli, "newsletter")
            .unwrap();
        s.start_campaign(1, "Ausgabe", "newsletter", false).unwrap();
        let sent = s.pending(1).unwrap()[0].token.clone();
        std::fs::remove_file(key_path(s.path())).unwrap();
        let mut s = Store::open(s.path()).unwrap();
        let new = s.pending(1).unwrap()[0].token.clone();
        assert_ne!(sent, new, "a new key derives new tokens");
        assert!(
            s.by_unsubscribe_token(&sent).unwrap().is_some(),
            "the old mail's link"
        );
        assert!(
            s.by_unsubscribe_token(&new).unwrap().is_some(),
            "the next mail's link"
        );
    }

    #[test]
    fn tokens_stored_by_an_older_version_keep_unsubscribing() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v3.sqlite");
        let old_token = new_token().unwrap();
        {
            let mut conn = Connection::open(&path).unwrap();
            let tx = conn.transaction().unwrap();
            for step in &MIGRATIONS[..3] {
                match step {
                    Step::Sql(batch) => tx.execute_batch(batch).unwrap(),
                    Step::Code(run) => run(&tx).unwrap(),
                }
            }
            tx.execute_batch("PRAGMA user_version = 3").unwrap();
            tx.execute(
                "INSERT INTO meta (key, value) VALUES ('address_key', ?1)",
                [hex(&[7u8; 32])],
            )
            .unwrap();
            tx.execute(
                "INSERT INTO subscribers (email, email_key, name, token, added_at, status)
                 VALUES ('a@example.org', 'a@example.org', NULL, ?1, 'x', 'active')",
                [&old_token],
            )
            .unwrap();
            tx.execute_batch(&format!(
                "INSERT INTO campaigns (edition, subject, started_at) VALUES (1, 'B', 'x');
                 INSERT INTO deliveries (campaign, subscriber, email, token, state)
                 SELECT 1, id, email, '{old_token}', 'sent' FROM subscribers;"
            ))
            .unwrap();
            tx.commit().unwrap();
        }
        let mut s = Store::open(&path).unwrap();
        assert!(
            !contains(&file_bytes(&path), &old_token),
            "the clear token is gone"
        );
        let (email, _) = s.by_unsubscribe_token(&old_token).unwrap().unwrap();
        assert_eq!(
            email, "a@example.org",
            "the link in a mail already sent still works"
        );
        assert!(matches!(
            s.unsubscribe(&old_token, None, Via::OneClick, jiff::Timestamp::now())
                .unwrap(),
            Unsubscribed::Now { .. }
        ));
    }
}
