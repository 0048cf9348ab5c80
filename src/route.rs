//! URL path → [`Route`]. Pure parsing: no knowledge of what is stored, no authorization.

use crate::discovery::DiscoveryPath;
use crate::error::{ApiError, ApiResult};
use edgepedia_api::ClusterName;

/// Group, version and plural resource name as they appear in a URL.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Gvr {
    pub group: String,
    pub version: String,
    pub resource: String,
}

impl Gvr {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }
}

/// A get or list of one resource type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResourceRoute {
    /// `/resources/clusters/{cluster}/…`; `None` reads across all clusters.
    pub cluster: Option<ClusterName>,
    pub gvr: Gvr,
    pub namespace: Option<String>,
    /// Present for a get.
    pub name: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum IngestRoute {
    BeginSnapshot {
        cluster: ClusterName,
    },
    Chunk {
        cluster: ClusterName,
        session: String,
    },
    Commit {
        cluster: ClusterName,
        session: String,
    },
    Abort {
        cluster: ClusterName,
        session: String,
    },
    Events {
        cluster: ClusterName,
    },
    /// `run` mode's liveness signal: keeps the cluster `Ready` between changes.
    Heartbeat {
        cluster: ClusterName,
    },
}

impl IngestRoute {
    pub fn cluster(&self) -> &ClusterName {
        match self {
            IngestRoute::BeginSnapshot { cluster }
            | IngestRoute::Chunk { cluster, .. }
            | IngestRoute::Commit { cluster, .. }
            | IngestRoute::Abort { cluster, .. }
            | IngestRoute::Events { cluster }
            | IngestRoute::Heartbeat { cluster } => cluster,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Health,
    /// `/version`, at the root or under the resources prefix: public.
    Version,
    Resource(ResourceRoute),
    /// Discovery under the resources prefix, for kubectl; the cluster when per-cluster.
    Discovery(Option<ClusterName>, DiscoveryPath),
    /// `collectionresources` (`None`) or one collection.
    Collections(Option<String>),
    /// `pediaclusters` list (`None`) or one cluster.
    PediaClusters(Option<ClusterName>),
    /// The change feed (DESIGN §3.1).
    Changes,
    Ingest(IngestRoute),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    Get,
    Post,
    Delete,
    Other,
}

/// Resolves a request to a route; the method decides between ingest verbs and rejects writes
/// to the read API with 405.
pub fn parse(method: Method, path: &str) -> ApiResult<Route> {
    let segments = decode_segments(path)?;
    let segs: Vec<&str> = segments.iter().map(String::as_str).collect();
    match segs.as_slice() {
        ["healthz"] | ["readyz"] | ["livez"] => Ok(Route::Health),
        ["version"] => Ok(Route::Version),
        ["ingest", "v1", rest @ ..] => parse_ingest(method, rest),
        _ => {
            let route = parse_read(&segs)?;
            match method {
                Method::Get => Ok(route),
                Method::Post => Err(ApiError::method_not_allowed("POST")),
                Method::Delete => Err(ApiError::method_not_allowed("DELETE")),
                Method::Other => Err(ApiError::method_not_allowed("this method")),
            }
        }
    }
}

fn decode_segments(path: &str) -> ApiResult<Vec<String>> {
    path.split('/')
        .filter(|s| !s.is_empty())
        .map(|s| {
            percent_decode(s).ok_or_else(|| {
                ApiError::bad_request(format!("invalid percent-encoding in path segment {s:?}"))
            })
        })
        .collect()
}

fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn cluster_name(s: &str) -> ApiResult<ClusterName> {
    ClusterName::parse(s).map_err(|e| ApiError::bad_request(e.to_string()))
}

fn parse_read(segs: &[&str]) -> ApiResult<Route> {
    match segs {
        ["apis", "cluster.clusterpedia.io", "v1alpha2", "pediaclusters"] => {
            Ok(Route::PediaClusters(None))
        }
        ["apis", "cluster.clusterpedia.io", "v1alpha2", "pediaclusters", name] => {
            Ok(Route::PediaClusters(Some(cluster_name(name)?)))
        }
        ["apis", "clusterpedia.io", "v1beta1", "collectionresources"] => {
            Ok(Route::Collections(None))
        }
        ["apis", "clusterpedia.io", "v1beta1", "collectionresources", name] => {
            Ok(Route::Collections(Some((*name).to_owned())))
        }
        ["apis", "clusterpedia.io", "v1beta1", "changes"] => Ok(Route::Changes),
        ["apis", "clusterpedia.io", "v1beta1", "resources", "clusters", cluster, rest @ ..] => {
            parse_resource(Some(cluster_name(cluster)?), rest)
        }
        ["apis", "clusterpedia.io", "v1beta1", "resources", rest @ ..] => {
            parse_resource(None, rest)
        }
        _ => Err(ApiError::no_such_path()),
    }
}

/// `api/{v}/…` or `apis/{g}/{v}/…`; `apis/apps/batch/v1` is the seed's spelling of `batch/v1`.
fn parse_resource(cluster: Option<ClusterName>, segs: &[&str]) -> ApiResult<Route> {
    if segs == ["version"] {
        return Ok(Route::Version);
    }
    let discovery = match segs {
        ["api"] => Some(DiscoveryPath::CoreVersions),
        ["apis"] => Some(DiscoveryPath::Groups),
        ["api", version] => Some(DiscoveryPath::Resources {
            group: String::new(),
            version: (*version).to_owned(),
        }),
        ["apis", "apps", "batch", version] => Some(DiscoveryPath::Resources {
            group: "batch".to_owned(),
            version: (*version).to_owned(),
        }),
        ["apis", group, version] => Some(DiscoveryPath::Resources {
            group: (*group).to_owned(),
            version: (*version).to_owned(),
        }),
        _ => None,
    };
    if let Some(path) = discovery {
        return Ok(Route::Discovery(cluster, path));
    }
    let (group, version, rest) = match segs {
        ["api", version, rest @ ..] => ("", *version, rest),
        ["apis", "apps", "batch", version, rest @ ..] => ("batch", *version, rest),
        ["apis", group, version, rest @ ..] => (*group, *version, rest),
        _ => return Err(ApiError::no_such_path()),
    };
    let gvr = |resource: &str| Gvr {
        group: group.to_owned(),
        version: version.to_owned(),
        resource: resource.to_owned(),
    };
    let (gvr, namespace, name) = match rest {
        [resource] => (gvr(resource), None, None),
        [resource, name] => (gvr(resource), None, Some(*name)),
        ["namespaces", ns, resource] => (gvr(resource), Some(*ns), None),
        ["namespaces", ns, resource, name] => (gvr(resource), Some(*ns), Some(*name)),
        _ => return Err(ApiError::no_such_path()),
    };
    Ok(Route::Resource(ResourceRoute {
        cluster,
        gvr,
        namespace: namespace.map(str::to_owned),
        name: name.map(str::to_owned),
    }))
}

fn parse_ingest(method: Method, segs: &[&str]) -> ApiResult<Route> {
    let route = match (method, segs) {
        (Method::Post, ["clusters", c, "snapshots"]) => IngestRoute::BeginSnapshot {
            cluster: cluster_name(c)?,
        },
        (Method::Post, ["clusters", c, "snapshots", s, "chunks"]) => IngestRoute::Chunk {
            cluster: cluster_name(c)?,
            session: (*s).to_owned(),
        },
        (Method::Post, ["clusters", c, "snapshots", s, "commit"]) => IngestRoute::Commit {
            cluster: cluster_name(c)?,
            session: (*s).to_owned(),
        },
        (Method::Delete, ["clusters", c, "snapshots", s]) => IngestRoute::Abort {
            cluster: cluster_name(c)?,
            session: (*s).to_owned(),
        },
        (Method::Post, ["clusters", c, "events"]) => IngestRoute::Events {
            cluster: cluster_name(c)?,
        },
        (Method::Post, ["clusters", c, "heartbeat"]) => IngestRoute::Heartbeat {
            cluster: cluster_name(c)?,
        },
        (Method::Get, _) | (Method::Other, _) => {
            return Err(ApiError::method_not_allowed(
                "this method on the ingest API",
            ))
        }
        _ => return Err(ApiError::no_such_path()),
    };
    Ok(Route::Ingest(route))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn get(path: &str) -> ApiResult<Route> {
        parse(Method::Get, path)
    }

    fn resource(path: &str) -> ResourceRoute {
        match get(path).unwrap() {
            Route::Resource(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn parses_every_url_form() {
        let r = resource("/apis/clusterpedia.io/v1beta1/resources/api/v1/pods");
        assert_eq!(
            (r.cluster, r.gvr.resource.as_str(), r.namespace, r.name),
            (None, "pods", None, None)
        );

        let r = resource("/apis/clusterpedia.io/v1beta1/resources/clusters/c1/apis/apps/v1/namespaces/ns/deployments/d");
        assert_eq!(r.cluster.unwrap().as_str(), "c1");
        assert_eq!(
            r.gvr,
            Gvr {
                group: "apps".into(),
                version: "v1".into(),
                resource: "deployments".into()
            }
        );
        assert_eq!(r.namespace.as_deref(), Some("ns"));
        assert_eq!(r.name.as_deref(), Some("d"));

        let r = resource("/apis/clusterpedia.io/v1beta1/resources/clusters/c1/apis/apps/batch/v1/namespaces/ns/cronjobs");
        assert_eq!(
            (r.gvr.group.as_str(), r.gvr.version.as_str()),
            ("batch", "v1")
        );

        // Cluster-scoped: namespaces list and get, nodes.
        let r = resource("/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/namespaces");
        assert_eq!(
            (r.gvr.resource.as_str(), r.namespace, r.name),
            ("namespaces", None, None)
        );
        let r = resource(
            "/apis/clusterpedia.io/v1beta1/resources/clusters/c1/api/v1/namespaces/kube-system",
        );
        assert_eq!(
            (r.gvr.resource.as_str(), r.name.as_deref()),
            ("namespaces", Some("kube-system"))
        );
        let r = resource("/apis/clusterpedia.io/v1beta1/resources/api/v1/nodes/n%2D1");
        assert_eq!(r.name.as_deref(), Some("n-1"));
    }

    #[test]
    fn rejects_unknown_paths_bad_clusters_and_writes() {
        assert_eq!(get("/").unwrap_err().code, 404);
        assert_eq!(
            get("/apis/clusterpedia.io/v1beta1/resources/api/v1/namespaces/a/pods/b/log")
                .unwrap_err()
                .code,
            404
        );
        assert_eq!(
            get("/apis/clusterpedia.io/v1beta1/resources/clusters/Bad_Name/api/v1/pods")
                .unwrap_err()
                .code,
            400
        );
        assert_eq!(
            parse(
                Method::Post,
                "/apis/clusterpedia.io/v1beta1/resources/api/v1/pods"
            )
            .unwrap_err()
            .code,
            405
        );
        assert_eq!(
            get("/apis/clusterpedia.io/v1beta1/resources/api/v1/pods/%zz")
                .unwrap_err()
                .code,
            400
        );
    }

    #[test]
    fn parses_discovery_paths() {
        let d = |p: &str| match get(p).unwrap() {
            Route::Discovery(c, path) => (c.map(|c| c.as_str().to_owned()), path),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            get("/apis/clusterpedia.io/v1beta1/resources/clusters/c1/version").unwrap(),
            Route::Version
        );
        assert_eq!(get("/version").unwrap(), Route::Version);
        assert_eq!(
            d("/apis/clusterpedia.io/v1beta1/resources/api").1,
            DiscoveryPath::CoreVersions
        );
        assert_eq!(
            d("/apis/clusterpedia.io/v1beta1/resources/clusters/c1/apis"),
            (Some("c1".into()), DiscoveryPath::Groups)
        );
        assert_eq!(
            d("/apis/clusterpedia.io/v1beta1/resources/apis/apps/v1").1,
            DiscoveryPath::Resources {
                group: "apps".into(),
                version: "v1".into()
            }
        );
        assert_eq!(
            d("/apis/clusterpedia.io/v1beta1/resources/api/v1").1,
            DiscoveryPath::Resources {
                group: "".into(),
                version: "v1".into()
            }
        );
    }

    #[test]
    fn parses_ingest_and_health() {
        assert_eq!(get("/healthz").unwrap(), Route::Health);
        let r = parse(Method::Post, "/ingest/v1/clusters/c1/snapshots/abc/chunks").unwrap();
        assert!(
            matches!(r, Route::Ingest(IngestRoute::Chunk { ref session, .. }) if session == "abc")
        );
        assert!(matches!(
            parse(Method::Delete, "/ingest/v1/clusters/c1/snapshots/abc").unwrap(),
            Route::Ingest(IngestRoute::Abort { .. })
        ));
        assert_eq!(get("/ingest/v1/clusters/c1/events").unwrap_err().code, 405);
        assert!(matches!(
            parse(Method::Post, "/ingest/v1/clusters/c1/heartbeat").unwrap(),
            Route::Ingest(IngestRoute::Heartbeat { ref cluster }) if cluster.as_str() == "c1"
        ));
        assert_eq!(
            parse(Method::Post, "/ingest/v1x/clusters/c1/events")
                .unwrap_err()
                .code,
            404
        );
    }
}
