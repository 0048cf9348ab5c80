//! `sync-agent`: feeds Edgepedia from Kubernetes. `push` sends snapshots from
//! `kubectl get -o json` output; `run` keeps a cluster in sync live; `kubeconfig` prints a
//! kubeconfig for users of the edge URL; `token` mints HS256 tokens from the edge's shared
//! secret (development, small setups); `changes` reads the edge's change feed.

mod changes;
mod edge_client;
mod kubeconfig;
mod list_stream;
mod push;
mod run;
mod strip;
mod token;

use anyhow::{Context, Result};
use clap::{Args, Parser, Subcommand};
use edgepedia_api::ClusterName;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    version,
    about = "Feeds Edgepedia: pushes Kubernetes objects, prints kubeconfigs for its users"
)]
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
    /// Mint an HS256 token signed with the edge's jwt_hs256_secret, and print it.
    Token(TokenArgs),
    /// List and watch a cluster with kube-rs and keep the edge in sync (snapshots, deltas,
    /// heartbeats) until stopped; `--once` for one snapshot.
    Run(run::RunArgs),
    /// Print what changed on the edge (its change feed), oldest first; `--follow` keeps
    /// polling, `--exit-code` exits 1 when anything changed.
    Changes(changes::ChangesArgs),
}

/// The bearer token: `--token`, else `--token-file`, else `$EDGEPEDIA_TOKEN`. The variable is
/// read by hand, not by clap, so a token file given on the command line wins over it.
#[derive(Args)]
struct Token {
    /// Bearer token (JWT): inventory:write for pushing, inventory:read for kubectl and changes. [env: EDGEPEDIA_TOKEN]
    #[arg(long, conflicts_with = "token_file")]
    token: Option<String>,
    /// File holding the token (e.g. a mounted Kubernetes secret).
    #[arg(long)]
    token_file: Option<PathBuf>,
}

impl Token {
    fn resolve(&self) -> Result<String> {
        let token = match (&self.token, &self.token_file) {
            (Some(t), _) => t.clone(),
            (None, Some(f)) => std::fs::read_to_string(f)
                .with_context(|| format!("reading the token file {}", f.display()))?,
            (None, None) => std::env::var(TOKEN_ENV).map_err(|_| {
                anyhow::anyhow!("a token is required: --token, --token-file or {TOKEN_ENV}")
            })?,
        };
        let token = token.trim();
        if token.is_empty() || token.contains(char::is_whitespace) {
            anyhow::bail!("the token is empty or contains whitespace");
        }
        Ok(token.to_owned())
    }
}

const TOKEN_ENV: &str = "EDGEPEDIA_TOKEN";

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
    /// Target size of one chunk request, in bytes.
    #[arg(long, default_value_t = push::DEFAULT_CHUNK_BYTES)]
    chunk_bytes: usize,
    /// No progress lines on stderr.
    #[arg(long, short)]
    quiet: bool,
}

#[derive(Args)]
struct KubeconfigArgs {
    /// Edgepedia base URL, e.g. https://edge.example.com
    #[arg(long)]
    server: String,
    #[command(flatten)]
    token: Token,
    /// A per-cluster context for each (repeatable).
    #[arg(long = "cluster")]
    clusters: Vec<String>,
    /// Let kubectl skip TLS verification (a local server with a self-signed certificate).
    #[arg(long)]
    insecure_skip_tls_verify: bool,
}

#[derive(Args)]
struct TokenArgs {
    /// File holding the HS256 secret (the edge's jwt_hs256_secret).
    #[arg(long, conflicts_with = "secret")]
    secret_file: Option<PathBuf>,
    /// The HS256 secret itself. [env: EDGEPEDIA_JWT_SECRET]
    #[arg(long)]
    secret: Option<String>,
    /// inventory:read, inventory:write, inventory:secrets; repeatable or space-separated.
    /// [default: inventory:read]
    #[arg(long = "scope")]
    scopes: Vec<String>,
    /// Limit the token to clusters matching these globs (repeatable, e.g. prod-*).
    #[arg(long = "cluster")]
    clusters: Vec<String>,
    /// Limit the token to namespaces matching these globs (repeatable).
    #[arg(long = "namespace")]
    namespaces: Vec<String>,
    /// `iss` claim: the edge's jwt_issuer.
    #[arg(long, default_value = "edgepedia")]
    issuer: String,
    /// `aud` claim: the edge's jwt_audience.
    #[arg(long, default_value = "edgepedia")]
    audience: String,
    /// `sub` claim (who the token is for; shows in audit logs).
    #[arg(long)]
    subject: Option<String>,
    /// Lifetime: 90s, 30m, 1h, 7d.
    #[arg(long, default_value = "1h")]
    ttl: String,
}

