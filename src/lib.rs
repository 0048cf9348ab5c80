//! Edgepedia: a Clusterpedia-compatible inventory API as a Spin component.
//!
//! Everything but [`spin_adapter`] is platform-neutral and compiles natively, so the engine is
//! tested against real SQLite through the same [`store::Store`] trait the Spin adapter implements.

#[cfg(target_arch = "wasm32")]
mod spin_adapter;
