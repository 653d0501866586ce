//! Locks that stay locks when a thread panicked while holding one.
//!
//! `Mutex::lock` fails once another thread panicked with the guard held ("poisoned"). Code that
//! answers that with `if let Ok(..)` silently skips what the lock guards — a rate limit, a count,
//! a queue — exactly when something already went wrong. [`lock`] takes the guard anyway, as do
//! [`into_inner`] for the value of a mutex no longer shared, [`read`] and [`write`] for an
//! `RwLock` and [`wait_timeout_while`] for a `Condvar`.
//!
//! Every `std::sync` lock in the crate is taken through these; where a caller means to skip work
//! when another thread failed, it says so next to the call.

use std::sync::{
    Condvar, Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard,
};
use std::time::Duration;

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

/// The value of `mutex`, also when it is poisoned (`unwrap_or_default` would drop it whole).
pub fn into_inner<T>(mutex: Mutex<T>) -> T {
    mutex.into_inner().unwrap_or_else(PoisonError::into_inner)
}

/// A read guard of `lock`, also when it is poisoned; what [`lock`] says about the data holds.
pub fn read<T: ?Sized>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

/// The write guard of `lock`, also when it is poisoned; what [`lock`] says about the data holds.
pub fn write<T: ?Sized>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

/// [`Condvar::wait_timeout_while`] that waits also when the mutex is poisoned: the guard comes
/// back after `timeout` or once `waiting` is false, never at once (a waiter that returned at once
/// would spin). True when it timed out.
pub fn wait_timeout_while<'a, T>(
    condvar: &Condvar,
    guard: MutexGuard<'a, T>,
    timeout: Duration,
    waiting: impl FnMut(&mut T) -> bool,
) -> (MutexGuard<'a, T>, bool) {
    let (guard, result) = condvar
        .wait_timeout_while(guard, timeout, waiting)
        .unwrap_or_else(PoisonError::into_inner);
    (guard, result.timed_out())
}

/// Poisons `mutex` as a thread does that panics while holding it, for tests of what comes after.
#[cfg(test)]
pub(crate) fn poison<T: Send>(mutex: &Mutex<T>) {
    let _ = std::thread::scope(|s| {
        s.spawn(|| {
            let _guard = mutex.lock();
            panic!("poison it");
        })
        .join()
    });
    assert!(mutex.is_poisoned());
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_poisoned_lock_still_gives_its_value() {
        let m = Mutex::new(41);
        poison(&m);
        *lock(&m) += 1;
        assert_eq!(*lock(&m), 42);
        assert_eq!(into_inner(m), 42);
    }

    #[test]
    fn a_poisoned_rwlock_still_gives_its_value_to_readers_and_writers() {
        let l = RwLock::new(41);
        let _ = std::thread::scope(|s| {
            s.spawn(|| {
                let _guard = l.write().unwrap();
                panic!("poison it");
            })
            .join()
        });
        assert!(l.is_poisoned());
        *write(&l) += 1;
        assert_eq!(*read(&l), 42);
    }

    #[test]
    fn waiting_on_a_poisoned_mutex_waits_until_woken() {
        let m = Mutex::new(0);
        let bell = Condvar::new();
        poison(&m);
        std::thread::scope(|s| {
            let guard = lock(&m);
            s.spawn(|| {
                // Runs once the waiter released the mutex inside the wait.
                *lock(&m) = 1;
                bell.notify_all();
            });
            let (guard, timed_out) =
                wait_timeout_while(&bell, guard, Duration::from_secs(60), |n| *n == 0);
            assert_eq!((*guard, timed_out), (1, false));
        });
    }
}
