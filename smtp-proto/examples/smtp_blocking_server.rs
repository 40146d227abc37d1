//! A minimal SMTP server over blocking `std::net`
//! (a thread per connection): takes mail for any recipient and prints each message's
//! envelope and size (see `common/mod.rs`). No TLS, nothing stored: a template to start from.
//!
//! `cargo run -p mailwright-smtp --example smtp_blocking_server -- 127.0.0.1:2525`
use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};

mod common;

fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:2525".into());
    let listener = TcpListener::bind(&addr)?;
    println!("listening on {addr}");
    loop {
        let (stream, _) = listener.accept()?;
        std::thread::spawn(move || serve(stream));
    }
}

fn serve(mut stream: TcpStream) -> std::io::Result<()> {
    let (mut session, mut mail) = (common::new_session(), common::Mail::default());
    let mut buf = vec![0; 64 * 1024];
    loop {
        mail.answer(&mut session);
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
                session.handle_timeout(); // queues 421 and closes
            }
            Ok(0) => {
                session.handle_eof(); // a message cut off is dropped, never stored
                return Ok(());
            }
            Ok(n) => session.receive(&buf[..n]).map_err(std::io::Error::other)?,
            Err(e) => return Err(e),
        }
    }
}
