//! One delivery attempt to a next hop (the relay host, or one address of an MX host): a TCP
//! (or TLS) connection driven by `mailwright_smtp::ClientSession`, the body streamed from the queue
//! file.

use std::net::IpAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use mailwright_smtp::{
    ClientConfig, ClientError, ClientEvent, ClientSession, Envelope, Host, Reply, Secret, TlsPolicy,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::config::{self, RelayTls};
use crate::conn::Answered;
use crate::tls::ClientTls;

/// Why an attempt ended before the recipients had answers.
#[derive(Debug, thiserror::Error)]
pub enum AttemptError {
    #[error("cannot connect to {host}: {reason}")]
    Connect { host: String, reason: String },
    #[error("TLS with {host} failed: {reason}")]
    Tls { host: String, reason: String },
    #[error("{host}: {source}")]
    Session { host: String, source: ClientError },
    #[error("reading the queued message: {0}")]
    Message(std::io::Error),
}

impl AttemptError {
    /// Whether retrying cannot help (the next hop refused us with a 5xx).
    pub fn is_permanent(&self) -> bool {
        matches!(self, AttemptError::Session { source, .. } if source.is_permanent())
    }
}

/// One server to try, and how to talk to it.
#[derive(Debug, Clone)]
pub struct Hop {
    /// The host name: what the certificate must be valid for, and what is connected to when
    /// `addr` is not given.
    pub host: String,
    pub addr: Option<IpAddr>,
    pub port: u16,
    pub tls: RelayTls,
    pub implicit_tls: bool,
    pub credentials: Option<(String, Secret<String>)>,
}

impl Hop {
    /// The configured relay host, if any.
    pub fn relay(config: &config::Config) -> Option<Self> {
        let relay = &config.relay;
        let (host, port) = relay.host_port()?;
        let credentials = (!relay.username.is_empty())
            .then(|| (relay.username.clone(), Secret::new(relay.password.clone())));
        Some(Self {
            host,
            addr: None,
            port,
            tls: relay.tls,
            implicit_tls: relay.implicit_tls,
            credentials,
        })
    }

    /// `[host]:port`, or `host[addr]:port` for an MX host.
    pub fn name(&self) -> String {
        match self.addr {
            Some(a) => format!("{}[{a}]:{}", self.host, self.port),
            None => format!("[{}]:{}", self.host, self.port),
        }
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl Stream {
    async fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf).await,
            Stream::Tls(s) => s.read(buf).await,
        }
    }

    async fn send(&mut self, data: &[u8]) -> std::io::Result<()> {
        async fn send_on<S: AsyncWrite + AsyncRead + Unpin>(
            s: &mut S,
            data: &[u8],
        ) -> std::io::Result<()> {
            s.write_all(data).await?;
            s.flush().await
        }
        match self {
            Stream::Plain(s) => send_on(s, data).await,
            Stream::Tls(s) => send_on(s.as_mut(), data).await,
        }
    }
}

/// What every connection to another server shares.
#[derive(Debug, Clone)]
pub struct Transport {
    client_tls: ClientTls,
    hello: Host,
    connect_timeout: Duration,
    line_length_limit: usize,
}

impl Transport {
    pub fn new(
        config: &config::Config,
        client_tls: ClientTls,
    ) -> Result<Self, mailwright_smtp::ValidationError> {
        Ok(Self {
            client_tls,
            hello: Host::parse(&config.hostname)?,
            connect_timeout: Duration::from_secs(config.queue.connect_timeout),
            line_length_limit: config.queue.line_length_limit,
        })
    }

