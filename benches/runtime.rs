//! `cargo bench -p edgepedia --bench runtime` (after `make build`): the local runtime's
//! own costs, on the empty route `GET /healthz` (the component answers without touching SQLite):
//! start-up to first answer without and with the compile cache, per-request time with
//! keep-alive and with a new connection per request, and the component's size. Prints a
//! Markdown table and writes `target/bench/runtime.json`, which the `latency` bench puts into
//! docs/BENCHMARKS.md (`make bench` runs both).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const COLD_STARTS: usize = 3;
const CACHED_STARTS: usize = 5;

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
        .env_remove("EDGEPEDIA_SQLITE_POOLED")
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
    // Start-up: each no-cache start on a new state dir (nothing compiled yet), then starts on
    // one whose cache the first of them filled.
    let cold: Vec<Duration> = (0..COLD_STARTS)
        .map(|_| {
            let state = tempfile::tempdir().unwrap();
            let (mut child, _, time) = start(state.path());
            child.kill().unwrap();
            child.wait().unwrap();
            time
        })
        .collect();
    let state = tempfile::tempdir().unwrap();
    let (mut first, _, _) = start(state.path());
    first.kill().unwrap();
    first.wait().unwrap();
    let cached: Vec<Duration> = (0..CACHED_STARTS)
        .map(|_| {
            let (mut child, _, time) = start(state.path());
            child.kill().unwrap();
            child.wait().unwrap();
            time
        })
        .collect();
    let (mut warm, port, _) = start(state.path());

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
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    let (cold_ms, cached_ms) = (ms(median(cold.clone())), ms(median(cached.clone())));
    let rows = [
        (
            format!("start-up to first answer, no compile cache (median of {COLD_STARTS})"),
            format!(
                "{cold_ms:.0} ms (max {:.0} ms)",
                ms(*cold.iter().max().unwrap())
            ),
        ),
        (
            format!("start-up to first answer, compile cache (median of {CACHED_STARTS})"),
            format!(
                "{cached_ms:.0} ms (max {:.0} ms)",
                ms(*cached.iter().max().unwrap())
            ),
        ),
        (
            "GET /healthz, keep-alive (median of 2000)".to_owned(),
            format!("{:.3} ms", ms(median(keep_alive))),
        ),
        (
            "GET /healthz, new connection each (median of 500)".to_owned(),
            format!("{:.3} ms", ms(median(fresh))),
        ),
        (
            "component size".to_owned(),
            format!("{size} bytes ({:.2} MiB)", size as f64 / 1048576.0),
        ),
    ];
    println!("| measure | value |\n|---|---|");
    for (measure, value) in &rows {
        println!("| {measure} | {value} |");
    }
    let out = repo().join("target/bench");
    std::fs::create_dir_all(&out).unwrap();
    std::fs::write(
        out.join("runtime.json"),
        serde_json::to_vec_pretty(&serde_json::json!({
            "start_uncached_ms": cold_ms,
            "start_cached_ms": cached_ms,
            "component_bytes": size,
            "rows": rows,
        }))
        .unwrap(),
    )
    .unwrap();
}
