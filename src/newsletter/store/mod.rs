//! The subscribers, their consent, and the send journal, in one SQLite file outside the published
//! site.
//!
//! Several processes share it: `newsletter send` (one connection per sending thread), the
//! subscription service (a few connections answering readers) and the `subscribers` commands.
//! WAL mode lets readers go on while one writes; every transaction that writes starts with
//! `BEGIN IMMEDIATE`, so it waits its turn (busy timeout) instead of failing half-way when another
//! process wrote in between; `synchronous=NORMAL` makes each commit survive a killed process.
//!
//! - [`bounces`]: bounces and complaints read from the sender's mailbox.
//! - [`journal`]: campaigns and deliveries, what makes `newsletter send` safe to run again.
//! - [`subscribers`]: adding, unsubscribing, forgetting, and the consent record.
//! - [`optin`]: sign-up with confirmation links and unsubscribing by link (the service).
//! - [`links`]: unsubscribe tokens, derived with a key kept beside the database and stored only
//!   as hashes.
//! - [`outgoing`]: the service's mails, queued in the same transaction as the sign-up.

pub mod bounces;
pub mod journal;
pub mod links;
pub mod optin;
pub mod outgoing;
pub mod subscribers;

use std::path::{Path, PathBuf};
use std::time::Duration;

use rusqlite::types::{FromSql, FromSqlError, FromSqlResult, ToSql, ToSqlOutput, ValueRef};
use rusqlite::{Connection, Transaction, TransactionBehavior, params};

use super::address::Email;
use crate::error::OpError;

pub use journal::{Audience, CampaignKey, Delivery, Status as CampaignStatus};
pub use subscribers::{Added, Consent, Membership, Subscriber};

/// Where the database lives unless `site.yaml` or `--db` say otherwise.
pub const DEFAULT_DB: &str = ".ozg-site/newsletter.sqlite";

