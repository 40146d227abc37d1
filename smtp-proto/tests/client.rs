//! The client session: scripted servers (what goes out after each reply), and our own server
//! session wired to it.

#![allow(clippy::unwrap_used)]

mod support;

use mailwright_smtp::{
    Body, ClientConfig, ClientError, ClientEvent, ClientSession, Envelope, ForwardPath, Host,
    MailParams, Mailbox, Notify, RcptParams, Reply, ReversePath, Secret, TlsPolicy,
};
use support::{config, wire};

fn host(s: &str) -> Host {
    Host::parse(s).unwrap()
}

fn mailbox(s: &str) -> Mailbox {
    let (l, d) = s.rsplit_once('@').unwrap();
    Mailbox::new(l, host(d)).unwrap()
}

fn envelope(from: &str, to: &[&str]) -> Envelope {
    Envelope {
        from: ReversePath::Mailbox(mailbox(from)),
        params: MailParams::default(),
        recipients: to
            .iter()
            .map(|t| (ForwardPath::Mailbox(mailbox(t)), RcptParams::default()))
            .collect(),
    }
}

fn client(tls: TlsPolicy) -> ClientSession {
    let mut c = ClientConfig::new(host("relay.example.org"));
    c.tls = tls;
    ClientSession::new(c)
}

/// Feeds one server turn; returns what the client sent in answer and the events it raised.
fn turn(c: &mut ClientSession, server: &str) -> (String, Vec<ClientEvent>) {
    c.receive(server.as_bytes());
    let mut events = Vec::new();
    while let Some(e) = c.poll_event() {
        events.push(e);
    }
    let out = c.poll_output().map(|b| b.to_vec()).unwrap_or_default();
    (String::from_utf8(out).unwrap(), events)
}

const EHLO_PIPELINING: &str =
    "250-mx.example.com\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250 DSN\r\n";

#[test]
fn rfc5321_d1_a_message_without_pipelining() {
    let mut c = client(TlsPolicy::None);
    let (out, _) = turn(&mut c, "220 foo.com Simple Mail Transfer Service Ready\r\n");
    assert_eq!(out, "EHLO relay.example.org\r\n");
    let (out, ev) = turn(
        &mut c,
        "250-foo.com greets bar.com\r\n250-8BITMIME\r\n250-SIZE\r\n250-DSN\r\n250 HELP\r\n",
    );
    assert_eq!((out.as_str(), ev), ("", vec![ClientEvent::Ready]));
    let mut env = envelope(
        "Smith@bar.com",
        &["Jones@foo.com", "Green@foo.com", "Brown@foo.com"],
    );
    env.params.size = Some(20);
    c.send_message(env).unwrap();
    assert_eq!(
        c.poll_output().unwrap(),
        "MAIL FROM:<Smith@bar.com> SIZE=20\r\n"
    );
    assert_eq!(turn(&mut c, "250 OK\r\n").0, "RCPT TO:<Jones@foo.com>\r\n");
    assert_eq!(turn(&mut c, "250 OK\r\n").0, "RCPT TO:<Green@foo.com>\r\n");
    let (out, ev) = turn(&mut c, "550 No such user here\r\n");
    assert_eq!(out, "RCPT TO:<Brown@foo.com>\r\n");
    assert!(
        matches!(&ev[..], [ClientEvent::Recipient { index: 1, reply }] if reply.code().get() == 550)
    );
    let (out, _) = turn(&mut c, "250 OK\r\n");
    assert_eq!(out, "DATA\r\n");
    let (out, ev) = turn(&mut c, "354 Start mail input; end with <CRLF>.<CRLF>\r\n");
    assert_eq!((out.as_str(), ev), ("", vec![ClientEvent::SendBody]));
    c.send_body(b"Blah blah blah...\r\n.and a dot\r\n").unwrap();
    c.send_body(b"...etc. etc. etc.").unwrap();
    c.end_body().unwrap();
    assert_eq!(
        c.poll_output().unwrap(),
        "Blah blah blah...\r\n..and a dot\r\n....etc. etc. etc.\r\n.\r\n"
    );
    let (_, ev) = turn(&mut c, "250 OK\r\n");
    assert_eq!(ev.len(), 2);
    assert!(matches!(&ev[0], ClientEvent::MessageDone(r) if r.code().get() == 250));
    assert_eq!(ev[1], ClientEvent::Ready);
    c.quit().unwrap();
    assert_eq!(c.poll_output().unwrap(), "QUIT\r\n");
    let (_, ev) = turn(
        &mut c,
        "221 foo.com Service closing transmission channel\r\n",
    );
    assert_eq!(ev, vec![ClientEvent::Closed(Ok(()))]);
    assert!(c.is_closed());
}

