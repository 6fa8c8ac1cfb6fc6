use super::*;

#[test]
fn defaults_are_valid() {
    Config::default().validate().unwrap();
}

#[test]
#[allow(clippy::result_large_err)] // figment::Jail's own error type
fn file_then_env_and_errors_name_the_key() {
    figment::Jail::expect_with(|jail| {
        jail.create_file(
            "custom.toml",
            "listen = \"127.0.0.1:9000\"\n[agents]\nmax_concurrent = 3\n",
        )?;
        let c = Config::load(Some(Path::new("custom.toml"))).map_err(|e| e.to_string())?;
        assert_eq!(c.listen, "127.0.0.1:9000");
        assert_eq!(c.agents.max_concurrent, 3);

        jail.set_env("OMBUD_TEST_DATABASE_URL", "postgres://belongs-to-the-tests");
        jail.set_env("OMBUD_DATA_DIR", "/tmp/ombud-x");
        jail.set_env("OMBUD_AGENTS__MAX_CONCURRENT", "5");
        let c = Config::load(Some(Path::new("custom.toml"))).map_err(|e| e.to_string())?;
        assert_eq!(c.data_dir, PathBuf::from("/tmp/ombud-x"));
        assert_eq!(c.agents.max_concurrent, 5);

        jail.set_env("OMBUD_AGENTS__MAX_CONCURRENT", "0");
        let e = Config::load(None).unwrap_err().to_string().to_lowercase();
        assert!(e.contains("agents.max_concurrent"), "{e}");

        jail.set_env("OMBUD_AGENTS__MAX_CONCURRENT", "lots");
        let e = Config::load(None).unwrap_err().to_string().to_lowercase();
        assert!(e.contains("max_concurrent"), "{e}");

        jail.set_env("OMBUD_AGENTS__MAX_CONCURRENT", "2");
        jail.set_env("OMBUD_DATABASE_URL", "mysql://x");
        let e = Config::load(None).unwrap_err().to_string().to_lowercase();
        assert!(e.contains("`database_url`"), "{e}");
        jail.set_env(
            "OMBUD_DATABASE_URL",
            "postgres://ombud:hunter2@db:5432/ombud",
        );
        let c = Config::load(None).map_err(|e| e.to_string())?;
        assert_eq!(c.database_description(), "PostgreSQL at db:5432/ombud");
        assert!(
            !format!("{c:?}").contains("hunter2"),
            "the password leaked into Debug"
        );

        jail.set_env("OMBUD_LISTEN", "nowhere");
        let e = Config::load(None).unwrap_err().to_string().to_lowercase();
        assert!(e.contains("`listen`"), "{e}");

        jail.set_env("OMBUD_LISTEN", "127.0.0.1:1");
        jail.set_env("OMBUD_LISTNE", "typo");
        let e = Config::load(None).unwrap_err().to_string().to_lowercase();
        assert!(e.contains("listne"), "{e}");
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)]
fn webhook_schedule_and_outbound_ranges_load_and_are_checked() {
    assert_eq!(
        parse_schedule("500ms, 5s,2m,1h,1d").unwrap(),
        [500, 5_000, 120_000, 3_600_000, 86_400_000].map(Duration::from_millis)
    );
    assert!(parse_schedule("5").unwrap_err().contains("unit"));
    let d = Config::default().engine().webhooks.retry_schedule;
    assert_eq!(d, WebhookConfig::default_schedule());
    figment::Jail::expect_with(|jail| {
        jail.set_env("OMBUD_OUTBOUND_ALLOW_CIDRS", "127.0.0.0/8,::1/128");
        jail.set_env("OMBUD_WEBHOOKS__RETRY_SCHEDULE", "1s,1s,1s");
        let c = Config::load(None).map_err(|e| e.to_string())?;
        assert_eq!(c.outbound.allow_cidrs, "127.0.0.0/8,::1/128");
        let engine = c.engine();
        assert!(engine
            .outbound
            .refuses("127.0.0.1".parse().unwrap())
            .is_none());
        assert!(engine
            .outbound
            .refuses("10.0.0.1".parse().unwrap())
            .is_some());
        assert_eq!(engine.webhooks.retry_schedule.len(), 3);

        jail.set_env("OMBUD_OUTBOUND_ALLOW_CIDRS", "127.0.0.0/8,intranet");
        let e = Config::load(None).unwrap_err().to_string();
        assert!(
            e.contains("outbound.allow_cidrs") && e.contains("intranet"),
            "{e}"
        );
        jail.set_env("OMBUD_OUTBOUND_ALLOW_CIDRS", "");
        jail.set_env("OMBUD_WEBHOOKS__RETRY_SCHEDULE", "1x");
        let e = Config::load(None).unwrap_err().to_string();
        assert!(e.contains("webhooks.retry_schedule"), "{e}");
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)]
fn metrics_and_paging_load_from_the_environment_and_are_checked() {
    let off = Config::default().engine();
    assert!(!off.paging.enabled(), "nobody is paged by default");
    assert!(off.sample.disk.is_some());
    assert_eq!(
        Config::default().metrics_addr(),
        Some("127.0.0.1:9464".parse().unwrap()),
        "metrics on the operators' listener by default"
    );
    figment::Jail::expect_with(|jail| {
        jail.set_env("OMBUD_METRICS_LISTEN", "127.0.0.1:9464");
        jail.set_env("OMBUD_PAGING__PAGERDUTY_ROUTING_KEY", "R0UTING");
        jail.set_env("OMBUD_PAGING__CHANNEL_FAILING_SECS", "120");
        let c = Config::load(None).map_err(|e| e.to_string())?;
        assert_eq!(c.metrics_addr(), Some("127.0.0.1:9464".parse().unwrap()));
        let paging = c.engine().paging;
        assert!(paging.enabled());
        assert_eq!(
            paging.pagerduty,
            Some((
                "R0UTING".to_owned(),
                "https://events.pagerduty.com/v2/enqueue".to_owned()
            ))
        );
        assert_eq!(paging.channel_failing_for, Duration::from_secs(120));

        jail.set_env("OMBUD_PAGING__WEBHOOK_URL", "pager.example.org/hook");
        let e = Config::load(None).unwrap_err().to_string();
        assert!(e.contains("paging.webhook_url"), "{e}");
        jail.set_env(
            "OMBUD_PAGING__WEBHOOK_URL",
            "https://pager.example.org/hook",
        );
        jail.set_env("OMBUD_METRICS_LISTEN", "off");
        assert_eq!(
            Config::load(None)
                .map_err(|e| e.to_string())?
                .metrics_addr(),
            None
        );
        jail.set_env("OMBUD_METRICS_LISTEN", "everywhere");
        let e = Config::load(None).unwrap_err().to_string();
        assert!(e.contains("metrics_listen"), "{e}");
        jail.set_env("OMBUD_METRICS_LISTEN", "off");
        jail.set_env("OMBUD_METRICS_TOKEN", "short");
        let e = Config::load(None).unwrap_err().to_string();
        assert!(e.contains("metrics_token"), "{e}");
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)]
fn the_audit_trail_is_kept_at_least_a_year() {
    assert_eq!(Config::default().audit.retention_days, 730);
    figment::Jail::expect_with(|jail| {
        jail.set_env("OMBUD_AUDIT__RETENTION_DAYS", "400");
        let c = Config::load(None).map_err(|e| e.to_string())?;
        assert_eq!(c.audit.retention_days, 400);
        jail.set_env("OMBUD_AUDIT__RETENTION_DAYS", "364");
        let e = Config::load(None).unwrap_err().to_string();
        assert!(
            e.contains("audit.retention_days") && e.contains("365"),
            "{e}"
        );
        jail.set_env("OMBUD_AUDIT__RETENTION_DAYS", "730");
        jail.set_env("OMBUD_AUDIT_KEY", "not base64!");
        let e = Config::load(None).unwrap_err().to_string();
        assert!(e.contains("audit_key"), "{e}");
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)]
fn backups_go_to_a_directory_or_a_bucket_named_in_the_environment() {
    figment::Jail::expect_with(|jail| {
        let c = Config::load(None).map_err(|e| e.to_string())?;
        let dest = c.backup_destination().map_err(|e| e.to_string())?;
        assert_eq!(
            dest.describe(),
            c.data_dir.join("backups").display().to_string()
        );
        jail.set_env("OMBUD_BACKUP__TO", "s3://ombud-backups/pune/");
        jail.set_env("OMBUD_BACKUP__S3__ENDPOINT", "http://127.0.0.1:9000");
        jail.set_env("OMBUD_BACKUP__S3__ACCESS_KEY_ID", "AKIDEXAMPLE");
        jail.set_env("OMBUD_BACKUP__S3__SECRET_ACCESS_KEY", "tests-only");
        let c = Config::load(None).map_err(|e| e.to_string())?;
        assert_eq!(
            c.backup.s3.endpoint.as_deref(),
            Some("http://127.0.0.1:9000")
        );
        assert!(
            !format!("{c:?}").contains("tests-only"),
            "the key is not printed"
        );
        let dest = c.backup_destination().map_err(|e| e.to_string())?;
        assert_eq!(dest.describe(), "s3://ombud-backups/pune");

        for (key, value, named) in [
            ("OMBUD_BACKUP__TO", "s3://Ombud_Backups", "backup.to"),
            ("OMBUD_BACKUP__TO", "s3://ombud-backups/a/../b", "backup.to"),
            (
                "OMBUD_BACKUP__S3__ENDPOINT",
                "ftp://minio",
                "backup.s3.endpoint",
            ),
        ] {
            jail.set_env("OMBUD_BACKUP__TO", "s3://ombud-backups");
            jail.set_env(key, value);
            let e = Config::load(None).unwrap_err().to_string();
            assert!(e.contains(named), "{value}: {e}");
        }
        jail.set_env("OMBUD_BACKUP__S3__ENDPOINT", "https://minio.internal:9000");
        Config::load(None).map_err(|e| e.to_string())?;
        // A key without its secret is a mistake; neither is AWS_*'s.
        jail.set_env("OMBUD_BACKUP__S3__SECRET_ACCESS_KEY", "");
        let e = Config::load(None).unwrap_err().to_string();
        assert!(e.contains("backup.s3.access_key_id"), "{e}");
        jail.set_env("OMBUD_BACKUP__S3__ACCESS_KEY_ID", " ");
        let c = Config::load(None).map_err(|e| e.to_string())?;
        assert_eq!(c.backup.s3.keys(), Ok(None));
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)]
fn mail_is_off_without_an_smtp_host_and_its_settings_are_checked() {
    assert!(Config::default().engine().mail.is_none(), "off by default");
    figment::Jail::expect_with(|jail| {
        jail.create_file("not-a-certificate.txt", "hello")?;
        jail.set_env("OMBUD_SMTP__HOST", "mail.pune.gov.in");
        jail.set_env("OMBUD_SMTP__FROM", "Ombud <ombud@pune.gov.in>");
        jail.set_env("OMBUD_SMTP__USERNAME", "ombud");
        jail.set_env("OMBUD_SMTP__PASSWORD", "tests-only");
        let c = Config::load(None).map_err(|e| e.to_string())?;
        let mail = c.engine().mail.expect("on");
        assert_eq!((mail.host.as_str(), mail.port), ("mail.pune.gov.in", 587));
        assert_eq!(mail.security, ombud_engine::mail::Security::StartTls);
        assert!(
            !format!("{c:?}").contains("tests-only"),
            "the password is not printed"
        );
        for (key, value, named) in [
            ("OMBUD_SMTP__SECURITY", "ssl", "smtp.security"),
            ("OMBUD_SMTP__FROM", "not an address", "smtp.from"),
            ("OMBUD_SMTP__PASSWORD", "", "smtp.username"),
            ("OMBUD_SMTP__CA_FILE", "/nonexistent/ca.pem", "smtp.ca_file"),
            (
                "OMBUD_SMTP__CA_FILE",
                "not-a-certificate.txt",
                "smtp.ca_file",
            ),
        ] {
            jail.set_env(key, value);
            let e = Config::load(None).unwrap_err().to_string();
            assert!(e.contains(named), "{value}: {e}");
            jail.set_env("OMBUD_SMTP__SECURITY", "starttls");
            jail.set_env("OMBUD_SMTP__FROM", "ombud@pune.gov.in");
            jail.set_env("OMBUD_SMTP__PASSWORD", "tests-only");
            jail.set_env("OMBUD_SMTP__CA_FILE", "");
        }
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)]
fn retention_is_set_in_days_and_checked() {
    let d = Config::default().retention;
    assert_eq!(
        (
            d.invitations_days,
            d.webhook_delivered_days,
            d.webhook_failed_days,
            d.events_days,
            d.executions_days,
            d.batch
        ),
        (30, 30, 90, 7, 90, 500)
    );
    figment::Jail::expect_with(|jail| {
        jail.set_env("OMBUD_RETENTION__EVENTS_DAYS", "2");
        let c = Config::load(None).map_err(|e| e.to_string())?;
        assert_eq!(c.retention.policy().events, chrono::Duration::days(2));
        jail.set_env("OMBUD_RETENTION__EVENTS_DAYS", "0");
        let e = Config::load(None).unwrap_err().to_string();
        assert!(e.contains("retention.events_days"), "{e}");
        jail.set_env("OMBUD_RETENTION__EVENTS_DAYS", "7");
        assert_eq!(d.message_bodies_days, 0, "kept unless an office decides");
        assert_eq!(d.messages_days, 0, "kept unless an office decides");
        let policy = Config::load(None)
            .map_err(|e| e.to_string())?
            .retention
            .policy();
        assert_eq!((policy.message_bodies, policy.messages), (None, None));
        jail.set_env("OMBUD_RETENTION__MESSAGE_BODIES_DAYS", "180");
        jail.set_env("OMBUD_RETENTION__MESSAGES_DAYS", "400");
        let policy = Config::load(None)
            .map_err(|e| e.to_string())?
            .retention
            .policy();
        assert_eq!(policy.message_bodies, Some(chrono::Duration::days(180)));
        assert_eq!(policy.messages, Some(chrono::Duration::days(400)));
        for name in ["MESSAGE_BODIES_DAYS", "MESSAGES_DAYS"] {
            jail.set_env(format!("OMBUD_RETENTION__{name}"), "40000");
            let e = Config::load(None).unwrap_err().to_string();
            let field = format!("retention.{}", name.to_lowercase());
            assert!(e.contains(&field), "{e}");
            jail.set_env(format!("OMBUD_RETENTION__{name}"), "0");
        }
        jail.set_env("OMBUD_RETENTION__BATCH", "20000");
        let e = Config::load(None).unwrap_err().to_string();
        assert!(e.contains("retention.batch"), "{e}");
        Ok(())
    });
}

#[test]
#[allow(clippy::result_large_err)]
fn the_session_idle_time_is_set_in_hours_and_checked() {
    assert_eq!(Config::default().conversations.session_idle_hours, 24);
    figment::Jail::expect_with(|jail| {
        jail.set_env("OMBUD_CONVERSATIONS__SESSION_IDLE_HOURS", "6");
        let c = Config::load(None).map_err(|e| e.to_string())?;
        assert_eq!(c.engine().session_idle.as_hours(), 6);
        jail.set_env("OMBUD_CONVERSATIONS__SESSION_IDLE_HOURS", "0");
        let e = Config::load(None).unwrap_err().to_string();
        assert!(e.contains("conversations.session_idle_hours"), "{e}");
        Ok(())
    });
}