/// One step of [`MIGRATIONS`]: SQL, or Rust where SQL cannot do it (Unicode normalisation).
enum Step {
    Sql(&'static str),
    Code(fn(&Transaction<'_>) -> rusqlite::Result<()>),
}

/// The schema, one step per version (`PRAGMA user_version`). Steps are never edited once
/// released: a database made by an older version runs the steps it lacks, in order.
const MIGRATIONS: [Step; 7] = [
    // 1: subscribers and the send journal.
    Step::Sql(
        "
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
    ",
    ),
    // 2: the subscription service: status and consent record per subscriber, confirmation
    // links, the queue of the service's mails, and the hashes of forgotten addresses.
    // Times compared in queries are integers (Unix milliseconds); times only shown are RFC 3339.
    Step::Sql(
        "
    ALTER TABLE subscribers ADD COLUMN status TEXT NOT NULL DEFAULT 'active'
        CHECK (status IN ('pending', 'active', 'unsubscribed'));
    ALTER TABLE subscribers ADD COLUMN source TEXT NOT NULL DEFAULT 'import'
        CHECK (source IN ('form', 'import', 'cli'));
    ALTER TABLE subscribers ADD COLUMN requested_at TEXT;
    ALTER TABLE subscribers ADD COLUMN confirmed_at TEXT;
    ALTER TABLE subscribers ADD COLUMN consent TEXT;
    ALTER TABLE subscribers ADD COLUMN unsubscribed_at TEXT;
    ALTER TABLE subscribers ADD COLUMN unsubscribed_via TEXT;
    UPDATE subscribers SET requested_at = added_at;
    CREATE INDEX subscribers_status ON subscribers (status);
    CREATE TABLE confirmations (
        token_hash TEXT PRIMARY KEY,
        subscriber INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        name TEXT,
        consent TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_ms INTEGER NOT NULL,
        used_ms INTEGER
    );
    CREATE INDEX confirmations_subscriber ON confirmations (subscriber);
    CREATE TABLE outgoing (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        subscriber INTEGER REFERENCES subscribers(id) ON DELETE CASCADE,
        sender TEXT NOT NULL,
        recipient TEXT NOT NULL,
        message BLOB NOT NULL,
        created_ms INTEGER NOT NULL,
        give_up_ms INTEGER NOT NULL,
        next_attempt_ms INTEGER NOT NULL,
        lease_ms INTEGER,
        attempts INTEGER NOT NULL DEFAULT 0,
        last_error TEXT
    );
    CREATE INDEX outgoing_due ON outgoing (next_attempt_ms);
    CREATE TABLE forgotten (
        address_hash TEXT PRIMARY KEY,
        forgotten_at TEXT NOT NULL
    );
    CREATE TABLE meta (
        key TEXT PRIMARY KEY,
        value TEXT NOT NULL
    );
    ",
    ),
    // 3: addresses in their one form (see `address`): older versions stored them as typed and
    // keyed them lower-cased, so `jörg@bücher.de` and `jörg@xn--bcher-kva.de` were two people.
    Step::Code(one_form_for_addresses),
    // 4: unsubscribe tokens only as hashes; `subscribers.token` becomes `link_nonce`, what the
    // tokens are derived from (see `links`).
    Step::Code(links::hash_stored_tokens),
    // 5: lists. Each subscriber belongs to lists, each membership with its own consent record
    // (the text, its version, when it was asked for and confirmed, by which confirmation link);
    // a confirmation link confirms the lists of its request; a campaign goes to one list.
    // Everybody who was subscribed or had left is a member of `newsletter` with the record they
    // had; a sign-up not confirmed yet has no membership, its open links ask for `newsletter`.
    Step::Sql(
        "
    CREATE TABLE memberships (
        subscriber INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        list TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('active', 'unsubscribed')),
        source TEXT NOT NULL CHECK (source IN ('form', 'import', 'cli')),
        requested_at TEXT NOT NULL,
        confirmed_at TEXT,
        consent TEXT,
        consent_version TEXT,
        request TEXT,
        unsubscribed_at TEXT,
        unsubscribed_via TEXT,
        PRIMARY KEY (subscriber, list)
    );
    CREATE INDEX memberships_list ON memberships (list, status);
    INSERT INTO memberships (subscriber, list, status, source, requested_at, confirmed_at, consent,
        unsubscribed_at, unsubscribed_via)
    SELECT id, 'newsletter', status, source, COALESCE(requested_at, added_at), confirmed_at, consent,
        unsubscribed_at, unsubscribed_via
    FROM subscribers WHERE status IN ('active', 'unsubscribed');
    CREATE TABLE requested_lists (
        token_hash TEXT NOT NULL REFERENCES confirmations(token_hash) ON DELETE CASCADE,
        list TEXT NOT NULL,
        consent TEXT NOT NULL,
        PRIMARY KEY (token_hash, list)
    );
    INSERT INTO requested_lists (token_hash, list, consent)
    SELECT token_hash, 'newsletter', consent FROM confirmations;
    ALTER TABLE campaigns ADD COLUMN list TEXT NOT NULL DEFAULT 'newsletter';
    ",
    ),
    // 6: bounces and complaints (see `bounces`): one row per failed recipient of a report, the
    // reports already read (so a second run counts nothing twice), and when an address stopped
    // receiving because of them.
    Step::Sql(
        "
    CREATE TABLE bounces (
        id INTEGER PRIMARY KEY,
        subscriber INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        campaign INTEGER REFERENCES campaigns(id),
        kind TEXT NOT NULL CHECK (kind IN ('hard', 'soft', 'complaint')),
        status TEXT,
        diagnostic TEXT,
        received_at TEXT NOT NULL
    );
    CREATE INDEX bounces_subscriber ON bounces (subscriber);
    CREATE INDEX bounces_campaign ON bounces (campaign);
    CREATE TABLE bounce_reports (
        hash TEXT PRIMARY KEY,
        read_at TEXT NOT NULL
    );
    ALTER TABLE subscribers ADD COLUMN bounced_at TEXT;
    ALTER TABLE subscribers ADD COLUMN bounce_reason TEXT;
    ",
    ),
    // 7: a campaign is an edition or one version (`sequence`) of a Sprechstunde's invitation,
    // the event's calendar `UID` with the facts it carried (see `invitation`). `edition` was
    // NOT NULL, which SQLite cannot relax in place: the table is made anew, and so are the two
    // tables that point at it (with foreign keys on, a parent may go only once nothing points
    // at it; renaming the new tables rewrites their references).
    Step::Sql(
        "
    CREATE TABLE campaigns_v7 (
        id INTEGER PRIMARY KEY,
        edition INTEGER UNIQUE,
        invitation TEXT,
        sequence INTEGER,
        facts TEXT,
        subject TEXT NOT NULL,
        started_at TEXT NOT NULL,
        finished_at TEXT,
        list TEXT NOT NULL DEFAULT 'newsletter',
        CHECK ((edition IS NULL) <> (invitation IS NULL)),
        CHECK ((invitation IS NULL) = (sequence IS NULL) AND (invitation IS NULL) = (facts IS NULL)),
        UNIQUE (invitation, sequence)
    );
    INSERT INTO campaigns_v7 (id, edition, subject, started_at, finished_at, list)
    SELECT id, edition, subject, started_at, finished_at, list FROM campaigns;
    CREATE TABLE deliveries_v7 (
        campaign INTEGER NOT NULL REFERENCES campaigns_v7(id),
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
    INSERT INTO deliveries_v7 (campaign, subscriber, email, name, token, state, attempts,
        last_reply, sent_at)
    SELECT campaign, subscriber, email, name, token, state, attempts, last_reply, sent_at
    FROM deliveries;
    CREATE TABLE bounces_v7 (
        id INTEGER PRIMARY KEY,
        subscriber INTEGER NOT NULL REFERENCES subscribers(id) ON DELETE CASCADE,
        campaign INTEGER REFERENCES campaigns_v7(id),
        kind TEXT NOT NULL CHECK (kind IN ('hard', 'soft', 'complaint')),
        status TEXT,
        diagnostic TEXT,
        received_at TEXT NOT NULL
    );
    INSERT INTO bounces_v7 (id, subscriber, campaign, kind, status, diagnostic, received_at)
    SELECT id, subscriber, campaign, kind, status, diagnostic, received_at FROM bounces;
    DROP TABLE deliveries;
    DROP TABLE bounces;
    DROP TABLE campaigns;
    ALTER TABLE campaigns_v7 RENAME TO campaigns;
    ALTER TABLE deliveries_v7 RENAME TO deliveries;
    ALTER TABLE bounces_v7 RENAME TO bounces;
    CREATE INDEX deliveries_state ON deliveries (campaign, state);
    CREATE INDEX bounces_subscriber ON bounces (subscriber);
    CREATE INDEX bounces_campaign ON bounces (campaign);
    CREATE INDEX campaigns_invitation ON campaigns (invitation, sequence);
    ",
    ),
];

/// The list every site has: the only one of a site without `lists:`, the one editions, `add` and
/// `import` go to unless told otherwise, and the one databases older than lists migrate into
/// (migration 5 writes its id).
pub use crate::config::DEFAULT_LIST;

/// The version of a consent text as recorded with a membership: the first 16 hex digits of its
/// SHA-256, so the record shows which wording was agreed to even after `site.yaml` changed it.
pub fn consent_version(text: &str) -> String {
    let mut v = hex(ring::digest::digest(&ring::digest::SHA256, text.as_bytes()).as_ref());
    v.truncate(16);
    v
}

/// Migration 3: every stored address that parses gets its one form and key
/// ([`Email::parse`]); addresses that do not parse stay as they are (sending marks them failed,
/// with the reason). Where two rows turn out to be one address, the row that says most about
/// consent stays — unsubscribed before active before pending, so an opt-out always wins — and
/// the others go, with their pending deliveries; what was sent to them stays in the journal.
fn one_form_for_addresses(tx: &Transaction<'_>) -> rusqlite::Result<()> {
    let rows: Vec<(i64, String, String, String)> = {
        let mut stmt = tx.prepare(
            "SELECT id, email, email_key, status FROM subscribers
             ORDER BY CASE status WHEN 'unsubscribed' THEN 0 WHEN 'active' THEN 1 ELSE 2 END, id",
        )?;
        let rows = stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)))?;
        rows.collect::<rusqlite::Result<_>>()?
    };
    let mut kept = std::collections::HashSet::new();
    let mut moves = Vec::new();
    for (id, email, key, _) in rows {
        let (email, key) = match Email::parse(&email) {
            Ok(e) => (e.as_str().to_string(), e.key()),
            Err(_) => (email, key),
        };
        if kept.insert(key.clone()) {
            moves.push((id, Some((email, key))));
        } else {
            moves.push((id, None));
        }
    }
    // Keys first move out of the way, so no row takes a key another still holds.
    tx.execute(
        "UPDATE subscribers SET email_key = '\u{1}' || id || '\u{1}' || email_key",
        [],
    )?;
    for (id, new) in moves {
        match new {
            Some((email, key)) => {
                tx.execute(
                    "UPDATE subscribers SET email = ?2, email_key = ?3 WHERE id = ?1",
                    params![id, email, key],
                )?;
                tx.execute(
                    "UPDATE deliveries SET email = ?2 WHERE subscriber = ?1",
                    params![id, email],
                )?;
            }
            None => {
                tx.execute(
                    "DELETE FROM deliveries WHERE subscriber = ?1 AND state = 'pending'",
                    [id],
                )?;
                tx.execute("DELETE FROM subscribers WHERE id = ?1", [id])?;
            }
        }
    }
    Ok(())
}

