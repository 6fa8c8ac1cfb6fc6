use super::*;

fn chain(n: usize) -> Vec<AuditEntry> {
    let tenant = TenantId::new();
    let mut out: Vec<AuditEntry> = Vec::new();
    for i in 0..n {
        let (seq, hash) = out
            .last()
            .map(|e| (e.seq, e.hash.clone()))
            .unwrap_or((0, GENESIS.into()));
        let entry = NewAuditEntry::new(
            &tenant,
            Utc::now(),
            Actor::user(&crate::UserId::new(), "Asha", "asha@example.org"),
            Origin::default(),
            "member.role_changed",
            Target::new("member", i, Some(format!("member {i}"))),
        )
        .with_changes([FieldChange::set("role", "admin")]);
        out.push(entry.chained(seq, &hash));
    }
    out
}

#[test]
fn a_whole_chain_verifies() {
    let c = chain(5);
    let v = verify(&c, &[], (0, GENESIS), None).unwrap();
    assert_eq!((v.entries, v.last_seq), (5, 5));
}

#[test]
fn each_kind_of_tampering_names_the_first_bad_entry() {
    let base = chain(5);

    let mut changed = base.clone();
    changed[2].entry.action = "member.removed".into();
    assert_eq!(
        verify(&changed, &[], (0, GENESIS), None).unwrap_err().seq,
        3
    );

    let mut deleted = base.clone();
    deleted.remove(1);
    assert_eq!(
        verify(&deleted, &[], (0, GENESIS), None).unwrap_err().seq,
        2
    );

    let mut swapped = base.clone();
    swapped.swap(1, 2);
    assert_eq!(
        verify(&swapped, &[], (0, GENESIS), None).unwrap_err().seq,
        2
    );
}

#[test]
fn a_rewritten_tail_is_caught_by_the_checkpoint() {
    let key = SigningKey::generate();
    let base = chain(4);
    let cp = Checkpoint::sign(&key, &base[0].entry.tenant_id, 3, &base[2].hash, Utc::now());
    assert!(cp.signed_by(&key.public_hex()));
    let mut rewritten = base[..1].to_vec();
    for e in &base[1..] {
        let mut n = e.entry.clone();
        n.action = "login.succeeded".into();
        let last = rewritten.last().unwrap();
        let (seq, hash) = (last.seq, last.hash.clone());
        rewritten.push(n.chained(seq, &hash));
    }
    let public = key.public_hex();
    assert!(verify(&rewritten, &[], (0, GENESIS), Some(&public)).is_ok());
    let err = verify(
        &rewritten,
        std::slice::from_ref(&cp),
        (0, GENESIS),
        Some(&public),
    )
    .unwrap_err();
    assert_eq!(err.seq, 3);
    let other = SigningKey::generate().public_hex();
    assert!(verify(&base, &[cp], (0, GENESIS), Some(&other)).is_err());
}

#[test]
fn the_encoding_does_not_depend_on_key_order() {
    let mut a = chain(1).remove(0);
    a.entry.changes = vec![FieldChange::set(
        "x",
        serde_json::json!({"b": 1, "a": [true, null]}),
    )];
    let text = a.canonical();
    assert!(text.contains(r#"{"a":[true,null],"b":1}"#), "{text}");
}
