//! `sync-agent push`: one snapshot per resource type found in a `kubectl get -o json` file.
//! Objects stream in, are stripped and validated, buffered per type and sent in chunks of at
//! most `chunk_bytes`; sessions begin lazily and all commit at the end. On any failure every
//! open session is aborted, so the server keeps its previous data.

use crate::edge_client::EdgeClient;
use crate::list_stream::for_each_object;
use crate::strip::strip;
use anyhow::{bail, Context, Result};
use edgepedia_api::ingest::{
    BeginSnapshot, ChunkAccepted, CommitResult, SnapshotSession, MAX_BODY_BYTES, PREFIX,
};
use edgepedia_api::{ClusterName, ResourceType};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::Read;
use std::time::Instant;

pub struct PushOptions {
    pub cluster: ClusterName,
    pub keep_secret_data: bool,
    pub chunk_bytes: usize,
}

/// Per resource type: its open session and the serialized objects not yet sent.
struct Pending {
    session: String,
    buffer: Vec<u8>,
    buffered: usize,
    sent: usize,
}

pub fn push(
    client: &EdgeClient,
    input: impl Read,
    opts: &PushOptions,
) -> Result<Vec<(ResourceType, u64)>> {
    if opts.chunk_bytes == 0 || opts.chunk_bytes > MAX_BODY_BYTES - 1024 {
        bail!(
            "--chunk-bytes must be between 1 and {}",
            MAX_BODY_BYTES - 1024
        );
    }
    let base = format!("{PREFIX}/clusters/{}/snapshots", opts.cluster);
    let mut pending: BTreeMap<ResourceType, Pending> = BTreeMap::new();
    let started = Instant::now();
    let result = (|| -> Result<Vec<(ResourceType, u64)>> {
        let total = for_each_object(input, |index, mut object| {
            let rtype = object_type(index, &object)?;
            strip(&mut object, opts.keep_secret_data);
            let bytes = serde_json::to_vec(&object)?;
            if bytes.len() + 64 > MAX_BODY_BYTES {
                bail!(
                    "item {index} ({}) is {} bytes, larger than a request may be",
                    describe(&object),
                    bytes.len()
                );
            }
            if !pending.contains_key(&rtype) {
                let session: SnapshotSession = client.post(
                    &base,
                    &BeginSnapshot {
                        resource_types: vec![rtype.clone()],
                        agent_version: Some(env!("CARGO_PKG_VERSION").to_owned()),
                    },
                )?;
                pending.insert(
                    rtype.clone(),
                    Pending {
                        session: session.session,
                        buffer: Vec::new(),
                        buffered: 0,
                        sent: 0,
                    },
                );
            }
            let p = pending.get_mut(&rtype).expect("inserted above");
            if p.buffered > 0 && p.buffer.len() + bytes.len() + 16 > opts.chunk_bytes {
                flush(client, &base, p)?;
            }
            p.buffer.push(if p.buffered == 0 { b'[' } else { b',' });
            p.buffer.extend_from_slice(&bytes);
            p.buffered += 1;
            if (index + 1) % 5000 == 0 {
                eprintln!(
                    "sync-agent: read {} objects in {:.1}s",
                    index + 1,
                    started.elapsed().as_secs_f64()
                );
            }
            Ok(())
        })?;
        let mut replaced = Vec::new();
        for p in pending.values_mut() {
            flush(client, &base, p)?;
            let result: CommitResult =
                client.post_raw(&format!("{base}/{}/commit", p.session), b"")?;
            replaced.extend(
                result
                    .replaced
                    .into_iter()
                    .map(|t| (t.resource_type, t.count)),
            );
        }
        pending.clear();
        eprintln!(
            "sync-agent: pushed {total} objects in {:.1}s",
            started.elapsed().as_secs_f64()
        );
        Ok(replaced)
    })();
    if result.is_err() {
        for p in pending.values() {
            if let Err(e) = client.delete(&format!("{base}/{}", p.session)) {
                eprintln!("sync-agent: could not abort session {}: {e:#}", p.session);
            }
        }
    }
    result
}

fn flush(client: &EdgeClient, base: &str, p: &mut Pending) -> Result<()> {
    if p.buffered == 0 {
        return Ok(());
    }
    let mut body = Vec::with_capacity(p.buffer.len() + 12);
    body.extend_from_slice(b"{\"items\":");
    body.append(&mut p.buffer);
    body.extend_from_slice(b"]}");
    let _: ChunkAccepted = client
        .post_raw(&format!("{base}/{}/chunks", p.session), &body)
        .with_context(|| format!("sending objects {}..{}", p.sent, p.sent + p.buffered))?;
    p.sent += p.buffered;
    p.buffered = 0;
    Ok(())
}

/// The resource type of an object, after checking what the server needs to store it.
fn object_type(index: usize, object: &Value) -> Result<ResourceType> {
    let field = |path: &[&str]| {
        path.iter()
            .try_fold(object, |v, k| v.get(k))
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    };
    let (Some(api_version), Some(kind)) = (field(&["apiVersion"]), field(&["kind"])) else {
        bail!("item {index}: apiVersion and kind are required");
    };
    if field(&["metadata", "name"]).is_none() {
        bail!("item {index} ({kind}): metadata.name is required");
    }
    Ok(ResourceType::for_object(
        api_version,
        kind,
        field(&["metadata", "namespace"]).is_some(),
    ))
}

fn describe(object: &Value) -> String {
    format!(
        "{} {}",
        object["kind"].as_str().unwrap_or("?"),
        object["metadata"]["name"].as_str().unwrap_or("?")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn types_come_from_the_catalog_and_missing_fields_are_named() {
        let t = object_type(0, &json!({"apiVersion":"apps/v1","kind":"Deployment","metadata":{"name":"d","namespace":"x"}})).unwrap();
        assert_eq!(t.resource, "deployments");
        let err =
            object_type(3, &json!({"apiVersion":"v1","kind":"Pod","metadata":{}})).unwrap_err();
        assert_eq!(err.to_string(), "item 3 (Pod): metadata.name is required");
        assert!(object_type(1, &json!({"metadata":{"name":"x"}})).is_err());
    }
}
