//! `sync-agent changes`: reads the edge's change feed (`GET .../v1beta1/changes`) page by
//! page, oldest first, printing one line per change. The feed's `metadata.continue` is an
//! opaque cursor: it is passed back as the next `since` and, with `--cursor-file`, kept in a
//! file (after the page's lines are printed, so a stop in between repeats a page rather than
//! losing one). `--exit-code` turns it into a CI gate: status 1 when anything changed.

use crate::edge_client::{EdgeClient, HttpError, Unreachable};
use anyhow::{anyhow, Context, Result};
use clap::{Args, ValueEnum};
use serde::Deserialize;
use serde_json::value::RawValue;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

const PATH: &str = "/apis/clusterpedia.io/v1beta1/changes";

#[derive(Args)]
pub struct ChangesArgs {
    /// Edgepedia base URL, e.g. https://edge.example.com
    #[arg(long)]
    server: String,
    #[command(flatten)]
    token: crate::Token,
    /// Where to start: a cursor from an earlier run, an RFC 3339 time or unix seconds.
    /// Without it (and no cursor file) the edge starts at its oldest retained change.
    #[arg(long)]
    since: Option<String>,
    /// Start from the cursor stored in this file (unless --since), and store the new cursor
    /// there after every page.
    #[arg(long, value_name = "FILE")]
    cursor_file: Option<PathBuf>,
    /// Only these clusters (comma-separated).
    #[arg(long, value_delimiter = ',')]
    clusters: Vec<String>,
    /// Only these namespaces (comma-separated).
    #[arg(long, value_delimiter = ',')]
    namespaces: Vec<String>,
    /// Only these types, comma-separated group/version/resource (apps/v1/deployments).
    #[arg(long, value_delimiter = ',', value_name = "GROUP/VERSION/RESOURCE")]
    resources: Vec<String>,
    /// Changes per page.
    #[arg(long, default_value_t = 500, value_parser = clap::value_parser!(u32).range(1..))]
    limit: u32,
    /// `text`: one readable line per change; `json`: each change as received, one per line.
    #[arg(long, value_enum, default_value_t = Output::Text)]
    output: Output,
    /// Once caught up, poll again every --interval until SIGINT or SIGTERM.
    #[arg(long)]
    follow: bool,
    /// With --follow: the pause between polls (5, 30s, 500ms, 1m).
    #[arg(long, default_value = "5", value_parser = crate::run::batch::parse_duration)]
    interval: Duration,
    /// Exit 1 when at least one change was printed, 0 when none (errors exit 2).
    #[arg(long)]
    exit_code: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum Output {
    Text,
    Json,
}

/// One page of the feed. Items stay raw so `--output json` prints them as received.
#[derive(Deserialize)]
struct ChangeList {
    metadata: ListMeta,
    items: Vec<Box<RawValue>>,
}

#[derive(Deserialize)]
struct ListMeta {
    #[serde(rename = "continue")]
    cursor: String,
}

/// What the text line shows of a change.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Change {
    #[serde(rename = "type")]
    change_type: String,
    cluster: String,
    #[serde(default)]
    group: String,
    version: String,
    resource: String,
    #[serde(default)]
    namespace: String,
    name: String,
    changed_at: String,
}

impl Change {
    /// `<changedAt> <TYPE> <cluster> <group/version/resource> <namespace>/<name>`.
    fn line(&self) -> String {
        let gvr = if self.group.is_empty() {
            format!("{}/{}", self.version, self.resource)
        } else {
            format!("{}/{}/{}", self.group, self.version, self.resource)
        };
        let object = if self.namespace.is_empty() {
            self.name.clone()
        } else {
            format!("{}/{}", self.namespace, self.name)
        };
        format!(
            "{} {} {} {gvr} {object}",
            self.changed_at, self.change_type, self.cluster
        )
    }
}

/// Runs the command; returns the process exit status (0, 1 with --exit-code, 2 on errors).
pub fn main(args: ChangesArgs) -> i32 {
    let exit_code = args.exit_code;
    match run(args) {
        Ok(printed) => i32::from(exit_code && printed),
        // The reader went away (`| head`): not worth a message; something was being printed.
        Err(e)
            if e.downcast_ref::<std::io::Error>()
                .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe) =>
        {
            i32::from(exit_code)
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            if e.downcast_ref::<HttpError>()
                .is_some_and(|h| h.status == 410)
            {
                eprintln!(
                    "the cursor cannot be resumed: start again with --since <time>, or without \
                     the cursor (remove the cursor file); changes in between cannot be listed"
                );
            }
            2
        }
    }
}

