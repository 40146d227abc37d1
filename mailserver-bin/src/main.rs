//! `mailserver`: the daemon (`serve`) and its admin commands; all of it is in the library.

use std::process::ExitCode;

/// jemalloc, with its background thread purging freed pages: with glibc's allocator, ten IMAP
/// sessions that synced a 100,000-message INBOX left the process at 106 MB after they had all
/// logged out and their folder's caches were dropped (freed small allocations kept whole
/// heaps resident); see tests/imap_memory.rs.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> ExitCode {
    mailserver::main()
}
