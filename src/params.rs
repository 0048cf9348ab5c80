//! Query string → typed [`ListOptions`]. Every value is parsed and validated here, so later
//! stages never see user text that has not been checked; bad values are 400s naming the
//! parameter. Clusterpedia's `search.clusterpedia.io/*` label terms set the same options.

use crate::error::{ApiError, ApiResult};
use crate::paging::Continue;
use crate::plan::{Column, Direction};
use crate::selector::field::{self, FieldSelector};
use crate::selector::label::{self, LabelSelector};
use crate::selector::{Operator, Requirement, MAX_REQUIREMENTS};
use crate::where_sql::WhereSql;
use chrono::{DateTime, NaiveDate, Utc};
use edgepedia_api::ClusterName;

/// Deepest owner chain an owner query may follow (pods of a CronJob are seniority 1).
pub const MAX_OWNER_SENIORITY: u32 = 5;
/// Most values of a comma-list parameter (`clusters`, `namespaces`, `names`, fuzzy names,
/// `groups`, `resources`), all repetitions of the parameter and its label-term form together.
pub const MAX_LIST_VALUES: usize = 256;
/// Longest fuzzy-name substring, in bytes: a Kubernetes name is at most 253 characters, so a
/// longer substring can match nothing (and SQLite caps LIKE patterns).
pub const MAX_FUZZY_NAME_BYTES: usize = 253;
/// Most `orderby` terms (there are five fields to order by).
pub const MAX_ORDER_TERMS: usize = 16;

