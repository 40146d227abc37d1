//! The SMTP client session fed arbitrary server bytes in arbitrary pieces, with an embedder that
//! sends messages, bodies and TLS confirmations when asked: it must never panic, never report a
//! recipient twice or out of range, and end every transaction it started with MessageDone.
#![no_main]

use libfuzzer_sys::fuzz_target;
use mailwright_smtp::{
    Body, ClientConfig, ClientEvent, ClientSession, Envelope, ForwardPath, Host, MailParams,
    Mailbox, RcptParams, ReversePath, Secret, TlsPolicy,
};

#[path = "common/choices.rs"]
mod choices;
use choices::Choices;

fuzz_target!(|data: &[u8]| {
    if data.len() < 2 {
        return;
    }
    let (seed, input) = data.split_at(2);
    let mut choices = Choices::new([seed[0], seed[1]], 1 << 33);
    let Ok(host) = Host::parse("relay.example.org") else {
        return;
    };
    let mut config = ClientConfig::new(host.clone());
    config.tls = match seed[0] % 3 {
        0 => TlsPolicy::None,
        1 => TlsPolicy::Opportunistic,
        _ => TlsPolicy::Required,
    };
    config.pipelining = seed[0] & 4 == 0;
    config.chunking = seed[0] & 8 == 0;
    config.max_reply = 2048;
    if seed[0] & 16 == 0 {
        config.credentials = Some(("user".into(), Secret::new("pass".into())));
    }
    let mut session = ClientSession::new(config);
    let Ok(mailbox) = Mailbox::new("a", host) else {
        return;
    };
    let recipients = 3;
    let envelope = Envelope {
        from: ReversePath::Mailbox(mailbox.clone()),
        params: MailParams {
            body: (seed[1] & 1 == 1).then_some(Body::EightBitMime),
            size: Some(100),
            ..MailParams::default()
        },
        recipients: vec![(ForwardPath::Mailbox(mailbox), RcptParams::default()); recipients],
    };
    let mut in_transaction = false;
    let mut answered = [false; 3];
    let mut rest = input;
    while !rest.is_empty() && !session.is_closed() {
        let n = (choices.next() % 64 + 1) as usize;
        let (piece, tail) = rest.split_at(n.min(rest.len()));
        rest = tail;
        session.receive(piece);
        while let Some(event) = session.poll_event() {
            match event {
                ClientEvent::StartTls => {
                    assert!(session.tls_established().is_ok());
                }
                ClientEvent::Ready => {
                    assert!(!in_transaction, "Ready inside a transaction");
                    if choices.next() % 4 == 0 {
                        assert!(session.quit().is_ok());
                    } else {
                        assert!(session.send_message(envelope.clone()).is_ok());
                        in_transaction = true;
                        answered = [false; 3];
                    }
                }
                ClientEvent::Recipient { index, .. } => {
                    assert!(in_transaction && index < recipients && !answered[index]);
                    answered[index] = true;
                }
                ClientEvent::SendBody => {
                    assert!(session.send_body(b"Subject: x\r\n\r\n.body\r\n").is_ok());
                    assert!(session.end_body().is_ok());
                }
                ClientEvent::MessageDone(_) => {
                    assert!(in_transaction, "MessageDone without a transaction");
                    in_transaction = false;
                }
                ClientEvent::Closed(_) => assert!(!in_transaction, "closed with a transaction open"),
            }
        }
        let _ = session.poll_output();
    }
    session.handle_eof();
    while let Some(event) = session.poll_event() {
        if matches!(event, ClientEvent::MessageDone(_)) {
            in_transaction = false;
        }
    }
    assert!(!in_transaction && session.is_closed());
});