#[test]
fn pipelined_transaction_and_dsn_parameters() {
    let mut c = client(TlsPolicy::None);
    turn(&mut c, "220 mx\r\n");
    turn(&mut c, EHLO_PIPELINING);
    let mut env = envelope("a@example.org", &["b@example.com", "c@example.com"]);
    env.params.size = Some(10);
    env.params.body = Some(Body::EightBitMime);
    env.params.envid = Some("QQ1".into());
    env.recipients[0].1.notify = Some(Notify {
        failure: true,
        ..Notify::default()
    });
    c.send_message(env).unwrap();
    assert_eq!(
        c.poll_output().unwrap(),
        "MAIL FROM:<a@example.org> SIZE=10 BODY=8BITMIME ENVID=QQ1\r\nRCPT TO:<b@example.com> NOTIFY=FAILURE\r\nRCPT TO:<c@example.com>\r\nDATA\r\n"
    );
    let (_, ev) = turn(
        &mut c,
        "250 2.1.0 Ok\r\n550 5.1.1 unknown\r\n250 2.1.5 Ok\r\n354 go\r\n",
    );
    assert_eq!(ev.len(), 3);
    assert!(
        matches!(&ev[0], ClientEvent::Recipient { index: 0, reply } if reply.code().get() == 550)
    );
    assert!(
        matches!(&ev[1], ClientEvent::Recipient { index: 1, reply } if reply.code().get() == 250)
    );
    assert_eq!(ev[2], ClientEvent::SendBody);
}

#[test]
fn without_dsn_the_dsn_parameters_are_left_out() {
    let mut c = client(TlsPolicy::None);
    turn(&mut c, "220 mx\r\n");
    turn(&mut c, "250-mx\r\n250 PIPELINING\r\n");
    let mut env = envelope("a@example.org", &["b@example.com"]);
    env.params.size = Some(10);
    env.params.body = Some(Body::SevenBit);
    env.params.ret = Some(mailwright_smtp::Ret::Hdrs);
    env.recipients[0].1.orcpt = mailwright_smtp::OriginalRecipient::parse("rfc822;b@example.com");
    c.send_message(env).unwrap();
    assert_eq!(
        c.poll_output().unwrap(),
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\nDATA\r\n"
    );
}

#[test]
fn refused_mail_answers_for_every_recipient() {
    let mut c = client(TlsPolicy::None);
    turn(&mut c, "220 mx\r\n");
    turn(&mut c, EHLO_PIPELINING);
    c.send_message(envelope(
        "a@example.org",
        &["b@example.com", "c@example.com"],
    ))
    .unwrap();
    c.poll_output();
    let (out, ev) = turn(
        &mut c,
        "553 5.7.1 sender rejected\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n503 5.5.1 need MAIL\r\n",
    );
    assert_eq!(out, "", "no RSET: nothing was started");
    let codes: Vec<String> = ev.iter().map(|e| format!("{e:?}")).collect();
    assert_eq!(ev.len(), 4, "{codes:?}");
    for e in &ev[..2] {
        assert!(matches!(e, ClientEvent::Recipient { reply, .. } if reply.code().get() == 553));
    }
    assert!(matches!(&ev[2], ClientEvent::MessageDone(r) if r.code().get() == 553));
    assert_eq!(ev[3], ClientEvent::Ready);
}

