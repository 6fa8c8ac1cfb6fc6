//! The store contract: behaviour every backend must show. Written against
//! `&dyn Store` so the PostgreSQL backend runs the same checks.

#![allow(clippy::unwrap_used)]

use std::collections::HashSet;
use std::sync::Arc;

use chrono::{TimeZone, Utc};
use ombud_core::*;
use ombud_store::*;

mod accounts;
mod agents;
mod audit;
mod catalog;
mod channels;
mod complaints;
mod counters;
mod idempotency;
mod inbox;
mod jobs;
mod resets;
mod routing;
mod runs;
mod sla;
mod tenancy;
mod webhook_runs;
mod webhooks;
mod work;

use accounts::*;
use agents::*;
use audit::*;
use catalog::*;
use channels::*;
use complaints::*;
use counters::*;
use idempotency::*;
use inbox::*;
use jobs::*;
use resets::*;
use routing::*;
use runs::*;
use sla::*;
use tenancy::*;
use webhook_runs::*;
use webhooks::*;
use work::*;

/// The tests' sealing key: one for every store, so two stores on one
/// database open each other's secrets.
pub fn sealer() -> ombud_store::Sealer {
    let key =
        ombud_core::seal::SealKey::from_base64("b21idWQtY29udHJhY3QtdGVzdHMtc2VhbGluZy1rZXk=")
            .expect("a 32-byte key");
    ombud_store::Sealer::new(key)
}

/// Runs each check on SQLite and on PostgreSQL (a fresh schema per test on the
/// server named by `OMBUD_TEST_DATABASE_URL`, which `scripts/test` starts).
macro_rules! on_both_backends {
    ($($name:ident),+ $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let store = ombud_store::sqlite::SqliteStore::open(&dir.path().join("test.db"), super::sealer()).unwrap();
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )+
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let store = ombud_store::postgres::PgStore::connect(&super::pg_url().await, 8, super::sealer()).await.unwrap();
                    super::$name(std::sync::Arc::new(store)).await;
                }
            )+
        }
    };
}

on_both_backends!(
    complaint_numbers_are_gap_free_per_local_day_and_unique_under_concurrency,
    a_failed_creation_gives_its_number_back,
    creation_is_idempotent_on_its_origin_key,
    ingest_dedupes_and_numbers_messages_per_conversation,
    a_run_commits_once_and_its_replies_enter_the_outbox_in_order,
    the_database_reports_its_size_and_passes_its_integrity_check,
    reads_are_scoped_to_the_tenant,
    a_conversation_lease_has_one_holder_until_it_expires,
    a_run_may_claim_its_sends_only_when_none_is_ahead_of_them,
    the_stores_own_changes_are_seen_at_once_through_the_catalog,
    one_account_per_email_and_one_membership_per_tenant,
    sessions_are_found_by_token_hash_touched_and_ended,
    members_are_listed_and_passwords_replaced,
    an_invitation_works_once_before_it_expires,
    a_password_reset_and_its_mail_are_made_together_and_used_once,
    a_member_chooses_the_daily_summary_in_each_tenant,
    api_keys_are_found_by_hash_listed_and_revoked_at_once,
    the_list_filters_and_pages_by_keyset_within_the_tenant,
    batched_changes_skip_what_does_not_fit_and_record_the_rest,
    the_overview_counts_by_local_day_category_and_age,
    categories_are_edited_and_onboarding_remembered,
    events_fan_out_to_the_enabled_endpoints_that_take_them,
    an_event_emitted_once_is_written_and_delivered_once,
    an_ordered_endpoint_gets_one_delivery_at_a_time_and_attempts_are_kept,
    a_410_or_five_days_of_failures_disable_the_endpoint_with_an_event,
    replays_test_events_rotation_and_deletion,
    an_idempotency_key_answers_the_same_request_once,
    an_ordered_endpoint_s_run_is_claimed_together_and_given_back_in_order,
    agents_have_numbered_immutable_versions_within_their_tenant,
    a_deployment_switches_the_channel_for_the_next_run_and_is_kept_in_history,
    an_agents_executions_are_listed_newest_first_with_their_tool_calls,
    a_test_chat_keeps_its_turns_and_state_behind_its_tenants_wall,
    hits_count_per_fixed_window_and_are_forgotten,
    a_channel_starts_its_deployment_history_with_its_first_version,
    a_channels_settings_change_behind_its_tenants_wall,
    audit_entries_chain_per_tenant_with_their_change_and_verify,
    a_tenant_is_made_with_what_it_starts_with_or_not_at_all,
    a_job_is_held_by_one_holder_until_its_lease_runs_out,
    a_recurring_job_keeps_its_row_and_moves_on,
    a_deadline_is_kept_found_when_due_and_breached_once,
    the_sweep_pages_through_every_tenants_alerts_due,
    racing_rules_never_take_a_member_past_their_capacity,
    racing_round_robin_gives_each_member_their_turn,
    the_inbox_filters_marks_reads_and_follows_events_within_the_tenant,
    a_quiet_spell_or_a_close_starts_the_next_session,
    an_erasure_empties_a_persons_rows_once_within_the_tenant,
);

