//! The component's stack in linear memory: 128 KiB instead of the 1 MiB that Rust gives a wasm
//! module by default.
//!
//! Every request gets a fresh instance, and Spin's pooling allocator (as the local runtime's)
//! resets up to 2 MiB of a used memory in place and unmaps the rest, to be faulted in again by
//! the next instance. A 1 MiB stack alone made every instance 1.2 MiB before it allocated
//! anything, and a page of 300 pods grew past the 2 MiB. The deepest recursions, each tested
//! end to end through the component: whereSQL parsed at its nesting limit needs 48–64 KiB
//! (`e2e_bad_requests::where_sql_nested_to_its_limit_is_served_and_deeper_is_a_400`), a
//! Table of the deepest object ingest accepts 16–32 KiB
//! (`e2e_write_claims::poisoned_objects_are_refused_and_stored_ones_never_break_a_read`). A
//! stack overflow traps (the stack sits below the data), never corrupts.
fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var("CARGO_CFG_TARGET_ARCH").as_deref() == Ok("wasm32") {
        println!("cargo:rustc-link-arg-cdylib=-zstack-size=131072");
    }
}
