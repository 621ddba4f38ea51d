//! The `opsflux` binary's library: command line, HTTP server, configuration, the
//! private PostgreSQL cluster, imports — the only crate that composes the others.

pub mod capture;
pub mod cli;
pub mod cluster;
pub mod dashboards;
pub mod database;
pub mod documents;
pub mod import;
pub mod sample_warehouse;
pub mod web;
