//! Sends the queued mails ([`crate::newsletter::store::outgoing`]): threads that lease due mails,
//! hand them to the mail server, and delete them once accepted. Woken when a sign-up queues a
//! mail; otherwise they look again when the next retry is due.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use jiff::{SignedDuration, Timestamp};
use lettre::address::Envelope;

use super::log;
use crate::newsletter::outlet::{Outlet, Refusal};
use crate::newsletter::store::outgoing::DueMail;
use crate::newsletter::store::{AddressHasher, Store, plus};
use crate::sync::{self, lock};

/// Longer than one send can take (the SMTP timeout is a minute): a lease that runs out means
/// its worker died.
const LEASE: SignedDuration = SignedDuration::from_secs(5 * 60);
/// The longest pause between attempts, and between looks at the queue when idle.
const MAX_PAUSE: Duration = Duration::from_secs(3600);
const BATCH: usize = 20;

/// Wakes the workers: a counter they wait on.
#[derive(Default)]
pub struct Wake {
    round: Mutex<u64>,
    bell: Condvar,
    stop: AtomicBool,
}

impl Wake {
    pub fn ring(&self) {
        *lock(&self.round) += 1;
        self.bell.notify_all();
    }

    pub fn stop(&self) {
        self.stop.store(true, Ordering::SeqCst);
        self.ring();
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Waits until rung (after `seen`) or `timeout`; returns the round now.
    fn wait(&self, seen: u64, timeout: Duration) -> u64 {
        // Returning at once on a poisoned lock, as before, let the workers spin without a pause.
        let guard = lock(&self.round);
        let (round, _) = sync::wait_timeout_while(&self.bell, guard, timeout, |r| {
            *r == seen && !self.stopped()
        });
        *round
    }

    fn round(&self) -> u64 {
        *lock(&self.round)
    }
}

/// What the workers share.
pub struct Sender {
    pub outlet: Outlet,
    pub wake: Arc<Wake>,
    pub hasher: AddressHasher,
    /// The first pause after a temporary refusal; it doubles each time.
    pub first_retry: Duration,
}

impl Sender {
    /// One worker's loop, on its own connection to the database, until [`Wake::stop`].
    pub fn run(&self, mut store: Store) {
        let mut seen = self.wake.round();
        while !self.wake.stopped() {
            let now = Timestamp::now();
            let due = match store.claim_due(now, LEASE, BATCH) {
                Ok(due) => due,
                Err(e) => {
                    log(&format!("mail queue: {e}"));
                    Vec::new()
                }
            };
            if due.is_empty() {
                let pause = match store.next_due() {
                    Ok(Some(at)) => at
                        .duration_since(Timestamp::now())
                        .unsigned_abs()
                        .min(MAX_PAUSE)
                        .max(Duration::from_millis(10)),
                    Ok(None) => MAX_PAUSE,
                    Err(_) => Duration::from_secs(5),
                };
                seen = self.wake.wait(seen, pause);
                continue;
            }
            for mail in due {
                if self.wake.stopped() {
                    break; // the lease runs out; the next start sends it
                }
                self.deliver(&store, &mail);
            }
        }
    }

    fn deliver(&self, store: &Store, mail: &DueMail) {
        let who = self.hasher.short(&mail.recipient);
        let now = Timestamp::now();
        if now > mail.give_up_at {
            log(&format!(
                "{} mail to address {who} given up after {} attempts: its link has expired",
                mail.kind, mail.attempts
            ));
            self.done(store, mail);
            return;
        }
        let envelope = match (mail.sender.parse(), mail.recipient.parse()) {
            (Ok(from), Ok(to)) => Envelope::new(Some(from), vec![to]),
            _ => Err(lettre::error::Error::MissingTo),
        };
        let result = match envelope {
            Ok(envelope) => {
                self.outlet
                    .send_raw(&envelope, &mail.message, &format!("anmeldung-{}", mail.id))
            }
            Err(e) => Err(Refusal::Permanent(format!("no valid envelope: {e}"))),
        };
        match result {
            Ok(()) => self.done(store, mail),
            Err(Refusal::Permanent(reply)) => {
                log(&format!(
                    "{} mail to address {who} refused for good: {}",
                    mail.kind,
                    scrub(&reply)
                ));
                self.done(store, mail);
            }
            Err(Refusal::Temporary(reply)) => {
                let factor = 1u32 << mail.attempts.min(16);
                // `retry_delay_ms` is the operator's: a huge one must not overflow into a panic
                // that would end this worker.
                let pause = self
                    .first_retry
                    .checked_mul(factor)
                    .unwrap_or(MAX_PAUSE)
                    .min(MAX_PAUSE);
                let next = plus(now, SignedDuration::try_from(pause).unwrap_or(LEASE));
                log(&format!(
                    "{} mail to address {who} not accepted yet (attempt {}), again in {} s: {}",
                    mail.kind,
                    mail.attempts + 1,
                    pause.as_secs(),
                    scrub(&reply)
                ));
                if let Err(e) = store.mail_later(mail.id, next, &scrub(&reply)) {
                    log(&format!("mail queue: {e}"));
                }
            }
        }
    }

    fn done(&self, store: &Store, mail: &DueMail) {
        if let Err(e) = store.mail_done(mail.id) {
            log(&format!("mail queue: {e}"));
        }
    }
}

/// A mail server's reply without the addresses it may quote: logs keep no subscriber data.
pub fn scrub(reply: &str) -> String {
    reply
        .split_inclusive(|c: char| c.is_whitespace() || c == '<' || c == '>')
        .map(|word| {
            let bare = word.trim_end_matches(|c: char| c.is_whitespace() || c == '<' || c == '>');
            if bare.contains('@') {
                word.replacen(bare, "[address]", 1)
            } else {
                word.to_string()
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_lose_their_addresses() {
        assert_eq!(
            scrub("550 5.1.1 <erika@example.org>: Recipient address rejected"),
            "550 5.1.1 <[address]>: Recipient address rejected"
        );
        assert_eq!(scrub("451 4.7.1 try later"), "451 4.7.1 try later");
    }

    #[test]
    fn a_poisoned_bell_still_counts_rounds_and_waits_for_them() {
        let wake = Arc::new(Wake::default());
        crate::sync::poison(&wake.round);
        wake.ring();
        let seen = wake.round();
        assert_eq!(seen, 1);
        let w = wake.clone();
        let t = std::thread::spawn(move || w.wait(seen, Duration::from_secs(30)));
        wake.ring();
        assert_eq!(t.join().unwrap(), seen + 1);
    }

    #[test]
    fn a_rung_bell_wakes_and_stop_ends_waiting() {
        let wake = Arc::new(Wake::default());
        let seen = wake.round();
        let w = wake.clone();
        let t = std::thread::spawn(move || w.wait(seen, Duration::from_secs(30)));
        std::thread::sleep(Duration::from_millis(20));
        wake.ring();
        assert_eq!(t.join().unwrap(), seen + 1);
        wake.stop();
        assert_eq!(
            wake.wait(wake.round(), Duration::from_secs(30)),
            wake.round()
        );
    }
}
