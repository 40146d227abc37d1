//! The examples of the RFCs that define each extension this crate implements, run against
//! messages that make each branch go the way the RFC describes. Where an RFC has no example
//! script for a feature, the test says so and uses the RFC's own wording of the behaviour.
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::Arc;

use mailwright_sieve::{
    Action, DateTime, Envelope, HeaderEdit, Host, Limits, Outcome, ParsedMessage, Script,
    apply_header_edits, mailto,
};

/// What a test host knows: the mailboxes, the environment, the filters' verdicts, the
/// duplicates already seen, the scripts `include` finds, and the time.
#[derive(Default)]
struct TestHost {
    mailboxes: Vec<&'static str>,
    environment: HashMap<&'static str, &'static str>,
    spam: Option<u8>,
    spam_percent: Option<u8>,
    virus: Option<u8>,
    seen: Vec<String>,
    personal: HashMap<&'static str, &'static str>,
    global: HashMap<&'static str, &'static str>,
    now: Option<DateTime>,
}

impl Host for TestHost {
    fn mailbox_exists(&self, name: &str) -> bool {
        self.mailboxes.contains(&name)
    }
    fn environment(&self, name: &str) -> Option<String> {
        self.environment.get(name).map(|v| (*v).to_owned())
    }
    fn spamtest(&self, percent: bool) -> Option<u8> {
        if percent {
            self.spam_percent
        } else {
            self.spam
        }
    }
    fn virustest(&self) -> Option<u8> {
        self.virus
    }
    fn duplicate_seen(&self, key: &str) -> bool {
        self.seen.iter().any(|k| k == key)
    }
    fn include(&self, global: bool, name: &str) -> Result<Option<Arc<Script>>, String> {
        let scripts = if global { &self.global } else { &self.personal };
        match scripts.get(name) {
            None => Ok(None),
            Some(text) => Script::compile(text, &Limits::default())
                .map(|s| Some(Arc::new(s)))
                .map_err(|e| e.to_string()),
        }
    }
    fn now(&self) -> Option<DateTime> {
        self.now
    }
}

fn envelope(from: &str, to: &str) -> Envelope {
    Envelope {
        from: from.to_owned(),
        to: to.to_owned(),
        auth: None,
    }
}

/// Runs `script` over `message` (LF line ends are fine) for `to`, from `from`.
fn run_with(script: &str, message: &str, from: &str, to: &str, host: &TestHost) -> Outcome {
    let script =
        Script::compile(script, &Limits::default()).unwrap_or_else(|e| panic!("{e}\n{script}"));
    let message = ParsedMessage::parse(message.as_bytes());
    script
        .run(&message, &envelope(from, to), host, &Limits::default())
        .unwrap()
}

fn run(script: &str, message: &str) -> Outcome {
    run_with(
        script,
        message,
        "sender@example.org",
        "me@example.com",
        &TestHost::default(),
    )
}

/// The outcome in short: `fileinto:BOX`, `keep`, `discard`, `redirect:ADDR`, `reject:TEXT`,
/// `vacation:REASON`, `notify:METHOD`, and `implicit keep` last when it still holds.
fn summary(outcome: &Outcome) -> Vec<String> {
    let mut out: Vec<String> = outcome
        .actions
        .iter()
        .map(|a| match a {
            Action::Keep { flags } if flags.is_empty() => "keep".to_owned(),
            Action::Keep { flags } => format!("keep {}", flags.join(" ")),
            Action::FileInto { mailbox, flags, .. } if flags.is_empty() => {
                format!("fileinto:{mailbox}")
            }
            Action::FileInto { mailbox, flags, .. } => {
                format!("fileinto:{mailbox} {}", flags.join(" "))
            }
            Action::Redirect { address } => format!("redirect:{address}"),
            Action::Reject { reason, extended } => {
                format!("{}:{reason}", if *extended { "ereject" } else { "reject" })
            }
            Action::Discard => "discard".to_owned(),
            Action::Notify { method, .. } => format!("notify:{method}"),
            Action::Vacation(v) => format!("vacation:{}", v.reason),
            Action::EditHeader(HeaderEdit::Add { name, value, .. }) => {
                format!("addheader:{name}: {value}")
            }
            Action::EditHeader(HeaderEdit::Delete { name, occurrence }) => {
                format!("deleteheader:{name}#{occurrence}")
            }
        })
        .collect();
    if outcome.implicit_keep {
        out.push("implicit keep".to_owned());
    }
    out
}

fn assert_does(script: &str, message: &str, expected: &[&str]) {
    assert_eq!(summary(&run(script, message)), expected, "{message}");
}

// RFC 5228 §9: the extended example, one message per branch.
const RFC5228_EXAMPLE: &str = r#"#
# Example Sieve Filter
# Declare any optional features or extension used by the script
#
require ["fileinto"];

#
# Handle messages from known mailing lists
# Move messages from IETF filter discussion list to filter mailbox
#
if header :is "Sender" "owner-ietf-mta-filters@imc.org"
        {
        fileinto "filter";  # move to "filter" mailbox
        }
#
# Keep all messages to or from people in my company
#
elsif address :DOMAIN :is ["From", "To"] "example.com"
        {
        keep;               # keep in "In" mailbox
        }

#
# Try and catch unsolicited email.  If a message is not to me,
# or it contains a subject known to be spam, file it away.
#
elsif anyof (NOT address :all :contains
               ["To", "Cc", "Bcc"] "me@example.com",
             header :matches "subject"
               ["*make*money*fast*", "*university*dipl*mas*"])
        {
        fileinto "spam";   # move to "spam" mailbox
        }
else
        {
        # Move all other (non-company) mail to "personal"
        # mailbox.
        fileinto "personal";
        }
