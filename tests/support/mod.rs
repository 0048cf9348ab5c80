//! End-to-end support: the real `edgepedia-host` serving the real release `.wasm` on a free
//! loopback port, the real `sync-agent` pushing the fixture, HTTP via ureq and the real
//! `kubectl`. Binaries come from `make build` (the Makefile's `test` target builds first);
//! `EDGEPEDIA_HOST_BIN`, `EDGEPEDIA_AGENT_BIN` and `EDGEPEDIA_WASM` override their paths.
#![allow(dead_code)]

pub mod dataset;
pub mod fixture;
pub mod redis_server;
pub mod rng;

use serde_json::Value;
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;

pub const SECRET: &str = "e2e-test-secret-do-not-use";

pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn binary(env: &str, default: &str) -> PathBuf {
    let path = std::env::var_os(env).map_or_else(|| repo().join(default), PathBuf::from);
    assert!(
        path.exists(),
        "{} is missing: run `make build` first (or set {env})",
        path.display()
    );
    path
}

pub fn agent_bin() -> PathBuf {
    binary("EDGEPEDIA_AGENT_BIN", "target/native/sync-agent")
}

/// A running host; killed when dropped, and by the kernel if the test process dies first.
pub struct Server {
    child: Child,
    pub base: String,
    /// The HTTPS listener: kubectl sends tokens only over TLS.
    pub tls_base: String,
    pub state: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub fn start() -> Self {
        Self::start_with_env(&[])
    }

    /// Like [`Server::start`], with extra environment for the host (`SPIN_VARIABLE_*`).
    pub fn start_with_env(env: &[(&str, &str)]) -> Self {
        Self::launch(tempfile::tempdir().unwrap(), "127.0.0.1:0", env, false)
    }

    /// Like [`Self::start`], with everything the host prints kept in [`Self::log_path`].
    pub fn start_logged() -> Self {
        Self::launch(tempfile::tempdir().unwrap(), "127.0.0.1:0", &[], true)
    }

    /// The host's stderr and stdout, for servers started with [`Self::start_logged`].
    pub fn log_path(&self) -> PathBuf {
        self.state.path().join("host.log")
    }

    /// Kills the host with SIGKILL (a crash) and starts a new one on the same state and the
    /// same port, so clients pointed at it carry on.
    pub fn crash_and_restart(mut self, env: &[(&str, &str)]) -> Self {
        let listen = self.base.trim_start_matches("http://").to_owned();
        let state = std::mem::replace(&mut self.state, tempfile::tempdir().unwrap());
        let _ = self.child.kill();
        let _ = self.child.wait();
        drop(self);
        Self::launch(state, &listen, env, false)
    }

