//! A connection to a content scanner: TCP (`host:port`) or a unix socket (a path), with one
//! deadline for the whole exchange.

use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite};

/// A stream to a scanner, whichever kind its address names.
pub trait Stream: AsyncRead + AsyncWrite + Unpin + Send {}
impl<T: AsyncRead + AsyncWrite + Unpin + Send> Stream for T {}

/// Why a scanner gave no verdict.
#[derive(Debug, thiserror::Error)]
pub enum ScanError {
    #[error("cannot reach {address}: {source}")]
    Connect {
        address: String,
        source: std::io::Error,
    },
    #[error("{address}: {source}")]
    Io {
        address: String,
        source: std::io::Error,
    },
    #[error("{address} did not answer within {0} ms", timeout.as_millis())]
    Timeout { address: String, timeout: Duration },
    #[error("{address} answered {answer:?}")]
    Answer { address: String, answer: String },
}

/// Connects to `address`: a path (it has a `/`) is a unix socket, anything else `host:port`.
pub async fn connect(address: &str) -> Result<Box<dyn Stream>, ScanError> {
    let connected: std::io::Result<Box<dyn Stream>> = if address.contains('/') {
        tokio::net::UnixStream::connect(address)
            .await
            .map(|s| Box::new(s) as Box<dyn Stream>)
    } else {
        tokio::net::TcpStream::connect(address)
            .await
            .map(|s| Box::new(s) as Box<dyn Stream>)
    };
    connected.map_err(|source| ScanError::Connect {
        address: address.to_owned(),
        source,
    })
}

/// Runs `exchange` with `address` within `timeout`, timed in the metrics as a request to
/// `backend`.
pub async fn within<T>(
    backend: &'static str,
    address: &str,
    timeout: Duration,
    exchange: impl Future<Output = Result<T, ScanError>>,
) -> Result<T, ScanError> {
    let bounded = async {
        tokio::time::timeout(timeout, exchange)
            .await
            .unwrap_or_else(|_| {
                Err(ScanError::Timeout {
                    address: address.to_owned(),
                    timeout,
                })
            })
    };
    crate::metrics::timed(backend, bounded).await
}

/// The error-mapping of an I/O step with `address`.
pub fn io(address: &str) -> impl Fn(std::io::Error) -> ScanError + '_ {
    move |source| ScanError::Io {
        address: address.to_owned(),
        source,
    }
}
