//! The vocabulary the Edgepedia component and the sync-agent share, so the two ends of the
//! ingest protocol cannot drift apart: the catalog of known resource types, validated names
//! and the ingest wire types. No IO and no platform code lives here.

pub mod catalog;
pub mod ingest;
pub mod names;

pub use catalog::{ResourceInfo, ResourceType};
pub use names::{ClusterName, NameError};
