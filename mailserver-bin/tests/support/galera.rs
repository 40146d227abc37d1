//! A private two-node MariaDB Galera cluster on loopback (Debian's `galera-4`, state transfer
//! by rsync), as `../shared/docs/peers.md` describes it, and HAProxy in front of it sending
//! clients to the first node that answers (the way Galera installations give their clients one
//! address). Each node runs as the `mysql` user (rsync's state transfer will not run as root)
//! with its data, socket and log under the test's directory.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{free_port, require};

/// One node: its directory and ports (client, group communication).
pub struct Node {
    pub dir: PathBuf,
    pub port: u16,
    pub group_port: u16,
    child: Option<Child>,
}

impl Node {
    pub fn socket(&self) -> PathBuf {
        self.dir.with_extension("sock")
    }

    /// Runs `sql` on this node as root over its socket; the output, or why not.
    pub fn sql(&self, sql: &str) -> Result<String, String> {
        let out = Command::new("mariadb")
            .args(["--batch", "--skip-column-names", "-S"])
            .arg(self.socket())
            .args(["-e", sql])
            .output()
            .map_err(|e| e.to_string())?;
        match out.status.success() {
            true => Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
            false => Err(String::from_utf8_lossy(&out.stderr).into_owned()),
        }
    }

    /// A `wsrep` status value of this node.
    pub fn status(&self, name: &str) -> Option<String> {
        let out = self.sql(&format!("SHOW STATUS LIKE '{name}'")).ok()?;
        Some(out.split_whitespace().nth(1)?.to_owned())
    }
}

/// The cluster and its HAProxy.
pub struct Galera {
    pub dir: PathBuf,
    pub nodes: [Node; 2],
    /// Where HAProxy listens for clients.
    pub port: u16,
    haproxy: Option<Child>,
}

impl Galera {
    /// Two fresh nodes in `dir`, the first bootstrapping the cluster, and HAProxy in front.
    pub fn start(dir: &Path) -> Galera {
        for program in ["mariadbd", "mariadb-install-db", "rsync", "haproxy"] {
            require(program);
        }
        assert!(
            Path::new("/usr/lib/galera/libgalera_smm.so").exists(),
            "galera-4 is not installed; run ./scripts/test"
        );
        std::fs::create_dir_all(dir).unwrap();
        let node = |n: usize| Node {
            dir: dir.join(format!("n{n}")),
            port: free_port(),
            group_port: free_port(),
            child: None,
        };
        let mut galera = Galera {
            dir: dir.to_owned(),
            nodes: [node(1), node(2)],
            port: free_port(),
            haproxy: None,
        };
        for node in &galera.nodes {
            let installed = Command::new("mariadb-install-db")
                .args(["--no-defaults", "--user=mysql", "--skip-test-db"])
                .arg("--auth-root-authentication-method=normal")
                .arg(format!("--datadir={}", node.dir.display()))
                .output()
                .unwrap();
            assert!(installed.status.success(), "{installed:?}");
        }
        let owned = Command::new("chown")
            .args(["-R", "mysql:mysql"])
            .arg(dir)
            .status()
            .unwrap();
        assert!(owned.success());
        galera.start_node(0, true);
        galera.start_node(1, false);
        galera.wait_size(2);
        galera.start_haproxy();
        galera
    }

