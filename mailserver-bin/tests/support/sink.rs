//! Postfix's smtp-sink as the relay host of a test: every message it takes dumped into a file
//! of its own.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::require;

/// Postfix's smtp-sink, dumping each message it accepts into its own file.
pub struct Sink {
    child: Child,
    dir: PathBuf,
    pub port: u16,
}

impl Sink {
    pub fn start(name: &str, port: u16, extra: &[&str]) -> Sink {
        require("smtp-sink");
        let dir = std::env::temp_dir().join(format!("smtp-sink-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        // smtp-sink drops root privileges to write its files.
        Command::new("chmod").arg("777").arg(&dir).status().unwrap();
        let child = Command::new("smtp-sink")
            .args(["-u", "nobody", "-d"])
            .arg(format!("{}/%H%M%S.", dir.display()))
            .args(extra)
            .arg(format!("127.0.0.1:{port}"))
            .arg("20")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "smtp-sink did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Sink { child, dir, port }
    }

    /// The dumped messages, oldest first.
    pub fn messages(&self) -> Vec<Vec<u8>> {
        let mut names: Vec<PathBuf> = std::fs::read_dir(&self.dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        names.sort();
        names.iter().map(|p| std::fs::read(p).unwrap()).collect()
    }

    pub fn wait_for(&self, count: usize) -> Vec<Vec<u8>> {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let m = self.messages();
            // A file appears when the transaction starts; it is whole after the final dot.
            if m.len() >= count && m.iter().all(|m| m.ends_with(b"\n")) {
                std::thread::sleep(Duration::from_millis(200));
                return self.messages();
            }
            assert!(
                Instant::now() < deadline,
                "smtp-sink got {} of {count} messages",
                m.len()
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Sink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