/// Runs each check on two stores opened on one database, as two processes
/// would: a server and a CLI command on one SQLite file, or two replicas.
macro_rules! on_both_backends_twice {
    ($($name:ident),+ $(,)?) => {
        mod sqlite_twice {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let dir = tempfile::tempdir().unwrap();
                    let path = dir.path().join("test.db");
                    let a = ombud_store::sqlite::SqliteStore::open(&path, super::sealer()).unwrap();
                    let b = ombud_store::sqlite::SqliteStore::open(&path, super::sealer()).unwrap();
                    super::$name(std::sync::Arc::new(a), std::sync::Arc::new(b)).await;
                }
            )+
        }
        mod postgres_twice {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $name() {
                    let url = super::pg_url().await;
                    let a = ombud_store::postgres::PgStore::connect(&url, 4, super::sealer()).await.unwrap();
                    let b = ombud_store::postgres::PgStore::connect(&url, 4, super::sealer()).await.unwrap();
                    super::$name(std::sync::Arc::new(a), std::sync::Arc::new(b)).await;
                }
            )+
        }
    };
}

on_both_backends_twice!(
    another_process_s_changes_are_seen_once_the_catalog_entry_is_old,
    two_stores_appending_to_one_tenant_keep_one_chain,
    two_stores_claiming_at_once_never_share_a_job,
);

async fn pg_url() -> String {
    let base = std::env::var("OMBUD_TEST_DATABASE_URL").expect(
        "OMBUD_TEST_DATABASE_URL is not set: scripts/test starts a throwaway PostgreSQL and sets it",
    );
    ombud_store::postgres::scratch_schema_url(&base)
        .await
        .unwrap()
}

async fn tenant(store: &dyn Store, slug: &str, tz: &str) -> Tenant {
    store
        .create_tenant(
            NewTenant {
                id: ombud_core::TenantId::new(),
                slug: TenantSlug::parse(slug).unwrap(),
                name: slug.into(),
                complaint_prefix: ComplaintPrefix::parse(&slug.to_uppercase()).unwrap(),
                default_language: Language::en(),
                timezone: TimeZoneName::parse(tz).unwrap(),
            },
            TenantSetup::default(),
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap()
        .0
}

async fn channel(store: &dyn Store, t: &Tenant, phone: &str) -> Channel {
    store
        .create_channel(
            &t.id,
            NewChannel {
                id: ombud_core::ChannelId::new(),
                name: "wa".into(),
                config: ChannelConfig::Whatsapp(WhatsAppConfig {
                    phone_number_id: phone.into(),
                    app_secret: Secret::new("s"),
                    verify_token: Secret::new("v"),
                    access_token: Secret::new("a"),
                    graph_url: "http://127.0.0.1:9".into(),
                    api_version: "v23.0".into(),
                    waba_id: None,
                    templates: Default::default(),
                }),
                deployed_version: None,
                deployed_by: "system".into(),
            },
            chrono::Utc::now(),
            Vec::new(),
        )
        .await
        .unwrap()
}

fn text(from: &str, wamid: &str, body: &str) -> InboundMessage {
    InboundMessage {
        from: from.into(),
        profile_name: None,
        provider_id: wamid.into(),
        kind: MessageKind::Text,
        body: body.into(),
        payload: None,
        sent_at: None,
        media: None,
    }
}

fn new_complaint(key: Option<&str>, at: chrono::DateTime<Utc>) -> NewComplaint {
    NewComplaint {
        origin_key: key.map(str::to_owned),
        channel_id: None,
        contact_id: None,
        conversation_id: None,
        category_id: None,
        description: "pothole".into(),
        location: Some("MG road".into()),
        area: None,
        language: Language::en(),
        priority: Priority::Normal,
        source: Source::Api,
        actor: "system".into(),
        at,
        audit: None,
        sla: None,
        route: false,
        verification: None,
        point: None,
        media: Vec::new(),
    }
}
