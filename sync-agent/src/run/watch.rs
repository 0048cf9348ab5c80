//! The cluster side of `run`: which types the API server serves (discovery of each
//! group/version), and one kube-rs watcher per type turning its events into [`Msg`]s.
//!
//! The watcher's `Init` / `InitApply` / `InitDone` become a snapshot (begin, objects,
//! commit); `Apply` / `Delete` become watch events. A watcher restarts itself after an error
//! (a `410 Gone` relists, which is a new `Init`); the periodic resync and a lost session
//! restart it here, between lists.

use super::sender::Msg;
use crate::strip::strip_into;
use anyhow::{bail, Result};
use edgepedia_api::ingest::MAX_OBJECT_BYTES;
use edgepedia_api::ResourceType;
use futures::StreamExt;
use kube::api::{Api, DynamicObject};
use kube::core::{ApiResource, TypeMeta};
use kube::runtime::{watcher, WatchStreamExt};
use kube::Client;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::{mpsc, Notify};
use tracing::{info, warn};

/// A type asked for: `group/version/resource` (`v1/pods` or `/v1/pods` for the core group).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Wanted {
    pub group: String,
    pub version: String,
    pub resource: String,
}

impl Wanted {
    pub fn parse(text: &str) -> Result<Self> {
        let parts: Vec<&str> = text.split('/').collect();
        let (group, version, resource) = match parts.as_slice() {
            [v, r] => ("", *v, *r),
            [g, v, r] => (*g, *v, *r),
            _ => bail!("--resource {text:?}: expected group/version/resource, e.g. apps/v1/deployments or v1/pods"),
        };
        if version.is_empty() || resource.is_empty() {
            bail!("--resource {text:?}: expected group/version/resource");
        }
        Ok(Self {
            group: group.to_owned(),
            version: version.to_owned(),
            resource: resource.to_owned(),
        })
    }