#[test]
fn no_accepted_recipient_resets_and_never_sends_a_body() {
    let mut c = client(TlsPolicy::None);
    turn(&mut c, "220 mx\r\n");
    turn(&mut c, EHLO_PIPELINING);
    c.send_message(envelope("a@example.org", &["b@example.com"]))
        .unwrap();
    c.poll_output();
    // A server that says 354 anyway gets an empty body.
    let (out, ev) = turn(&mut c, "250 Ok\r\n550 5.1.1 no\r\n354 go\r\n");
    assert_eq!(out, ".\r\n");
    assert_eq!(ev.len(), 1);
    let (out, ev) = turn(&mut c, "554 5.5.1 no valid recipients\r\n");
    assert_eq!(out, "RSET\r\n");
    assert!(matches!(&ev[0], ClientEvent::MessageDone(r) if r.code().get() == 550));
    let (_, ev) = turn(&mut c, "250 Ok\r\n");
    assert_eq!(ev, vec![ClientEvent::Ready]);
}

#[test]
fn helo_fallback_and_what_needs_extensions() {
    let mut c = client(TlsPolicy::Opportunistic);
    turn(&mut c, "220 old.example\r\n");
    let (out, _) = turn(&mut c, "502 Command not implemented\r\n");
    assert_eq!(out, "HELO relay.example.org\r\n");
    let (_, ev) = turn(&mut c, "250 old.example\r\n");
    assert_eq!(ev, vec![ClientEvent::Ready]);
    assert!(!c.is_esmtp());
    let mut env = envelope("a@example.org", &["b@example.com"]);
    env.params.smtputf8 = true;
    c.send_message(env).unwrap();
    assert!(c.poll_output().is_none(), "nothing is sent");
    let ev: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    assert!(
        matches!(&ev[1], ClientEvent::MessageDone(r) if r.to_string().starts_with("553 5.6.7"))
    );
    assert_eq!(ev[2], ClientEvent::Ready);
    let mut env = envelope("a@example.org", &["b@example.com"]);
    env.params.body = Some(Body::EightBitMime);
    c.send_message(env).unwrap();
    let ev: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    assert!(
        matches!(&ev[1], ClientEvent::MessageDone(r) if r.to_string().starts_with("554 5.6.3"))
    );
    // Without PIPELINING, one command at a time.
    c.send_message(envelope("a@example.org", &["b@example.com"]))
        .unwrap();
    assert_eq!(c.poll_output().unwrap(), "MAIL FROM:<a@example.org>\r\n");
}

#[test]
fn a_message_larger_than_the_server_takes_is_not_sent() {
    let mut c = client(TlsPolicy::None);
    turn(&mut c, "220 mx\r\n");
    turn(&mut c, EHLO_PIPELINING);
    let mut env = envelope("a@example.org", &["b@example.com"]);
    env.params.size = Some(1001);
    c.send_message(env).unwrap();
    assert!(c.poll_output().is_none());
    let ev: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    assert!(
        matches!(&ev[1], ClientEvent::MessageDone(r) if r.to_string().starts_with("552 5.3.4"))
    );
}

#[test]
fn starttls_then_auth_plain() {
    let mut c = ClientSession::new(ClientConfig {
        credentials: Some(("alice".into(), Secret::new("secret".into()))),
        ..ClientConfig::new(host("relay.example.org"))
    });
    turn(&mut c, "220 mx\r\n");
    let (out, _) = turn(&mut c, "250-mx\r\n250-STARTTLS\r\n250 AUTH LOGIN PLAIN\r\n");
    assert_eq!(out, "STARTTLS\r\n");
    let (out, ev) = turn(&mut c, "220 2.0.0 Ready to start TLS\r\n");
    assert_eq!((out.as_str(), ev), ("", vec![ClientEvent::StartTls]));
    c.tls_established().unwrap();
    assert_eq!(c.poll_output().unwrap(), "EHLO relay.example.org\r\n");
    let (out, _) = turn(&mut c, "250-mx\r\n250 AUTH LOGIN PLAIN\r\n");
    assert_eq!(out, "AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n");
    let (_, ev) = turn(&mut c, "235 2.7.0 ok\r\n");
    assert_eq!(ev, vec![ClientEvent::Ready]);
}

