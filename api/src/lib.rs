//! The `opsflux` binary's library: command line (`cli`), HTTP server (`http`), who is
//! asking (`auth`), the audit trail, scheduled reports and alerts (`jobs`), the private PostgreSQL cluster, imports — the
//! only crate that composes the others.

pub mod audit;
pub mod auth;
pub mod cli;
pub mod cluster;
pub mod database;
pub mod document_store;
pub mod documents;
pub mod http;
pub mod import;
pub mod jobs;
pub mod powertrace;
pub mod sample_warehouse;
