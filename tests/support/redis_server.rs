//! A throwaway real `redis-server` (Debian's package; CI installs it, so its absence fails the
//! tests that need it rather than skipping them). Shared by the end-to-end tests
//! (tests/e2e_runtime_config.rs) and, through `#[path]`, the host crate's unit tests
//! (host/src/key_value.rs): it uses only std and tempfile, which both crates have.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A `redis-server` on a free loopback port, without persistence; stopped when dropped.
pub struct RedisServer {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl RedisServer {
    pub fn start() -> Self {
        // Another process may take the free port before redis-server binds it: retry.
        for _ in 0..5 {
            let port = free_port();
            let dir = tempfile::tempdir().unwrap();
            let child = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no", "--dir"])
                .arg(dir.path())
                .stdout(Stdio::null())
                .spawn()
                .expect("redis-server is required (Debian package redis-server)");
            let mut redis = Self {
                child,
                port,
                _dir: dir,
            };
            if redis.answers() {
                return redis;
            }
        }
        panic!("redis-server did not start");
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    /// One redis-cli command; its raw output without the trailing newline.
    pub fn cli(&self, args: &[&str]) -> String {
        let out = Command::new("redis-cli")
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "--raw"])
            .args(args)
            .output()
            .expect("redis-cli is required (Debian package redis-tools, with redis-server)");
        String::from_utf8(out.stdout)
            .unwrap()
            .trim_end_matches('\n')
            .to_owned()
    }

    /// Waits for PONG; false if the server exits (its port was taken) or stays silent.
    fn answers(&mut self) -> bool {
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline && self.child.try_wait().unwrap().is_none() {
            if self.pongs() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        false
    }

    /// One inline `PING` over a fresh connection: whether `+PONG` comes back.
    fn pongs(&self) -> bool {
        let Ok(mut stream) = TcpStream::connect(("127.0.0.1", self.port)) else {
            return false;
        };
        let mut reply = [0; 7];
        stream
            .set_read_timeout(Some(Duration::from_secs(1)))
            .is_ok()
            && stream.write_all(b"PING\r\n").is_ok()
            && stream.read_exact(&mut reply).is_ok()
            && &reply == b"+PONG\r\n"
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A loopback port nothing listened on a moment ago.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}