    /// Hands one message (`prefix`, then the file) to the hop; returns each recipient's
    /// reply, in envelope order, and whether the hop took the DSN requests on (RFC 3461).
    pub async fn send(
        &self,
        hop: &Hop,
        envelope: Envelope,
        prefix: &[u8],
        message: &Path,
    ) -> Result<(Vec<Reply>, bool), AttemptError> {
        let name = hop.name();
        let connect = async {
            match hop.addr {
                Some(ip) => TcpStream::connect((ip, hop.port)).await,
                None => TcpStream::connect((hop.host.as_str(), hop.port)).await,
            }
        };
        let tcp = tokio::time::timeout(self.connect_timeout, connect)
            .await
            .map_err(|_| AttemptError::Connect {
                host: name.clone(),
                reason: "timed out".into(),
            })?
            .map_err(|e| AttemptError::Connect {
                host: name.clone(),
                reason: e.to_string(),
            })?;
        let _ = tcp.set_nodelay(true);
        let mut stream = Stream::Plain(tcp);
        if hop.implicit_tls {
            stream = self.handshake(hop, stream).await?;
        }
        let mut client = ClientConfig::new(self.hello.clone());
        client.implicit_tls = hop.implicit_tls;
        client.max_line_length = self.line_length_limit;
        client.credentials = hop.credentials.clone();
        client.tls = match hop.tls {
            RelayTls::None => TlsPolicy::None,
            RelayTls::Opportunistic => TlsPolicy::Opportunistic,
            RelayTls::Required => TlsPolicy::Required,
        };
        let mut session = ClientSession::new(client);
        let count = envelope.recipients.len();
        let mut envelope = Some(envelope);
        let mut replies: Vec<Option<Reply>> = vec![None; count];
        let mut done: Option<Reply> = None;
        let mut buf = vec![0u8; 16 * 1024];
        let session_error = |source| AttemptError::Session {
            host: name.clone(),
            source,
        };
        loop {
            while let Some(event) = session.poll_event() {
                match event {
                    ClientEvent::StartTls => {
                        stream = self.handshake(hop, stream).await?;
                        session.tls_established().answered();
                    }
                    ClientEvent::Ready => match envelope.take() {
                        Some(e) => {
                            session.send_message(e).answered();
                        }
                        None => {
                            session.quit().answered();
                        }
                    },
                    ClientEvent::Recipient { index, reply } => {
                        if let Some(slot) = replies.get_mut(index) {
                            *slot = Some(reply);
                        }
                    }
                    ClientEvent::SendBody => {
                        send_body(&mut session, &mut stream, prefix, message).await?
                    }
                    ClientEvent::MessageDone(reply) => done = Some(reply),
                    ClientEvent::Closed(result) => {
                        if let Some(out) = session.poll_output() {
                            let _ = stream.send(&out).await;
                        }
                        // The transaction's outcome counts even when the goodbye went wrong.
                        if let Some(done) = done {
                            let dsn = session.extensions().dsn;
                            return Ok((final_replies(replies, done), dsn));
                        }
                        result.map_err(session_error)?;
                        return Err(session_error(ClientError::ConnectionLost));
                    }
                }
            }
            if let Some(out) = session.poll_output() {
                if stream.send(&out).await.is_err() {
                    session.handle_eof();
                }
                continue;
            }
            let Some(timeout) = session.timeout() else {
                // Waiting on us, not the server: nothing left to do is a bug; end cleanly.
                session.handle_eof();
                continue;
            };
            match tokio::time::timeout(timeout, stream.read(&mut buf)).await {
                Err(_) => session.handle_timeout(),
                Ok(Ok(0)) | Ok(Err(_)) => session.handle_eof(),
                Ok(Ok(n)) => session.receive(&buf[..n]),
            }
        }
    }

    async fn handshake(&self, hop: &Hop, stream: Stream) -> Result<Stream, AttemptError> {
        let Stream::Plain(tcp) = stream else {
            return Ok(stream);
        };
        let config = match hop.tls {
            RelayTls::Required => self.client_tls.verified.clone(),
            _ => self.client_tls.unverified.clone(),
        };
        let err = |reason: String| AttemptError::Tls {
            host: hop.name(),
            reason,
        };
        let server_name = rustls_pki_types::ServerName::try_from(hop.host.clone())
            .map_err(|e| err(e.to_string()))?;
        let connector = TlsConnector::from(Arc::clone(&config));
        let tls = tokio::time::timeout(
            crate::conn::TLS_HANDSHAKE_TIMEOUT,
            connector.connect(server_name, tcp),
        )
        .await
        .map_err(|_| err("handshake timed out".into()))?
        .map_err(|e| err(e.to_string()))?;
        Ok(Stream::Tls(Box::new(tls)))
    }
}

/// A recipient's answer is its own refusal, or else the transaction's.
fn final_replies(replies: Vec<Option<Reply>>, done: Reply) -> Vec<Reply> {
    replies
        .into_iter()
        .map(|r| match r {
            Some(r) if r.code().is_negative() => r,
            _ => done.clone(),
        })
        .collect()
}

async fn send_body(
    session: &mut ClientSession,
    stream: &mut Stream,
    prefix: &[u8],
    message: &Path,
) -> Result<(), AttemptError> {
    let mut file = tokio::fs::File::open(message)
        .await
        .map_err(AttemptError::Message)?;
    session.send_body(prefix).answered();
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut chunk).await.map_err(AttemptError::Message)?;
        if n == 0 {
            break;
        }
        session.send_body(&chunk[..n]).answered();
        if let Some(out) = session.poll_output()
            && stream.send(&out).await.is_err()
        {
            // The reply (or its absence) tells the session what happened.
            break;
        }
    }
    session.end_body().answered();
    Ok(())
}