/// The feed and what has been printed of it.
struct Feed {
    client: EdgeClient,
    /// `limit` and the filters, URL-encoded.
    query: String,
    limit: usize,
    output: Output,
    cursor_file: Option<PathBuf>,
    printed: AtomicBool,
}

fn run(args: ChangesArgs) -> Result<bool> {
    crate::check_server(&args.server)?;
    if args.interval.is_zero() {
        anyhow::bail!("--interval must be more than 0");
    }
    let since = match (&args.since, &args.cursor_file) {
        (Some(s), _) => Some(s.clone()),
        (None, Some(f)) => read_cursor(f)?,
        (None, None) => None,
    };
    let mut query = format!("limit={}", args.limit);
    for (name, values) in [
        ("clusters", &args.clusters),
        ("namespaces", &args.namespaces),
        ("resources", &args.resources),
    ] {
        if !values.is_empty() {
            // Each value is encoded on its own; the commas between them stay literal.
            let list: Vec<String> = values.iter().map(|v| encode(v)).collect();
            query.push_str(&format!("&{name}={}", list.join(",")));
        }
    }
    let feed = Arc::new(Feed {
        client: EdgeClient::new(&args.server, &args.token.resolve()?),
        query,
        limit: args.limit as usize,
        output: args.output,
        cursor_file: args.cursor_file,
        printed: AtomicBool::new(false),
    });
    if args.follow {
        follow(feed.clone(), since, args.interval)?;
    } else {
        feed.catch_up(since)?;
    }
    Ok(feed.printed.load(Ordering::Relaxed))
}

fn encode(value: &str) -> String {
    form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

impl Feed {
    /// Reads pages until one has fewer items than the limit; returns the cursor after it.
    fn catch_up(&self, mut since: Option<String>) -> Result<String> {
        loop {
            let mut path = format!("{PATH}?{}", self.query);
            if let Some(s) = &since {
                path.push_str(&format!("&since={}", encode(s)));
            }
            let page: ChangeList = self.client.get(&path)?;
            self.print(&page.items)?;
            if let Some(f) = &self.cursor_file {
                write_cursor(f, &page.metadata.cursor)?;
            }
            if page.items.len() < self.limit {
                return Ok(page.metadata.cursor);
            }
            since = Some(page.metadata.cursor);
        }
    }

    fn print(&self, items: &[Box<RawValue>]) -> Result<()> {
        if items.is_empty() {
            return Ok(());
        }
        let mut text = String::new();
        for (i, item) in items.iter().enumerate() {
            let raw = item.get();
            match self.output {
                Output::Text => {
                    let change: Change = serde_json::from_str(raw).with_context(|| {
                        format!("change {i} of a page is malformed: {raw:.200}")
                    })?;
                    text.push_str(&change.line());
                }
                // JSON has no raw line breaks inside strings: an item that holds any was
                // pretty-printed, and is compacted to keep one change per line.
                Output::Json if raw.contains(['\n', '\r']) => {
                    let value: serde_json::Value = serde_json::from_str(raw)?;
                    text.push_str(&value.to_string());
                }
                Output::Json => text.push_str(raw),
            }
            text.push('\n');
        }
        let mut out = std::io::stdout().lock();
        out.write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .context("writing to stdout")?;
        self.printed.store(true, Ordering::Relaxed);
        Ok(())
    }
}

/// Catches up, then polls every `interval` until SIGINT or SIGTERM. An edge that is away
/// (no answer, 5xx, 429 after the client's own retries) is tried again at the next poll; any
/// other error (a 4xx such as 410 Expired, stdout closed) ends the command.
fn follow(feed: Arc<Feed>, since: Option<String>, interval: Duration) -> Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let result = runtime.block_on(poll_until_stopped(feed, since, interval));
    // A poll still waiting on the edge must not hold the exit.
    runtime.shutdown_background();
    result
}

