//! The daemon's counters and gauges, for `/metrics` (Prometheus text format, read by
//! Prometheus, Netdata or Grafana Agent) and for the alerts.
//!
//! One registry for the process ([`get`]); the services count what happens as it happens, and
//! what is a state rather than an event (the queue, free space, certificate expiry) is set
//! by whoever serves a scrape, just before encoding. A leaf: uses nothing else of ours.

use std::sync::LazyLock;
use std::time::Duration;

use prometheus_client::encoding::text::encode_registry;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;
use prometheus_client::registry::{Registry, Unit};

/// Labels of fixed names and values.
type Labels<const N: usize> = [(&'static str, &'static str); N];
/// A label whose value is only known at run time (a path, a backend's name).
type Named = [(&'static str, String); 1];

/// Seconds buckets for latencies from a millisecond to a minute.
fn latency_buckets() -> impl Iterator<Item = f64> {
    [
        0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0,
    ]
    .into_iter()
}

/// Seconds buckets for how long a message waited in the queue: a second to five days.
fn queue_buckets() -> impl Iterator<Item = f64> {
    [
        1.0, 5.0, 30.0, 60.0, 300.0, 900.0, 3600.0, 14_400.0, 86_400.0, 432_000.0,
    ]
    .into_iter()
}

/// What was turned away since the start (see [`Metrics::refusals`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Refusals {
    pub messages: u64,
    pub connections_refused: u64,
    pub connections_banned: u64,
    pub failed_logins: u64,
}

/// Everything the process counts.
pub struct Metrics {
    registry: Registry,
    connections: Family<Labels<2>, Counter>,
    sessions: Family<Labels<1>, Gauge>,
    auth: Family<Labels<2>, Counter>,
    messages: Family<Labels<1>, Counter>,
    recipients: Family<Labels<2>, Counter>,
    delivery_delay: Family<Labels<1>, Histogram>,
    backend_errors: Family<Labels<1>, Counter>,
    backend_latency: Family<Labels<1>, Histogram>,
    /// Messages in the outbound queue (set at each scrape).
    pub queue_messages: Gauge,
    /// Seconds the oldest queued message has waited (set at each scrape).
    pub queue_oldest: Gauge,
    /// Octets free to us on the file system holding each store (set at each scrape).
    pub disk_free: Family<Named, Gauge>,
    /// Unix time at which the server certificate expires (set at load and reload).
    pub certificate_expiry: Gauge,
    /// Alert conditions present now, by kind: 1 while the condition lasts.
    pub alerts: Family<Named, Gauge>,
    fsync_batches: Counter,
    fsync_batched: Counter,
    start_time: Gauge,
}

impl Metrics {
    fn new() -> Self {
        let mut registry = Registry::with_prefix("mailserver");
        let connections = Family::<Labels<2>, Counter>::default();
        registry.register(
            "connections",
            "Connections by protocol and whether they were let in (accepted, refused, banned)",
            connections.clone(),
        );
        let sessions = Family::<Labels<1>, Gauge>::default();
        registry.register(
            "sessions",
            "Sessions open now, by protocol",
            sessions.clone(),
        );
        let auth = Family::<Labels<2>, Counter>::default();
        registry.register(
            "authentications",
            "Logins by protocol and result (success, failure)",
            auth.clone(),
        );
        let messages = Family::<Labels<1>, Counter>::default();
        registry.register(
            "messages",
            "Messages at the end of SMTP DATA, by result (accepted, refused, deferred)",
            messages.clone(),
        );
        let recipients = Family::<Labels<2>, Counter>::default();
        registry.register(
            "queue_recipients",
            "Queued recipients after a delivery attempt, by route (local, remote) and result \
             (delivered, deferred, bounced)",
            recipients.clone(),
        );
        let delivery_delay =
            Family::<Labels<1>, Histogram>::new_with_constructor(
                || Histogram::new(queue_buckets()),
            );
        registry.register_with_unit(
            "delivery_delay",
            "From reception to delivery of a queued recipient, by route",
            Unit::Seconds,
            delivery_delay.clone(),
        );
        let backend_errors = Family::<Labels<1>, Counter>::default();
        registry.register(
            "backend_errors",
            "Failed requests to a backend (accounts, dns, spamd, clamd, milter)",
            backend_errors.clone(),
        );
        let backend_latency = Family::<Labels<1>, Histogram>::new_with_constructor(|| {
            Histogram::new(latency_buckets())
        });
        registry.register_with_unit(
            "backend_latency",
            "Time a backend took to answer, by backend",
            Unit::Seconds,
            backend_latency.clone(),
        );
        let queue_messages = Gauge::default();
        registry.register(
            "queue_messages",
            "Messages in the outbound queue",
            queue_messages.clone(),
        );
        let queue_oldest = Gauge::default();
        registry.register_with_unit(
            "queue_oldest_age",
            "How long the oldest queued message has waited",
            Unit::Seconds,
            queue_oldest.clone(),
        );
        let disk_free = Family::<Named, Gauge>::default();
        registry.register_with_unit(
            "disk_free",
            "Space free to the server on the file system of each store",
            Unit::Bytes,
            disk_free.clone(),
        );
        let certificate_expiry = Gauge::default();
        registry.register_with_unit(
            "certificate_expiry_timestamp",
            "When the server's TLS certificate expires (Unix time)",
            Unit::Seconds,
            certificate_expiry.clone(),
        );
        let alerts = Family::<Named, Gauge>::default();
        registry.register(
            "alert",
            "Conditions the postmaster was told of, by kind: 1 while present",
            alerts.clone(),
        );
        let fsync_batches = Counter::default();
        registry.register(
            "fsync_batches",
            "Syncs run to make new messages' names durable: a directory's (renames into new/ \
             and cur/ made at once by several sessions share one), or with [storage] sync = \
             auto on ext4/XFS/btrfs each renamed file's own",
            fsync_batches.clone(),
        );
        let fsync_batched = Counter::default();
        registry.register(
            "fsync_batched_changes",
            "Renames into new/ and cur/ made durable by those syncs (divided by the batches: \
             the mean batch size)",
            fsync_batched.clone(),
        );
        let start_time: Gauge = Gauge::default();
        registry.register_with_unit(
            "start_time",
            "When the process started (Unix time)",
            Unit::Seconds,
            start_time.clone(),
        );
        start_time.set(unix_now());
        Self {
            registry,
            connections,
            sessions,
            auth,
            messages,
            recipients,
            delivery_delay,
            backend_errors,
            backend_latency,
            queue_messages,
            queue_oldest,
            disk_free,
            certificate_expiry,
            alerts,
            fsync_batches,
            fsync_batched,
            start_time,
        }
    }

    /// Brings the group-commit counters up to the Maildir store's own counts (at a scrape).
    pub fn note_dir_syncs(&self) {
        let stats = mailwright_maildir::dir_sync_stats();
        let relaxed = std::sync::atomic::Ordering::Relaxed;
        self.fsync_batches.inner().fetch_max(stats.syncs, relaxed);
        self.fsync_batched.inner().fetch_max(stats.changes, relaxed);
    }

    /// When the process started (Unix time).
    pub fn started(&self) -> i64 {
        self.start_time.get()
    }

    /// A connection to `protocol` and what became of it at the gate.
    pub fn connection(&self, protocol: &'static str, result: &'static str) {
        self.connections
            .get_or_create(&[("protocol", protocol), ("result", result)])
            .inc();
    }

    /// The gauge of sessions open for `protocol`.
    pub fn sessions(&self, protocol: &'static str) -> Gauge {
        self.sessions
            .get_or_create(&[("protocol", protocol)])
            .clone()
    }

    /// A login attempt and its result.
    pub fn auth(&self, protocol: &'static str, success: bool) {
        let result = if success { "success" } else { "failure" };
        self.auth
            .get_or_create(&[("protocol", protocol), ("result", result)])
            .inc();
    }

    /// What was turned away since the start, for the console's dashboard: messages refused at
    /// the end of DATA, connections refused (limits) or banned, failed logins. Summed over
    /// the protocols with a gate of their own (submission's are SMTP's) and those that log
    /// in (the console and the API too).
    pub fn refusals(&self) -> Refusals {
        let gates = ["smtp", "imap", "pop3", "managesieve"];
        let logins = ["smtp", "imap", "pop3", "managesieve", "console", "api"];
        let connections = |result| {
            gates
                .iter()
                .map(|p| {
                    self.connections
                        .get_or_create(&[("protocol", p), ("result", result)])
                        .get()
                })
                .sum()
        };
        Refusals {
            messages: self.messages.get_or_create(&[("result", "refused")]).get(),
            connections_refused: connections("refused"),
            connections_banned: connections("banned"),
            failed_logins: logins
                .iter()
                .map(|p| {
                    self.auth
                        .get_or_create(&[("protocol", p), ("result", "failure")])
                        .get()
                })
                .sum(),
        }
    }

    /// A message at the end of DATA: `accepted`, `refused` or `deferred`.
    pub fn message(&self, result: &'static str) {
        self.messages.get_or_create(&[("result", result)]).inc();
    }

    /// A queued recipient after an attempt; `waited` since reception when delivered.
    pub fn recipient(&self, route: &'static str, result: &'static str, waited: Option<Duration>) {
        self.recipients
            .get_or_create(&[("route", route), ("result", result)])
            .inc();
        if let Some(w) = waited {
            self.delivery_delay
                .get_or_create(&[("route", route)])
                .observe(w.as_secs_f64());
        }
    }

    /// A request to `backend` that took `took`, and whether it failed.
    pub fn backend(&self, backend: &'static str, took: Duration, failed: bool) {
        self.backend_latency
            .get_or_create(&[("backend", backend)])
            .observe(took.as_secs_f64());
        if failed {
            self.backend_errors
                .get_or_create(&[("backend", backend)])
                .inc();
        }
    }

    /// The registry in Prometheus's text format (version 0.0.4, as `promtool check metrics`
    /// reads it).
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing to a String cannot fail.
        let _ = encode_registry(&mut out, &self.registry);
        text_format(&out)
    }
}

