//! The active model version, decoded once and held in memory, so low-latency
//! calls (assign one customer, score one customer) never touch the store.
//! A poller follows the activation stack: every replica serves a newly
//! activated version within one poll interval, without restart.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};
use std::time::Duration;

use patron_proto::common::v1::ModelVersion;

use super::models::{Activation, ModelRegistry};
use crate::ServiceError;

/// Turns a version's stored payload into the service's in-memory model.
pub type Decoder<T> = fn(&ModelVersion, &[u8]) -> Result<T, ServiceError>;

/// A decoded version with the registry record it came from.
#[derive(Debug)]
pub struct LoadedModel<T> {
    pub version: ModelVersion,
    pub model: T,
}

/// Decoded non-active versions kept for calls that name one (CompareModels,
/// an explicit model_id); small, since each may be large.
const CACHED_VERSIONS: usize = 4;

pub struct ActiveModel<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for ActiveModel<T> {
    fn clone(&self) -> Self {
        Self { inner: Arc::clone(&self.inner) }
    }
}

struct Inner<T> {
    registry: ModelRegistry,
    decode: Decoder<T>,
    current: RwLock<Option<Arc<LoadedModel<T>>>>,
    others: Mutex<HashMap<String, Arc<LoadedModel<T>>>>,
    /// Serialises refreshes so a burst of calls decodes a version once.
    refreshing: tokio::sync::Mutex<()>,
}

impl<T: Send + Sync + 'static> ActiveModel<T> {
    /// Starts following the registry's active version every `poll`. Must be
    /// called inside a Tokio runtime; the poller stops when the last clone
    /// is dropped.
    pub fn new(registry: ModelRegistry, poll: Duration, decode: Decoder<T>) -> Self {
        let inner = Arc::new(Inner {
            registry,
            decode,
            current: RwLock::new(None),
            others: Mutex::new(HashMap::new()),
            refreshing: tokio::sync::Mutex::new(()),
        });
        tokio::spawn(follow(Arc::downgrade(&inner), poll));
        Self { inner }
    }

    /// The active version as last seen; None before the first load or when
    /// no version is active.
    pub fn current(&self) -> Option<Arc<LoadedModel<T>>> {
        self.inner.current.read().ok().and_then(|current| current.clone())
    }

    /// `model_id`, or the active version when it is empty.
    pub async fn get(&self, model_id: &str) -> Result<Arc<LoadedModel<T>>, ServiceError> {
        if model_id.is_empty() {
            if let Some(current) = self.current() {
                return Ok(current);
            }
            self.refresh().await?;
            return self.current().ok_or_else(|| {
                ServiceError::FailedPrecondition("no model version is active; train one and activate it".to_owned())
            });
        }
        if let Some(current) = self.current().filter(|current| current.version.id == model_id) {
            return Ok(current);
        }
        if let Some(cached) = self.inner.others.lock().ok().and_then(|others| others.get(model_id).cloned()) {
            return Ok(cached);
        }
        let loaded = self.inner.load(model_id).await?;
        if let Ok(mut others) = self.inner.others.lock() {
            if others.len() >= CACHED_VERSIONS {
                others.clear();
            }
            others.insert(model_id.to_owned(), Arc::clone(&loaded));
        }
        Ok(loaded)
    }

    /// Re-reads the active version now (after this replica activated or
    /// rolled back, so its own next call already sees the change).
    pub async fn refresh(&self) -> Result<(), ServiceError> {
        self.inner.refresh().await
    }

    /// ActivateModel: makes `model_id` active and serves it on this replica at
    /// once; other replicas follow within one poll.
    pub async fn activate(&self, model_id: &str) -> Result<Activation, ServiceError> {
        let activation = self.inner.registry.activate(model_id).await?;
        self.refresh().await?;
        Ok(activation)
    }

    /// RollbackModel: re-activates the previous version, served here at once.
    pub async fn rollback(&self) -> Result<Activation, ServiceError> {
        let activation = self.inner.registry.rollback().await?;
        self.refresh().await?;
        Ok(activation)
    }
}

impl<T: Send + Sync + 'static> Inner<T> {
    async fn refresh(&self) -> Result<(), ServiceError> {
        let _one_at_a_time = self.refreshing.lock().await;
        let active = self.registry.active_id().await?;
        let current_id = self.current.read().ok().and_then(|current| current.as_ref().map(|c| c.version.id.clone()));
        if active == current_id {
            return Ok(());
        }
        let loaded = match active {
            Some(id) => Some(self.load(&id).await?),
            None => None,
        };
        if let Ok(mut current) = self.current.write() {
            *current = loaded;
        }
        Ok(())
    }

    async fn load(&self, model_id: &str) -> Result<Arc<LoadedModel<T>>, ServiceError> {
        let version = self.registry.get(model_id).await?;
        let payload = self.registry.payload(model_id).await?;
        let decode = self.decode;
        // Decoding a large model is CPU work; keep it off the async workers.
        let model = tokio::task::spawn_blocking(move || {
            let model = decode(&version, &payload)?;
            Ok::<_, ServiceError>(LoadedModel { version, model })
        })
        .await
        .map_err(ServiceError::internal)??;
        Ok(Arc::new(model))
    }
}

async fn follow<T: Send + Sync + 'static>(inner: Weak<Inner<T>>, poll: Duration) {
    let mut ticker = tokio::time::interval(poll);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        let Some(inner) = inner.upgrade() else { return };
        if let Err(error) = inner.refresh().await {
            // The store may be down for a while; keep serving the model in memory.
            tracing::warn!(%error, "could not refresh the active model version");
        }
    }
}
