//! `edgepedia-host`: runs the Edgepedia component (the same `.wasm` that ships to Spin) with
//! Spin's semantics on machines without the Spin CLI. A dev and test runner, not a product
//! runtime: production is `spin up`, SpinKube or hosted Spin.

mod body_deadline;
mod dev_token;
mod key_value;
mod manifest;
mod outbound;
mod runtime;
mod runtime_config;
mod server;
mod spin_imports;
mod sqlite;
mod state;
mod status;
mod tls;
mod variables;

use anyhow::{Context, Result};
use clap::Parser;
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Parser)]
#[command(
    version,
    about = "Serve the Edgepedia Spin component locally, with Spin's SQLite, key-value and variables"
)]
struct Cli {
    /// The Spin manifest.
    #[arg(long, default_value = "spin.toml")]
    manifest: PathBuf,
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, env = "EDGEPEDIA_LISTEN", default_value = "127.0.0.1:3000")]
    listen: String,
    /// Where the SQLite files live (`sqlite_db.db`, `sqlite_key_value.db`) and the compile
    /// cache; default `.spin` next to the manifest, as `spin up` lays it out.
    #[arg(long, env = "EDGEPEDIA_STATE_DIR")]
    state_dir: Option<PathBuf>,
    /// A Spin runtime config file, as `spin up --runtime-config-file` takes: where the SQLite
    /// databases and key-value stores live (local files, Redis); see deploy/runtime-config/.
    /// Labels it does not configure keep their files in the state dir.
    #[arg(long, env = "EDGEPEDIA_RUNTIME_CONFIG_FILE")]
    runtime_config_file: Option<PathBuf>,
    /// Without SPIN_VARIABLE_JWT_HS256_SECRET: create a dev secret in the state dir and print
    /// an admin token.
    #[arg(long)]
    dev_secret: bool,
    /// Longest a request may take before it is answered 504, in milliseconds.
    #[arg(long, env = "EDGEPEDIA_REQUEST_TIMEOUT_MS", default_value_t = 30_000)]
    request_timeout_ms: u64,
    /// Also serve HTTPS here (kubectl sends tokens only over TLS).
    #[arg(long, env = "EDGEPEDIA_TLS_LISTEN")]
    tls_listen: Option<String>,
    /// Certificate (PEM) for --tls-listen; default: a self-signed one for localhost.
    #[arg(long, requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    #[arg(long, requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Largest request body accepted (413 beyond); by default the component's own cap.
    #[arg(long, env = "EDGEPEDIA_MAX_BODY_BYTES", default_value_t = status::MAX_BODY_BYTES)]
    max_body_bytes: usize,
    /// Keep SQLite connections open and reuse them across requests, instead of opening one
    /// per guest connection as Spin does (the default). Faster than Spin: for comparisons.
    #[arg(long, env = "EDGEPEDIA_SQLITE_POOLED")]
    sqlite_pooled: bool,
    /// Give each instance fresh memory mappings instead of Spin's pooling allocator, as
    /// `spin up --disable-pooling` does.
    #[arg(long, env = "EDGEPEDIA_DISABLE_POOLING")]
    disable_pooling: bool,
    /// Most requests served at once (each holds a component instance until its response is
    /// sent); more are answered 429 with Retry-After, not queued.
    #[arg(long, env = "EDGEPEDIA_MAX_CONCURRENT_REQUESTS", default_value_t = 64)]
    max_concurrent_requests: usize,
    /// Longest a request body may wait for its next bytes before the request is answered 408,
    /// in milliseconds.
    #[arg(long, env = "EDGEPEDIA_BODY_IDLE_TIMEOUT_MS", default_value_t = 10_000)]
    body_idle_timeout_ms: u64,
    /// Longest one SQL statement may run before SQLite interrupts it, in milliseconds (0: no
    /// limit); the component answers 503 with Retry-After. Spin has no such limit.
    #[arg(
        long,
        env = "EDGEPEDIA_SQL_STATEMENT_TIMEOUT_MS",
        default_value_t = 5_000
    )]
    sql_statement_timeout_ms: u64,
}

fn main() {
    if let Err(e) = run() {
        eprintln!("edgepedia-host: {e:#}");
        std::process::exit(1);
    }
}

