//! Delivers three messages into a Maildir durably (one to two mailboxes, hard-linked), then
//! lists it as Dovecot would: UIDs kept in `dovecot-uidlist`, sizes, flags, POP3 UIDLs.
//!
//! `cargo run -p mailwright-maildir --example maildir_deliver_and_list [DIR]`
use mailwright_maildir::{Delivery, Maildir, pop3_uidl, read_message};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let default = std::env::temp_dir().join(format!("maildir-example-{}", std::process::id()));
    let root = std::env::args().nth(1).map_or(default, Into::into);
    let (alice, bob) = (
        Maildir::new(root.join("alice")),
        Maildir::new(root.join("bob")),
    );

    for i in 1..=3 {
        let mut delivery = Delivery::begin(&alice, "mx.example.com")?;
        // Written as it arrives (a message is never held whole), with LF or CRLF line ends.
        delivery.write(format!("Subject: message {i}\n\nHello.\n").as_bytes())?;
        // On disk in new/ (file and directory synced) when commit returns; message 3 also
        // goes to bob, as a hard link to the same file.
        let also: &[&Maildir] = if i == 3 { &[&bob] } else { &[] };
        let paths = delivery.commit(also)?;
        println!("delivered {}", paths[0].display());
    }

    // Reading assigns UIDs (new/ moves to cur/ as Dovecot does) and keeps them across scans.
    let listing = alice.scan()?;
    println!(
        "UIDVALIDITY {}, next UID {}",
        listing.uid_validity, listing.next_uid
    );
    for message in listing.messages.iter() {
        let first = read_message(&alice.message_path(message), true)?;
        let subject = String::from_utf8_lossy(&first);
        println!(
            "UID {} size {} (CRLF {}) flags {:?} UIDL {} {}",
            message.uid,
            message.size,
            message.vsize,
            message.flags,
            pop3_uidl(message, listing.uid_validity),
            subject.lines().next().unwrap_or_default(),
        );
    }
    assert_eq!(alice.scan()?.messages.len(), 3);
    assert_eq!(bob.scan()?.messages.len(), 1);
    if std::env::args().nth(1).is_none() {
        std::fs::remove_dir_all(&root)?;
    }
    Ok(())
}
