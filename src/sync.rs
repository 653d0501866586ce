//! Locks that stay locks when a thread panicked while holding one.
//!
//! `Mutex::lock` fails once another thread panicked with the guard held ("poisoned"). Code that
//! answers that with `if let Ok(..)` silently skips what the lock guards — a rate limit, a count,
//! a queue — exactly when something already went wrong. [`lock`] takes the guard anyway.

use std::sync::{Mutex, MutexGuard, PoisonError};

/// The guard of `mutex`, also when it is poisoned.
///
/// Safe for the data we guard with it: every critical section leaves the value whole at each
/// step (a queue pop, a counter increment, the next free moment of a rate limit), so a panic
/// inside one cannot leave it half-changed — poisoning carries no information there, and
/// going on with the value as it is is right. Do not use it for data whose invariants a
/// critical section breaks for a while and restores later.
pub fn lock<T: ?Sized>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_still_gives_its_value() {
        let m = Mutex::new(41);
        let _ = std::thread::scope(|s| {
            s.spawn(|| {
                let _guard = m.lock().unwrap();
                panic!("poison it");
            })
            .join()
        });
        assert!(m.is_poisoned());
        *lock(&m) += 1;
        assert_eq!(*lock(&m), 42);
    }
}
