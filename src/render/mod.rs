//! Rows and errors → response bytes. Stored objects are spliced in as they are.

pub mod list;
pub mod status;
pub mod table;
