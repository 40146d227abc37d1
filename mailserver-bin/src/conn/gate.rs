//! Who may connect: per protocol, per address, per user, and within the process's descriptors.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How many connections each key (a client address, a user at an address) has open, up to a
/// maximum per key (changed by a reload: lowered, it only turns away new connections).
#[derive(Debug)]
pub struct Tally<K: Eq + std::hash::Hash> {
    counts: Mutex<HashMap<K, usize>>,
    max: AtomicUsize,
}

/// One connection counted in a [`Tally`]; dropped when it ends.
#[derive(Debug)]
pub struct Counted<K: Eq + std::hash::Hash + Clone> {
    tally: Arc<Tally<K>>,
    key: K,
}

impl<K: Eq + std::hash::Hash + Clone> Tally<K> {
    pub fn new(max: usize) -> Arc<Self> {
        Arc::new(Self {
            counts: Mutex::new(HashMap::new()),
            max: AtomicUsize::new(max),
        })
    }

    /// The maximum per key from now on.
    pub fn set_max(&self, max: usize) {
        self.max.store(max, Ordering::Relaxed);
    }

    /// Counts one more connection for `key`, unless it has `max` already.
    pub fn claim(self: &Arc<Self>, key: K) -> Option<Counted<K>> {
        let mut counts = self
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let count = counts.entry(key.clone()).or_insert(0);
        if *count >= self.max.load(Ordering::Relaxed) {
            return None;
        }
        *count += 1;
        Some(Counted {
            tally: Arc::clone(self),
            key,
        })
    }
}

impl<K: Eq + std::hash::Hash + Clone> Drop for Counted<K> {
    fn drop(&mut self) {
        let mut counts = self
            .tally
            .counts
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(count) = counts.get_mut(&self.key) {
            *count -= 1;
            if *count == 0 {
                counts.remove(&self.key);
            }
        }
    }
}

/// Who may connect: at most `max_connections` clients of one protocol at once, at most
/// `max_per_address` of them from one address, and all protocols together within the
/// process's file descriptors (see [`fd_budget`]). A refused client is told so by its
/// protocol's driver, and the refusal is logged once, with its address.
#[derive(Debug)]
pub struct Gate {
    protocol: &'static str,
    /// The protocol's sessions (one key).
    service: Arc<Tally<()>>,
    process: Arc<Semaphore>,
    per_address: Arc<Tally<IpAddr>>,
    /// Failed logins and bans, of every protocol together.
    pub guard: Arc<crate::guard::Guard>,
}

/// What the gates of every protocol share: the process's connection slots (see
/// [`fd_budget`]) and the guard against password guessing.
#[derive(Debug, Clone)]
pub struct Shared {
    pub process: Arc<Semaphore>,
    pub guard: Arc<crate::guard::Guard>,
}

/// A client let in; dropped when its connection ends.
#[derive(Debug)]
pub struct Admission {
    /// The protocol's count of open sessions, one less when this is dropped.
    sessions: prometheus_client::metrics::gauge::Gauge,
    _address: Counted<IpAddr>,
    _service: Counted<()>,
    _process: OwnedSemaphorePermit,
}

impl Drop for Admission {
    fn drop(&mut self) {
        self.sessions.dec();
    }
}

/// Why a client was not let in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The protocol's `[limits] max_connections`, or the process's descriptors.
    Busy,
    /// `[limits] max_connections_per_address`.
    TooManyFromAddress,
}

impl Refusal {
    /// The reason, as told to the client.
    pub fn text(self) -> &'static str {
        match self {
            Refusal::Busy => "Too many connections, try again later",
            Refusal::TooManyFromAddress => {
                "Too many connections from your address, try again later"
            }
        }
    }
}

impl Gate {
    /// A gate for one protocol, with what every protocol of the daemon `shared`s.
    pub fn new(
        protocol: &'static str,
        max_connections: usize,
        max_per_address: usize,
        shared: &Shared,
    ) -> Arc<Self> {
        Arc::new(Self {
            protocol,
            service: Tally::new(max_connections),
            process: Arc::clone(&shared.process),
            per_address: Tally::new(max_per_address),
            guard: Arc::clone(&shared.guard),
        })
    }

    /// A gate for one protocol with the connection limits of `[limits]`.
    pub fn for_limits(
        protocol: &'static str,
        limits: &crate::config::Limits,
        shared: &Shared,
    ) -> Arc<Self> {
        Self::new(
            protocol,
            limits.max_connections,
            limits.max_connections_per_address,
            shared,
        )
    }

    /// The connection limits of a reloaded `[limits]`: sessions already in stay; lowered,
    /// only new clients are turned away until enough have left.
    pub fn follow(&self, limits: &crate::config::Limits) {
        self.service.set_max(limits.max_connections);
        self.per_address.set_max(limits.max_connections_per_address);
    }

    /// Lets `peer` in, or says why not (and logs it).
    pub fn admit(self: &Arc<Self>, peer: SocketAddr) -> Result<Admission, Refusal> {
        let refuse = |why: Refusal| {
            crate::metrics::get().connection(self.protocol, "refused");
            tracing::warn!(%peer, protocol = self.protocol, reason = why.text(), "connection refused");
            why
        };
        let (Some(service), Ok(process)) = (
            self.service.claim(()),
            self.process.clone().try_acquire_owned(),
        ) else {
            return Err(refuse(Refusal::Busy));
        };
        let Some(address) = self.per_address.claim(peer.ip()) else {
            return Err(refuse(Refusal::TooManyFromAddress));
        };
        let metrics = crate::metrics::get();
        metrics.connection(self.protocol, "accepted");
        let sessions = metrics.sessions(self.protocol);
        sessions.inc();
        Ok(Admission {
            sessions,
            _address: address,
            _service: service,
            _process: process,
        })
    }
}

/// Descriptors kept back from connections: listeners, the account database, message and
/// index files being read or written, DNS and relay sockets.
const FD_RESERVE: u64 = 64;

/// Raises the soft limit on open files to the hard one, and says how many connections all
/// protocols together may have open so that the process never runs out of descriptors (which
/// would leave clients unanswered and accept(2) failing in a loop): the limit less a reserve
/// of a quarter (at least 64) for everything else, and at most `configured`.
pub fn fd_budget(configured: usize) -> usize {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    let mut soft = limit.current.unwrap_or(u64::MAX);
    if let (Some(current), Some(maximum)) = (limit.current, limit.maximum)
        && current < maximum
    {
        let raised = Rlimit {
            current: Some(maximum),
            maximum: Some(maximum),
        };
        match setrlimit(Resource::Nofile, raised) {
            Ok(()) => soft = maximum,
            Err(e) => tracing::warn!(error = %e, soft, "cannot raise the open-file limit"),
        }
    }
    let reserve = (soft / 4).max(FD_RESERVE);
    let budget = soft.saturating_sub(reserve).max(1);
    let budget = usize::try_from(budget)
        .unwrap_or(usize::MAX)
        .min(configured);
    tracing::info!(open_files = soft, connections = budget, "connection budget");
    budget
}
