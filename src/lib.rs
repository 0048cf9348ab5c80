//! Edgepedia: a Clusterpedia-compatible inventory API as a Spin component.
//!
//! Data flows one way: [`route`] → [`params`] → [`auth`] → [`plan`] → [`store`] → [`render`],
//! orchestrated by [`engine`]. Everything but `spin_adapter` is platform-neutral and compiles
//! natively, so the engine is tested against real SQLite through the same [`store::Store`]
//! trait the Spin adapter implements.

pub mod auth;
pub mod changes;
pub mod clock;
pub mod clusters;
pub mod collections;
pub mod discovery;
pub mod engine;
pub mod error;
pub mod ingest;
pub mod list;
pub mod live_rows;
pub mod migrations;
pub mod paging;
pub mod params;
pub mod plan;
pub mod read;
pub mod render;
pub mod resource_types;
pub mod response;
pub mod route;
pub mod selector;
pub mod store;
pub mod visible_types;
pub mod where_sql;

#[cfg(target_arch = "wasm32")]
mod spin_adapter;