/// What a list (or get) request asks for beyond its route.
#[derive(Default)]
pub struct ListOptions {
    pub clusters: Vec<ClusterName>,
    pub namespaces: Vec<String>,
    pub names: Vec<String>,
    /// `internalstorage.clusterpedia.io/fuzzy-name`: substring of the name.
    pub fuzzy_names: Vec<String>,
    pub labels: LabelSelector,
    pub fields: FieldSelector,
    pub owner: Option<OwnerQuery>,
    /// Creation-time bounds as normalized RFC 3339 UTC (`2024-01-02T03:04:05Z`).
    pub since: Option<String>,
    pub before: Option<String>,
    pub order_by: Vec<(Column, Direction)>,
    /// Page size; `None` lists everything (streamed in internal pages).
    pub limit: Option<u64>,
    pub continue_from: Option<Continue>,
    /// `Some(false)` suppresses `metadata.continue`.
    pub with_continue: Option<bool>,
    pub with_remaining_count: bool,
    pub only_metadata: bool,
    pub include_object: Option<String>,
    pub where_sql: Option<WhereSql>,
    /// `collectionresources/any`: `apps`, `apps/v1`.
    pub groups: Vec<String>,
    /// `collectionresources/any`: `pods`, `apps/deployments`.
    pub resources: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OwnerTarget {
    Uid(String),
    /// `ownerName`, with `ownerGR` (`deployments.apps`) as (group, resource) when given.
    Name {
        name: String,
        group_resource: Option<(String, String)>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OwnerQuery {
    pub target: OwnerTarget,
    /// 0: direct children; 1: grandchildren; …
    pub seniority: u32,
}

#[derive(Default)]
struct OwnerParams {
    uid: Option<String>,
    name: Option<String>,
    group_resource: Option<String>,
    seniority: Option<String>,
}

impl ListOptions {
    pub fn parse(query: &str) -> ApiResult<Self> {
        let mut opts = ListOptions::default();
        let mut owner = OwnerParams::default();
        for (key, value) in form_urlencoded::parse(query.as_bytes()) {
            opts.apply(&key, &value, &mut owner)?;
        }
        opts.owner = owner.resolve()?;
        for (name, n) in [
            ("labelSelector", opts.labels.requirements.len()),
            ("fieldSelector", opts.fields.requirements.len()),
        ] {
            if n > MAX_REQUIREMENTS {
                return Err(ApiError::bad_request(format!(
                    "{name}: {n} requirements in all, more than the limit of {MAX_REQUIREMENTS}"
                )));
            }
        }
        Ok(opts)
    }

    /// One parameter, from the query string or from a `search.clusterpedia.io/*` term.
    fn apply(&mut self, key: &str, value: &str, owner: &mut OwnerParams) -> ApiResult<()> {
        match key {
            "clusters" => {
                let clusters = parse_clusters(value)?;
                extend_capped(key, &mut self.clusters, clusters)?
            }
            "namespaces" => extend_capped(key, &mut self.namespaces, comma_list(value))?,
            "names" => extend_capped(key, &mut self.names, comma_list(value))?,
            "internalstorage.clusterpedia.io/fuzzy-name" | "fuzzyName" => {
                let substrings = comma_list(value);
                if let Some(long) = substrings.iter().find(|s| s.len() > MAX_FUZZY_NAME_BYTES) {
                    return Err(ApiError::bad_request(format!(
                        "{key}: a substring of {} bytes is longer than the limit of {MAX_FUZZY_NAME_BYTES}",
                        long.len()
                    )));
                }
                extend_capped(key, &mut self.fuzzy_names, substrings)?
            }
            "labelSelector" => {
                let parsed = label::parse(value)
                    .map_err(|e| ApiError::bad_request(format!("labelSelector: {e}")))?;
                self.labels.requirements.extend(parsed.labels.requirements);
                for term in parsed.parameters {
                    self.apply_term(&term, owner)?;
                }
            }
            "fieldSelector" => {
                let parsed = field::parse(value)
                    .map_err(|e| ApiError::bad_request(format!("fieldSelector: {e}")))?;
                self.fields.requirements.extend(parsed.requirements);
            }
            "ownerUID" => owner.uid = Some(value.to_owned()),
            "ownerName" => owner.name = Some(value.to_owned()),
            "ownerGR" => owner.group_resource = Some(value.to_owned()),
            "ownerSeniority" => owner.seniority = Some(value.to_owned()),
            "since" => self.since = Some(parse_time("since", value)?),
            "before" => self.before = Some(parse_time("before", value)?),
            "orderby" => {
                self.order_by.extend(parse_order(value)?);
                if self.order_by.len() > MAX_ORDER_TERMS {
                    return Err(ApiError::bad_request(format!(
                        "orderby: {} terms, more than the limit of {MAX_ORDER_TERMS}",
                        self.order_by.len()
                    )));
                }
            }
            "limit" => self.limit = parse_limit(value)?,
            "offset" => {
                let offset = value.parse().map_err(|_| {
                    ApiError::bad_request(format!(
                        "offset: {value:?} is not a non-negative integer"
                    ))
                })?;
                self.continue_from = Some(Continue::Offset(offset));
            }
            "continue" if !value.is_empty() => self.continue_from = Some(Continue::parse(value)?),
            "withContinue" => self.with_continue = Some(parse_bool("withContinue", value)?),
            "withRemainingCount" => {
                self.with_remaining_count = parse_bool("withRemainingCount", value)?
            }
            "onlyMetadata" => self.only_metadata = parse_bool("onlyMetadata", value)?,
            "includeObject" => self.include_object = Some(value.to_owned()),
            "whereSQL" => self.where_sql = Some(WhereSql::parse(value)?),
            "groups" => extend_capped(key, &mut self.groups, comma_list(value))?,
            "resources" => extend_capped(key, &mut self.resources, comma_list(value))?,
            "watch" if parse_bool("watch", value)? => {
                return Err(ApiError::method_not_allowed("watch"))
            }
            // Kubernetes clients send parameters we have no use for (timeout,
            // resourceVersion, …); like the API server, ignore what we do not know.
            _ => {}
        }
        Ok(())
    }

    /// `search.clusterpedia.io/clusters in (a,b)` ≡ `clusters=a,b`, and so on.
    fn apply_term(&mut self, term: &Requirement, owner: &mut OwnerParams) -> ApiResult<()> {
        if !matches!(term.operator, Operator::Equals | Operator::In) {
            return Err(ApiError::bad_request(format!(
                "labelSelector: {} only supports = and in",
                term.key
            )));
        }
        let name = term.key.rsplit('/').next().unwrap_or_default();
        let param = match (term.key.starts_with("internalstorage."), name) {
            (true, "fuzzy-name") => "internalstorage.clusterpedia.io/fuzzy-name",
            (false, "clusters") => "clusters",
            (false, "namespaces") => "namespaces",
            (false, "names") => "names",
            (false, "since") => "since",
            (false, "before") => "before",
            (false, "owner-uid") => "ownerUID",
            (false, "owner-name") => "ownerName",
            (false, "owner-gr") => "ownerGR",
            (false, "owner-seniority") => "ownerSeniority",
            (false, "orderby") => "orderby",
            (false, "limit") => "limit",
            (false, "offset") => "offset",
            (false, "with-continue") => "withContinue",
            (false, "with-remaining-count") => "withRemainingCount",
            _ => {
                return Err(ApiError::bad_request(format!(
                    "labelSelector: unknown term {}",
                    term.key
                )))
            }
        };
        self.apply(param, &term.values.join(","), owner)
    }
}

impl OwnerParams {
    fn resolve(self) -> ApiResult<Option<OwnerQuery>> {
        let seniority = match &self.seniority {
            None => 0,
            Some(v) => match v.parse::<u32>() {
                Ok(n) if n <= MAX_OWNER_SENIORITY => n,
                _ => {
                    return Err(ApiError::bad_request(format!(
                        "ownerSeniority: {v:?} must be an integer from 0 to {MAX_OWNER_SENIORITY}"
                    )))
                }
            },
        };
        let target = match (self.uid, self.name) {
            (Some(_), Some(_)) => {
                return Err(ApiError::bad_request(
                    "ownerUID and ownerName are mutually exclusive",
                ))
            }
            (Some(uid), None) if !uid.is_empty() => OwnerTarget::Uid(uid),
            (None, Some(name)) if !name.is_empty() => OwnerTarget::Name {
                name,
                group_resource: self
                    .group_resource
                    .as_deref()
                    .map(parse_group_resource)
                    .transpose()?,
            },
            _ if self.seniority.is_some() || self.group_resource.is_some() => {
                return Err(ApiError::bad_request(
                    "ownerSeniority and ownerGR need ownerUID or ownerName",
                ))
            }
            _ => return Ok(None),
        };
        Ok(Some(OwnerQuery { target, seniority }))
    }
}

/// `deployments.apps` → (`apps`, `deployments`); `pods` → (``, `pods`).
fn parse_group_resource(value: &str) -> ApiResult<(String, String)> {
    let (resource, group) = value.split_once('.').unwrap_or((value, ""));
    let ok = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"-.".contains(&b))
    };
    if resource.is_empty() || !ok(resource) || !ok(group) {
        return Err(ApiError::bad_request(format!(
            "ownerGR: {value:?} is not resource.group (e.g. deployments.apps)"
        )));
    }
    Ok((group.to_owned(), resource.to_owned()))
}

/// Appends a parameter's values, refusing more than [`MAX_LIST_VALUES`] in all.
pub(crate) fn extend_capped<T>(name: &str, list: &mut Vec<T>, values: Vec<T>) -> ApiResult<()> {
    let total = list.len() + values.len();
    if total > MAX_LIST_VALUES {
        return Err(ApiError::bad_request(format!(
            "{name}: {total} values, more than the limit of {MAX_LIST_VALUES}"
        )));
    }
    list.extend(values);
    Ok(())
}

pub(crate) fn comma_list(value: &str) -> Vec<String> {
    value
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
        .collect()
}

pub(crate) fn parse_clusters(value: &str) -> ApiResult<Vec<ClusterName>> {
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

/// `orderby=namespace desc,cluster`: fields cluster, namespace, name, created_at, resource_version.
fn parse_order(value: &str) -> ApiResult<Vec<(Column, Direction)>> {
    comma_list(value)
        .iter()
        .map(|term| {
            let mut words = term.split_whitespace();
            let field = words.next().unwrap_or_default();
            let direction = match words.next() {
                None | Some("asc") => Direction::Asc,
                Some("desc") => Direction::Desc,
                Some(other) => return Err(ApiError::bad_request(format!("orderby: unknown direction {other:?} (asc or desc)"))),
            };
            let column = match field {
                "cluster" => Column::Cluster,
                "namespace" => Column::Namespace,
                "name" => Column::Name,
                "created_at" | "creationTimestamp" => Column::CreatedAt,
                "resource_version" | "resourceVersion" => Column::ResourceVersion,
                other => {
                    return Err(ApiError::bad_request(format!(
                        "orderby: unknown field {other:?} (cluster, namespace, name, created_at, resource_version)"
                    )))
                }
            };
            if words.next().is_some() {
                return Err(ApiError::bad_request(format!("orderby: cannot parse {term:?}")));
            }
            Ok((column, direction))
        })
        .collect()
}

/// RFC 3339, `YYYY-MM-DD`, unix seconds or unix milliseconds → `2024-01-02T03:04:05Z`.
pub fn parse_time(name: &str, value: &str) -> ApiResult<String> {
    Ok(crate::clock::rfc3339(parse_unix_time(name, value)?))
}

/// RFC 3339, `YYYY-MM-DD`, unix seconds or unix milliseconds → unix seconds.
pub fn parse_unix_time(name: &str, value: &str) -> ApiResult<i64> {
    let invalid = || {
        ApiError::bad_request(format!(
            "{name}: {value:?} is not a time (RFC 3339, YYYY-MM-DD, unix seconds or milliseconds)"
        ))
    };
    let time: DateTime<Utc> = if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        let n: i64 = value.parse().map_err(|_| invalid())?;
        // 10^11 seconds is the year 5138: anything larger is milliseconds.
        if n >= 100_000_000_000 {
            DateTime::from_timestamp_millis(n)
        } else {
            DateTime::from_timestamp(n, 0)
        }
        .ok_or_else(invalid)?
    } else if let Some(date) = parse_date(value) {
        date.and_hms_opt(0, 0, 0).ok_or_else(invalid)?.and_utc()
    } else {
        DateTime::parse_from_rfc3339(value)
            .map_err(|_| invalid())?
            .with_timezone(&Utc)
    };
    Ok(time.timestamp())
}

/// `YYYY-MM-DD`, read by hand: chrono's strftime parser would grow the component.
fn parse_date(value: &str) -> Option<NaiveDate> {
    let mut parts = value.splitn(3, '-');
    let (y, m, d) = (parts.next()?, parts.next()?, parts.next()?);
    if y.len() != 4 || m.len() != 2 || d.len() != 2 {
        return None;
    }
    NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)
}