    fn launch(state: tempfile::TempDir, listen: &str, env: &[(&str, &str)], logged: bool) -> Self {
        let mut log = logged.then(|| std::fs::File::create(state.path().join("host.log")).unwrap());
        let host = binary("EDGEPEDIA_HOST_BIN", "target/native/edgepedia-host");
        binary(
            "EDGEPEDIA_WASM",
            "target/wasm32-wasip2/release/edgepedia.wasm",
        );
        let mut command = Command::new(host);
        command
            .arg("--manifest")
            .arg(repo().join("spin.toml"))
            .arg("--listen")
            .arg(listen)
            .arg("--state-dir")
            .arg(state.path())
            .arg("--tls-listen")
            .arg("127.0.0.1:0")
            .env("SPIN_VARIABLE_JWT_HS256_SECRET", SECRET)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(match &log {
                Some(file) => Stdio::from(file.try_clone().unwrap()),
                None => Stdio::inherit(),
            });
        // SAFETY: prctl is async-signal-safe; it only asks the kernel to stop the host if
        // this test process dies without running destructors.
        unsafe {
            command.pre_exec(|| {
                libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
                Ok(())
            });
        }
        // The death signal follows the spawning *thread*, and test threads end early: spawn
        // from a thread that lives as long as the test process.
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = sender.send(command.spawn());
            loop {
                std::thread::park();
            }
        });
        let mut child = receiver.recv().unwrap().expect("start edgepedia-host");
        let stdout = child.stdout.take().unwrap();
        let mut lines = BufReader::new(stdout).lines();
        let mut tls_base = String::new();
        let base = loop {
            let line = lines
                .next()
                .expect("edgepedia-host exited before listening")
                .unwrap();
            if let Some(file) = log.as_mut() {
                let _ = writeln!(file, "{line}");
            }
            match line.strip_prefix("edgepedia-host listening on ") {
                Some(url) if url.starts_with("https://") => tls_base = url.trim().to_owned(),
                Some(url) => break url.trim().to_owned(),
                None => {}
            }
        };
        // Keep draining stdout so the host never blocks on a full pipe.
        std::thread::spawn(move || {
            for line in lines.map_while(Result::ok) {
                if let Some(file) = log.as_mut() {
                    let _ = writeln!(file, "{line}");
                }
            }
        });
        Server {
            child,
            base,
            tls_base,
            state,
        }
    }

    /// One server per test binary, with the whole fixture pushed by the real sync-agent.
    pub fn shared() -> &'static Server {
        static SERVER: OnceLock<Server> = OnceLock::new();
        SERVER.get_or_init(Server::with_fixtures)
    }

    /// A new server of its own (for tests that change data), with the whole fixture pushed by
    /// the real sync-agent.
    pub fn with_fixtures() -> Self {
        let server = Server::start();
        server.push_fixtures(&[]);
        server
    }

    /// Pushes every fixture cluster with the admin token and `extra` agent flags, asserting
    /// each push succeeds; returns the agent's outputs, in [`fixture::CLUSTERS`] order.
    pub fn push_fixtures(&self, extra: &[&str]) -> Vec<std::process::Output> {
        self.push_fixtures_as(&admin_token(), extra)
    }

    /// [`Self::push_fixtures`] with `token`.
    pub fn push_fixtures_as(&self, token: &str, extra: &[&str]) -> Vec<std::process::Output> {
        fixture::CLUSTERS
            .iter()
            .map(|cluster| {
                let out = self.push_as(token, cluster, &fixture::path(cluster), extra);
                assert!(
                    out.status.success(),
                    "push {cluster}: {}",
                    String::from_utf8_lossy(&out.stderr)
                );
                out
            })
            .collect()
    }

    /// `sync-agent push` with the admin token.
    pub fn push(&self, cluster: &str, file: &Path, extra: &[&str]) -> std::process::Output {
        self.push_as(&admin_token(), cluster, file, extra)
    }

    /// `sync-agent push` with `token`.
    pub fn push_as(
        &self,
        token: &str,
        cluster: &str,
        file: &Path,
        extra: &[&str],
    ) -> std::process::Output {
        Command::new(agent_bin())
            .args([
                "push",
                "--server",
                &self.base,
                "--token",
                token,
                "--cluster",
                cluster,
                "--file",
            ])
            .arg(file)
            .args(extra)
            .output()
            .expect("run sync-agent")
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// GET with a token; returns status and parsed JSON body.
    pub fn get_as(&self, path: &str, token: Option<&str>) -> (u16, Value) {
        self.request("GET", path, token, None, None)
    }

    pub fn get(&self, path: &str) -> (u16, Value) {
        self.get_as(path, Some(&admin_token()))
    }

    pub fn request(
        &self,
        method: &str,
        path: &str,
        token: Option<&str>,
        accept: Option<&str>,
        body: Option<&[u8]>,
    ) -> (u16, Value) {
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .build()
            .into();
        let url = self.url(path);
        let auth = token.map(|t| format!("Bearer {t}"));
        let response = match (method, body) {
            ("GET", _) => {
                let mut r = agent.get(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                if let Some(a) = accept {
                    r = r.header("Accept", a);
                }
                r.call()
            }
            ("DELETE", _) => {
                let mut r = agent.delete(&url);
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.call()
            }
            (m, b) => {
                let mut r = match m {
                    "PUT" => agent.put(&url),
                    "PATCH" => agent.patch(&url),
                    _ => agent.post(&url),
                };
                if let Some(a) = &auth {
                    r = r.header("Authorization", a);
                }
                r.header("Content-Type", "application/json")
                    .send(b.unwrap_or_default())
            }
        }
        .unwrap_or_else(|e| panic!("{method} {url}: {e}"));
        let status = response.status().as_u16();
        let text = response.into_body().read_to_string().unwrap_or_default();
        let json = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{method} {path} → {status}: not JSON ({e}): {text:.300}"));
        (status, json)
    }

    /// A kubeconfig for this server's HTTPS listener (`server` = base + `server_path`),
    /// written to the state dir.
    pub fn kubeconfig(&self, name: &str, server_path: &str, token: &str) -> PathBuf {
        let path = self.state.path().join(format!("kubeconfig-{name}.yaml"));
        let config = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: e\n  cluster:\n    server: {}{server_path}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: {token}\ncontexts:\n- name: c\n  context:\n    cluster: e\n    user: u\ncurrent-context: c\n",
            self.tls_base
        );
        // Tests run in parallel and share names: write whole files, atomically.
        let tmp = path.with_extension(
            format!("tmp{:?}", std::thread::current().id()).replace(['(', ')'], ""),
        );
        std::fs::write(&tmp, config).unwrap();
        std::fs::rename(&tmp, &path).unwrap();
        path
    }
}

/// Runs the real kubectl with a kubeconfig; returns (success, stdout, stderr).
pub fn kubectl(kubeconfig: &Path, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(args)
        .env("KUBECACHEDIR", kubeconfig.with_extension("cache"))
        .output()
        .expect("kubectl must be installed (v1.32 at /usr/bin/kubectl)");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// An HS256 token minted with `jsonwebtoken`, a library independent of the verifier
/// (jwt-simple, in the component): a bug in one cannot hide in the other.
pub fn mint(scope: &str, clusters: Option<&[&str]>, namespaces: Option<&[&str]>) -> String {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let mut claims = serde_json::json!({
        "iss": "edgepedia", "aud": "edgepedia", "iat": now, "exp": now + 3600, "scope": scope,
    });
    if let Some(c) = clusters {
        claims["clusters"] = serde_json::json!(c);
    }
    if let Some(n) = namespaces {
        claims["namespaces"] = serde_json::json!(n);
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(SECRET.as_bytes()),
    )
    .unwrap()
}

pub fn admin_token() -> String {
    static TOKEN: OnceLock<String> = OnceLock::new();
    TOKEN
        .get_or_init(|| {
            mint(
                "inventory:read inventory:write inventory:secrets",
                None,
                None,
            )
        })
        .clone()
}

/// `cluster/namespace/name` of each item, in response order.
pub fn keys(list: &Value) -> Vec<String> {
    list["items"]
        .as_array()
        .unwrap_or_else(|| panic!("not a list: {list:.300}"))
        .iter()
        .map(|i| {
            format!(
                "{}/{}/{}",
                i["metadata"]["annotations"]["shadow.clusterpedia.io/cluster-name"]
                    .as_str()
                    .unwrap_or("?"),
                i["metadata"]["namespace"].as_str().unwrap_or(""),
                i["metadata"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect()
}
