//! A private DNS server for the tests: unbound on a loopback port, holding only the zones a
//! test gives it.

use std::time::{Duration, Instant};

use super::{free_port, require};

/// unbound on a private port serving `zones` (zone-file `local-data` lines), nothing else: any
/// other name is refused, so no test asks the internet. Stopped when dropped.
pub struct Dns {
    child: std::process::Child,
    pub port: u16,
}

impl Dns {
    pub fn start(dir: &std::path::Path, zones: &[&str], data: &[&str]) -> Dns {
        Self::start_on(free_port(), dir, zones, data)
    }

    /// [`Dns::start`] on `port` (chosen before, for a server that must know it first).
    pub fn start_on(port: u16, dir: &std::path::Path, zones: &[&str], data: &[&str]) -> Dns {
        Self::start_with(port, dir, zones, data, &[])
    }

    /// [`Dns::start_on`], also serving each of `signed` (a zone's name and its signed zone
    /// file) as its authority, RRSIGs included, for DNSSEC.
    pub fn start_with(
        port: u16,
        dir: &std::path::Path,
        zones: &[&str],
        data: &[&str],
        signed: &[(&str, &std::path::Path)],
    ) -> Dns {
        require("unbound");
        let mut conf = format!(
            "server:\n interface: 127.0.0.1@{port}\n port: {port}\n do-daemonize: no\n use-syslog: no\n username: \"\"\n chroot: \"\"\n directory: \"{}\"\n pidfile: \"\"\n do-not-query-localhost: yes\n access-control: 127.0.0.0/8 allow\n local-zone: \".\" refuse\n log-queries: yes\n log-replies: yes\n",
            dir.display()
        );
        for z in zones {
            conf.push_str(&format!(" local-zone: \"{z}.\" static\n"));
        }
        for d in data {
            // A TXT record's strings are in double quotes: the line then goes in single ones.
            match d.contains('"') {
                true => conf.push_str(&format!(" local-data: '{d}'\n")),
                false => conf.push_str(&format!(" local-data: \"{d}\"\n")),
            }
        }
        for (name, _) in signed {
            conf.push_str(&format!(" local-zone: \"{name}.\" transparent\n"));
        }
        for (name, file) in signed {
            conf.push_str(&format!(
                "auth-zone:\n name: \"{name}.\"\n zonefile: \"{}\"\n for-downstream: yes\n for-upstream: no\n",
                file.display()
            ));
        }
        conf.push_str("remote-control:\n control-enable: no\n");
        let path = dir.join("unbound.conf");
        std::fs::create_dir_all(dir).expect("the DNS directory");
        std::fs::write(&path, conf).expect("unbound.conf");
        let child = std::process::Command::new("unbound")
            .args(["-d", "-c", path.to_str().expect("a UTF-8 path")])
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("unbound.log")).expect("unbound.log"))
            .spawn()
            .expect("start unbound");
        // Ready when it answers on its port.
        let socket = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP socket");
        socket
            .set_read_timeout(Some(Duration::from_millis(200)))
            .expect("a read timeout");
        let query = b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04test\x00\x00\x01\x00\x01";
        let deadline = Instant::now() + Duration::from_secs(10);
        let ready = loop {
            if socket.send_to(query, ("127.0.0.1", port)).is_ok()
                && socket.recv(&mut [0; 512]).is_ok()
            {
                break true;
            }
            if Instant::now() > deadline {
                break false;
            }
            std::thread::sleep(Duration::from_millis(200));
        };
        assert!(ready, "unbound did not start");
        Dns { child, port }
    }
}

impl Dns {
    /// Stops the server (a test of what happens when DNS is down).
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Dns {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