async fn poll_until_stopped(
    feed: Arc<Feed>,
    mut since: Option<String>,
    interval: Duration,
) -> Result<()> {
    use tokio::signal::unix::{signal, SignalKind};
    let mut interrupt = signal(SignalKind::interrupt())?;
    let mut terminate = signal(SignalKind::terminate())?;
    loop {
        let (feed, from) = (feed.clone(), since.clone());
        // Blocking HTTP on its own thread, so a signal ends the wait at once.
        let poll = tokio::task::spawn_blocking(move || feed.catch_up(from));
        tokio::select! {
            done = poll => match done.map_err(|e| anyhow!("the poll failed: {e}"))? {
                Ok(cursor) => since = Some(cursor),
                Err(e) if may_pass(&e) => eprintln!(
                    "sync-agent: {e:#}; polling again in {:.1}s",
                    interval.as_secs_f64()
                ),
                Err(e) => return Err(e),
            },
            _ = interrupt.recv() => return Ok(()),
            _ = terminate.recv() => return Ok(()),
        }
        tokio::select! {
            _ = tokio::time::sleep(interval) => {}
            _ = interrupt.recv() => return Ok(()),
            _ = terminate.recv() => return Ok(()),
        }
    }
}

/// An edge that is away or busy; anything else (a refusal, a malformed page, stdout or the
/// cursor file failing) would fail again the same way.
fn may_pass(e: &anyhow::Error) -> bool {
    e.downcast_ref::<Unreachable>().is_some()
        || e.downcast_ref::<HttpError>()
            .is_some_and(|h| h.status == 429 || h.status >= 500)
}

/// The stored cursor, if the file exists and holds one.
fn read_cursor(path: &Path) -> Result<Option<String>> {
    match std::fs::read_to_string(path) {
        Ok(text) => {
            let cursor = text.trim();
            Ok((!cursor.is_empty()).then(|| cursor.to_owned()))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e).with_context(|| format!("reading the cursor file {}", path.display())),
    }
}

/// Replaces the file's content atomically (a temporary file beside it, then a rename), so a
/// crash leaves the old cursor or the new one, never half of one.
fn write_cursor(path: &Path, cursor: &str) -> Result<()> {
    let name = path
        .file_name()
        .ok_or_else(|| anyhow!("the cursor file {} is not a file name", path.display()))?;
    let mut temp_name = std::ffi::OsString::from(".");
    temp_name.push(name);
    temp_name.push(format!(".{}.tmp", std::process::id()));
    let temp = path.with_file_name(temp_name);
    let written = (|| {
        let mut f = std::fs::File::create(&temp)?;
        f.write_all(cursor.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&temp, path)
    })();
    if written.is_err() {
        let _ = std::fs::remove_file(&temp);
    }
    written.with_context(|| format!("writing the cursor file {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(json: &str) -> Change {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn text_lines() {
        let c = change(
            r#"{"type":"ADDED","cluster":"c","group":"apps","version":"v1","resource":"deployments","namespace":"default","name":"nginx","uid":"u","changedAt":"2026-12-01T04:00:00Z","object":{}}"#,
        );
        assert_eq!(
            c.line(),
            "2026-12-01T04:00:00Z ADDED c apps/v1/deployments default/nginx"
        );
        let node = change(
            r#"{"type":"DELETED","cluster":"c","group":"","version":"v1","resource":"nodes","namespace":"","name":"n1","changedAt":"2026-12-01T04:00:01Z"}"#,
        );
        assert_eq!(node.line(), "2026-12-01T04:00:01Z DELETED c v1/nodes n1");
    }

    #[test]
    fn cursor_files_are_replaced_whole() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("cursor");
        assert_eq!(read_cursor(&f).unwrap(), None);
        write_cursor(&f, "abc").unwrap();
        assert_eq!(read_cursor(&f).unwrap().as_deref(), Some("abc"));
        write_cursor(&f, "def").unwrap();
        assert_eq!(read_cursor(&f).unwrap().as_deref(), Some("def"));
        // Only the cursor file is left: no temporary files.
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
        std::fs::write(&f, " \n").unwrap();
        assert_eq!(read_cursor(&f).unwrap(), None);
        assert!(write_cursor(&dir.path().join("missing/cursor"), "x").is_err());
    }

    #[test]
    fn query_values_are_encoded() {
        assert_eq!(
            encode("2026-12-01T04:00:00+02:00"),
            "2026-12-01T04%3A00%3A00%2B02%3A00"
        );
        assert_eq!(encode("apps/v1/deployments"), "apps%2Fv1%2Fdeployments");
    }
}
