//! Debian's Roundcube 1.6 served by PHP's built-in web server against a test server (IMAP over
//! TLS, submission with STARTTLS, ManageSieve with STARTTLS; the test's certificate is
//! self-signed, so Roundcube is told not to verify it), with its own SQLite database and
//! configuration under the server's directory. Driven by headless Chromium from the clients'
//! Python scripts (Selenium through chromedriver).

use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::{Server, free_port, require};

/// Debian's Roundcube: the document root and the shipped defaults.
const PUBLIC_HTML: &str = "/var/lib/roundcube/public_html";
const DEFAULTS: &str = "/etc/roundcube";

/// A running Roundcube; stopped when dropped.
pub struct Roundcube {
    child: Child,
    /// Where its configuration, database, logs and the browser's screenshots are.
    pub dir: PathBuf,
    /// `http://127.0.0.1:PORT/`.
    pub url: String,
}

impl Roundcube {
    /// Starts Roundcube with `plugins` (and their settings in `extra`, PHP lines) for `server`.
    pub fn start(server: &Server, plugins: &[&str], extra: &str) -> Roundcube {
        for program in ["php", "chromium", "chromedriver"] {
            require(program);
        }
        assert!(
            std::path::Path::new(PUBLIC_HTML).join("index.php").exists(),
            "Roundcube is not installed; run ./scripts/test, which installs the test peers"
        );
        let dir = server.dir.join("roundcube");
        let config = dir.join("config");
        for sub in ["config", "temp", "logs", "shots"] {
            std::fs::create_dir_all(dir.join(sub)).unwrap();
        }
        for file in ["defaults.inc.php", "mimetypes.php"] {
            std::fs::copy(format!("{DEFAULTS}/{file}"), config.join(file)).unwrap();
        }
        let plugins = plugins
            .iter()
            .map(|p| format!("'{p}'"))
            .collect::<Vec<_>>()
            .join(", ");
        let insecure = "['ssl' => ['verify_peer' => false, 'verify_peer_name' => false, \
                        'allow_self_signed' => true]]";
        std::fs::write(
            config.join("config.inc.php"),
            format!(
                "<?php\n$config = [];\n\
                 $config['db_dsnw'] = 'sqlite:///{dir}/temp/roundcube.db?mode=0640';\n\
                 $config['imap_host'] = 'ssl://127.0.0.1:{imaps}';\n\
                 $config['smtp_host'] = 'tls://127.0.0.1:{submission}';\n\
                 $config['smtp_user'] = '%u';\n$config['smtp_pass'] = '%p';\n\
                 $config['imap_conn_options'] = {insecure};\n\
                 $config['smtp_conn_options'] = {insecure};\n\
                 $config['managesieve_host'] = 'tls://127.0.0.1:{managesieve}';\n\
                 $config['managesieve_conn_options'] = {insecure};\n\
                 $config['managesieve_debug'] = true;\n\
                 $config['des_key'] = 'test-des-key-of-24-chars';\n\
                 $config['plugins'] = [{plugins}];\n\
                 $config['skin'] = 'elastic';\n\
                 $config['temp_dir'] = '{dir}/temp';\n\
                 $config['log_dir'] = '{dir}/logs';\n\
                 {extra}\n",
                dir = dir.display(),
                imaps = server.imaps_port,
                submission = server.submission_port,
                managesieve = server.managesieve_port,
            ),
        )
        .unwrap();
        let port = free_port();
        let log = std::fs::File::create(dir.join("logs/php.log")).unwrap();
        let child = Command::new("php")
            .args(["-S", &format!("127.0.0.1:{port}"), "-t", PUBLIC_HTML])
            .env("ROUNDCUBE_CONFIG_DIR", &config)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start php -S");
        let deadline = Instant::now() + Duration::from_secs(20);
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "php -S did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        Roundcube {
            child,
            dir,
            url: format!("http://127.0.0.1:{port}/"),
        }
    }

    /// Runs a browser script from the clients' folder (`tests/clients/NAME`) under Debian's
    /// Python with the URL, `args` and the screenshot folder; its output, or a panic with it,
    /// the screenshot's path and Roundcube's logs when it fails.
    pub fn drive(&self, name: &str, args: &[&str]) -> String {
        let script = format!("{}/tests/clients/{name}", env!("CARGO_MANIFEST_DIR"));
        let shots = self.dir.join("shots");
        let out = Command::new("timeout")
            .args(["300", "/usr/bin/python3", &script, &self.url])
            .args(args)
            .arg(&shots)
            .output()
            .expect("run the browser script");
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        if !out.status.success() {
            let logs = ["errors.log", "sieve.log", "php.log"]
                .iter()
                .map(|f| {
                    let log = std::fs::read_to_string(self.dir.join("logs").join(f));
                    format!("--- {f}\n{}", log.unwrap_or_default())
                })
                .collect::<String>();
            panic!(
                "{name} failed (screenshots in {}):\n{text}\n{logs}",
                shots.display()
            );
        }
        text
    }
}

impl Drop for Roundcube {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