/// Where a subscriber stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubscriberStatus {
    /// Signed up through the form, not confirmed yet: receives nothing.
    Pending,
    /// Receives every edition.
    Active,
    /// Unsubscribed; kept with the consent record, receives nothing.
    Unsubscribed,
}

impl SubscriberStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            SubscriberStatus::Pending => "pending",
            SubscriberStatus::Active => "active",
            SubscriberStatus::Unsubscribed => "unsubscribed",
        }
    }

    pub fn parse(s: &str) -> Option<SubscriberStatus> {
        match s {
            "pending" => Some(SubscriberStatus::Pending),
            "active" => Some(SubscriberStatus::Active),
            "unsubscribed" => Some(SubscriberStatus::Unsubscribed),
            _ => None,
        }
    }
}

impl FromSql for SubscriberStatus {
    fn column_result(value: ValueRef<'_>) -> FromSqlResult<Self> {
        SubscriberStatus::parse(value.as_str()?).ok_or(FromSqlError::InvalidType)
    }
}

impl ToSql for SubscriberStatus {
    fn to_sql(&self) -> rusqlite::Result<ToSqlOutput<'_>> {
        Ok(ToSqlOutput::from(self.as_str()))
    }
}

pub struct Store {
    conn: Connection,
    path: PathBuf,
    /// The key of [`Store::address_hash`], made once per database.
    address_key: ring::hmac::Key,
    /// The key unsubscribe tokens are derived with, from its own file ([`links::key_path`]).
    link_key: links::LinkKey,
}