#[test]
fn auth_login_and_its_failure() {
    let mut c = ClientSession::new(ClientConfig {
        credentials: Some(("alice".into(), Secret::new("wrong".into()))),
        implicit_tls: true,
        ..ClientConfig::new(host("relay.example.org"))
    });
    turn(&mut c, "220 mx\r\n");
    let (out, _) = turn(&mut c, "250-mx\r\n250 AUTH LOGIN\r\n");
    assert_eq!(out, "AUTH LOGIN\r\n");
    assert_eq!(turn(&mut c, "334 VXNlcm5hbWU6\r\n").0, "YWxpY2U=\r\n");
    assert_eq!(turn(&mut c, "334 UGFzc3dvcmQ6\r\n").0, "d3Jvbmc=\r\n");
    let (out, ev) = turn(&mut c, "535 5.7.8 no\r\n");
    assert_eq!(out, "QUIT\r\n");
    assert!(
        matches!(&ev[..], [ClientEvent::Closed(Err(e @ ClientError::Auth(_)))] if e.is_permanent())
    );
}

#[test]
fn tls_policies() {
    // Required, not offered: no mail, and the session ends politely.
    let mut c = client(TlsPolicy::Required);
    turn(&mut c, "220 mx\r\n");
    let (out, ev) = turn(&mut c, "250-mx\r\n250 PIPELINING\r\n");
    assert_eq!(out, "QUIT\r\n");
    assert_eq!(
        ev,
        vec![ClientEvent::Closed(Err(ClientError::TlsUnavailable))]
    );
    // Opportunistic, refused: carry on in the clear, but credentials stay home.
    let mut c = ClientSession::new(ClientConfig {
        credentials: Some(("alice".into(), Secret::new("secret".into()))),
        ..ClientConfig::new(host("relay.example.org"))
    });
    turn(&mut c, "220 mx\r\n");
    turn(&mut c, "250-mx\r\n250-STARTTLS\r\n250 AUTH PLAIN\r\n");
    let (_, ev) = turn(&mut c, "454 4.7.0 TLS not available\r\n");
    assert_eq!(
        ev,
        vec![ClientEvent::Closed(Err(ClientError::AuthNeedsTls))]
    );
    // Bytes behind the 220 to STARTTLS are an attack (RFC 3207 §6).
    let mut c = client(TlsPolicy::Opportunistic);
    turn(&mut c, "220 mx\r\n");
    turn(&mut c, "250-mx\r\n250 STARTTLS\r\n");
    let (_, ev) = turn(&mut c, "220 go ahead\r\n250 injected\r\n");
    assert!(matches!(
        ev.last(),
        Some(ClientEvent::Closed(Err(ClientError::Protocol(_))))
    ));
}

