//! Per-request store data: WASI, WASI HTTP (with the outbound policy as hooks), the resource
//! table, and the shared Spin resources.

use crate::outbound::OutboundPolicy;
use crate::spin_imports::SpinResources;
use std::sync::Arc;
use wasmtime::component::ResourceTable;
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

pub struct HostState {
    pub wasi: WasiCtx,
    pub http: WasiHttpCtx,
    pub table: ResourceTable,
    pub outbound: OutboundPolicy,
    pub spin: Arc<SpinResources>,
}

impl HostState {
    pub fn new(spin: Arc<SpinResources>, outbound: OutboundPolicy) -> Self {
        Self {
            // The guest's stderr carries its logs (store errors and the like).
            wasi: WasiCtx::builder().inherit_stderr().inherit_stdout().build(),
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            outbound,
            spin,
        }
    }
}

impl WasiView for HostState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for HostState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: &mut self.outbound,
        }
    }
}
