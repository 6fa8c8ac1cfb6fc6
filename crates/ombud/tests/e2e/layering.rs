//! The dependencies point one way (DESIGN.md, "Layout"): core ← (store,
//! channels, agents) ← engine ← web ← ombud. Channels and agents share plain
//! data through `core` and know nothing of the store.

#[test]
fn channels_and_agents_depend_on_core_not_on_the_store_or_above() {
    for krate in ["channels", "agents"] {
        let path = format!("{}/../{krate}/Cargo.toml", env!("CARGO_MANIFEST_DIR"));
        let manifest = std::fs::read_to_string(&path).unwrap();
        for above in ["ombud-store", "ombud-engine", "ombud-web"] {
            assert!(
                !manifest.contains(above),
                "{path} depends on {above}; share the type through ombud-core instead"
            );
        }
        assert!(manifest.contains("ombud-core"), "{path}");
    }
}
