//! A few database connections for the request handlers. SQLite calls block, so each runs on
//! tokio's blocking threads; the semaphore keeps at most one call per connection, and requests
//! beyond that wait their turn instead of opening ever more connections.

use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use tokio::sync::Semaphore;

use crate::error::OpError;
use crate::newsletter::store::Store;
use crate::sync::lock;

/// The longest a request waits for a connection of the pool.
const WAIT: Duration = Duration::from_secs(20);

pub struct Pool {
    idle: Mutex<Vec<Store>>,
    permits: Semaphore,
    path: PathBuf,
}

impl Pool {
    pub fn new(first: Store, size: usize) -> Result<Pool, OpError> {
        let mut idle = vec![];
        for _ in 1..size {
            idle.push(first.reopen()?);
        }
        let path = first.path().to_path_buf();
        idle.push(first);
        Ok(Pool {
            permits: Semaphore::new(idle.len()),
            idle: Mutex::new(idle),
            path,
        })
    }

    /// Runs `f` on a connection of the pool.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce(&mut Store) -> Result<T, OpError> + Send + 'static,
    ) -> Result<T, OpError> {
        // A database locked by another process for long makes requests queue here: they get
        // "try later" instead of holding their connections until the clients give up.
        let _permit = tokio::time::timeout(WAIT, self.permits.acquire())
            .await
            .map_err(|_| OpError::store(&self.path, "no database connection became free in 20 s"))?
            .map_err(|_| OpError::Internal("the database pool is closed".into()))?;
        let taken = lock(&self.idle).pop();
        let mut store = match taken {
            Some(s) => s,
            // A connection lost to a crashed call is replaced.
            None => Store::open(&self.path)?,
        };
        let joined = tokio::task::spawn_blocking(move || {
            let result = f(&mut store);
            (store, result)
        })
        .await;
        match joined {
            Ok((store, result)) => {
                lock(&self.idle).push(store);
                result
            }
            Err(e) => Err(OpError::Internal(format!("a database call failed: {e}"))),
        }
    }
}
