//! `sync-agent`: feeds Edgepedia from Kubernetes. `push` sends snapshots from
//! `kubectl get -o json` output; `kubeconfig` prints a kubeconfig for users of the edge URL.

mod edge_client;
mod kubeconfig;
mod list_stream;
mod push;
mod strip;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use edgepedia_api::ClusterName;
use std::path::PathBuf;

#[derive(Parser)]
#[command(version, about = "Pushes Kubernetes objects to Edgepedia")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Push one snapshot per resource type found in `kubectl get ... -o json` output.
    Push(PushArgs),
    /// Print a kubeconfig for Edgepedia: an all-clusters context and one per cluster.
    Kubeconfig(KubeconfigArgs),
}

#[derive(Args)]
struct Token {
    /// Bearer token (JWT) with inventory:write for the cluster.
    #[arg(
        long,
        env = "EDGEPEDIA_TOKEN",
        conflicts_with = "token_file",
        hide_env_values = true
    )]
    token: Option<String>,
    /// File holding the token.
    #[arg(long)]
    token_file: Option<PathBuf>,
}

impl Token {
    fn resolve(&self) -> Result<String> {
        match (&self.token, &self.token_file) {
            (Some(t), _) => Ok(t.trim().to_owned()),
            (None, Some(f)) => Ok(std::fs::read_to_string(f)
                .with_context(|| format!("reading {}", f.display()))?
                .trim()
                .to_owned()),
            (None, None) => {
                anyhow::bail!("a token is required: --token, --token-file or EDGEPEDIA_TOKEN")
            }
        }
    }
}

#[derive(Args)]
struct PushArgs {
    /// Edgepedia base URL, e.g. https://edge.example.com
    #[arg(long)]
    server: String,
    #[command(flatten)]
    token: Token,
    /// Cluster name the objects belong to.
    #[arg(long)]
    cluster: String,
    /// `kubectl get -o json` output (a List of mixed kinds, or one object); `-` for stdin.
    #[arg(long)]
    file: PathBuf,
    /// Send Secret data too (by default Secret data never leaves the cluster).
    #[arg(long)]
    keep_secret_data: bool,
    /// Largest chunk request, in bytes.
    #[arg(long, default_value_t = 4 * 1024 * 1024)]
    chunk_bytes: usize,
}

#[derive(Args)]
struct KubeconfigArgs {
    #[arg(long)]
    server: String,
    #[command(flatten)]
    token: Token,
    /// A per-cluster context for each (repeatable).
    #[arg(long = "cluster")]
    clusters: Vec<String>,
    #[arg(long)]
    insecure_skip_tls_verify: bool,
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Push(args) => {
            let cluster = ClusterName::parse(&args.cluster)?;
            let client = edge_client::EdgeClient::new(&args.server, &args.token.resolve()?);
            let opts = push::PushOptions {
                cluster,
                keep_secret_data: args.keep_secret_data,
                chunk_bytes: args.chunk_bytes,
            };
            let replaced = if args.file.as_os_str() == "-" {
                push::push(&client, std::io::stdin().lock(), &opts)?
            } else {
                let file = std::fs::File::open(&args.file)
                    .with_context(|| format!("opening {}", args.file.display()))?;
                push::push(&client, file, &opts)?
            };
            for (t, count) in replaced {
                println!(
                    "{}\t{count}",
                    if t.group.is_empty() {
                        t.resource
                    } else {
                        format!("{}.{}", t.resource, t.group)
                    }
                );
            }
            Ok(())
        }
        Command::Kubeconfig(args) => {
            let clusters = args
                .clusters
                .iter()
                .map(|c| ClusterName::parse(c))
                .collect::<Result<Vec<_>, _>>()?;
            print!(
                "{}",
                kubeconfig::render(
                    &args.server,
                    &args.token.resolve()?,
                    &clusters,
                    args.insecure_skip_tls_verify
                )
            );
            Ok(())
        }
    }
}