const SECRET_ENV: &str = "EDGEPEDIA_JWT_SECRET";

impl TokenArgs {
    /// `--secret`, else `--secret-file`, else `$EDGEPEDIA_JWT_SECRET` (read by hand so that a
    /// file on the command line wins over the environment).
    fn spec(&self) -> Result<token::TokenSpec> {
        let secret = match (&self.secret, &self.secret_file) {
            (Some(s), _) => s.clone(),
            (None, Some(f)) => token::read_secret_file(f)?,
            (None, None) => std::env::var(SECRET_ENV).map_err(|_| {
                anyhow::anyhow!("a secret is required: --secret, --secret-file or {SECRET_ENV}")
            })?,
        };
        Ok(token::TokenSpec {
            secret,
            scopes: token::scopes(&self.scopes)?,
            clusters: self.clusters.clone(),
            namespaces: self.namespaces.clone(),
            issuer: self.issuer.clone(),
            audience: self.audience.clone(),
            subject: self.subject.clone(),
            ttl_seconds: token::parse_ttl(&self.ttl)?,
        })
    }
}

fn main() {
    if let Err(e) = run(Cli::parse()) {
        eprintln!("error: {e:#}");
        std::process::exit(1);
    }
}

/// What stdout says after a push: per resource type, how many objects the server now holds.
fn summary_text(cluster: &ClusterName, summary: &push::Summary) -> String {
    let mut out = format!(
        "cluster {cluster}: {} objects in {} chunks, {} resource types replaced in {:.1}s\n",
        summary.objects,
        summary.chunks,
        summary.replaced.len(),
        summary.elapsed.as_secs_f64()
    );
    let labels: Vec<String> = summary
        .replaced
        .iter()
        .map(|t| push::type_label(&t.resource_type))
        .collect();
    let width = labels.iter().map(String::len).max().unwrap_or(0);
    for (label, t) in labels.iter().zip(&summary.replaced) {
        out.push_str(&format!("  {label:<width$}  {}\n", t.count));
    }
    out
}

/// The server is a base URL; catching a typo here beats a confusing transport error later.
fn check_server(server: &str) -> Result<()> {
    let rest = server
        .strip_prefix("https://")
        .or_else(|| server.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.starts_with('/') && !server.contains(['?', '#']) => {
            Ok(())
        }
        _ => anyhow::bail!(
            "--server must be an http:// or https:// base URL such as https://edge.example.com, not {server:?}"
        ),
    }
}

fn run(cli: Cli) -> Result<()> {
    match cli.command {
        Command::Run(args) => run::main(args),
        // Its own exit statuses: 1 means "something changed" (--exit-code), errors are 2.
        Command::Changes(args) => std::process::exit(changes::main(args)),
        Command::Push(args) => {
            let cluster = ClusterName::parse(&args.cluster)?;
            check_server(&args.server)?;
            let client = edge_client::EdgeClient::new(&args.server, &args.token.resolve()?);
            let opts = push::PushOptions {
                keep_secret_data: args.keep_secret_data,
                chunk_bytes: args.chunk_bytes,
                progress: !args.quiet,
            };
            let api = client.snapshots(&cluster);
            let summary = if args.file.as_os_str() == "-" {
                push::push(&api, std::io::stdin().lock(), &opts)?
            } else {
                let file = std::fs::File::open(&args.file)
                    .with_context(|| format!("opening {}", args.file.display()))?;
                push::push(&api, file, &opts)?
            };
            print!("{}", summary_text(&cluster, &summary));
            Ok(())
        }
        Command::Token(args) => {
            println!("{}", token::mint(&args.spec()?)?);
            Ok(())
        }
        Command::Kubeconfig(args) => {
            check_server(&args.server)?;
            let mut clusters: Vec<ClusterName> = Vec::new();
            for c in &args.clusters {
                let c = ClusterName::parse(c)?;
                // A repeated name would make duplicate contexts, which kubectl rejects.
                if !clusters.contains(&c) {
                    clusters.push(c);
                }
            }
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