fn db_error(path: &Path, e: impl Into<crate::error::Cause>) -> OpError {
    OpError::store(path, e)
}

impl Store {
    /// Opens (creating or upgrading if needed) the database at `path`.
    pub fn open(path: &Path) -> Result<Store, OpError> {
        if let Some(dir) = path.parent()
            && !dir.as_os_str().is_empty()
        {
            std::fs::create_dir_all(dir).map_err(|e| db_error(path, e))?;
        }
        let mut conn = Connection::open(path).map_err(|e| db_error(path, e))?;
        conn.busy_timeout(Duration::from_secs(30))
            .map_err(|e| db_error(path, e))?;
        // secure_delete: deleted rows are overwritten, not left in free space — queued mails
        // hold live links, and a forgotten address must be gone from the file.
        // journal_size_limit: while writers follow each other without a pause no checkpoint can
        // finish, and the WAL grows (some 60 KB per sign-up with its mail; the service's ceiling
        // of mails per hour bounds a burst at about 30 MB). Afterwards it shrinks back to at
        // most 64 MiB once a checkpoint got through, instead of keeping its largest size.
        conn.execute_batch(
            "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = ON;
             PRAGMA secure_delete = ON; PRAGMA journal_size_limit = 67108864;",
        )
        .map_err(|e| db_error(path, e))?;
        migrate(&mut conn).map_err(|e| db_error(path, e))?;
        let key_hex: String = conn
            .query_row(
                "SELECT value FROM meta WHERE key = 'address_key'",
                [],
                |r| r.get(0),
            )
            .map_err(|e| db_error(path, e))?;
        let key_bytes =
            hex_decode(&key_hex).ok_or_else(|| db_error(path, "damaged address key"))?;
        let link_key = links::LinkKey::load_or_create(path)?;
        Ok(Store {
            conn,
            path: path.to_path_buf(),
            address_key: ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key_bytes),
            link_key,
        })
    }

    /// Another connection to the same file, for a sending thread.
    pub fn reopen(&self) -> Result<Store, OpError> {
        Store::open(&self.path)
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    fn err(&self, e: impl Into<crate::error::Cause>) -> OpError {
        db_error(&self.path, e)
    }

    /// A transaction that holds the write lock from its first statement: it waits for other
    /// writers (busy timeout) rather than failing when it would write after reading stale data.
    fn write(&mut self) -> Result<Transaction<'_>, OpError> {
        let path = self.path.clone();
        self.conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(|e| db_error(&path, e))
    }

    /// A keyed hash of an address (HMAC-SHA-256 with this database's own key, hex): the same for
    /// every spelling of the address, unlike a plain hash not reversible by trying common
    /// addresses without the database. Kept for forgotten addresses; shortened, used in logs.
    pub fn address_hash(&self, email: &str) -> String {
        hash_address(&self.address_key, email)
    }

    /// The hashes under which the address may have been forgotten: [`Store::address_hash`], and
    /// those of the keys older versions made of other spellings ([`Email::legacy_keys`]).
    fn forgotten_hashes(&self, email: &str) -> Vec<String> {
        match Email::parse(email) {
            Ok(e) => e
                .legacy_keys()
                .iter()
                .map(|k| hash_key(&self.address_key, k))
                .collect(),
            Err(_) => vec![self.address_hash(email)],
        }
    }

    /// The unsubscribe token of `subscriber`, registered (if it was not) so that it works.
    pub fn register_unsubscribe_link(
        &mut self,
        subscriber: &Subscriber,
    ) -> Result<String, OpError> {
        let token = self.unsubscribe_token(&subscriber.link_nonce);
        links::register(&self.conn, subscriber.id, &token).map_err(|e| self.err(e))?;
        Ok(token)
    }

    /// The unsubscribe token of the subscription with `link_nonce` ([`Subscriber::link_nonce`]),
    /// derived again; the database holds only its hash (see [`links`]).
    pub fn unsubscribe_token(&self, link_nonce: &str) -> String {
        self.link_key.token(link_nonce)
    }

    /// [`Store::address_hash`] without the database, for a process's log lines.
    pub fn hasher(&self) -> AddressHasher {
        AddressHasher(self.address_key.clone())
    }
}

