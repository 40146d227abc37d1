//! A value that a reload (SIGHUP) replaces while its readers go on: each reader takes the
//! current one ([`Live::get`]) when it starts a unit of work (a session, a queue pass) and
//! keeps it to the end of that unit, so a session never sees its settings change under it.

use std::sync::{Arc, PoisonError, RwLock};

/// The current value of something a reload may replace.
#[derive(Debug)]
pub struct Live<T>(RwLock<Arc<T>>);

impl<T> Live<T> {
    pub fn new(value: Arc<T>) -> Self {
        Self(RwLock::new(value))
    }

    /// The value now in force.
    pub fn get(&self) -> Arc<T> {
        Arc::clone(&self.0.read().unwrap_or_else(PoisonError::into_inner))
    }

    /// Puts `value` in force for every later [`Live::get`].
    pub fn set(&self, value: Arc<T>) {
        *self.0.write().unwrap_or_else(PoisonError::into_inner) = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_reader_keeps_what_it_took() {
        let live = Live::new(Arc::new(1));
        let taken = live.get();
        live.set(Arc::new(2));
        assert_eq!((*taken, *live.get()), (1, 2));
    }
}
