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

/// How instances get their memories, tables and stacks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocation {
    /// Spin's default (spin-core 4.0.2, `use_pooling_allocator_by_default`): slots reserved
    /// once and reused, so a request's fresh instance does not map, fault in and unmap its
    /// memory anew. Sized for `instances` live at once.
    Pooling { instances: u32 },
    /// A fresh mapping per instance (`--disable-pooling`, as `spin up --disable-pooling`).
    OnDemand,
}

/// The engine, with Spin's settings: the component model, epoch interruption (request
/// deadlines interrupt a guest stuck in a loop) and, unless asked otherwise, Spin's pooling
/// allocator. Where the machine cannot reserve the pool's address space, on-demand, as Spin
/// falls back after its probe.
pub fn engine(allocation: Allocation) -> Result<Engine> {
    let mut config = Config::new();
    config.wasm_component_model(true);
    config.epoch_interruption(true);
    // Names the component's functions for `perf` (`/tmp/perf-<pid>.map`): profiling only.
    if std::env::var_os("EDGEPEDIA_PERFMAP").is_some() {
        config.profiler(wasmtime::ProfilingStrategy::PerfMap);
    }
    if let Allocation::Pooling { instances } = allocation {
        let mut pooled = config.clone();
        pooled.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(pooling(
            instances,
        )));
        match Engine::new(&pooled) {
            Ok(engine) => return Ok(engine),
            Err(e) => eprintln!(
                "edgepedia-host: pooling allocator unavailable ({e}); allocating on demand"
            ),
        }
    }
    Engine::new(&config).map_err(wasm_error)
}

/// Spin's pool limits (`crates/core/src/lib.rs`), with the totals scaled from its 1,000
/// instances to ours; memories up to 4 GiB, 2 MiB of each memory and 512 KiB of each table
/// kept resident between instances.
fn pooling(instances: u32) -> wasmtime::PoolingAllocationConfig {
    const MIB: usize = 1 << 20;
    let mut pool = wasmtime::PoolingAllocationConfig::default();
    pool.total_component_instances(instances)
        .total_memories(instances)
        .total_tables(2 * instances)
        .total_stacks(instances)
        .total_core_instances(4 * instances)
        .table_elements(100_000)
        .max_component_instance_size(10 * MIB)
        .max_core_instance_size(10 * MIB)
        .max_core_instances_per_component(200)
        .max_tables_per_component(64)
        .max_memories_per_component(32)
        .max_tables_per_module(2)
        .max_memories_per_module(2)
        .max_memory_size(4 << 30)
        .linear_memory_keep_resident(2 * MIB)
        .table_keep_resident(MIB / 2);
    pool
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
