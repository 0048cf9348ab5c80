//! The Wasm side: engine configuration, the compile cache, the linker with exactly WASI 0.2,
//! WASI HTTP and Spin's interfaces, and the pre-instantiated component every request
//! instantiates afresh (Spin's model).

use crate::spin_imports;
use crate::state::HostState;
use anyhow::{anyhow, Context, Result};
use sha2::{Digest, Sha256};
use std::path::Path;
use wasmtime::component::{Component, Linker};
use wasmtime::{Config, Engine};
use wasmtime_wasi_http::p2::bindings::ProxyPre;

/// How often the epoch ticks; request deadlines are counted in ticks.
pub const EPOCH_TICK: std::time::Duration = std::time::Duration::from_millis(10);

pub fn engine() -> Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    // Lets a request deadline interrupt a guest stuck in a loop.
    config.epoch_interruption(true);
    Engine::new(&config).map_err(wasm_error)
}

/// wasmtime has its own error type; the runtime reports with anyhow.
pub fn wasm_error(e: wasmtime::Error) -> anyhow::Error {
    anyhow!("{e:?}")
}

/// Compiles the component, or loads the machine code compiled for these exact bytes by this
/// exact wasmtime build from `<cache_dir>/<sha256>.cwasm`.
pub fn load_component(engine: &Engine, wasm: &Path, cache_dir: &Path) -> Result<(Component, bool)> {
    let bytes = std::fs::read(wasm)
        .with_context(|| format!("reading {} (build it with `make build`)", wasm.display()))?;
    let mut hash = Sha256::new();
    hash.update(&bytes);
    hash.update(env!("CARGO_PKG_VERSION").as_bytes());
    let mut engine_hash = std::collections::hash_map::DefaultHasher::new();
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut engine_hash);
    hash.update(std::hash::Hasher::finish(&engine_hash).to_le_bytes());
    let key: String = hash.finalize().iter().map(|b| format!("{b:02x}")).collect();
    let cached = cache_dir.join(format!("{key}.cwasm"));
    if cached.exists() {
        // SAFETY: the file was written by `Component::serialize` of this same engine build
        // (its name hashes the wasm bytes and the engine's compatibility hash).
        if let Ok(component) = unsafe { Component::deserialize_file(engine, &cached) } {
            return Ok((component, true));
        }
    }
    let component = Component::new(engine, &bytes)
        .map_err(|e| wasm_error(e).context("compiling the component"))?;
    std::fs::create_dir_all(cache_dir)?;
    // Written aside and renamed, so a host starting beside this one never reads half a file.
    let tmp = cache_dir.join(format!("{key}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, component.serialize().map_err(wasm_error)?)?;
    std::fs::rename(&tmp, &cached)?;
    Ok((component, false))
}

pub fn pre_instantiate(engine: &Engine, component: &Component) -> Result<ProxyPre<HostState>> {
    let mut linker: Linker<HostState> = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker).map_err(wasm_error)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker).map_err(wasm_error)?;
    spin_imports::add_to_linker(&mut linker).map_err(wasm_error)?;
    let pre = linker.instantiate_pre(component).map_err(|e| {
        wasm_error(e).context("the component imports something the runtime does not provide")
    })?;
    ProxyPre::new(pre).map_err(wasm_error)
}
