//! The `ombud` binary's library: configuration, the application, the CLI commands.

mod accounts;
pub mod app;
pub mod backup;
mod bench;
mod bench_agents;
mod bench_api;
mod bench_intake;
mod bench_retention;
mod bench_slowloris;
pub mod cli;
pub mod config;
mod demo;
pub mod loadtest;
pub mod media_store;
mod migrate_db;
mod say;
pub mod secret_key;
mod seed;

pub use app::{App, AppOptions};
pub use config::Config;