/// Hashes addresses (and other personal values, such as client addresses) with a database's key.
#[derive(Clone)]
pub struct AddressHasher(ring::hmac::Key);

impl AddressHasher {
    /// The first 12 hex digits of the keyed hash: enough to follow one address through a log.
    pub fn short(&self, value: &str) -> String {
        let mut h = hash_address(&self.0, value);
        h.truncate(12);
        h
    }
}

fn hash_address(key: &ring::hmac::Key, email: &str) -> String {
    hash_key(key, &address_key(email))
}

fn hash_key(key: &ring::hmac::Key, address_key: &str) -> String {
    hex(ring::hmac::sign(key, address_key.as_bytes()).as_ref())
}

/// The form of an address that decides whether two are the same subscriber: the key of its one
/// form ([`Email::key`]), so every spelling of an address is one subscriber and one hash.
/// Something that is no address keeps its trimmed, lower-cased self.
pub fn address_key(email: &str) -> String {
    super::address::address_key(email)
}

fn migrate(conn: &mut Connection) -> Result<(), String> {
    let current = |c: &Connection| {
        c.query_row("PRAGMA user_version", [], |r| r.get::<_, i64>(0))
            .map_err(|e| e.to_string())
    };
    let latest = MIGRATIONS.len() as i64;
    if current(conn)? == latest {
        return Ok(());
    }
    // Several processes may open a new database at once: the first one upgrades it, the others
    // wait for the lock and then find nothing left to do.
    let sql = |e: rusqlite::Error| e.to_string();
    let tx = conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql)?;
    let version = current(&tx)?;
    if version > latest {
        return Err(format!(
            "it was made by a newer ozg-site (schema {version}, this one knows {latest}); update ozg-site"
        ));
    }
    for step in MIGRATIONS.iter().skip(version.max(0) as usize) {
        match step {
            Step::Sql(batch) => tx.execute_batch(batch),
            Step::Code(run) => run(&tx),
        }
        .map_err(sql)?;
    }
    let key = random_hex(32).map_err(|e| e.to_string())?;
    tx.execute(
        "INSERT OR IGNORE INTO meta (key, value) VALUES ('address_key', ?1)",
        [key],
    )
    .map_err(sql)?;
    tx.execute_batch(&format!("PRAGMA user_version = {latest}"))
        .map_err(sql)?;
    tx.commit().map_err(sql)?;
    // Until a checkpoint the database file keeps the pages as they were before (with the clear
    // tokens migration 4 removes): copy the new ones over them now.
    conn.query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()))
        .map_err(sql)
}

/// `bytes` random bytes from the operating system, as hex digits.
fn random_hex(bytes: usize) -> Result<String, OpError> {
    let mut buf = vec![0u8; bytes];
    getrandom::fill(&mut buf)
        .map_err(|e| OpError::system("get random numbers from the system", e.to_string()))?;
    Ok(hex(&buf))
}

