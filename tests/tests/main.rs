//! End-to-end tests across crates, against a real PostgreSQL (see `opsflux_tests`).

mod capture;
mod cli;
mod dashboards;
mod document_store;
mod documents;
mod editor;
mod import;
mod ingest;
mod metrics;
mod migrations;
mod powertrace;
mod powertrace_api;
mod sample_data;
mod schedules;
mod search;
mod security;
mod storage;
mod style;
mod web;
