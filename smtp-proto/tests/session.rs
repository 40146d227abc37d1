//! Session rules: ordering, limits, body defects, smuggling, misuse of the answer API.

mod support;

use mailwright_smtp::{AnswerError, CloseReason, Config, Event, Reply, ServerSession};
use support::{Harness, config};

fn run(config: Config, input: &[u8]) -> Harness {
    let mut h = Harness::new(config);
    h.feed(input, 0);
    h
}

fn last_reply(h: &Harness) -> String {
    h.output_lines().last().cloned().unwrap_or_default()
}

const START: &[u8] =
    b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\n";

#[test]
fn overlong_command_line_is_refused_and_the_connection_closed() {
    // Without an end: a client trickling one endless line must not hold the connection.
    let mut input = b"NOOP ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 600));
    let h = run(config(), &input);
    let lines = h.output_lines();
    assert!(
        lines[1].starts_with("500 5.5.2 Error: line too long"),
        "{lines:?}"
    );
    assert!(lines[2].starts_with("421 4.7.0"), "{lines:?}");
    assert!(h.session.is_closed());
    // What follows it is not read.
    input.extend_from_slice(b"\r\nNOOP\r\n");
    let h = run(config(), &input);
    assert_eq!(h.output_lines().len(), 3);
}

#[test]
fn abort_closes_with_the_embedders_reason() {
    let mut h = Harness::new(config());
    h.feed(b"EHLO c.example\r\n", 0);
    h.session.abort("Too much data before authentication");
    h.pump();
    assert!(
        last_reply(&h).starts_with("421 4.7.0 mx.example.com Too much data before authentication"),
        "{:?}",
        h.output_lines()
    );
    assert!(h.session.is_closed());
}

#[test]
fn command_line_exactly_at_limit_passes() {
    let mut input = b"NOOP ".to_vec();
    input.extend(std::iter::repeat_n(b'x', 512 - 7));
    input.extend_from_slice(b"\r\n");
    assert_eq!(input.len(), 512);
    let h = run(config(), &input);
    assert!(last_reply(&h).starts_with("250 2.0.0"));
}

#[test]
fn recipient_limit() {
    let mut c = config();
    c.limits.max_recipients = 2;
    let h = run(
        c,
        &[
            START,
            b"RCPT TO:<alice@example.com>\r\nRCPT TO:<jones@example.com>\r\n",
        ]
        .concat(),
    );
    assert!(last_reply(&h).starts_with("452 4.5.3"));
}

#[test]
fn size_parameter_over_limit() {
    let mut c = config();
    c.limits.max_message_size = 1000;
    let h = run(
        c,
        b"EHLO c.example\r\nMAIL FROM:<a@example.org> SIZE=1001\r\n",
    );
    assert!(last_reply(&h).starts_with("552 5.3.4"));
}

#[test]
fn data_over_size_is_consumed_then_refused() {
    let mut c = config();
    c.limits.max_message_size = 10;
    let h = run(
        c,
        &[START, b"DATA\r\n0123456789\r\nmore\r\n.\r\nNOOP\r\n"].concat(),
    );
    let lines = h.output_lines();
    let n = lines.len();
    assert!(lines[n - 2].starts_with("552 5.3.4"), "{lines:?}");
    assert!(lines[n - 1].starts_with("250 2.0.0 Ok"));
    assert!(h.events.contains(&"MessageAborted".to_owned()));
    assert!(h.messages.is_empty());
}

#[test]
fn bare_lf_is_consumed_to_terminator_then_refused() {
    let h = run(
        config(),
        &[START, b"DATA\r\nline one\nline two\r\n.\r\nNOOP\r\n"].concat(),
    );
    let lines = h.output_lines();
    let n = lines.len();
    assert!(lines[n - 2].starts_with("550 5.6.0"), "{lines:?}");
    assert!(lines[n - 1].starts_with("250 2.0.0 Ok"));
}

#[test]
fn smuggled_commands_stay_in_the_body() {
    let smuggled =
        b"DATA\r\nhello\n.\nMAIL FROM:<evil@example.org>\r\nRCPT TO:<alice@example.com>\r\n.\r\n";
    let mut c = config();
    c.bare_line_ending = mailwright_smtp::DefectPolicy::Allow;
    let h = run(c, &[START, smuggled].concat());
    assert_eq!(h.messages.len(), 1);
    assert!(h.messages[0].ends_with(b"RCPT TO:<alice@example.com>\r\n"));
    assert_eq!(h.events.iter().filter(|e| *e == "MailFrom").count(), 1);
}