/// Kubernetes-style boolean: a bare parameter means true.
pub fn parse_bool(name: &str, value: &str) -> ApiResult<bool> {
    match value {
        "" | "true" | "True" | "1" => Ok(true),
        "false" | "False" | "0" => Ok(false),
        _ => Err(ApiError::bad_request(format!(
            "{name}: {value:?} is not a boolean"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str) -> ListOptions {
        ListOptions::parse(q).unwrap_or_else(|e| panic!("{q}: {}", e.message))
    }

    #[test]
    fn parses_filters_and_paging() {
        let o = parse("clusters=a,b&namespaces=default,%20kube-system&names=x&limit=10&continue=5&withContinue=true&withRemainingCount");
        assert_eq!(
            o.clusters.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            ["a", "b"]
        );
        assert_eq!(o.namespaces, ["default", "kube-system"]);
        assert_eq!(o.names, ["x"]);
        assert_eq!(o.limit, Some(10));
        assert_eq!(o.continue_from, Some(Continue::Offset(5)));
        assert_eq!(o.with_continue, Some(true));
        assert!(o.with_remaining_count);
    }

    #[test]
    fn rejects_bad_values() {
        for q in [
            "limit=abc",
            "limit=-1",
            "clusters=Bad_Cluster",
            "withRemainingCount=maybe",
            "continue=%%%",
            "since=yesterday",
            "before=2024-13-01",
            "orderby=size",
            "orderby=name%20up",
            "ownerSeniority=1",
            "ownerUID=a&ownerName=b",
            "ownerName=x&ownerSeniority=9",
            "ownerName=x&ownerGR=Deploy",
            "labelSelector=a%20in%20(",
            "fieldSelector=status.phase",
            "labelSelector=search.clusterpedia.io/bogus=1",
            "onlyMetadata=perhaps",
        ] {
            assert_eq!(
                ListOptions::parse(q).err().map(|e| e.code),
                Some(400),
                "{q}"
            );
        }
        assert_eq!(
            ListOptions::parse("watch=true").err().map(|e| e.code),
            Some(405)
        );
        assert_eq!(parse("limit=0").limit, None);
        assert!(ListOptions::parse("timeout=32s&resourceVersion=0").is_ok());
    }

    #[test]
    fn parses_times_in_every_accepted_form() {
        assert_eq!(
            parse_time("since", "2024-01-02").unwrap(),
            "2024-01-02T00:00:00Z"
        );
        assert_eq!(
            parse_time("since", "2024-01-02T05:04:05+02:00").unwrap(),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            parse_time("since", "1704164645").unwrap(),
            "2024-01-02T03:04:05Z"
        );
        assert_eq!(
            parse_time("since", "1704164645000").unwrap(),
            "2024-01-02T03:04:05Z"
        );
    }

    #[test]
    fn owner_order_and_search_terms() {
        let o = parse("ownerName=deploy-1&ownerGR=deployments.apps&ownerSeniority=1&orderby=namespace%20desc,cluster");
        assert_eq!(
            o.owner,
            Some(OwnerQuery {
                target: OwnerTarget::Name {
                    name: "deploy-1".into(),
                    group_resource: Some(("apps".into(), "deployments".into()))
                },
                seniority: 1
            })
        );
        assert_eq!(
            o.order_by,
            vec![
                (Column::Namespace, Direction::Desc),
                (Column::Cluster, Direction::Asc)
            ]
        );
        let o = parse("labelSelector=app=web,search.clusterpedia.io/clusters%20in%20(c1,c2),search.clusterpedia.io/owner-uid=u1,internalstorage.clusterpedia.io/fuzzy-name=ngin");
        assert_eq!(o.clusters.len(), 2);
        assert_eq!(o.owner.unwrap().target, OwnerTarget::Uid("u1".into()));
        assert_eq!(o.fuzzy_names, ["ngin"]);
        assert_eq!(o.labels.requirements.len(), 1);
    }

    #[test]
    fn caps_lists_selectors_and_order() {
        let list =
            |n: usize, f: &dyn Fn(usize) -> String| (0..n).map(f).collect::<Vec<_>>().join(",");
        let message = |q: &str| {
            let e = ListOptions::parse(q)
                .err()
                .unwrap_or_else(|| panic!("{q} accepted"));
            assert_eq!(e.code, 400, "{q}");
            e.message
        };
        for param in [
            "clusters",
            "namespaces",
            "names",
            "internalstorage.clusterpedia.io/fuzzy-name",
            "groups",
            "resources",
        ] {
            let at_cap = format!("{param}={}", list(MAX_LIST_VALUES, &|i| format!("c{i}")));
            assert!(ListOptions::parse(&at_cap).is_ok(), "{param}");
            let over = format!(
                "{param}={}",
                list(MAX_LIST_VALUES + 1, &|i| format!("c{i}"))
            );
            assert!(message(&over).contains("limit of 256"), "{param}");
            // Repetitions count together.
            let split = format!(
                "{param}={}&{param}=x",
                list(MAX_LIST_VALUES, &|i| format!("c{i}"))
            );
            assert!(message(&split).contains("257 values"), "{param}");
        }
        // The label-term form of clusters counts too.
        let q = format!(
            "clusters={}&labelSelector=search.clusterpedia.io/clusters%3Dlast",
            list(MAX_LIST_VALUES, &|i| format!("c{i}"))
        );
        assert!(message(&q).contains("clusters: 257 values"));
        let fuzzy = format!("fuzzyName={}", "a".repeat(MAX_FUZZY_NAME_BYTES + 1));
        assert!(message(&fuzzy).contains("limit of 253"));
        assert!(ListOptions::parse(&format!("fuzzyName={}", "a".repeat(253))).is_ok());

        let labels = |n: usize| list(n, &|i| format!("k{i}"));
        assert_eq!(
            parse(&format!("labelSelector={}", labels(64)))
                .labels
                .requirements
                .len(),
            64
        );
        assert!(message(&format!("labelSelector={}", labels(65))).contains("limit of 64"));
        let two = format!("labelSelector={}&labelSelector=extra", labels(64));
        assert!(message(&two).contains("labelSelector: 65 requirements in all"));
        let fields = |n: usize| list(n, &|i| format!("spec.f{i}%3Dv"));
        assert_eq!(
            parse(&format!("fieldSelector={}", fields(64)))
                .fields
                .requirements
                .len(),
            64
        );
        assert!(message(&format!("fieldSelector={}", fields(65))).contains("limit of 64"));
        let two = format!("fieldSelector={}&fieldSelector=a%3Db", fields(64));
        assert!(message(&two).contains("fieldSelector: 65 requirements in all"));

        let order = |n: usize| list(n, &|_| "name".to_owned());
        assert_eq!(parse(&format!("orderby={}", order(16))).order_by.len(), 16);
        assert!(message(&format!("orderby={}", order(17))).contains("limit of 16"));
    }
}