    fn group_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// The built-in catalog's types (DESIGN's seed set).
pub fn builtin() -> Vec<Wanted> {
    edgepedia_api::catalog::BUILTIN
        .iter()
        .map(|info| Wanted {
            group: info.group.to_owned(),
            version: info.version.to_owned(),
            resource: info.resource.to_owned(),
        })
        .collect()
}

/// Asks the API server which of `wanted` it serves (with list and watch); the others are
/// skipped with a log line. Returns each served type as kube and the edge name it.
pub async fn resolve(client: &Client, wanted: &[Wanted]) -> Vec<(ApiResource, ResourceType)> {
    let mut by_gv: BTreeMap<String, Vec<&Wanted>> = BTreeMap::new();
    for w in wanted {
        let list = by_gv.entry(w.group_version()).or_default();
        if !list.contains(&w) {
            list.push(w);
        }
    }
    let mut served = Vec::new();
    for (gv, wanted) in by_gv {
        let found = if gv.contains('/') {
            client.list_api_group_resources(&gv).await
        } else {
            client.list_core_api_resources(&gv).await
        };
        let list = match found {
            Ok(list) => list,
            Err(e) => {
                for w in wanted {
                    warn!(group_version = %gv, resource = %w.resource, error = %e, "the API server does not serve this group/version: skipped");
                }
                continue;
            }
        };
        for w in wanted {
            let Some(r) = list.resources.iter().find(|r| r.name == w.resource) else {
                warn!(group_version = %gv, resource = %w.resource, "the API server does not serve this resource: skipped");
                continue;
            };
            if !["list", "watch"]
                .iter()
                .all(|v| r.verbs.iter().any(|x| x == v))
            {
                warn!(group_version = %gv, resource = %w.resource, "the resource cannot be listed and watched: skipped");
                continue;
            }
            let ar = ApiResource {
                group: w.group.clone(),
                version: w.version.clone(),
                api_version: gv.clone(),
                kind: r.kind.clone(),
                plural: w.resource.clone(),
            };
            let rt = ResourceType {
                group: w.group.clone(),
                version: w.version.clone(),
                resource: w.resource.clone(),
                kind: r.kind.clone(),
                namespaced: r.namespaced,
            };
            served.push((ar, rt));
        }
    }
    served
}

/// How a watcher task runs.
#[derive(Clone)]
pub struct WatchOptions {
    pub keep_secret_data: bool,
    /// A new snapshot this often.
    pub resync: Duration,
    /// Stop after the first complete list.
    pub once: bool,
}

/// With `--once`, a type whose list fails this many times in a row is given up.
const ONCE_ATTEMPTS: u32 = 5;

/// Watches one type until the channel closes (or, with `once`, until its first list is
/// sent: returns whether it was). `relist` asks for a new list at the next chance.
pub async fn watch_type(
    client: Client,
    ty: usize,
    ar: ApiResource,
    opts: WatchOptions,
    tx: mpsc::Sender<Msg>,
    relist: Arc<Notify>,
) -> bool {
    let mut failures = 0;
    let label = if ar.group.is_empty() {
        ar.plural.clone()
    } else {
        format!("{}.{}", ar.plural, ar.group)
    };
    loop {
        let api: Api<DynamicObject> = Api::all_with(client.clone(), &ar);
        let mut stream = watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        let resync = tokio::time::sleep(opts.resync);
        tokio::pin!(resync);
        let mut listing = false;
        let mut restart = false;
        loop {
            tokio::select! {
                event = stream.next() => {
                    let msg = match event {
                        None => return false,
                        Some(Err(e)) => {
                            failures += 1;
                            if opts.once && failures >= ONCE_ATTEMPTS {
                                warn!(resource = %label, error = %e, "listing failed {failures} times: giving up on this type");
                                return false;
                            }
                            warn!(resource = %label, error = %e, "watch failed; the watcher retries with backoff");
                            continue;
                        }
                        Some(Ok(watcher::Event::Init)) => {
                            listing = true;
                            Msg::Begin { ty }
                        }
                        Some(Ok(watcher::Event::InitApply(o))) => match encode(o, &ar, &opts, &label) {
                            Some(json) => Msg::Object { ty, json },
                            None => continue,
                        },
                        Some(Ok(watcher::Event::InitDone)) => {
                            listing = false;
                            Msg::Done { ty }
                        }
                        Some(Ok(watcher::Event::Apply(o))) => match encode(o, &ar, &opts, &label) {
                            Some(json) => Msg::Event { ty, event_type: "MODIFIED", json, seen: Instant::now() },
                            None => continue,
                        },
                        Some(Ok(watcher::Event::Delete(o))) => match encode(o, &ar, &opts, &label) {
                            Some(json) => Msg::Event { ty, event_type: "DELETED", json, seen: Instant::now() },
                            None => continue,
                        },
                    };
                    let done = matches!(msg, Msg::Done { .. });
                    failures = 0;
                    if tx.send(msg).await.is_err() {
                        return false;
                    }
                    if done && opts.once {
                        return true;
                    }
                    if done && restart {
                        break;
                    }
                }
                _ = &mut resync, if !restart && !opts.once => {
                    restart = true;
                    if !listing {
                        break;
                    }
                }
                _ = relist.notified(), if !restart => {
                    restart = true;
                    if !listing {
                        break;
                    }
                }
            }
        }
        info!(resource = %label, "listing again (resync)");
    }
}

/// The object as the edge takes it: `apiVersion`/`kind` set (list items lack them), stripped
/// like `push` does. Objects the edge would refuse are skipped with a log line.
fn encode(
    mut o: DynamicObject,
    ar: &ApiResource,
    opts: &WatchOptions,
    label: &str,
) -> Option<Vec<u8>> {
    o.types = Some(TypeMeta {
        api_version: ar.api_version.clone(),
        kind: ar.kind.clone(),
    });
    let raw = match serde_json::to_vec(&o) {
        Ok(raw) => raw,
        Err(e) => {
            warn!(resource = %label, error = %e, "an object could not be serialized: skipped");
            return None;
        }
    };
    let mut out = Vec::with_capacity(raw.len());
    let header = match strip_into(&raw, opts.keep_secret_data, &mut out) {
        Ok(h) => h,
        Err(e) => {
            warn!(resource = %label, error = %e, "an object could not be read: skipped");
            return None;
        }
    };
    if header.name.is_none() || header.uid.is_none() {
        warn!(resource = %label, object = %header.describe(), "an object without name or uid: skipped");
        return None;
    }
    if out.len() > MAX_OBJECT_BYTES {
        warn!(resource = %label, object = %header.describe(), bytes = out.len(), "an object larger than the edge accepts: skipped");
        return None;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_resource_flags() {
        let w = Wanted::parse("apps/v1/deployments").unwrap();
        assert_eq!(
            (w.group.as_str(), w.version.as_str(), w.resource.as_str()),
            ("apps", "v1", "deployments")
        );
        assert_eq!(w.group_version(), "apps/v1");
        let core = Wanted::parse("v1/pods").unwrap();
        assert_eq!(core, Wanted::parse("/v1/pods").unwrap());
        assert_eq!(core.group_version(), "v1");
        assert!(Wanted::parse("pods").is_err());
        assert!(Wanted::parse("a/b/c/d").is_err());
        assert!(Wanted::parse("apps//x").is_err());
        assert_eq!(builtin().len(), edgepedia_api::catalog::BUILTIN.len());
    }

    #[test]
    fn encoded_objects_are_typed_and_stripped() {
        let ar = ApiResource {
            group: String::new(),
            version: "v1".into(),
            api_version: "v1".into(),
            kind: "Secret".into(),
            plural: "secrets".into(),
        };
        let o: DynamicObject = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "s", "namespace": "d", "uid": "u1", "managedFields": [{"manager": "x"}]},
            "data": {"password": "aHVudGVyMg=="}, "type": "Opaque"
        }))
        .unwrap();
        let opts = WatchOptions {
            keep_secret_data: false,
            resync: Duration::from_secs(1),
            once: false,
        };
        let out: serde_json::Value =
            serde_json::from_slice(&encode(o.clone(), &ar, &opts, "secrets").unwrap()).unwrap();
        assert_eq!(out["apiVersion"], "v1");
        assert_eq!(out["kind"], "Secret");
        assert!(out.get("data").is_none());
        assert!(out["metadata"].get("managedFields").is_none());
        assert_eq!(out["type"], "Opaque");
        let keep = WatchOptions {
            keep_secret_data: true,
            ..opts.clone()
        };
        let out: serde_json::Value =
            serde_json::from_slice(&encode(o, &ar, &keep, "secrets").unwrap()).unwrap();
        assert_eq!(out["data"]["password"], "aHVudGVyMg==");
        let no_uid: DynamicObject =
            serde_json::from_value(serde_json::json!({"metadata": {"name": "x"}})).unwrap();
        assert!(encode(no_uid, &ar, &opts, "secrets").is_none());
    }
}
