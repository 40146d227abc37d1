//! Sends one message (read from standard input) over SMTP with the sans-I/O client session,
//! on blocking `std::net`, and prints the server's answer for each recipient.
//!
//! `cargo run -p mailwright-smtp --example smtp_client -- 127.0.0.1:2525 from@example.org to@example.com < message.eml`
use std::io::{Read, Write};
use std::net::TcpStream;

use mailwright_smtp::{
    ClientConfig, ClientEvent, ClientSession, Envelope, ForwardPath, Host, MailParams, RcptParams,
    ReversePath, TlsPolicy, parse_mailbox,
};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [server, from, to @ ..] = &args[..] else {
        return Err("usage: client HOST:PORT FROM TO...".into());
    };
    let mut message = Vec::new();
    std::io::stdin().read_to_end(&mut message)?;
    let mut envelope = Envelope {
        from: ReversePath::Mailbox(parse_mailbox(from).ok_or("bad sender")?),
        params: MailParams {
            size: Some(message.len() as u64),
            ..MailParams::default()
        },
        recipients: Vec::new(),
    };
    for rcpt in to {
        let mailbox = parse_mailbox(rcpt).ok_or("bad recipient")?;
        envelope
            .recipients
            .push((ForwardPath::Mailbox(mailbox), RcptParams::default()));
    }
    let mut config = ClientConfig::new(Host::parse("client.example")?);
    config.tls = TlsPolicy::None; // this example has no TLS stack
    let mut session = ClientSession::new(config);
    let mut stream = TcpStream::connect(server)?;
    let (mut envelope, mut buf) = (Some(envelope), vec![0; 16 * 1024]);
    loop {
        while let Some(event) = session.poll_event() {
            match event {
                ClientEvent::Ready => match envelope.take() {
                    Some(envelope) => session.send_message(envelope)?,
                    None => session.quit()?,
                },
                ClientEvent::SendBody => {
                    session.send_body(&message)?;
                    session.end_body()?;
                }
                ClientEvent::Recipient { index, reply } => println!("{}: {reply}", to[index]),
                ClientEvent::MessageDone(reply) => println!("message: {reply}"),
                ClientEvent::StartTls => unreachable!("TlsPolicy::None never asks"),
                ClientEvent::Closed(result) => {
                    while let Some(out) = session.poll_output() {
                        stream.write_all(&out)?;
                    }
                    return Ok(result?);
                }
            }
        }
        while let Some(out) = session.poll_output() {
            stream.write_all(&out)?;
        }
        stream.set_read_timeout(session.timeout())?;
        match stream.read(&mut buf) {
            Ok(0) => session.handle_eof(),
            Ok(n) => session.receive(&buf[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => session.handle_timeout(),
            Err(e) => return Err(e.into()),
        }
    }
}