/// Prometheus's text format from prometheus-client's OpenMetrics: a counter's HELP and TYPE
/// name its samples' `_total` name, and there are no `# UNIT` lines (the unit is in the
/// name already).
fn text_format(openmetrics: &str) -> String {
    let counters: std::collections::HashSet<&str> = openmetrics
        .lines()
        .filter_map(|l| l.strip_prefix("# TYPE ")?.strip_suffix(" counter"))
        .collect();
    let mut out = String::with_capacity(openmetrics.len() + 64 * counters.len());
    for line in openmetrics.lines() {
        if line.starts_with("# UNIT ") {
            continue;
        }
        let meta = ["# HELP ", "# TYPE "]
            .into_iter()
            .find_map(|p| Some((p, line.strip_prefix(p)?)));
        match meta {
            Some((prefix, rest)) => {
                let (name, tail) = rest.split_once(' ').unwrap_or((rest, ""));
                out.push_str(prefix);
                out.push_str(name);
                if counters.contains(name) {
                    out.push_str("_total");
                }
                out.push(' ');
                out.push_str(tail);
            }
            None => out.push_str(line),
        }
        out.push('\n');
    }
    out
}

/// The process's metrics.
pub fn get() -> &'static Metrics {
    static METRICS: LazyLock<Metrics> = LazyLock::new(Metrics::new);
    &METRICS
}

