//! The vocabulary the Edgepedia component and the sync-agent share, so the two ends of the
//! ingest protocol cannot drift apart: the catalog of known resource types, validated names,
//! the ingest wire types, and the top-level split both ends read objects with. No IO and no
//! platform code lives here.

pub mod catalog;
pub mod ingest;
pub mod names;
pub mod raw_object;

pub use catalog::{ResourceInfo, ResourceType};
pub use names::{ClusterName, NameError};
