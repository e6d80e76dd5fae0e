//! Right to erasure beside batch runs (AssignAll, ScoreAll). A run reads the
//! profile's export first and writes its rows later, so a customer erased in
//! between would come back with the run. Each run in progress therefore
//! registers here; a forget notes the customer for every registered run, and
//! the run leaves the noted customers out when it completes. A forget and a
//! completion never interleave (one lock), so a customer is either noted
//! before the run completes or deleted from the completed run afterwards.
//!
//! Runs are tracked per process: a forget reaches the runs of this replica,
//! not a run another replica is writing at that moment.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use crate::ServiceError;

#[derive(Clone, Default)]
pub struct Erasures {
    inner: Arc<Inner>,
}

#[derive(Default)]
struct Inner {
    /// Held by a forget and by a run's completion.
    serial: tokio::sync::Mutex<()>,
    /// Customers forgotten since each run in progress started, by run.
    forgotten_during: Mutex<HashMap<u64, Vec<String>>>,
    next_run: AtomicU64,
}

/// A run in progress; dropping it stops the noting.
pub struct RunWatch {
    inner: Arc<Inner>,
    run: u64,
}

impl Erasures {
    /// Registers a run; call it before the run reads the export.
    pub fn watch_run(&self) -> RunWatch {
        let run = self.inner.next_run.fetch_add(1, Ordering::Relaxed);
        self.inner.forgotten_during.lock().unwrap_or_else(PoisonError::into_inner).insert(run, Vec::new());
        RunWatch { inner: self.inner.clone(), run }
    }

    /// Notes `customer_id` for the runs in progress, then runs `delete` (which
    /// removes the customer's stored rows) under the lock; returns its answer.
    pub async fn forget(
        &self,
        customer_id: &str,
        delete: impl Future<Output = Result<u64, ServiceError>>,
    ) -> Result<u64, ServiceError> {
        let _serial = self.inner.serial.lock().await;
        for noted in self.inner.forgotten_during.lock().unwrap_or_else(PoisonError::into_inner).values_mut() {
            noted.push(customer_id.to_owned());
        }
        delete.await
    }
}

impl RunWatch {
    /// The customers forgotten since the run started, with the lock that
    /// keeps further forgets out until the caller has completed the run.
    pub async fn forgotten(&self) -> (tokio::sync::MutexGuard<'_, ()>, Vec<String>) {
        let serial = self.inner.serial.lock().await;
        let noted = self
            .inner
            .forgotten_during
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get_mut(&self.run)
            .map(std::mem::take)
            .unwrap_or_default();
        (serial, noted)
    }
}

impl Drop for RunWatch {
    fn drop(&mut self) {
        self.inner.forgotten_during.lock().unwrap_or_else(PoisonError::into_inner).remove(&self.run);
    }
}

#[cfg(test)]
mod tests {
    use super::Erasures;

    #[tokio::test]
    async fn a_forget_is_noted_for_runs_in_progress_only() {
        let erasures = Erasures::default();
        let before = erasures.watch_run();
        erasures.forget("c-1", async { Ok(2) }).await.expect("deleted");
        let (_lock, noted) = before.forgotten().await;
        assert_eq!(noted, ["c-1"]);
        drop(_lock);
        let (_lock, again) = before.forgotten().await;
        assert!(again.is_empty(), "taken once");
        drop(_lock);
        let later = erasures.watch_run();
        let (_lock, none) = later.forgotten().await;
        assert!(none.is_empty(), "a run started after the forget has nothing to leave out");
    }
}