#[test]
fn nul_and_long_lines_are_refused() {
    let h = run(config(), &[START, b"DATA\r\na\0b\r\n.\r\n"].concat());
    assert!(last_reply(&h).starts_with("550 5.6.0"));
    let long = [&b"DATA\r\n"[..], &vec![b'x'; 1001], b"\r\n.\r\n"].concat();
    let h = run(config(), &[START, &long].concat());
    assert!(
        last_reply(&h).starts_with("550 5.6.0"),
        "{:?}",
        last_reply(&h)
    );
    let ok = [&b"DATA\r\n"[..], &vec![b'x'; 998], b"\r\n.\r\n"].concat();
    let h = run(config(), &[START, &ok].concat());
    assert!(last_reply(&h).starts_with("250 2.0.0 Ok: queued"));
}

#[test]
fn ordering_rules() {
    let h = run(config(), b"MAIL FROM:<a@example.org>\r\n");
    assert!(last_reply(&h).starts_with("503 5.5.1 Error: send HELO/EHLO first"));
    let h = run(config(), b"EHLO c.example\r\nRCPT TO:<bob@example.com>\r\n");
    assert!(last_reply(&h).starts_with("503 5.5.1 Error: need MAIL"));
    let h = run(
        config(),
        b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nDATA\r\n",
    );
    assert!(last_reply(&h).starts_with("503 5.5.1 Error: need RCPT"));
    let h = run(
        config(),
        b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<x@example.com>\r\nDATA\r\n",
    );
    assert!(last_reply(&h).starts_with("554 5.5.1 Error: no valid recipients"));
    let h = run(
        config(),
        b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nMAIL FROM:<a@example.org>\r\n",
    );
    assert!(last_reply(&h).starts_with("503 5.5.1 Error: nested MAIL"));
}

#[test]
fn bdat_without_transaction_is_consumed() {
    let h = run(
        config(),
        b"EHLO c.example\r\nBDAT 10 LAST\r\nQUIT\r\nRSETNOOP\r\n",
    );
    let lines = h.output_lines();
    let n = lines.len();
    assert!(lines[n - 2].starts_with("503 5.5.1"), "{lines:?}");
    assert!(
        lines[n - 1].starts_with("250 2.0.0"),
        "the 10 octets were skipped: {lines:?}"
    );
}

#[test]
fn utf8_addresses_need_smtputf8() {
    let h = run(
        config(),
        "EHLO c.example\r\nMAIL FROM:<pelé@example.org>\r\n".as_bytes(),
    );
    assert!(last_reply(&h).starts_with("553 5.6.7"));
    let h = run(
        config(),
        "EHLO c.example\r\nMAIL FROM:<pelé@example.org> SMTPUTF8\r\nRCPT TO:<bob@exämple.com>\r\n"
            .as_bytes(),
    );
    assert!(
        last_reply(&h).starts_with("250 2.1.5"),
        "{:?}",
        h.output_lines()
    );
}

#[test]
fn too_many_errors_closes() {
    let mut c = config();
    c.limits.max_errors = 3;
    let h = run(c, b"FOO\r\nBAR\r\nBAZ\r\nNOOP\r\n");
    assert!(last_reply(&h).starts_with("421 4.7.0"));
    assert!(h.session.is_closed());
}

#[test]
fn vrfy_disabled_by_default() {
    let h = run(Config::new("mx.example.com"), b"VRFY root\r\n");
    assert!(last_reply(&h).starts_with("502 5.5.1"));
}

#[test]
fn wrong_answers_change_nothing() {
    let mut s = ServerSession::new(config());
    assert_eq!(s.accept(), Err(AnswerError::WrongState));
    s.receive(b"EHLO c.example\r\n").unwrap();
    assert!(matches!(s.poll_event(), Some(Event::Helo { .. })));
    assert_eq!(s.input_capacity(), 0);
    let ok = Reply::new(250, None, "fine").unwrap();
    assert!(matches!(s.reject(ok), Err(AnswerError::UnfitReply(_))));
    assert_eq!(
        s.finish_message(Reply::queued("x")),
        Err(AnswerError::WrongState)
    );
    assert_eq!(s.auth_finish(Ok(())), Err(AnswerError::WrongState));
    assert!(s.accept().is_ok());
    assert!(s.input_capacity() > 0);
}

#[test]
fn timeout_says_421() {
    let mut s = ServerSession::new(config());
    let _ = s.poll_output();
    s.handle_timeout();
    let out = s.poll_output().unwrap();
    assert!(out.starts_with(b"421 4.4.2"));
    assert!(s.is_closed());
}

#[test]
fn auth_failures_close_after_limit() {
    let mut c = config();
    c.allow_plaintext_auth = true;
    c.limits.max_auth_failures = 2;
    let bad = "AUTH PLAIN AGFsaWNlAHdyb25n\r\n"; // alice / wrong
    let h = run(c, format!("EHLO c.example\r\n{bad}{bad}{bad}").as_bytes());
    assert!(last_reply(&h).starts_with("421 4.7.0"));
    assert_eq!(h.events.iter().filter(|e| *e == "Authenticate").count(), 2);
}

