//! One delivery attempt to the next hop: a TCP (or TLS) connection driven by
//! `smtp_proto::ClientSession`, the body streamed from the queue file.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use smtp_proto::{
    ClientConfig, ClientError, ClientEvent, ClientSession, Envelope, Host, Reply, Secret, TlsPolicy,
};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::client::TlsStream;

use crate::config::{self, RelayTls};
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

/// The next hop and how to talk to it.
#[derive(Debug, Clone)]
pub struct Relay {
    host: String,
    port: u16,
    tls: RelayTls,
    implicit_tls: bool,
    credentials: Option<(String, Secret<String>)>,
    client_tls: ClientTls,
    hello: Host,
    connect_timeout: Duration,
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

impl Relay {
    /// `None` when no relay host is configured.
    pub fn new(
        config: &config::Config,
        client_tls: ClientTls,
    ) -> Result<Option<Self>, smtp_proto::ValidationError> {
        let relay = &config.relay;
        let Some((host, port)) = relay.host_port() else {
            return Ok(None);
        };
        let credentials = (!relay.username.is_empty())
            .then(|| (relay.username.clone(), Secret::new(relay.password.clone())));
        Ok(Some(Self {
            host,
            port,
            tls: relay.tls,
            implicit_tls: relay.implicit_tls,
            credentials,
            client_tls,
            hello: Host::parse(&config.hostname)?,
            connect_timeout: Duration::from_secs(config.queue.connect_timeout),
        }))
    }

    pub fn name(&self) -> String {
        format!("[{}]:{}", self.host, self.port)
    }

    /// Hands one message (`prefix`, then the file) to the relay; returns each recipient's
    /// reply, in envelope order.
    pub async fn send(
        &self,
        envelope: Envelope,
        prefix: &[u8],
        message: &Path,
    ) -> Result<Vec<Reply>, AttemptError> {
        let name = self.name();
        let tcp = tokio::time::timeout(
            self.connect_timeout,
            TcpStream::connect((self.host.as_str(), self.port)),
        )
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
        if self.implicit_tls {
            stream = self.handshake(stream).await?;
        }
        let mut client = ClientConfig::new(self.hello.clone());
        client.implicit_tls = self.implicit_tls;
        client.credentials = self.credentials.clone();
        client.tls = match self.tls {
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
                        stream = self.handshake(stream).await?;
                        let _ = session.tls_established();
                    }
                    ClientEvent::Ready => match envelope.take() {
                        Some(e) => {
                            let _ = session.send_message(e);
                        }
                        None => {
                            let _ = session.quit();
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
                            return Ok(final_replies(replies, done));
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

    async fn handshake(&self, stream: Stream) -> Result<Stream, AttemptError> {
        let Stream::Plain(tcp) = stream else {
            return Ok(stream);
        };
        let config = match self.tls {
            RelayTls::Required => self.client_tls.verified.clone(),
            _ => self.client_tls.unverified.clone(),
        };
        let err = |reason: String| AttemptError::Tls {
            host: self.name(),
            reason,
        };
        let server_name = rustls_pki_types::ServerName::try_from(self.host.clone())
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
    let _ = session.send_body(prefix);
    let mut chunk = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut chunk).await.map_err(AttemptError::Message)?;
        if n == 0 {
            break;
        }
        let _ = session.send_body(&chunk[..n]);
        if let Some(out) = session.poll_output()
            && stream.send(&out).await.is_err()
        {
            // The reply (or its absence) tells the session what happened.
            break;
        }
    }
    let _ = session.end_body();
    Ok(())
}
