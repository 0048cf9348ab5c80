//! Query string → typed [`ListOptions`]. Every value is parsed and validated here, so later
//! stages never see user text that has not been checked; bad values are 400s naming the
//! parameter.

use crate::error::{ApiError, ApiResult};
use crate::paging::Continue;
use edgepedia_api::ClusterName;

/// What a list (or get) request asks for beyond its route.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ListOptions {
    pub clusters: Vec<ClusterName>,
    pub namespaces: Vec<String>,
    pub names: Vec<String>,
    /// Page size; `None` lists everything (streamed in internal pages).
    pub limit: Option<u64>,
    pub continue_from: Option<Continue>,
    /// `Some(false)` suppresses `metadata.continue`.
    pub with_continue: Option<bool>,
    pub with_remaining_count: bool,
}

impl ListOptions {
    pub fn parse(query: &str) -> ApiResult<Self> {
        let mut opts = ListOptions::default();
        for (key, value) in url::form_urlencoded::parse(query.as_bytes()) {
            let value = value.as_ref();
            match key.as_ref() {
                "clusters" => opts.clusters = parse_clusters(value)?,
                "namespaces" => opts.namespaces = comma_list(value),
                "names" => opts.names = comma_list(value),
                "limit" => opts.limit = parse_limit(value)?,
                "continue" if !value.is_empty() => opts.continue_from = Some(Continue::parse(value)?),
                "withContinue" => opts.with_continue = Some(parse_bool("withContinue", value)?),
                "withRemainingCount" => opts.with_remaining_count = parse_bool("withRemainingCount", value)?,
                "watch" if parse_bool("watch", value)? => {
                    return Err(ApiError::method_not_allowed("watch"));
                }
                // Kubernetes clients send parameters we have no use for (timeout,
                // resourceVersion, …); like the API server, ignore what we do not know.
                _ => {}
            }
        }
        Ok(opts)
    }
}

fn comma_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

fn parse_clusters(value: &str) -> ApiResult<Vec<ClusterName>> {
    comma_list(value)
        .iter()
        .map(|c| ClusterName::parse(c).map_err(|e| ApiError::bad_request(format!("clusters: {e}"))))
        .collect()
}

fn parse_limit(value: &str) -> ApiResult<Option<u64>> {
    match value.parse::<i64>() {
        Ok(0) => Ok(None),
        Ok(n) if n > 0 => Ok(Some(n as u64)),
        _ => Err(ApiError::bad_request(format!(
            "limit: {value:?} is not a valid page size (a non-negative integer)"
        ))),
    }
}

/// Kubernetes-style boolean: a bare parameter means true.
pub fn parse_bool(name: &str, value: &str) -> ApiResult<bool> {
    match value {
        "" | "true" | "True" | "1" => Ok(true),
        "false" | "False" | "0" => Ok(false),
        _ => Err(ApiError::bad_request(format!("{name}: {value:?} is not a boolean"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_filters_and_paging() {
        let o = ListOptions::parse("clusters=a,b&namespaces=default,%20kube-system&names=x&limit=10&continue=5&withContinue=true&withRemainingCount").unwrap();
        assert_eq!(o.clusters.iter().map(|c| c.as_str()).collect::<Vec<_>>(), ["a", "b"]);
        assert_eq!(o.namespaces, ["default", "kube-system"]);
        assert_eq!(o.names, ["x"]);
        assert_eq!(o.limit, Some(10));
        assert_eq!(o.continue_from, Some(Continue::Offset(5)));
        assert_eq!(o.with_continue, Some(true));
        assert!(o.with_remaining_count);
    }

    #[test]
    fn rejects_bad_values() {
        for q in ["limit=abc", "limit=-1", "clusters=Bad_Cluster", "withRemainingCount=maybe", "continue=%%%"] {
            assert_eq!(ListOptions::parse(q).unwrap_err().code, 400, "{q}");
        }
        assert_eq!(ListOptions::parse("watch=true").unwrap_err().code, 405);
        assert_eq!(ListOptions::parse("limit=0").unwrap().limit, None);
        assert!(ListOptions::parse("timeout=32s&resourceVersion=0").is_ok());
    }
}