/// Seconds since the Unix epoch, now.
pub fn unix_now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Times `f` as a request to `backend`; an `Err` counts as its error.
pub async fn timed<T, E>(
    backend: &'static str,
    f: impl std::future::Future<Output = Result<T, E>>,
) -> Result<T, E> {
    let started = std::time::Instant::now();
    let result = f.await;
    get().backend(backend, started.elapsed(), result.is_err());
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counters_appear_in_the_text_format() {
        let m = Metrics::new();
        m.connection("imap", "accepted");
        m.auth("imap", false);
        m.message("accepted");
        m.recipient("remote", "delivered", Some(Duration::from_secs(2)));
        m.sessions("pop3").inc();
        let text = m.encode();
        assert!(
            text.contains("mailserver_connections_total{protocol=\"imap\",result=\"accepted\"} 1"),
            "{text}"
        );
        assert!(
            text.contains(
                "mailserver_authentications_total{protocol=\"imap\",result=\"failure\"} 1"
            )
        );
        assert!(text.contains("mailserver_messages_total{result=\"accepted\"} 1"));
        assert!(text.contains("mailserver_delivery_delay_seconds_count{route=\"remote\"} 1"));
        assert!(text.contains("mailserver_sessions{protocol=\"pop3\"} 1"));
        assert!(!text.contains("# EOF"));
        assert!(text.contains("# TYPE mailserver_connections_total counter\n"));
        assert!(text.contains("# HELP mailserver_messages_total Messages"));
        assert!(!text.contains("# UNIT"));
    }
}
