//! A minimal POP3 server over tokio, user `alice` with password `secret` and a maildrop in
//! memory (see `common/mod.rs`). No TLS: plaintext login, so loopback only.
//!
//! `cargo run -p mailwright-pop3 --example pop3_tokio_server -- 127.0.0.1:1110`
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

mod common;

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:1110".into());
    let listener = TcpListener::bind(&addr).await?;
    println!("listening on {addr}");
    let store = common::maildrop();
    loop {
        let (stream, _) = listener.accept().await?;
        let maildrop = std::sync::Arc::clone(&store);
        tokio::spawn(async move { serve(stream, maildrop).await });
    }
}

async fn serve(mut stream: TcpStream, maildrop: common::Maildrop) -> std::io::Result<()> {
    let (mut session, mut conn) = (
        common::new_session(),
        common::Connection {
            listed: Vec::new(),
            maildrop,
        },
    );
    let mut buf = vec![0; 64 * 1024];
    loop {
        conn.answer(&mut session);
        while let Some(out) = session.poll_output() {
            stream.write_all(&out).await?;
        }
        if session.is_closed() {
            return Ok(());
        }
        // Read no more than the session will take; the timeout is the session's own.
        let room = buf.len().min(session.input_capacity());
        match tokio::time::timeout(session.timeout(), stream.read(&mut buf[..room])).await {
            Err(_) => session.handle_timeout(), // queues -ERR and closes
            Ok(Ok(0)) => {
                session.handle_eof(); // without QUIT, nothing is removed
                return Ok(());
            }
            Ok(Ok(n)) => session.receive(&buf[..n]).map_err(std::io::Error::other)?,
            Ok(Err(e)) => return Err(e),
        }
    }
}
