//! `sync-agent run`: keeps the edge as fresh as the cluster (DESIGN §6). kube-rs watchers
//! ([`watch`]) list and watch every served type; one sender ([`sender`]) turns their events
//! into ingest requests, in order: each (re)list is a snapshot session, later changes are
//! delta pushes batched by size and time ([`batch`]), and a heartbeat keeps the cluster
//! `Ready` between changes. `--once` sends one snapshot of everything and exits.
//! `--metrics-listen` serves what the sender did for Prometheus ([`metrics`]).

pub mod batch;
pub mod metrics;
pub mod sender;
pub mod watch;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use edgepedia_api::ingest::MAX_BODY_BYTES;
use edgepedia_api::ClusterName;
use kube::config::{KubeConfigOptions, Kubeconfig};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, Notify};
use tracing::{error, info};

#[derive(Args)]
pub struct RunArgs {
    /// Edgepedia base URL, e.g. https://edge.example.com
    #[arg(long)]
    server: String,
    /// File holding the bearer token (inventory:write for the cluster, plus inventory:secrets
    /// to sync Secrets); re-read whenever it changes.
    #[arg(long)]
    token_file: PathBuf,
    /// Cluster name the objects belong to.
    #[arg(long)]
    cluster: String,
    /// Kubeconfig to reach the API server; by default $KUBECONFIG, ~/.kube/config, or the
    /// in-cluster service account.
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Another type to sync, as group/version/resource (`v1/pods` for the core group);
    /// repeatable. Added to the built-in types unless --no-builtin.
    #[arg(long = "resource", value_name = "GROUP/VERSION/RESOURCE")]
    resources: Vec<String>,
    /// Sync only the --resource types, not the built-in catalog's.
    #[arg(long)]
    no_builtin: bool,
    /// A new snapshot of every type this often (1h, 30m, 90s).
    #[arg(long, default_value = "1h", value_parser = batch::parse_duration)]
    resync: Duration,
    /// One snapshot of every type, then exit.
    #[arg(long)]
    once: bool,
    /// Send Secret data too (by default Secret data never leaves the cluster).
    #[arg(long)]
    keep_secret_data: bool,
    /// Log format on stderr.
    #[arg(long, value_enum, default_value_t = LogFormat::Text)]
    log_format: LogFormat,
    /// Target size of one request (snapshot chunk or event batch), in bytes.
    #[arg(long, default_value_t = crate::push::DEFAULT_CHUNK_BYTES)]
    chunk_bytes: usize,
    /// Watch events wait at most this long before they are pushed.
    #[arg(long, default_value = "1s", value_parser = batch::parse_duration)]
    flush_after: Duration,
    /// How often to tell the edge the agent is alive.
    #[arg(long, default_value = "30s", value_parser = batch::parse_duration)]
    heartbeat: Duration,
    /// Serve Prometheus metrics at http://ADDR/metrics (e.g. 0.0.0.0:9090; port 0 picks a
    /// free one, logged at start).
    #[arg(long, value_name = "ADDR")]
    metrics_listen: Option<String>,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

/// Objects and events queued between the watchers and the sender: a bound on memory, and
/// back-pressure on the watchers while the edge is unreachable.
const QUEUE: usize = 256;

pub fn main(args: RunArgs) -> Result<()> {
    init_logs(args.log_format);
    let cluster = ClusterName::parse(&args.cluster)?;
    crate::check_server(&args.server)?;
    let most = MAX_BODY_BYTES - 16;
    if args.chunk_bytes == 0 || args.chunk_bytes > most {
        bail!("--chunk-bytes must be between 1 and {most} (the server's body limit)");
    }
    if args.resync < Duration::from_secs(1) || args.heartbeat < Duration::from_millis(100) {
        bail!("--resync must be at least 1s and --heartbeat at least 100ms");
    }
    // Fail early on an unreadable token; it is re-read on change later.
    sender::read_token(&args.token_file)?;
    let mut wanted = if args.no_builtin {
        Vec::new()
    } else {
        watch::builtin()
    };
    for r in &args.resources {
        wanted.push(watch::Wanted::parse(r)?);
    }
    if wanted.is_empty() {
        bail!("nothing to sync: give --resource with --no-builtin");
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let code = runtime.block_on(run(args, cluster, wanted))?;
    // Blocking requests still waiting on the edge must not hold the exit.
    runtime.shutdown_timeout(Duration::from_secs(1));
    if code != 0 {
        std::process::exit(code);
    }
    Ok(())
}

fn init_logs(format: LogFormat) {
    use tracing_subscriber::EnvFilter;
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Json => builder.json().init(),
        LogFormat::Text => builder.init(),
    }
}

async fn kube_client(kubeconfig: Option<&PathBuf>) -> Result<kube::Client> {
    let config = match kubeconfig {
        Some(path) => {
            let kc = Kubeconfig::read_from(path)
                .with_context(|| format!("reading the kubeconfig {}", path.display()))?;
            kube::Config::from_custom_kubeconfig(kc, &KubeConfigOptions::default())
                .await
                .with_context(|| format!("using the kubeconfig {}", path.display()))?
        }
        None => kube::Config::infer()
            .await
            .context("no kubeconfig ($KUBECONFIG, ~/.kube/config) and not in a cluster")?,
    };
    kube::Client::try_from(config).map_err(|e| anyhow!("building the Kubernetes client: {e}"))
}

/// Returns the process exit code.
async fn run(args: RunArgs, cluster: ClusterName, wanted: Vec<watch::Wanted>) -> Result<i32> {
    let metrics = Arc::new(metrics::Metrics::new(cluster.as_str()));
    if let Some(addr) = &args.metrics_listen {
        let listener = metrics::bind(addr).await?;
        let address = listener.local_addr()?;
        info!(address = %address, "serving metrics at http://{address}/metrics");
        tokio::spawn(metrics::serve(listener, metrics.clone()));
    }
    let client = kube_client(args.kubeconfig.as_ref()).await?;
    let served = watch::resolve(&client, &wanted).await;
    if served.is_empty() {
        bail!("the API server serves none of the types to sync");
    }
    info!(
        cluster = %cluster,
        types = served.len(),
        once = args.once,
        resync_seconds = args.resync.as_secs(),
        "syncing"
    );
    let (tx, rx) = mpsc::channel(QUEUE);
    let relist: Vec<Arc<Notify>> = served.iter().map(|_| Arc::new(Notify::new())).collect();
    let sender = sender::Sender::new(
        sender::TokenSource::new(&args.server, args.token_file.clone()),
        cluster,
        served.iter().map(|(_, rt)| rt.clone()).collect(),
        relist.clone(),
        args.chunk_bytes,
        args.flush_after,
        metrics,
    );
    let sending = tokio::spawn(sender.run(rx));
    // The first heartbeat goes ahead of the snapshots: the edge knows the agent at once.
    tx.send(sender::Msg::Heartbeat).await.ok();
    let opts = watch::WatchOptions {
        keep_secret_data: args.keep_secret_data,
        resync: args.resync,
        once: args.once,
    };
    let mut watchers: Vec<tokio::task::JoinHandle<bool>> = Vec::new();
    for (ty, (ar, _)) in served.into_iter().enumerate() {
        watchers.push(tokio::spawn(watch::watch_type(
            client.clone(),
            ty,
            ar,
            opts.clone(),
            tx.clone(),
            relist[ty].clone(),
        )));
    }
    if args.once {
        drop(tx);
        let mut incomplete = 0;
        for w in watchers {
            if !w.await? {
                incomplete += 1;
            }
        }
        let failures = sending.await? + incomplete;
        if failures > 0 {
            error!(failures, "the snapshot is incomplete");
            return Ok(1);
        }
        info!("snapshot of every type sent");
        return Ok(0);
    }
    let heartbeat = {
        let tx = tx.clone();
        let every = args.heartbeat;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            tick.tick().await; // the first one was sent above
            loop {
                tick.tick().await;
                if tx.try_send(sender::Msg::Heartbeat).is_err() && tx.is_closed() {
                    return;
                }
            }
        })
    };
    drop(tx);
    shutdown_signal().await;
    info!("stopping");
    heartbeat.abort();
    for w in &watchers {
        w.abort();
    }
    Ok(0)
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut term = signal(SignalKind::terminate()).expect("a SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
