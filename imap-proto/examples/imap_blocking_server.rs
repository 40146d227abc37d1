//! A minimal IMAP server over blocking `std::net` (a thread per connection), user `alice`
//! with password `secret` and one INBOX in memory (see `common/mod.rs`). No TLS: plaintext
//! login, so loopback only.
//!
//! `cargo run -p mailwright-imap --example imap_blocking_server -- 127.0.0.1:1143`
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};

mod common;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:1143".into());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on {addr}");
    let store = common::inbox();
    loop {
        let (stream, _) = listener.accept()?;
        let inbox = std::sync::Arc::clone(&store);
        std::thread::spawn(move || serve(stream, inbox));
    }
}

fn serve(mut stream: TcpStream, inbox: common::Shared) -> std::io::Result<()> {
    let (mut session, mut conn) = (
        common::new_session(),
        common::Connection {
            inbox,
            known: 0,
            append: Default::default(),
        },
    );
    let mut buf = vec![0; 64 * 1024];
    loop {
        conn.answer(&mut session);
        while let Some(out) = session.poll_output() {
            stream.write_all(&out)?;
        }
        if session.is_closed() {
            return Ok(());
        }
        // Read no more than the session will take; the timeout is the session's own.
        let room = buf.len().min(session.input_capacity());
        stream.set_read_timeout(Some(session.timeout()))?;
        match stream.read(&mut buf[..room]) {
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                session.handle_timeout(); // queues * BYE and closes
            }
            Ok(0) => {
                session.handle_eof(); // an APPEND cut off is dropped
                return Ok(());
            }
            Ok(n) => session.receive(&buf[..n]).map_err(std::io::Error::other)?,
            Err(e) => return Err(e),
        }
    }
}