/// 128 random bits as 32 hex digits: unguessable, URL-safe. Unsubscribe and confirmation links.
pub fn new_token() -> Result<String, OpError> {
    random_hex(16)
}

/// Whether `s` looks like a token of [`new_token`] (before any database lookup).
pub fn is_token(s: &str) -> bool {
    s.len() == 32 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// Confirmation links are kept only as this hash: whoever reads the database cannot confirm
/// sign-ups with it.
fn token_hash(token: &str) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, token.as_bytes()).as_ref())
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}

fn hex_decode(s: &str) -> Option<Vec<u8>> {
    (s.len().is_multiple_of(2))
        .then(|| {
            (0..s.len())
                .step_by(2)
                .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
                .collect()
        })
        .flatten()
}

/// A moment as shown in the consent record: RFC 3339 in UTC, to the second.
fn shown(at: jiff::Timestamp) -> String {
    at.round(jiff::Unit::Second).unwrap_or(at).to_string()
}

/// `at` moved by `by`, stopping at the ends of time rather than failing.
pub fn plus(at: jiff::Timestamp, by: jiff::SignedDuration) -> jiff::Timestamp {
    at.checked_add(by).unwrap_or(if by.is_negative() {
        jiff::Timestamp::MIN
    } else {
        jiff::Timestamp::MAX
    })
}

fn millis(at: jiff::Timestamp) -> i64 {
    at.as_millisecond()
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

/// Ends memberships inside `tx`: the one of `list`, or with `None` every one, and the
/// subscription as a whole. No pending delivery of a campaign to an ended list stays, and no open
/// confirmation link asking for it could bring it back unnoticed. The subscriber's own status
/// follows ([`sync_status`]): unsubscribed once no list is left.
pub(super) fn end_subscription(
    tx: &Transaction<'_>,
    id: i64,
    list: Option<&str>,
    via: Via,
    now: jiff::Timestamp,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE memberships SET status = 'unsubscribed', unsubscribed_at = ?3,
         unsubscribed_via = ?4 WHERE subscriber = ?1 AND status = 'active'
         AND (?2 IS NULL OR list = ?2)",
        params![id, list, shown(now), via.as_str()],
    )?;
    tx.execute(
        "DELETE FROM deliveries WHERE subscriber = ?1 AND state = 'pending'
         AND campaign IN (SELECT id FROM campaigns WHERE ?2 IS NULL OR list = ?2)",
        params![id, list],
    )?;
    tx.execute(
        "UPDATE confirmations SET used_ms = ?3 WHERE subscriber = ?1 AND used_ms IS NULL
         AND (?2 IS NULL OR token_hash IN (SELECT token_hash FROM requested_lists WHERE list = ?2))",
        params![id, list, millis(now)],
    )?;
    if list.is_none() {
        tx.execute(
            "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = ?2,
             unsubscribed_via = ?3 WHERE id = ?1",
            params![id, shown(now), via.as_str()],
        )?;
        return Ok(());
    }
    sync_status(tx, id, via, now)
}