#[tokio::main]
async fn run() -> Result<()> {
    let started = Instant::now();
    let cli = Cli::parse();
    let app = manifest::load(&cli.manifest)?;
    let state_dir = cli.state_dir.clone().unwrap_or_else(|| {
        cli.manifest
            .parent()
            .unwrap_or(std::path::Path::new("."))
            .join(".spin")
    });
    std::fs::create_dir_all(&state_dir)
        .with_context(|| format!("creating {}", state_dir.display()))?;
    let stores = match &cli.runtime_config_file {
        Some(path) => runtime_config::load(path)?.stores(&app, &state_dir)?,
        None => runtime_config::Stores::spin_defaults(&app, &state_dir),
    };

    let env = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
    let mut overrides = BTreeMap::new();
    let dev_secret = if cli.dev_secret && env("SPIN_VARIABLE_JWT_HS256_SECRET").is_none() {
        let secret = dev_token::load_or_create(&state_dir)?;
        overrides.insert("jwt_hs256_secret".to_owned(), secret.clone());
        Some(secret)
    } else {
        None
    };
    let variables = variables::resolve(&app, env, &overrides)?;
    let outbound_hosts = variables::allowed_outbound_hosts(&app, env, &overrides)?;

    let engine = runtime::engine(if cli.disable_pooling {
        runtime::Allocation::OnDemand
    } else {
        // Instances outlive their request's slot by a little (the guest task ends after the
        // response is handed over): room for twice the cap.
        runtime::Allocation::Pooling {
            instances: u32::try_from(cli.max_concurrent_requests.max(1).saturating_mul(2))
                .unwrap_or(u32::MAX),
        }
    })?;
    let (component, from_cache) =
        runtime::load_component(&engine, &app.source, &state_dir.join("cache"))?;
    let pre = runtime::pre_instantiate(&engine, &component)?;
    let ticker = engine.clone();
    std::thread::spawn(move || loop {
        std::thread::sleep(runtime::EPOCH_TICK);
        ticker.increment_epoch();
    });

    let spin = Arc::new(spin_imports::SpinResources::open_stores(
        &stores,
        variables.clone(),
        if cli.sqlite_pooled {
            sqlite::ConnectionMode::Pooled
        } else {
            sqlite::ConnectionMode::PerGuestConnection
        },
    )?);
    let budget = Some(Duration::from_millis(cli.sql_statement_timeout_ms)).filter(|b| !b.is_zero());
    for database in spin.sqlite.values() {
        database.set_statement_budget(budget);
    }
    let server = Arc::new(server::Server {
        pre,
        spin,
        outbound: outbound::OutboundPolicy::new(outbound_hosts),
        timeout: Duration::from_millis(cli.request_timeout_ms),
        max_body: cli.max_body_bytes,
        body_idle: Duration::from_millis(cli.body_idle_timeout_ms),
        slots: Arc::new(tokio::sync::Semaphore::new(
            cli.max_concurrent_requests.max(1),
        )),
    });
    let listener = tokio::net::TcpListener::bind(&cli.listen)
        .await
        .with_context(|| format!("listening on {}", cli.listen))?;
    let addr = listener.local_addr()?;
    let tls = match &cli.tls_listen {
        Some(tls_addr) => {
            let acceptor =
                tls::acceptor(cli.tls_cert.as_deref(), cli.tls_key.as_deref(), &state_dir)?;
            let listener = tokio::net::TcpListener::bind(tls_addr)
                .await
                .with_context(|| format!("listening on {tls_addr}"))?;
            Some((listener, acceptor))
        }
        None => None,
    };
    eprintln!(
        "edgepedia-host: {} ({}) ready in {:.0} ms, state in {}; variables: {}",
        app.source.display(),
        if from_cache {
            "compile cache"
        } else {
            "compiled"
        },
        started.elapsed().as_secs_f64() * 1e3,
        state_dir.display(),
        variables::describe(&app, &variables)
    );
    if let Some(path) = &cli.runtime_config_file {
        eprintln!(
            "edgepedia-host: runtime config {}: {}",
            path.display(),
            stores.describe()
        );
    }
    if let Some(secret) = dev_secret {
        let get = |n: &str| variables.0.get(n).cloned().unwrap_or_default();
        let token = dev_token::admin_token(&secret, &get("jwt_issuer"), &get("jwt_audience"))?;
        println!("dev admin token (30 days):\n\nexport TOKEN={token}\n");
        println!("try:\n  curl -H \"Authorization: Bearer $TOKEN\" http://{addr}/apis/clusterpedia.io/v1beta1/resources/api/v1/pods\n");
    }
    if let Some((listener, _)) = &tls {
        println!(
            "edgepedia-host listening on https://{}",
            listener.local_addr()?
        );
    }
    println!("edgepedia-host listening on http://{addr}");
    std::io::stdout().flush()?;

    let (stop, stopped) = tokio::sync::watch::channel(false);
    tokio::spawn(async move {
        let mut term =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => std::future::pending().await } } => {}
        }
        eprintln!("edgepedia-host: shutting down");
        let _ = stop.send(true);
    });
    match tls {
        Some((tls_listener, acceptor)) => {
            let https = tokio::spawn(server.clone().serve(
                tls_listener,
                Some(acceptor),
                stopped.clone(),
            ));
            server.serve(listener, None, stopped).await?;
            https.await?
        }
        None => server.serve(listener, None, stopped).await,
    }
}
