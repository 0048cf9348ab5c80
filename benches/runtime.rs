//! `cargo bench -p edgepedia --bench runtime` (after `make build`): the local runtime's
//! own costs, on the empty route `GET /healthz` (the component answers without touching SQLite):
//! start-up to first answer without and with the compile cache, per-request time with
//! keep-alive and with a new connection per request, and the component's size.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Starts the host, returns (child, port, time until `/healthz` answered).
fn start(state: &std::path::Path) -> (std::process::Child, u16, Duration) {
    let started = Instant::now();
    let mut child = Command::new(repo().join("target/native/edgepedia-host"))
        .args([
            "--manifest",
            "spin.toml",
            "--listen",
            "127.0.0.1:0",
            "--state-dir",
        ])
        .arg(state)
        .current_dir(repo())
        .env("SPIN_VARIABLE_JWT_HS256_SECRET", "bench")
        .env_remove("EDGEPEDIA_TLS_LISTEN")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("target/native/edgepedia-host (run `make build`)");
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = loop {
        let line = lines.next().unwrap().unwrap();
        if let Some(url) = line.strip_prefix("edgepedia-host listening on http://") {
            break url.rsplit(':').next().unwrap().parse().unwrap();
        }
    };
    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    get(&mut conn);
    (child, port, started.elapsed())
}

/// One keep-alive `GET /healthz`, reading exactly the response.
fn get(conn: &mut TcpStream) {
    conn.write_all(b"GET /healthz HTTP/1.1\r\nHost: bench\r\n\r\n")
        .unwrap();
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut length = 0;
    loop {
        let mut line = String::new();
        reader.read_line(&mut line).unwrap();
        if line == "\r\n" {
            break;
        }
        if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
            length = v.trim().parse().unwrap();
        }
        assert!(!line.is_empty(), "connection closed");
    }
    let mut body = vec![0; length];
    reader.read_exact(&mut body).unwrap();
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn main() {
    let state = tempfile::tempdir().unwrap();
    let (mut cold, _, cold_time) = start(state.path());
    cold.kill().unwrap();
    cold.wait().unwrap();
    let (mut warm, port, warm_time) = start(state.path());

    let mut conn = TcpStream::connect(("127.0.0.1", port)).unwrap();
    conn.set_nodelay(true).unwrap();
    for _ in 0..200 {
        get(&mut conn);
    }
    let keep_alive: Vec<Duration> = (0..2000)
        .map(|_| {
            let t = Instant::now();
            get(&mut conn);
            t.elapsed()
        })
        .collect();
    let fresh: Vec<Duration> = (0..500)
        .map(|_| {
            let t = Instant::now();
            let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap();
            c.set_nodelay(true).unwrap();
            get(&mut c);
            t.elapsed()
        })
        .collect();
    warm.kill().unwrap();
    warm.wait().unwrap();
    let size = std::fs::metadata(repo().join("target/wasm32-wasip2/release/edgepedia.wasm"))
        .unwrap()
        .len();
    println!("| measure | value |\n|---|---|");
    println!(
        "| start-up to first answer, no compile cache | {:.0} ms |",
        cold_time.as_secs_f64() * 1e3
    );
    println!(
        "| start-up to first answer, compile cache | {:.0} ms |",
        warm_time.as_secs_f64() * 1e3
    );
    println!(
        "| GET /healthz, keep-alive (median of 2000) | {:.3} ms |",
        median(keep_alive).as_secs_f64() * 1e3
    );
    println!(
        "| GET /healthz, new connection each (median of 500) | {:.3} ms |",
        median(fresh).as_secs_f64() * 1e3
    );
    println!(
        "| component size | {size} bytes ({:.2} MiB) |",
        size as f64 / 1048576.0
    );
}