#[test]
fn secrets_do_not_leak_in_debug() {
    let mut c = config();
    c.allow_plaintext_auth = true;
    let mut s = ServerSession::new(c);
    s.receive(b"EHLO c.example\r\n").unwrap();
    let _ = s.poll_event();
    s.accept().unwrap();
    s.receive(b"AUTH PLAIN AGFsaWNlAHNlY3JldA==\r\n").unwrap();
    let event = s.poll_event().unwrap();
    let shown = format!("{event:?} {s:?}");
    assert!(!shown.contains("secret"), "{shown}");
}

#[test]
fn replies_quoting_client_input_stay_within_512_octets() {
    let key = "K".repeat(486);
    let line = format!("MAIL FROM:<a@b.example> {key}\r\n");
    assert!(line.len() <= 512);
    let h = run(config(), format!("EHLO c.example\r\n{line}").as_bytes());
    let reply = last_reply(&h);
    assert!(reply.starts_with("555 5.5.4 Unsupported option"), "{reply}");
    for l in h.output_lines() {
        assert!(l.len() + 2 <= 512, "{} octets: {}", l.len() + 2, &l[..40]);
    }
}

#[test]
fn dsn_parameters_only_when_offered() {
    let input = b"EHLO c.example\r\nMAIL FROM:<a@example.org> RET=HDRS ENVID=QQ314159\r\nRCPT TO:<bob@example.com> NOTIFY=SUCCESS,FAILURE ORCPT=rfc822;Bob+40example.com\r\n";
    let off = run(config(), input);
    let lines = off.output_lines();
    assert!(
        !lines.iter().any(|l| l == "250-DSN" || l == "250 DSN"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("555 5.5.4 Unsupported option: DSN")),
        "{lines:?}"
    );
    let mut with_dsn = config();
    with_dsn.dsn = true;
    let on = run(with_dsn.clone(), input);
    let lines = on.output_lines();
    assert!(lines.iter().any(|l| l == "250-DSN"), "{lines:?}");
    assert_eq!(
        lines.iter().filter(|l| l.starts_with("250 2.1.")).count(),
        2,
        "{lines:?}"
    );
    // RFC 3461: ENVID and ORCPT are xtext.
    let bad = run(
        with_dsn,
        b"EHLO c.example\r\nMAIL FROM:<a@example.org> ENVID=a+zz\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com> ORCPT=rfc822;x+4\r\n",
    );
    let lines = bad.output_lines();
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("501 5.5.4 Invalid ENVID")),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("501 5.5.4 Invalid ORCPT")),
        "{lines:?}"
    );
}

#[test]
fn junk_commands_close_the_session_until_mail_is_stored() {
    let mut c = config();
    c.limits.max_junk_commands = 3;
    let h = run(
        c.clone(),
        b"EHLO c.example\r\nNOOP\r\nRSET\r\nNOOP\r\nNOOP\r\nMAIL FROM:<a@example.org>\r\n",
    );
    assert!(
        last_reply(&h).starts_with("421 4.7.0 Too many commands"),
        "{:?}",
        h.output_lines()
    );
    assert!(h.session.is_closed());
    assert_eq!(h.session.closed_because(), Some(CloseReason::JunkCommands));
    // A message stored starts the count again.
    let mut input = START.to_vec();
    input.extend_from_slice(b"NOOP\r\nNOOP\r\nDATA\r\nSubject: x\r\n\r\nbody\r\n.\r\n");
    input.extend_from_slice(b"NOOP\r\nRSET\r\nHELP\r\n");
    let h = run(c, &input);
    assert!(!h.session.is_closed(), "{:?}", h.output_lines());
    assert!(last_reply(&h).starts_with("214") || last_reply(&h).starts_with("250"));
}

#[test]
fn commands_are_counted_for_a_postfix_like_summary() {
    let h = run(
        config(),
        b"EHLO c.example\r\nMAIL FROM:<a@example.org>\r\nRCPT TO:<bob@example.com>\r\n\
          RCPT TO:<carol@example.com>\r\nNOOP\r\nBOGUS\r\nQUIT\r\n",
    );
    let counts = h.session.command_counts();
    assert_eq!(counts.get("rcpt"), 2);
    assert_eq!(counts.get("unknown"), 1);
    assert_eq!(counts.total(), 7);
    assert_eq!(
        counts.to_string(),
        "ehlo=1 mail=1 rcpt=2 noop=1 quit=1 unknown=1 commands=7"
    );
}