    /// Starts node `i`: bootstrapping a new cluster, or joining the other node.
    pub fn start_node(&mut self, i: usize, bootstrap: bool) {
        let other = &self.nodes[1 - i];
        let cluster = match bootstrap {
            true => "gcomm://".to_owned(),
            false => format!("gcomm://127.0.0.1:{}", other.group_port),
        };
        let node = &self.nodes[i];
        let g = node.group_port;
        let (sst, ist) = (free_port(), free_port());
        let mut cmd = Command::new("mariadbd");
        cmd.args(["--no-defaults", "--user=mysql", "--bind-address=127.0.0.1"])
            .arg(format!("--datadir={}", node.dir.display()))
            .arg(format!("--port={}", node.port))
            .arg(format!("--socket={}", node.socket().display()))
            .arg(format!(
                "--pid-file={}",
                node.dir.with_extension("pid").display()
            ))
            .arg(format!(
                "--log-error={}",
                node.dir.with_extension("err").display()
            ))
            .args(["--skip-name-resolve", "--innodb-buffer-pool-size=32M"])
            .args(["--binlog-format=ROW", "--default-storage-engine=InnoDB"])
            .args(["--innodb-autoinc-lock-mode=2", "--wsrep-on=ON"])
            .arg("--wsrep-provider=/usr/lib/galera/libgalera_smm.so")
            .args([
                "--wsrep-cluster-name=mailserver-test",
                "--wsrep-sst-method=rsync",
            ])
            .arg(format!("--wsrep-cluster-address={cluster}"))
            .arg(format!("--wsrep-node-name=n{}", i + 1))
            .arg(format!("--wsrep-node-address=127.0.0.1:{g}"))
            .arg(format!("--wsrep-sst-receive-address=127.0.0.1:{sst}"))
            .arg(format!(
                "--wsrep-provider-options=gmcast.listen_addr=tcp://127.0.0.1:{g};\
                 ist.recv_addr=127.0.0.1:{ist};gcache.size=32M"
            ));
        if bootstrap {
            cmd.arg("--wsrep-new-cluster");
        }
        // Its log is the `.err` file beside its directory.
        let child = cmd.stderr(Stdio::null()).spawn().unwrap();
        self.nodes[i].child = Some(child);
        self.wait_ready(i);
    }

    /// Stops node `i` in order (it leaves the cluster, which goes on with the other).
    pub fn stop_node(&mut self, i: usize) {
        let Some(mut child) = self.nodes[i].child.take() else {
            return;
        };
        let _ = Command::new("kill")
            .args(["-TERM", &child.id().to_string()])
            .status();
        let _ = child.wait();
    }

    /// Waits until node `i` takes queries as a member of the cluster.
    pub fn wait_ready(&self, i: usize) {
        let deadline = Instant::now() + Duration::from_secs(90);
        while self.nodes[i].status("wsrep_ready").as_deref() != Some("ON") {
            assert!(
                Instant::now() < deadline,
                "galera node {} not ready:\n{}",
                i + 1,
                std::fs::read_to_string(self.nodes[i].dir.with_extension("err"))
                    .unwrap_or_default()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Waits until the cluster has `size` members, as the first running node sees it.
    pub fn wait_size(&self, size: usize) {
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let seen = self
                .nodes
                .iter()
                .filter(|n| n.child.is_some())
                .find_map(|n| n.status("wsrep_cluster_size"));
            if seen.as_deref() == Some(size.to_string().as_str()) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "cluster size {seen:?}, not {size}"
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// HAProxy: clients go to node 1 while its port answers, else to node 2 (checked every
    /// 300 ms).
    fn start_haproxy(&mut self) {
        let config = self.dir.join("haproxy.cfg");
        std::fs::write(
            &config,
            format!(
                "global\n  maxconn 200\ndefaults\n  mode tcp\n  timeout connect 2s\n  \
                 timeout client 1h\n  timeout server 1h\nlisten galera\n  \
                 bind 127.0.0.1:{}\n  option tcp-check\n  \
                 server n1 127.0.0.1:{} check inter 300 fall 1 rise 2 on-marked-down shutdown-sessions\n  \
                 server n2 127.0.0.1:{} check inter 300 fall 1 rise 2 backup on-marked-down shutdown-sessions\n",
                self.port, self.nodes[0].port, self.nodes[1].port
            ),
        )
        .unwrap();
        let log = std::fs::File::create(self.dir.join("haproxy.log")).unwrap();
        let child = Command::new("haproxy")
            .args(["-db", "-f"])
            .arg(&config)
            .stderr(log)
            .spawn()
            .unwrap();
        self.haproxy = Some(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while std::net::TcpStream::connect(("127.0.0.1", self.port)).is_err() {
            assert!(Instant::now() < deadline, "haproxy did not start");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Galera {
    fn drop(&mut self) {
        if let Some(mut h) = self.haproxy.take() {
            let _ = h.kill();
            let _ = h.wait();
        }
        for node in &mut self.nodes {
            if let Some(mut c) = node.child.take() {
                let _ = c.kill();
                let _ = c.wait();
            }
        }
        if !std::thread::panicking() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
