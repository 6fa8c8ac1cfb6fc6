//! End-to-end tests: the real server on 127.0.0.1:0 with a fresh SQLite database,
//! driven over HTTP as Meta drives it, with a fake Graph API receiving replies.

#![allow(clippy::unwrap_used)]

mod fake_graph;
mod fake_llm;
mod fake_pagerduty;
mod fake_telegram;
mod helpers;

mod access;
mod accounts;
mod agents;
mod agents_dashboard;
mod api;
mod api_walls;
mod audit;
mod audit_chain;
mod audit_coverage;
mod backup;
mod backup_s3;
mod blocks;
mod browser;
mod browser_reset;
mod channels;
mod crash;
mod dashboard;
mod demo;
mod dialogue;
mod drill;
mod headers;
mod inbox;
mod layering;
mod limits;
mod loadtest;
mod lockout;
mod mail;
mod observability;
mod onboarding;
mod operators;
mod outbox;
mod process;
mod provider_urls;
mod queue;
mod rejects;
mod relay;
mod routing;
mod scheduler;
mod secrets;
mod setup;
mod sla;
mod sla_dst;
mod sla_sweep;
mod slow_clients;
mod staff;
mod summary;
mod surveys;
mod team;
mod templates;
mod templates_page;
mod tenants;
mod test_panel;
mod verification;
mod webhook_admin;
mod webhook_crash;
mod webhooks;
mod work;
