//! May this principal write this? Writes obey every claim reads obey (DESIGN §5): the cluster
//! claim (checked once per request, from the route), the namespace claim, and Secrets only
//! with `inventory:secrets`. A namespace-limited writer can add, change or delete objects
//! only in its namespaces, and cluster-scoped objects not at all, exactly as it can read them.

use super::object::StoredObject;
use crate::auth::{NamePattern, Principal, Scope};
use crate::error::{ApiError, ApiResult};
use crate::plan::{Column, Predicate};
use edgepedia_api::{ClusterName, ResourceType};

/// What one caller may write in one cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriteScope {
    namespaces: Option<Vec<NamePattern>>,
    secrets: bool,
}

impl WriteScope {
    /// The caller's scope in `cluster`: 403 without `inventory:write` for that cluster.
    pub fn of(principal: &Principal, cluster: &ClusterName) -> ApiResult<Self> {
        principal.require_write(cluster)?;
        Ok(Self {
            namespaces: principal.namespaces.clone(),
            secrets: principal.require(Scope::Secrets).is_ok(),
        })
    }

    /// The namespace claim, `None` when unrestricted.
    pub fn namespaces(&self) -> Option<&[NamePattern]> {
        self.namespaces.as_deref()
    }

    /// The scope for continuing a snapshot session begun under the namespaces claim
    /// `session`: a session keeps the claim it was begun with, and whoever continues it must
    /// hold at least that (no claim, or the same one), so a narrower token can never commit
    /// a wider replacement.
    pub fn for_session(&self, session: Option<Vec<NamePattern>>) -> ApiResult<Self> {
        match (self.namespaces(), session.as_deref()) {
            (None, _) => {}
            (Some(mine), Some(theirs)) if mine == theirs => {}
            _ => {
                return Err(ApiError::forbidden(
                    "the token's namespaces claim does not cover this snapshot session's",
                ))
            }
        }
        Ok(Self {
            namespaces: session,
            secrets: self.secrets,
        })
    }

    /// Whether objects of type `t` may be written at all.
    pub fn check_type(&self, t: &ResourceType) -> ApiResult<()> {
        if t.is_secret() && !self.secrets {
            return Err(ApiError::forbidden(format!(
                "writing Secrets ({}) needs the scope inventory:secrets",
                t.resource
            )));
        }
        if !t.namespaced && self.namespaces.is_some() {
            return Err(ApiError::forbidden(format!(
                "a token limited to namespaces may not write cluster-scoped {}",
                t.resource
            )));
        }
        Ok(())
    }

    /// Whether this object may be added, changed or deleted.
    pub fn check_object(&self, o: &StoredObject) -> ApiResult<()> {
        self.check_type(&o.resource_type)?;
        match self.namespaces() {
            Some(patterns) if !patterns.iter().any(|p| p.matches(&o.namespace)) => {
                Err(ApiError::forbidden(format!(
                    "the token may not write namespace {:?} ({} {}/{})",
                    o.namespace, o.resource_type.kind, o.namespace, o.name
                )))
            }
            _ => Ok(()),
        }
    }
}

/// The rows of `namespaces` (all rows when unrestricted): what a snapshot may replace.
pub fn namespace_filter(namespaces: Option<&[NamePattern]>) -> Predicate {
    let mut p = Predicate::default();
    if let Some(patterns) = namespaces {
        p.globs(Column::Namespace, patterns);
    }
    p
}