/// The subscriber's own status from their memberships: active while one list is, unsubscribed
/// (with when and how) once an active subscriber has no list left. A sign-up not confirmed yet
/// has no membership and stays pending.
pub(super) fn sync_status(
    tx: &Transaction<'_>,
    id: i64,
    via: Via,
    now: jiff::Timestamp,
) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE subscribers SET status = 'active', unsubscribed_at = NULL, unsubscribed_via = NULL
         WHERE id = ?1 AND status != 'active'
         AND EXISTS (SELECT 1 FROM memberships WHERE subscriber = ?1 AND status = 'active')",
        [id],
    )?;
    tx.execute(
        "UPDATE subscribers SET status = 'unsubscribed', unsubscribed_at = ?2,
         unsubscribed_via = ?3 WHERE id = ?1 AND status = 'active'
         AND NOT EXISTS (SELECT 1 FROM memberships WHERE subscriber = ?1 AND status = 'active')",
        params![id, shown(now), via.as_str()],
    )?;
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("a/b.sqlite")).unwrap();
        (dir, s)
    }

    #[test]
    fn a_database_of_the_first_version_is_upgraded_and_keeps_its_subscribers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("old.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            let Step::Sql(first) = MIGRATIONS[0] else {
                unreachable!()
            };
            conn.execute_batch(first).unwrap();
            conn.execute(
                "INSERT INTO subscribers (email, email_key, name, token, added_at)
                 VALUES ('Anna@example.org', 'anna@example.org', 'Anna', ?1, '2025-01-02T03:04:05Z')",
                [new_token().unwrap()],
            )
            .unwrap();
        }
        let s = Store::open(&path).unwrap();
        let list = s.list().unwrap();
        assert_eq!(list.len(), 1);
        assert_eq!(list[0].status, SubscriberStatus::Active);
        assert_eq!(list[0].consent.requested_at, "2025-01-02T03:04:05Z");
        assert_eq!(
            list[0].consent.source,
            subscribers::Source::Import,
            "newsletter"
        );
        // Opening again changes nothing, and the address key stays the same.
        let hash = s.address_hash("anna@example.org");
        drop(s);
        let s = Store::open(&path).unwrap();
        assert_eq!(s.address_hash(" ANNA@example.org"), hash);
        assert_eq!(hash.len(), 64);
    }

    #[test]
    fn addresses_stored_by_an_older_version_get_their_one_form_and_an_opt_out_wins() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v2.sqlite");
        {
            let conn = Connection::open(&path).unwrap();
            for step in &MIGRATIONS[..2] {
                let Step::Sql(batch) = step else {
                    unreachable!()
                };
                conn.execute_batch(batch).unwrap();
            }
            conn.execute_batch("PRAGMA user_version = 2").unwrap();
            // Keyed as older versions did: lower-cased as typed. Rows 1 and 2 are one address.
            for (email, status) in [
                ("Jörg@Bücher.de", "active"),
                ("jo\u{308}rg@xn--bcher-kva.de", "unsubscribed"),
                ("kaputt\r\n@example.org", "active"),
                ("anna@example.org", "active"),
            ] {
                conn.execute(
                    "INSERT INTO subscribers (email, email_key, name, token, added_at, status)
                     VALUES (?1, ?2, NULL, ?3, '2025-01-02T03:04:05Z', ?4)",
                    params![
                        email,
                        email.trim().to_lowercase(),
                        new_token().unwrap(),
                        status
                    ],
                )
                .unwrap();
            }
            conn.execute_batch(
                "INSERT INTO campaigns (edition, subject, started_at) VALUES (1, 'B', 'x');
                 INSERT INTO deliveries (campaign, subscriber, email, token, state)
                 SELECT 1, id, email, token, 'pending' FROM subscribers WHERE status = 'active';",
            )
            .unwrap();
        }
        let mut s = Store::open(&path).unwrap();
        let list = s.list().unwrap();
        let emails: Vec<_> = list.iter().map(|x| (x.email.as_str(), x.status)).collect();
        assert_eq!(
            emails,
            vec![
                ("anna@example.org", SubscriberStatus::Active),
                ("jörg@xn--bcher-kva.de", SubscriberStatus::Unsubscribed),
                ("kaputt\r\n@example.org", SubscriberStatus::Active),
            ]
        );
        for spelling in ["JÖRG@bücher.de", "jo\u{308}rg@bu\u{308}cher.de"] {
            assert_eq!(
                s.find(spelling).unwrap().unwrap().status,
                SubscriberStatus::Unsubscribed
            );
        }
        // The duplicate's pending mail is gone; the others' stay, in their new form.
        let pending: Vec<_> = s.pending(1).unwrap().into_iter().map(|d| d.email).collect();
        assert_eq!(pending, vec!["kaputt\r\n@example.org", "anna@example.org"]);
    }

    /// A database as the version before lists made it (schema 4), with a subscriber, one who
    /// left, an open sign-up and a campaign half sent.
    fn database_of_schema_4(path: &Path) {
        let mut conn = Connection::open(path).unwrap();
        let tx = conn.transaction().unwrap();
        for step in &MIGRATIONS[..4] {
            match step {
                Step::Sql(batch) => tx.execute_batch(batch).unwrap(),
                Step::Code(run) => run(&tx).unwrap(),
            }
        }
        tx.execute_batch(
            "PRAGMA user_version = 4;
             INSERT INTO meta (key, value) VALUES ('address_key', '00112233445566778899aabbccddeeff');
             INSERT INTO subscribers (id, email, email_key, name, link_nonce, added_at, status,
                 source, requested_at, confirmed_at, consent)
             VALUES (1, 'anna@example.org', 'anna@example.org', 'Anna', 'n1',
                 '2025-03-01T08:00:00Z', 'active', 'form', '2025-03-01T08:00:00Z',
                 '2025-03-01T08:05:00Z', 'Ich möchte den Newsletter.');
             INSERT INTO subscribers (id, email, email_key, name, link_nonce, added_at, status,
                 source, requested_at, unsubscribed_at, unsubscribed_via)
             VALUES (2, 'bernd@example.org', 'bernd@example.org', NULL, 'n2',
                 '2025-01-01T00:00:00Z', 'unsubscribed', 'import', '2025-01-01T00:00:00Z',
                 '2025-06-01T10:00:00Z', 'one-click');
             INSERT INTO subscribers (id, email, email_key, name, link_nonce, added_at, status,
                 source, requested_at)
             VALUES (3, 'clara@example.org', 'clara@example.org', NULL, 'n3',
                 '2025-07-01T00:00:00Z', 'pending', 'form', '2025-07-01T00:00:00Z');
             INSERT INTO confirmations (token_hash, subscriber, name, consent, created_at,
                 expires_ms) VALUES ('h3', 3, 'Clara', 'Ich möchte den Newsletter.',
                 '2025-07-01T00:00:00Z', 99999999999999);
             INSERT INTO campaigns (id, edition, subject, started_at) VALUES (1, 4, 'Ausgabe 4', 'x');
             INSERT INTO deliveries (campaign, subscriber, email, name, token, state, sent_at)
             VALUES (1, 1, 'anna@example.org', 'Anna', '', 'sent', '2025-04-01T09:00:00Z');",
        )
        .unwrap();
        tx.commit().unwrap();
    }

    #[test]
    fn a_database_from_before_lists_keeps_everybody_in_the_newsletter_list_with_their_consent() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("v4.sqlite");
        database_of_schema_4(&path);
        let mut s = Store::open(&path).unwrap();
        let people = s.list().unwrap();
        assert_eq!(people.len(), 3, "nobody is lost");
        let anna = &people[0];
        assert_eq!(anna.email, "anna@example.org");
        assert_eq!(anna.status, SubscriberStatus::Active);
        assert_eq!(anna.lists.len(), 1);
        let m = &anna.lists[0];
        assert_eq!(m.list, DEFAULT_LIST);
        assert_eq!(m.status, SubscriberStatus::Active);
        assert_eq!(m.consent, anna.consent, "the record moves over unchanged");
        assert_eq!(
            m.consent.statement.as_deref(),
            Some("Ich möchte den Newsletter.")
        );
        assert_eq!(
            m.consent.confirmed_at.as_deref(),
            Some("2025-03-01T08:05:00Z")
        );
        let bernd = &people[1];
        assert_eq!(bernd.lists[0].status, SubscriberStatus::Unsubscribed);
        assert_eq!(
            bernd.lists[0].consent.unsubscribed_via.as_deref(),
            Some("one-click")
        );
        // The open sign-up is no member yet; its link asks for the newsletter.
        let clara = &people[2];
        assert_eq!(clara.status, SubscriberStatus::Pending);
        assert!(clara.lists.is_empty());
        let asked: String = s
            .conn
            .query_row(
                "SELECT list FROM requested_lists WHERE token_hash = 'h3'",
                [],
                |r| r.get(0),
            )
            .unwrap();
        assert_eq!(asked, DEFAULT_LIST);
        // The journal and the campaign's list survive; the subscriber count is the same.
        assert_eq!(s.deliveries_of(1).unwrap().len(), 1);
        assert_eq!(s.count(Some(DEFAULT_LIST)).unwrap(), 1);
        assert_eq!(s.count(None).unwrap(), 1);
        assert_eq!(
            s.start_campaign(4, "Ausgabe 4", DEFAULT_LIST, true)
                .unwrap(),
            0
        );
        // Opening again changes nothing.
        drop(s);
        let s = Store::open(&path).unwrap();
        assert_eq!(s.list().unwrap(), people);
    }

    #[test]
    fn a_database_of_a_newer_version_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("new.sqlite");
        Connection::open(&path)
            .unwrap()
            .execute_batch("PRAGMA user_version = 99")
            .unwrap();
        let e = Store::open(&path).err().unwrap();
        assert!(e.to_string().contains("newer ozg-site"), "{e}");
    }

    #[test]
    fn tokens_and_hashes() {
        let t = new_token().unwrap();
        assert!(is_token(&t));
        assert!(!is_token(&t.to_uppercase()));
        assert!(!is_token(&t[..31]));
        assert_eq!(token_hash(&t), token_hash(&t));
        assert_ne!(token_hash(&t), t);
        assert_eq!(hex_decode("00ff10"), Some(vec![0, 255, 16]));
        assert_eq!(hex_decode("0"), None);
    }
}