#[test]
fn a_421_or_a_lost_connection_fails_the_transaction_temporarily() {
    let mut c = client(TlsPolicy::None);
    turn(&mut c, "220 mx\r\n");
    turn(&mut c, EHLO_PIPELINING);
    c.send_message(envelope("a@example.org", &["b@example.com"]))
        .unwrap();
    let (_, ev) = turn(&mut c, "421 4.3.2 shutting down\r\n");
    assert!(matches!(&ev[0], ClientEvent::MessageDone(r) if r.code().get() == 421));
    assert!(matches!(
        &ev[1],
        ClientEvent::Closed(Err(ClientError::ServiceClosing(_)))
    ));

    let mut c = client(TlsPolicy::None);
    turn(&mut c, "220 mx\r\n");
    turn(&mut c, EHLO_PIPELINING);
    c.send_message(envelope("a@example.org", &["b@example.com"]))
        .unwrap();
    turn(&mut c, "250 ok\r\n250 ok\r\n354 go\r\n");
    c.send_body(b"x\r\n").unwrap();
    c.end_body().unwrap();
    c.handle_eof();
    let ev: Vec<_> = std::iter::from_fn(|| c.poll_event()).collect();
    assert!(
        matches!(&ev[0], ClientEvent::MessageDone(r) if r.to_string().starts_with("451 4.4.2"))
    );
    assert_eq!(ev[1], ClientEvent::Closed(Err(ClientError::ConnectionLost)));
}

#[test]
fn malformed_and_oversized_replies_end_the_session() {
    let mut c = client(TlsPolicy::None);
    let (_, ev) = turn(&mut c, "hello there\r\n");
    assert_eq!(
        ev,
        vec![ClientEvent::Closed(Err(ClientError::Protocol(
            "malformed reply"
        )))]
    );
    let mut c = client(TlsPolicy::None);
    let long = "220-".to_owned() + &"x".repeat(400) + "\r\n";
    for _ in 0..200 {
        c.receive(long.as_bytes());
        while c.poll_event().is_some() {}
    }
    assert!(c.is_closed());
    assert!(
        c.send_message(envelope("a@b.example", &["c@d.example"]))
            .is_err()
    );
}

#[test]
fn client_and_server_wired_deliver_messages() {
    let mut server = config();
    server.allow_plaintext_auth = true;
    let mut client_config = ClientConfig::new(host("relay.example.org"));
    client_config.credentials = Some(("alice".into(), Secret::new("secret".into())));
    let body = b"Subject: t\r\n\r\n.leading dot\r\n..two\r\n.\r\n".to_vec();
    let messages = vec![
        (
            envelope("a@example.org", &["bob@example.com", "nobody@example.com"]),
            body.clone(),
        ),
        (
            envelope("a@example.org", &["nobody@example.com"]),
            body.clone(),
        ),
        (
            envelope("a@example.org", &["alice@example.com"]),
            body.clone(),
        ),
    ];
    for chunking in [true, false] {
        for pipelining in [true, false] {
            client_config.chunking = chunking;
            client_config.pipelining = pipelining;
            let (stored, results) = wire(client_config.clone(), server.clone(), &messages, 3);
            assert_eq!(stored, vec![body.clone(), body.clone()]);
            assert_eq!(results, vec![vec![250, 550], vec![550], vec![250]]);
        }
    }
}

#[test]
fn a_refused_chunk_fails_the_message() {
    let mut c = client(TlsPolicy::None);
    turn(&mut c, "220 mx\r\n");
    turn(&mut c, "250-mx\r\n250-PIPELINING\r\n250 CHUNKING\r\n");
    c.send_message(envelope("a@example.org", &["b@example.com"]))
        .unwrap();
    assert_eq!(
        c.poll_output().unwrap(),
        "MAIL FROM:<a@example.org>\r\nRCPT TO:<b@example.com>\r\n"
    );
    let (_, ev) = turn(&mut c, "250 ok\r\n250 ok\r\n");
    assert_eq!(ev.last(), Some(&ClientEvent::SendBody));
    c.send_body(b"abc").unwrap();
    c.end_body().unwrap();
    assert_eq!(c.poll_output().unwrap(), "BDAT 3\r\nabcBDAT 0 LAST\r\n");
    let (out, ev) = turn(&mut c, "552 5.3.4 too big\r\n503 5.5.1 no\r\n");
    assert_eq!(out, "RSET\r\n");
    assert!(matches!(&ev[0], ClientEvent::MessageDone(r) if r.code().get() == 552));
    let _ = Reply::queued("x");
}
