//! The shared listing, kept up to date by partial rescans, this process's own noted changes
//! and additions, always ends where a full scan of the folder ends, and never gives a message
//! another UID: checked over random mixes of deliveries, APPENDs, flag changes and expunges,
//! made by this process (noted) and by another writer (not noted).
#![allow(clippy::unwrap_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use mailwright_maildir::{Delivery, ListingCache, Maildir, Subdir};
use proptest::prelude::*;

#[derive(Debug, Clone)]
enum Op {
    /// SMTP delivery into new/.
    Deliver,
    /// IMAP APPEND into cur/, then a scan that knows of it; with `true`, another session's
    /// scan (settled first, so that it reads `cur/`) finds and numbers the file in between.
    Append(bool),
    /// New flags on the message at this position (of those listed), noted or not.
    Flag(usize, &'static str, bool),
    /// The message at this position removed, noted or not.
    Expunge(usize, bool),
    /// A scan through the shared listing.
    Scan,
    /// Every time in the folder made old, then a scan: nothing may be missing now.
    SettleAndCheck,
    /// A wait until the times the last changes left have settled and the check of this
    /// process's own changes is due, then a scan: what another writer changed in the same
    /// clock tick as an earlier scan, or before this process's own change, shows now.
    WaitAndCheck,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        3 => Just(Op::Deliver),
        2 => any::<bool>().prop_map(Op::Append),
        3 => (any::<usize>(), prop::sample::select(vec!["S", "FS", "", "RS", "T"]), any::<bool>())
            .prop_map(|(i, f, own)| Op::Flag(i, f, own)),
        1 => (any::<usize>(), any::<bool>()).prop_map(|(i, own)| Op::Expunge(i, own)),
        3 => Just(Op::Scan),
        2 => Just(Op::SettleAndCheck),
        1 => Just(Op::WaitAndCheck),
    ]
}

fn settle(md: &Maildir) {
    let old = SystemTime::now() - Duration::from_secs(10);
    for part in ["new", "cur", "dovecot-uidlist", "dovecot-keywords"] {
        if let Ok(f) = std::fs::File::options()
            .write(true)
            .open(md.path().join(part))
        {
            f.set_modified(old).unwrap();
        } else if let Ok(d) = std::fs::File::open(md.path().join(part)) {
            let _ = d.set_modified(old);
        }
    }
}

static CASE: AtomicUsize = AtomicUsize::new(0);

/// How long after this process's own change the folder is checked (short, for the test).
const CHECK: Duration = Duration::from_millis(120);

fn run(ops: Vec<Op>) {
    let case = CASE.fetch_add(1, Ordering::SeqCst);
    let dir = std::env::temp_dir().join(format!("maildir-rescan-{}-{case}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let md = Maildir::new(&dir);
    md.create().unwrap();
    let cache = ListingCache::new(100_000).with_own_change_check(CHECK);
    // Each message's UID, by base name, from the first listing that showed it.
    let mut uids: HashMap<String, u32> = HashMap::new();
    let mut highest = 0u32;
    let mut n = 0;
    let mut check_uids = |listing: &mailwright_maildir::Listing| {
        let mut seen = std::collections::HashSet::new();
        for m in &listing.messages {
            assert!(seen.insert(m.uid), "UID {} twice", m.uid);
            match uids.get(&*m.base) {
                Some(&uid) => assert_eq!(uid, m.uid, "{} changed UID", m.base),
                None => {
                    assert!(m.uid > highest, "UID {} reused", m.uid);
                    uids.insert(m.base.to_string(), m.uid);
                }
            }
        }
        highest = highest.max(listing.messages.iter().map(|m| m.uid).max().unwrap_or(0));
    };
    let mut listing = cache.scan(&md).unwrap();
    for op in ops {
        match op.clone() {
            Op::Deliver => {
                n += 1;
                let mut d = Delivery::begin(&md, "host").unwrap();
                d.write(format!("Subject: {n}\r\n\r\nbody\r\n").as_bytes())
                    .unwrap();
                d.commit(&[]).unwrap();
            }
            Op::Append(window) => {
                n += 1;
                let mark = cache.mark(&md);
                let mut d = Delivery::begin(&md, "host").unwrap();
                d.write(format!("Subject: {n}\r\n\r\nbody\r\n").as_bytes())
                    .unwrap();
                let name = d.commit_to_cur("S", None).unwrap();
                if window {
                    settle(&md);
                    check_uids(&cache.scan(&md).unwrap());
                }
                listing = cache
                    .scan_adding(&md, std::slice::from_ref(&name), mark)
                    .unwrap();
                assert!(
                    listing.messages.iter().any(|m| *m.name == *name),
                    "an APPEND is listed at once"
                );
                check_uids(&listing);
            }
            Op::Flag(i, flags, own) => {
                if listing.messages.is_empty() {
                    continue;
                }
                let m = &listing.messages[i % listing.messages.len()];
                let Ok(now) = md.set_flags(m, flags) else {
                    continue;
                };
                if own {
                    cache.note_changes(&md, &[now], &[]).unwrap();
                }
            }
            Op::Expunge(i, own) => {
                if listing.messages.is_empty() {
                    continue;
                }
                let m = &listing.messages[i % listing.messages.len()];
                md.expunge(m).unwrap();
                if own {
                    cache.note_changes(&md, &[], &[m.uid]).unwrap();
                }
            }
            Op::Scan => {
                listing = cache.scan(&md).unwrap();
                check_uids(&listing);
            }
            Op::SettleAndCheck | Op::WaitAndCheck => {
                if matches!(op, Op::SettleAndCheck) {
                    settle(&md);
                } else {
                    std::thread::sleep(CHECK.max(mailwright_maildir::SETTLE * 2));
                }
                listing = cache.scan(&md).unwrap();
                check_uids(&listing);
                let mut full = md.scan().unwrap();
                cache.modseqs().reconcile(&md, &mut full).unwrap();
                assert_eq!(*listing, full);
                assert!(
                    full.messages
                        .iter()
                        .all(|m| m.subdir == Subdir::Cur || m.subdir == Subdir::New)
                );
            }
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(48))]

    #[test]
    fn the_shared_listing_ends_where_a_full_scan_ends(ops in prop::collection::vec(op(), 1..40)) {
        run(ops);
    }
}