"#;

#[test]
fn rfc5228_core_extended_example() {
    let list = "Sender: owner-ietf-mta-filters@imc.org\nFrom: a@b.org\nTo: me@example.com\n\nx\n";
    assert_does(RFC5228_EXAMPLE, list, &["fileinto:filter"]);
    let company = "From: boss@example.com\nTo: me@other.org\n\nx\n";
    assert_does(RFC5228_EXAMPLE, company, &["keep"]);
    let not_to_me = "From: x@spam.example\nTo: you@elsewhere.example\n\nx\n";
    assert_does(RFC5228_EXAMPLE, not_to_me, &["fileinto:spam"]);
    let money = "From: x@spam.example\nTo: list@other.example\nCc: me@example.com\n\
                 Subject: Make more money fast\n\nx\n";
    assert_does(RFC5228_EXAMPLE, money, &["fileinto:spam"]);
    let friend = "From: friend@home.example\nCc: me@example.com\nSubject: dinner\n\nx\n";
    assert_does(RFC5228_EXAMPLE, friend, &["fileinto:personal"]);
}

#[test]
fn rfc5228_core_tests_and_commands() {
    // §5.7 exists, §5.9 size (with the quantifier K), §3.3 stop, §4.3 discard, §5.1 address
    // with :localpart, §2.7.1 the match types.
    let message = "From: tim@example.com\nDate: Mon, 1 Dec 2026 10:00:00 +0000\n\
                   Subject: MAKE MONEY FAST\n\nbody\n";
    assert_does(
        r#"if not exists ["From","Date"] { discard; }"#,
        message,
        &["implicit keep"],
    );
    assert_does(
        r#"if exists ["From","X-Nothing"] { discard; }"#,
        message,
        &["implicit keep"],
    );
    assert_does(
        r#"if size :over 100K { discard; }"#,
        message,
        &["implicit keep"],
    );
    assert_does(r#"if size :under 1K { discard; }"#, message, &["discard"]);
    assert_does(
        r#"if address :localpart :is "from" "tim" { discard; stop; } keep;"#,
        message,
        &["discard"],
    );
    // §2.7.1: the comparison is case-insensitive by default (i;ascii-casemap), and
    // "i;octet" is not.
    assert_does(
        r#"if header :contains "subject" "money" { discard; }"#,
        message,
        &["discard"],
    );
    assert_does(
        r#"if header :contains :comparator "i;octet" "subject" "money" { discard; }"#,
        message,
        &["implicit keep"],
    );
    // §2.7.1: "?" matches one character, "*" any run; "\\" escapes them.
    assert_does(
        r#"if header :matches "subject" "MAKE?MONEY*" { discard; }"#,
        message,
        &["discard"],
    );
    assert_does(
        r#"if header :matches "subject" "MAKE\\*" { discard; }"#,
        message,
        &["implicit keep"],
    );
    // §4.2: redirect cancels the implicit keep.
    assert_does(
        r#"redirect "bart@example.com";"#,
        message,
        &["redirect:bart@example.com"],
    );
}

#[test]
fn rfc5228_envelope_example() {
    // §5.4: require "envelope"; if envelope :all :is "from" "tim@example.com" { discard; }
    let script = r#"require "envelope";
        if envelope :all :is "from" "tim@example.com" {
           discard;
        }"#;
    let out = run_with(
        script,
        "\nx\n",
        "tim@example.com",
        "me@example.com",
        &TestHost::default(),
    );
    assert_eq!(summary(&out), ["discard"]);
    let out = run_with(
        script,
        "\nx\n",
        "tom@example.com",
        "me@example.com",
        &TestHost::default(),
    );
    assert_eq!(summary(&out), ["implicit keep"]);
}

#[test]
fn rfc5228_encoded_character() {
    // RFC 5228 §2.4.2.4: "$${hex:24 24}" is "$$$", "${unicode:40}" is "@"; a malformed one
    // is left as it is.
    let message = "Subject: $$$ @ ${hex:zz}\n\nx\n";
    assert_does(
        r#"require "encoded-character";
           if header :is "subject" "$${hex:24 24} ${unicode:40} ${hex:zz}" { discard; }"#,
        message,
        &["discard"],
    );
    assert_does(
        r#"require "encoded-character";
           if header :is "subject" "${hex:24 24 24} ${UNICODE: 0040} $${hex:7a 7a}" { discard; }"#,
        "Subject: $$$ @ $zz\n\nx\n",
        &["discard"],
    );
}

#[test]
fn rfc5229_fileinto_with_the_rfcs_folders() {
    // RFC 5228 §4.1: fileinto "mailbox"; with require "fileinto".
    assert_does(
        r#"require "fileinto"; if header :contains "subject" "dinner" { fileinto "INBOX.food"; }"#,
        "Subject: dinner tonight\n\nx\n",
        &["fileinto:INBOX.food"],
    );
}

#[test]
fn rfc5173_body_examples() {
    let mime = "From: x@example.org\nMIME-Version: 1.0\n\
                Content-Type: multipart/mixed; boundary=b\n\n\
                --b\nContent-Type: text/plain\n\nthe missile is ready\n\
                --b\nContent-Type: audio/mp3\nContent-Transfer-Encoding: base64\n\nAAAA\n\
                --b--\n";
    // §7, first example.
    let secrets = r#"require ["body", "fileinto"];
        # Save any message with any text MIME part that contains the
        # words "missile" or "coordinates" in the "secrets" folder.
        if body :content "text" :contains ["missile", "coordinates"] {
                fileinto "secrets";
        }
        # Save any message with an audio/mp3 MIME part in
        # the "jukebox" folder.
        if body :content "audio/mp3" :contains "" {
                fileinto "jukebox";
        }"#;
    assert_does(secrets, mime, &["fileinto:secrets", "fileinto:jukebox"]);
    assert_does(
        secrets,
        "Content-Type: text/plain\n\nnothing here\n",
        &["implicit keep"],
    );
    // §5.1 :raw sees the undecoded body, §5.3 :text only text parts.
    assert_does(
        r#"require "body"; if body :raw :contains "MAKE MONEY FAST" { discard; }"#,
        "Subject: x\n\nHi, MAKE MONEY FAST now\n",
        &["discard"],
    );
    assert_does(
        r#"require "body"; if body :text :contains "AAAA" { discard; }"#,
        mime,
        &["implicit keep"],
    );
}

#[test]
fn rfc5229_variables_examples() {
    let script = r#"require ["variables", "fileinto"];
        if header :matches "List-ID" "*<*@*" {
            fileinto "INBOX.lists.${2}"; stop;
        }

        # Imagine the header
        # Subject: [acme-users] [fwd] version 1.0 is out
        if header :matches "Subject" "[*] *" {
            # ${1} will hold "acme-users",
            # ${2} will hold "[fwd] version 1.0 is out"
            fileinto "INBOX.lists.${1}"; stop;
        }

        # Imagine the header
        # To: coyote@ACME.Example.COM
        if address :matches ["To", "Cc"] ["coyote@**.com",
                "wile@**.com"] {
            # ${0} is the matching address
            # ${1} is always the empty string
            # ${2} is part of the domain name ("ACME.Example")
            fileinto "INBOX.business.${2}"; stop;
        } else {
            # Control wouldn't reach this block if any match was
            # successful, so no match variables are set at this
            # point.
        }

        if anyof (true, address :domain :matches "To" "*.com") {
            # The second test is never evaluated, so there are
            # still no match variables set.
            stop;
        }"#;
    assert_does(
        script,
        "List-ID: Sieve <sieve@ietf.example>\n\nx\n",
        &["fileinto:INBOX.lists.sieve"],
    );
    assert_does(
        script,
        "Subject: [acme-users] [fwd] version 1.0 is out\n\nx\n",
        &["fileinto:INBOX.lists.acme-users"],
    );
    assert_does(
        script,
        "To: coyote@ACME.Example.COM\n\nx\n",
        &["fileinto:INBOX.business.ACME.Example"],
    );
    assert_does(script, "To: x@example.org\n\nx\n", &["implicit keep"]);

    // §4.1: the modifiers, with the RFC's values.
    let modifiers = r#"require ["variables", "fileinto"];
        set "a" "juMBlEd lETteRS";
        set :length "b" "${a}";
        set :lower "c" "${a}";
        set :upper "d" "${a}";
        set :lowerfirst "e" "${a}";
        set :upperfirst "f" "${a}";
        set :quotewildcard "g" "Rock*";
        set :upperfirst :lower "h" "${a}";
        fileinto "${b}|${c}|${d}|${e}|${f}|${g}|${h}";"#;
    assert_does(
        modifiers,
        "\nx\n",
        &[
            "fileinto:15|jumbled letters|JUMBLED LETTERS|juMBlEd lETteRS|JuMBlEd lETteRS|Rock\\*|Jumbled letters",
        ],
    );
    // §3: names are case-insensitive; an unknown variable is empty (so "$${x}" is "$").
    assert_does(
        r#"require ["variables", "fileinto"];
           set "honorific" "Mr"; set "last_name" "Coyote";
           fileinto "${HONORIFIC} ${last_name}${unknown} $${x}";"#,
        "\nx\n",
        &["fileinto:Mr Coyote $"],
    );
    // §5: the string test.
    assert_does(
        r#"require "variables"; set "state" "on";
           if string :is "${state}" "on" { discard; }"#,
        "\nx\n",
        &["discard"],
    );
}

#[test]
fn rfc5230_vacation_examples() {
    let script = r#"require "vacation";
        if header :contains "subject" "cyrus" {
            vacation "I'm out -- send mail to cyrus-bugs";
        } else {
            vacation "I'm out -- call me at +1 304 555 0123";
        }"#;
    assert_does(
        script,
        "Subject: cyrus crashed\n\nx\n",
        &[
            "vacation:I'm out -- send mail to cyrus-bugs",
            "implicit keep",
        ],
    );
    assert_does(
        script,
        "Subject: hello\n\nx\n",
        &[
            "vacation:I'm out -- call me at +1 304 555 0123",
            "implicit keep",
        ],
    );
    // §4.7 :days and :addresses; §4.5 :from; §4.2 :handle; §4.3 :subject with variables.
    let out = run(
        r#"require ["vacation", "variables"];
           if header :matches "subject" "*" {
               vacation :days 23 :subject "Automatic response to: ${1}"
                        :addresses ["tjs@example.edu", "ts4z@landru.example.edu"]
                        :from "tjs@example.edu" :handle "away"
                        "I'm away until October 19.  If it's an emergency, call 911.";
           }"#,
        "Subject: the plan\n\nx\n",
    );
    let Action::Vacation(v) = &out.actions[0] else {
        panic!("{out:?}")
    };
    assert_eq!(
        v.subject.as_deref(),
        Some("Automatic response to: the plan")
    );
    assert_eq!(v.period, Some(23 * 86_400));
    assert_eq!(v.addresses, ["tjs@example.edu", "ts4z@landru.example.edu"]);
    assert_eq!(v.from.as_deref(), Some("tjs@example.edu"));
    assert_eq!(v.handle, "away");
    // §4.8 :mime: the reason is a MIME entity.
    let out = run(
        "require \"vacation\";\nvacation :mime text:\nContent-Type: text/plain; charset=utf-8\n\nI'm away.\n.\n;\n",
        "\nx\n",
    );
    let Action::Vacation(v) = &out.actions[0] else {
        panic!("{out:?}")
    };
    assert!(
        v.mime && v.reason.starts_with("Content-Type: text/plain"),
        "{v:?}"
    );
    // Two vacation actions are an error (§4: only one per run).
    let script = Script::compile(
        "require \"vacation\"; vacation \"a\"; vacation \"b\";",
        &Limits::default(),
    )
    .unwrap();
    let message = ParsedMessage::parse(b"\nx\n");
    assert!(
        script
            .run(
                &message,
                &envelope("a@b.c", "me@example.com"),
                &TestHost::default(),
                &Limits::default()
            )
            .is_err()
    );
}

#[test]
fn rfc6131_vacation_seconds_example() {
    let out = run(
        r#"require ["vacation-seconds"];
           vacation :addresses ["tjs@example.edu", "ts4z@landru.example.edu"]
                    :seconds 1800
                    "I am in a meeting, and do not have access to email.";"#,
        "\nx\n",
    );
    let Action::Vacation(v) = &out.actions[0] else {
        panic!("{out:?}")
    };
    assert_eq!(v.period, Some(1800));
    // §2: ":seconds 0" answers every message.
    let out = run(
        r#"require "vacation-seconds"; vacation :seconds 0 "x";"#,
        "\nx\n",
    );
    let Action::Vacation(v) = &out.actions[0] else {
        panic!("{out:?}")
    };
    assert_eq!(v.period, Some(0));
}

#[test]
fn rfc3894_copy_examples() {
    // §3: fileinto :copy and redirect :copy keep the implicit keep.
    assert_does(
        r#"require ["copy", "fileinto"];
           fileinto :copy "incoming";"#,
        "\nx\n",
        &["fileinto:incoming", "implicit keep"],
    );
    assert_does(
        r#"require ["copy"];
           if header :contains "to" "ietf-mta-filters@imc.org" {
               redirect :copy "archive@example.com";
           }"#,
        "To: ietf-mta-filters@imc.org\n\nx\n",
        &["redirect:archive@example.com", "implicit keep"],
    );
}

#[test]
fn rfc5232_imap4flags_examples() {
    // §7, the examples.
    assert_does(
        r#"require ["imap4flags", "fileinto"];
           if size :over 500K {
               setflag "\\Deleted";
           }"#,
        &format!("Subject: big\n\n{}\n", "x".repeat(600 * 1024)),
        &["implicit keep"],
    );
    let out = run(
        r#"require "imap4flags";
           if size :over 500K { setflag "\\Deleted"; }"#,
        &format!("Subject: big\n\n{}\n", "x".repeat(600 * 1024)),
    );
    assert_eq!(out.keep_flags, ["\\Deleted"]);
    assert_does(
        r#"require ["imap4flags", "fileinto"];
           if header :contains "from" "boss@frobnitzm.example.edu" {
               setflag "\\Flagged";
               fileinto "INBOX.From Boss";
           }"#,
        "From: boss@frobnitzm.example.edu\n\nx\n",
        &["fileinto:INBOX.From Boss \\Flagged"],
    );
    // §5 :flags on fileinto and keep; §3 addflag/removeflag on a variable; §4 hasflag.
    let out = run(
        r#"require ["imap4flags", "fileinto", "variables"];
           addflag "flagvar" ["\\Answered", "$MDNSent"];
           addflag "flagvar" "\\Seen \\Answered";
           removeflag "flagvar" "$MDNSent";
           if hasflag :is "flagvar" "\\Seen" {
               fileinto :flags "${flagvar}" "INBOX.seen";
           }
           keep :flags "\\Draft";
           if not hasflag :contains "MyVar" "Junk" { stop; }
           discard;"#,
        "\nx\n",
    );
    assert_eq!(
        summary(&out),
        ["fileinto:INBOX.seen \\Answered \\Seen", "keep \\Draft"]
    );
}

#[test]
fn rfc6609_include_examples() {
    // §3.3 and §6: a user script made of a personal and a global script, with "return" and
    // "global" variables.
    let mut host = TestHost::default();
    host.personal.insert(
        "always_allow",
        r#"require ["fileinto"];
           if address :is "from" "boss@example.com" { fileinto "boss"; stop; }"#,
    );
    host.global.insert(
        "spam_tests",
        r#"require ["variables", "include", "fileinto"];
           global "test";
           if header :contains "subject" "money" { fileinto "spam"; stop; }
           if string :is "${test}" "$$" { return; }
           discard;"#,
    );
    let script = r#"require ["include", "variables"];
        global "test";
        set "test" "$$";
        include :personal "always_allow";
        include :global "spam_tests";
        fileinto "after";"#;
    let script = format!("require \"fileinto\";\n{script}");
    let boss = run_with(
        &script,
        "From: boss@example.com\n\nx\n",
        "a@b.c",
        "me@example.com",
        &host,
    );
    assert_eq!(summary(&boss), ["fileinto:boss"]);
    let spam = run_with(
        &script,
        "Subject: money\n\nx\n",
        "a@b.c",
        "me@example.com",
        &host,
    );
    assert_eq!(summary(&spam), ["fileinto:spam"]);
    let other = run_with(
        &script,
        "Subject: hi\n\nx\n",
        "a@b.c",
        "me@example.com",
        &host,
    );
    assert_eq!(summary(&other), ["fileinto:after"]);
    // §3.2: including a script that does not exist is an error unless :optional.
    let missing = Script::compile(
        "require \"include\"; include :personal \"nothere\";",
        &Limits::default(),
    )
    .unwrap();
    let message = ParsedMessage::parse(b"\nx\n");
    assert!(
        missing
            .run(
                &message,
                &envelope("a@b.c", "me@example.com"),
                &host,
                &Limits::default()
            )
            .is_err()
    );
    let optional = run_with(
        "require \"include\"; include :optional \"nothere\";",
        "\nx\n",
        "a@b.c",
        "me@example.com",
        &host,
    );
    assert_eq!(summary(&optional), ["implicit keep"]);
}

#[test]
fn rfc5231_relational_examples() {
    // §6: the message of the examples and the results the RFC gives.
    let message = "Received: ...\nReceived: ...\nSubject: example\n\
                   To: foo@example.com, baz@example.com\nCC: qux@example.com\n\nx\n";
    let cases = [
        (
            r#"address :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"]"#,
            true,
        ),
        (
            r#"anyof ( address :count "ge" :comparator "i;ascii-numeric" ["to"] ["3"],
                       address :count "ge" :comparator "i;ascii-numeric" ["cc"] ["3"] )"#,
            false,
        ),
        (
            r#"header :count "ge" :comparator "i;ascii-numeric" ["received"] ["3"]"#,
            false,
        ),
        (
            r#"header :count "ge" :comparator "i;ascii-numeric" ["received", "subject"] ["3"]"#,
            true,
        ),
        (
            r#"header :count "ge" :comparator "i;ascii-numeric" ["to", "cc"] ["3"]"#,
            false,
        ),
        (r#"header :value "lt" "subject" "f""#, true),
        // RFC 4790 §9.1: a value that does not start with a digit is positive infinity.
        (
            r#"header :value "gt" :comparator "i;ascii-numeric" "received" "3""#,
            true,
        ),
    ];
    for (test, expected) in cases {
        let out = run(
            &format!(
                "require [\"relational\", \"comparator-i;ascii-numeric\"];\nif {test} {{ discard; }}"
            ),
            message,
        );
        assert_eq!(out.actions == [Action::Discard], expected, "{test}");
    }
}

#[test]
fn rfc4790_ascii_numeric_comparator() {
    // RFC 4790 §9.1: digits at the start compare as a number; a value without one is
    // positive infinity (greater than every number).
    let script = r#"require ["relational", "comparator-i;ascii-numeric"];
        if header :value "gt" :comparator "i;ascii-numeric" "x-priority" "3" { discard; }"#;
    assert_does(script, "X-Priority: 10 (lowest)\n\nx\n", &["discard"]);
    assert_does(script, "X-Priority: 2\n\nx\n", &["implicit keep"]);
    assert_does(script, "X-Priority: none\n\nx\n", &["discard"]);
    assert_does(
        r#"require "comparator-i;ascii-numeric";
           if header :is :comparator "i;ascii-numeric" "x-priority" "007" { discard; }"#,
        "X-Priority: 7\n\nx\n",
        &["discard"],
    );
}

#[test]
fn rfc5233_subaddress_example() {
    let script = r#"require ["envelope", "subaddress", "fileinto"];

        # In this example the same user account receives mail for both
        # "ken@example.com" and "postmaster@example.com"

        # File all messages to postmaster into a single mailbox,
        # ignoring the :detail part.
        if envelope :user "to" "postmaster" {
            fileinto "inbox.postmaster";
            stop;
        }

        # File mailing list messages (subscribed as "ken+mta-filters").
        if envelope :detail "to" "mta-filters" {
            fileinto "inbox.ietf-mta-filters";
        }

        # Redirect all mail sent to "ken+foo".
        if envelope :detail "to" "foo" {
            redirect "ken@example.net";
        }"#;
    let host = TestHost::default();
    let to = |rcpt| summary(&run_with(script, "\nx\n", "a@b.c", rcpt, &host));
    assert_eq!(
        to("postmaster+x@example.com"),
        ["fileinto:inbox.postmaster"]
    );
    assert_eq!(
        to("ken+mta-filters@example.com"),
        ["fileinto:inbox.ietf-mta-filters"]
    );
    assert_eq!(to("ken+foo@example.com"), ["redirect:ken@example.net"]);
    assert_eq!(to("ken@example.com"), ["implicit keep"]);
}

#[test]
fn rfc5490_mailbox_examples() {
    let host = TestHost {
        mailboxes: vec!["INBOX", "Partners"],
        ..TestHost::default()
    };
    let script = r#"require ["fileinto", "mailbox"];
        if mailboxexists "Partners" {
            fileinto "Partners";
        } else {
            fileinto :create "INBOX.Partners";
        }"#;
    let out = run_with(script, "\nx\n", "a@b.c", "me@example.com", &host);
    assert_eq!(summary(&out), ["fileinto:Partners"]);
    let out = run_with(
        script,
        "\nx\n",
        "a@b.c",
        "me@example.com",
        &TestHost::default(),
    );
    assert_eq!(
        out.actions,
        [Action::FileInto {
            mailbox: "INBOX.Partners".into(),
            flags: vec![],
            create: true
        }]
    );
}

#[test]
fn rfc5429_reject_and_ereject_examples() {
    assert_does(
        "require [\"reject\"];\n\
         if header :contains \"from\" \"coyote@desert.example.org\" {\n\
         reject text:\nI am not taking mail from you, and I don't\nwant your birdseed, either.\n.\n;\n}\n",
        "From: coyote@desert.example.org\n\nx\n",
        // The lines of a multi-line string end in CRLF (RFC 5228 §2.4.2).
        &["reject:I am not taking mail from you, and I don't\r\nwant your birdseed, either.\r\n"],
    );
    assert_does(
        r#"require ["ereject"];
           if address :domain :is "from" "desert.example.org" {
               ereject "I no longer accept mail from this domain";
           }"#,
        "From: coyote@desert.example.org\n\nx\n",
        &["ereject:I no longer accept mail from this domain"],
    );
    // §2.1: reject cannot be combined with keep or fileinto.
    assert!(
        Script::compile(
            "require [\"reject\"]; reject \"no\"; keep;",
            &Limits::default()
        )
        .map(|s| {
            let m = ParsedMessage::parse(b"\nx\n");
            s.run(
                &m,
                &envelope("a@b.c", "me@example.com"),
                &TestHost::default(),
                &Limits::default(),
            )
        })
        .map(|r| r.is_err())
        .unwrap_or(true)
    );
}

#[test]
fn rfc5260_date_and_index_examples() {
    // §7, the first example: mail from the boss between 9 and 17 in its own zone.
    let script = r#"require ["date", "relational", "fileinto"];
        if allof(header :is "from" "boss@example.com",
                 date :value "ge" :originalzone "date" "hour" "09",
                 date :value "lt" :originalzone "date" "hour" "17")
        {
            fileinto "urgent";
        }"#;
    assert_does(
        script,
        "From: boss@example.com\nDate: Tue, 1 Dec 2026 10:30:00 -0800\n\nx\n",
        &["fileinto:urgent"],
    );
    assert_does(
        script,
        "From: boss@example.com\nDate: Tue, 1 Dec 2026 18:30:00 -0800\n\nx\n",
        &["implicit keep"],
    );
    // The second: the first week of July, with currentdate.
    let july = r#"require ["date", "relational", "vacation"];
        if allof(currentdate :value "ge" "date" "2007-06-30",
                 currentdate :value "le" "date" "2007-07-07")
        {
            vacation :days 7  "I'm away during the first week in July.";
        }"#;
    let at = |y_m_d_h: &str| {
        let host = TestHost {
            now: Some(datetime(y_m_d_h)),
            ..TestHost::default()
        };
        summary(&run_with(july, "\nx\n", "a@b.c", "me@example.com", &host))
    };
    assert_eq!(
        at("Tue, 3 Jul 2007 12:00:00 +0000"),
        [
            "vacation:I'm away during the first week in July.",
            "implicit keep"
        ]
    );
    assert_eq!(at("Tue, 10 Jul 2007 12:00:00 +0000"), ["implicit keep"]);
    // The third: a folder per month.
    let host = TestHost {
        now: Some(datetime("Thu, 3 Dec 2026 12:00:00 +0000")),
        ..TestHost::default()
    };
    let out = run_with(
        r#"require ["date", "variables", "fileinto"];
           if currentdate :matches "month" "*" { set "month" "${1}"; }
           if currentdate :matches "year"  "*" { set "year" "${1}"; }
           fileinto "${month}-${year}";"#,
        "\nx\n",
        "a@b.c",
        "me@example.com",
        &host,
    );
    assert_eq!(summary(&out), ["fileinto:12-2026"]);
    // The fourth: the date header rewritten to UTC with :zone.
    assert_does(
        r#"require ["date", "variables", "fileinto"];
           if date :zone "+0000" :matches "date" "std11" "*" { fileinto "${1}"; }"#,
        "Date: Tue, 1 Dec 2026 23:30:00 -0800\n\nx\n",
        // Two-digit days, as Pigeonhole writes them.
        &["fileinto:Wed, 02 Dec 2026 07:30:00 +0000"],
    );
    // §6 index: the first (most recent) Received, and the last (the oldest) with :last.
    let received = "Received: from c by b; Tue, 1 Dec 2026 10:02:00 +0000\n\
                    Received: from b by a; Tue, 1 Dec 2026 10:01:00 +0000\n\
                    Received: from a by x; Tue, 1 Dec 2026 10:00:00 +0000\n\nx\n";
    assert_does(
        r#"require ["index", "fileinto"];
           if header :index 1 :contains "received" "from c" { fileinto "first"; }
           if header :index 1 :last :contains "received" "from a" { fileinto "last"; }
           if header :index 2 :last :contains "received" "from b" { fileinto "middle"; }"#,
        received,
        &["fileinto:first", "fileinto:last", "fileinto:middle"],
    );
}

/// The test's clock: an RFC 5322 date as `Tue, 3 Jul 2007 12:00:00 +0000` (days from
/// 1970-01-01 by Howard Hinnant's civil-date algorithm).
fn datetime(text: &str) -> DateTime {
    let words: Vec<&str> = text.split_whitespace().collect();
    let (day, month, year, time, zone) = (words[1], words[2], words[3], words[4], words[5]);
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m = months.iter().position(|x| *x == month).unwrap() as i64 + 1;
    let (d, y): (i64, i64) = (day.parse().unwrap(), year.parse().unwrap());
    let (y, m) = if m <= 2 { (y - 1, m + 9) } else { (y, m - 3) };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * m + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let hms: Vec<i64> = time.split(':').map(|p| p.parse().unwrap()).collect();
    let sign = if zone.starts_with('-') { -1 } else { 1 };
    let offset =
        sign * (zone[1..3].parse::<i32>().unwrap() * 60 + zone[3..5].parse::<i32>().unwrap());
    DateTime {
        unix: days * 86_400 + hms[0] * 3600 + hms[1] * 60 + hms[2] - i64::from(offset) * 60,
        offset_minutes: offset,
    }
}

#[test]
fn rfc5235_spamtest_and_virustest_examples() {
    let spam = r#"require ["spamtest", "fileinto", "relational", "comparator-i;ascii-numeric"];
        if spamtest :value "eq" :comparator "i;ascii-numeric" "0"
        {
            fileinto "INBOX.unclassified";
        }
        elsif spamtest :value "ge" :comparator "i;ascii-numeric" "3"
        {
            fileinto "INBOX.spam-trap";
        }"#;
    let with = |host: TestHost, script: &str| {
        summary(&run_with(script, "\nx\n", "a@b.c", "me@example.com", &host))
    };
    assert_eq!(
        with(TestHost::default(), spam),
        ["fileinto:INBOX.unclassified"]
    );
    assert_eq!(
        with(
            TestHost {
                spam: Some(8),
                ..TestHost::default()
            },
            spam
        ),
        ["fileinto:INBOX.spam-trap"]
    );
    assert_eq!(
        with(
            TestHost {
                spam: Some(1),
                ..TestHost::default()
            },
            spam
        ),
        ["implicit keep"]
    );
    let plus = r#"require ["spamtestplus", "fileinto", "relational", "comparator-i;ascii-numeric"];
        if spamtest :value "eq" :comparator "i;ascii-numeric" "0" { fileinto "INBOX.unclassified"; }
        elsif spamtest :percent :value "eq" :comparator "i;ascii-numeric" "0" { fileinto "INBOX.not-spam"; }
        elsif spamtest :percent :value "lt" :comparator "i;ascii-numeric" "37" { fileinto "INBOX.spam-trap"; }
        else { discard; }"#;
    let scored = |percent| TestHost {
        spam: Some(5),
        spam_percent: Some(percent),
        ..TestHost::default()
    };
    assert_eq!(with(scored(0), plus), ["fileinto:INBOX.not-spam"]);
    assert_eq!(with(scored(20), plus), ["fileinto:INBOX.spam-trap"]);
    assert_eq!(with(scored(90), plus), ["discard"]);
    let virus = r#"require ["virustest", "fileinto", "relational", "comparator-i;ascii-numeric"];
        if virustest :value "eq" :comparator "i;ascii-numeric" "0"
        {
            fileinto "INBOX.unclassified";
        }
        if virustest :value "eq" :comparator "i;ascii-numeric" "4"
        {
            fileinto "INBOX.quarantine";
        }
        elsif virustest :value "eq" :comparator "i;ascii-numeric" "5"
        {
            discard;
        }"#;
    assert_eq!(
        with(TestHost::default(), virus),
        ["fileinto:INBOX.unclassified"]
    );
    assert_eq!(
        with(
            TestHost {
                virus: Some(4),
                ..TestHost::default()
            },
            virus
        ),
        ["fileinto:INBOX.quarantine"]
    );
    assert_eq!(
        with(
            TestHost {
                virus: Some(5),
                ..TestHost::default()
            },
            virus
        ),
        ["discard"]
    );
    assert_eq!(
        with(
            TestHost {
                virus: Some(1),
                ..TestHost::default()
            },
            virus
        ),
        ["implicit keep"]
    );
}

#[test]
fn rfc7352_duplicate_examples() {
    let message = "Message-ID: <1234@example.com>\nX-Event-ID: 42\n\nx\n";
    let script = r#"require ["duplicate", "fileinto", "mailbox"];
        if duplicate {
            fileinto :create "Trash/Duplicate";
        }"#;
    let first = run(script, message);
    assert_eq!(summary(&first), ["implicit keep"]);
    // What the caller records after delivering; the next delivery sees it.
    let (key, period, last) = first.duplicates[0].clone();
    assert_eq!((period, last), (None, false));
    let host = TestHost {
        seen: vec![key],
        ..TestHost::default()
    };
    let again = run_with(script, message, "a@b.c", "me@example.com", &host);
    assert_eq!(summary(&again), ["fileinto:Trash/Duplicate"]);
    // §3, with a header as the id, a handle and :seconds.
    let notifier = r#"require ["duplicate", "variables"];
        if duplicate :header "x-event-id" :handle "notifier" :seconds 1800 { discard; }"#;
    let out = run(notifier, message);
    assert_eq!(summary(&out), ["implicit keep"]);
    assert_eq!(out.duplicates[0].1, Some(1800));
    let host = TestHost {
        seen: vec![out.duplicates[0].0.clone()],
        ..TestHost::default()
    };
    let out = run_with(notifier, message, "a@b.c", "me@example.com", &host);
    assert_eq!(summary(&out), ["discard"]);
}

#[test]
fn rfc5435_enotify_examples() {
    // §9, the first example.
    let script = r#"require ["enotify", "fileinto", "variables"];

        if header :contains "from" "boss@example.org" {
            notify :importance "1"
                :message "This is probably very important"
                            "mailto:alm@example.com";
            # Don't send any further notifications
            stop;
        }

        if header :contains "to" "sievemailinglist@example.org" {
            # :matches is used to get the value of the Subject header
            if header :matches "Subject" "*" {
                set "subject" "${1}";
            }

            # :matches is used to get the value of the From header
            if header :matches "From" "*" {
                set "from" "${1}";
            }

            notify :importance "3"
                :message "[SIEVE] ${from}: ${subject}"
                "mailto:alm@example.com";
            fileinto "INBOX.sieve";
        }"#;
    let boss = run(script, "From: boss@example.org\n\nx\n");
    let Action::Notify {
        method,
        importance,
        message,
        ..
    } = &boss.actions[0]
    else {
        panic!("{boss:?}")
    };
    assert_eq!(method, "mailto:alm@example.com");
    assert_eq!(importance.as_deref(), Some("1"));
    assert_eq!(message.as_deref(), Some("This is probably very important"));
    assert!(boss.implicit_keep);
    let list = run(
        script,
        "From: ann@example.net\nTo: sievemailinglist@example.org\nSubject: variables\n\nx\n",
    );
    assert_eq!(
        summary(&list),
        ["notify:mailto:alm@example.com", "fileinto:INBOX.sieve"]
    );
    let Action::Notify { message, .. } = &list.actions[0] else {
        panic!()
    };
    assert_eq!(
        message.as_deref(),
        Some("[SIEVE] ann@example.net: variables")
    );
    // §5: valid_notify_method; §6: notify_method_capability; §4.1 :encodeurl.
    assert_does(
        r#"require ["enotify", "variables"];
           if valid_notify_method "mailto:x@example.com" { set "a" "valid"; }
           if not valid_notify_method "xmpp:x@example.com" { set "b" "not"; }
           if notify_method_capability :is "mailto:x@example.com" "Online" "maybe" {
               set "c" "maybe";
           }
           set :encodeurl "d" "a b&c";
           if string :is "${a} ${b} ${c} ${d}" "valid not maybe a%20b%26c" { discard; }"#,
        "\nx\n",
        &["discard"],
    );
    // The mailto: URI the caller sends to (RFC 6068).
    let uri = mailto("mailto:alm@example.com?subject=hi&cc=b@example.com").unwrap();
    assert_eq!(uri.to, ["alm@example.com"]);
    assert!(
        uri.fields.contains(&("subject".into(), "hi".into())),
        "{uri:?}"
    );
}

#[test]
fn rfc5183_environment_examples() {
    let mut host = TestHost::default();
    host.environment.insert("domain", "example.com");
    host.environment.insert("host", "mx.example.com");
    host.environment.insert("remote-host", "mail.example.org");
    host.environment.insert("phase", "during");
    host.environment.insert("name", "mailserver");
    // §5: deliveries relayed by our own domain's hosts.
    let script = r#"require ["environment", "fileinto"];
        if environment :matches "remote-host" "*.example.org" { fileinto "partners"; }
        if environment :is "phase" "during" { fileinto "during"; }
        if environment :contains "name" "Mail" { fileinto "named"; }
        if environment :is "location" "MTA" { fileinto "never"; }"#;
    let out = run_with(script, "\nx\n", "a@b.c", "me@example.com", &host);
    assert_eq!(
        summary(&out),
        ["fileinto:partners", "fileinto:during", "fileinto:named"]
    );
}

#[test]
fn draft_regex_examples() {
    // draft-ietf-sieve-regex-01 §3, with the match variables of §4.
    assert_does(
        r#"require ["regex", "variables", "fileinto"];
           if address :regex :localpart "from" "^(sales|support)-([a-z]+)$" {
               fileinto "team.${1}.${2}";
           }
           if header :regex "subject" "\\[([A-Z]+)-[0-9]+\\]" {
               fileinto "ticket.${1}";
           }"#,
        "From: support-emea@example.com\nSubject: Re: [OPS-1234] disk full\n\nx\n",
        &["fileinto:team.support.emea", "fileinto:ticket.OPS"],
    );
    // A bad expression is a compile error that says where.
    let err = Script::compile(
        "require \"regex\";\nif header :regex \"subject\" \"(\" { stop; }",
        &Limits::default(),
    )
    .unwrap_err();
    assert_eq!(err.position.line, 2, "{err}");
}

#[test]
fn rfc5293_editheader_examples() {
    // §9, the first example: mark a message as filtered once, and forward it.
    let script = r#"require ["editheader"];
        /* Don't redirect if we already have a X-Sieve-Filtered header */
        if not header :contains "X-Sieve-Filtered"
                ["<kim@job.example.com>", "<kim@home.example.com>"]
        {
                addheader "X-Sieve-Filtered" "<kim@job.example.com>";
                redirect "kim@home.example.com";
        }"#;
    assert_does(
        script,
        "Subject: hi\n\nx\n",
        &[
            "addheader:X-Sieve-Filtered: <kim@job.example.com>",
            "redirect:kim@home.example.com",
        ],
    );
    assert_does(
        script,
        "X-Sieve-Filtered: <kim@home.example.com>\nSubject: hi\n\nx\n",
        &["implicit keep"],
    );
    // §9, the second: a spam filter's verdict replaced, which later tests see.
    let raw = "X-Spam-Score: 5.0\nReceived: a\nX-Spam-Score: 9.9\nSubject: hi\n\nx\n";
    let out = run(
        r#"require ["editheader", "index", "fileinto", "variables"];
           deleteheader :index 1 :last "X-Spam-Score";
           deleteheader :matches "x-spam-score" "5.*";
           addheader :last "X-Spam-Score" "0.0";
           deleteheader "received";
           if header :is "x-spam-score" "0.0" { fileinto "clean"; }
           if exists "received" { fileinto "traced"; }
           if size :under 60 { fileinto "smaller"; }"#,
        raw,
    );
    assert_eq!(
        summary(&out),
        [
            "deleteheader:X-Spam-Score#1",
            "deleteheader:x-spam-score#0",
            "addheader:X-Spam-Score: 0.0",
            "fileinto:clean",
            "fileinto:traced",
            "fileinto:smaller",
        ]
    );
    // The caller applies the edits to what it stores; Received is protected (§6).
    let edits: Vec<HeaderEdit> = out
        .actions
        .iter()
        .filter_map(|a| match a {
            Action::EditHeader(e) => Some(e.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        String::from_utf8(apply_header_edits(raw.as_bytes(), &edits)).unwrap(),
        "Received: a\nSubject: hi\nX-Spam-Score: 0.0\n\nx\n"
    );
    // A name written out that is not one is a compile error.
    assert!(
        Script::compile(
            "require \"editheader\"; addheader \"X Bad\" \"v\";",
            &Limits::default()
        )
        .is_err()
    );
}

#[test]
fn every_advertised_extension_has_an_example_here() {
    let this = include_str!("rfc_examples.rs");
    for extension in mailwright_sieve::EXTENSIONS {
        assert!(
            this.contains(&format!("\"{extension}\"")),
            "no example requires {extension}"
        );
    }
}
