//! What a load test sends: the presets, and the flags that override them.

use clap::ValueEnum;

/// The seed's load: 500 messages a day for each of 50 tenants, compressed into
/// one minute.
/// The default gathering interval, in ms.
const FLUSH: u64 = 1;
/// Under heavy load.
const FLUSH_BUSY: u64 = 5;

pub const SEED_RATE: f64 = 500.0 * 50.0 / 60.0;

/// Messages in the citizens' dialogue (see the driver): one complaint.
pub const DIALOGUE_MESSAGES: usize = 4;

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scenario {
    /// A few citizens of two tenants, a short dialogue each, as fast as replies
    /// come; for the test suite.
    Smoke,
    /// The seed's load (500/day × 50 tenants) compressed into one minute.
    Steady,
    /// As fast as replies come, for 20 s: the sustained throughput.
    Max,
    /// Rate steps of +500/s every 5 s until the reply p99 passes 200 ms.
    Stress,
    /// Steady rate, then 20× for 30 s, then steady again: how fast p99 recovers.
    Spike,
    /// A long run at a fixed rate (`--rate`, `--duration`): memory and p99 must
    /// stay flat. Citizens come and go: each files one complaint (the 4-message
    /// dialogue) and a new citizen takes its place.
    Soak,
}

/// How the load is shaped once presets and flags are combined.
#[derive(Debug, Clone)]
pub struct Plan {
    pub scenario: Option<Scenario>,
    pub tenants: usize,
    /// Citizens per tenant.
    pub contacts: usize,
    /// Most messages in one webhook POST (Meta batches per business account).
    pub batch: usize,
    /// How often due messages are gathered into webhooks: a longer interval
    /// makes bigger batches, as Meta's do under heavy traffic.
    pub flush_ms: u64,
    pub load: Load,
    /// Stress: stop after the first phase whose reply p99 passes this (ms).
    pub stop_above_p99_ms: Option<f64>,
    /// Spike: the p99 (ms) the windows after the spike must get back under.
    pub recover_below_p99_ms: Option<f64>,
}

#[derive(Debug, Clone)]
pub enum Load {
    /// Every citizen sends this many messages, each as soon as the previous one
    /// was answered.
    Count { messages: usize },
    /// Phases of a given length and rate (`None`: as fast as replies come).
    /// With `renew_after`, a citizen that has sent that many messages leaves
    /// and a new one (a new phone number, so a new contact and conversation)
    /// takes its place; without, the same citizens write for the whole run.
    Timed {
        phases: Vec<Phase>,
        renew_after: Option<usize>,
    },
}

#[derive(Debug, Clone)]
pub struct Phase {
    pub name: String,
    pub secs: f64,
    pub rate: Option<f64>,
}

impl Phase {
    fn new(name: impl Into<String>, secs: f64, rate: Option<f64>) -> Self {
        Self {
            name: name.into(),
            secs,
            rate,
        }
    }
}

/// The flags that change a preset.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    pub tenants: Option<usize>,
    pub contacts: Option<usize>,
    pub messages: Option<usize>,
    pub rate: Option<f64>,
    pub duration_secs: Option<f64>,
    pub batch: Option<usize>,
    pub flush_ms: Option<u64>,
}

impl Plan {
    pub fn new(scenario: Option<Scenario>, o: &Overrides) -> anyhow::Result<Self> {
        let timed = |phases: Vec<Phase>| Load::Timed {
            phases,
            renew_after: None,
        };
        let mut plan = match scenario {
            None => Plan {
                scenario,
                tenants: 1,
                contacts: 200,
                batch: 1,
                flush_ms: FLUSH,
                load: Load::Count { messages: 8 },
                stop_above_p99_ms: None,
                recover_below_p99_ms: None,
            },
            Some(Scenario::Smoke) => Plan {
                scenario,
                tenants: 2,
                contacts: 20,
                batch: 8,
                flush_ms: FLUSH,
                load: Load::Count { messages: 4 },
                stop_above_p99_ms: None,
                recover_below_p99_ms: None,
            },
            Some(Scenario::Steady) => Plan {
                scenario,
                tenants: 50,
                contacts: 20,
                batch: 10,
                flush_ms: FLUSH,
                load: timed(vec![Phase::new("steady", 60.0, Some(SEED_RATE))]),
                stop_above_p99_ms: None,
                recover_below_p99_ms: None,
            },
            Some(Scenario::Max) => Plan {
                scenario,
                tenants: 50,
                contacts: 40,
                batch: 25,
                flush_ms: FLUSH_BUSY,
                load: timed(vec![Phase::new("max", 20.0, None)]),
                stop_above_p99_ms: None,
                recover_below_p99_ms: None,
            },
            Some(Scenario::Stress) => Plan {
                scenario,
                tenants: 50,
                contacts: 100,
                batch: 25,
                flush_ms: FLUSH_BUSY,
                load: timed(
                    (1..=40)
                        .map(|k| {
                            let rate = 500.0 * k as f64;
                            Phase::new(format!("{rate:.0}/s"), 5.0, Some(rate))
                        })
                        .collect(),
                ),
                stop_above_p99_ms: Some(200.0),
                recover_below_p99_ms: None,
            },
            Some(Scenario::Spike) => Plan {
                scenario,
                tenants: 50,
                contacts: 100,
                batch: 25,
                flush_ms: FLUSH_BUSY,
                load: timed(vec![
                    Phase::new("before", 10.0, Some(SEED_RATE)),
                    Phase::new("spike", 30.0, Some(SEED_RATE * 20.0)),
                    Phase::new("after", 30.0, Some(SEED_RATE)),
                ]),
                stop_above_p99_ms: None,
                recover_below_p99_ms: Some(50.0),
            },
            Some(Scenario::Soak) => Plan {
                scenario,
                tenants: 50,
                contacts: 40,
                batch: 25,
                flush_ms: FLUSH_BUSY,
                load: Load::Timed {
                    phases: vec![Phase::new("soak", 600.0, Some(1000.0))],
                    renew_after: Some(DIALOGUE_MESSAGES),
                },
                stop_above_p99_ms: None,
                recover_below_p99_ms: None,
            },
        };
        if let Some(t) = o.tenants {
            plan.tenants = t;
        }
        if let Some(c) = o.contacts {
            plan.contacts = c;
        }
        if let Some(b) = o.batch {
            plan.batch = b;
        }
        if let Some(f) = o.flush_ms {
            plan.flush_ms = f;
        }
        match (&mut plan.load, o.messages) {
            (Load::Count { messages }, Some(m)) => *messages = m,
            (Load::Timed { renew_after, .. }, Some(m)) => *renew_after = Some(m),
            (_, None) => {}
        }
        if o.rate.is_some() || o.duration_secs.is_some() {
            // Stress and spike are their phases; one rate or length for all of
            // them would quietly make a different test.
            if matches!(&plan.load, Load::Timed { phases, .. } if phases.len() > 1) {
                anyhow::bail!(
                    "--rate and --duration do not apply to {}: its phases are fixed \
                     (run without --scenario for a single phase of your own)",
                    plan.scenario
                        .map(|s| format!("{s:?}").to_lowercase())
                        .unwrap_or_default()
                );
            }
            // One phase; a preset's single phase keeps what was not overridden.
            let (secs, rate) = match &plan.load {
                Load::Timed { phases, .. } if phases.len() == 1 => (phases[0].secs, phases[0].rate),
                _ => (30.0, None),
            };
            let renew_after = match &plan.load {
                Load::Timed { renew_after, .. } => *renew_after,
                Load::Count { .. } => o.messages,
            };
            let name = plan
                .scenario
                .map(|s| format!("{s:?}").to_lowercase())
                .unwrap_or_else(|| "run".into());
            plan.load = Load::Timed {
                phases: vec![Phase::new(
                    name,
                    o.duration_secs.unwrap_or(secs),
                    o.rate.or(rate),
                )],
                renew_after,
            };
        }
        if plan.tenants == 0
            || plan.contacts == 0
            || plan.batch == 0
            || plan.flush_ms == 0
            || o.messages == Some(0)
        {
            anyhow::bail!(
                "--tenants, --contacts, --messages, --batch and --flush-ms must be at least 1"
            );
        }
        if let Load::Timed { phases, .. } = &plan.load {
            if phases
                .iter()
                .any(|p| p.secs <= 0.0 || p.rate.is_some_and(|r| r <= 0.0))
            {
                anyhow::bail!("--duration and --rate must be positive");
            }
        }
        Ok(plan)
    }

    pub fn citizens(&self) -> usize {
        self.tenants * self.contacts
    }

    /// Messages to send in all, when known in advance.
    pub fn total_messages(&self) -> Option<u64> {
        match self.load {
            Load::Count { messages } => Some((self.citizens() * messages) as u64),
            Load::Timed { .. } => None,
        }
    }

    /// In a timed load, how many messages a citizen sends before a new one
    /// takes its place.
    pub fn renew_after(&self) -> Option<usize> {
        match self.load {
            Load::Timed { renew_after, .. } => renew_after,
            Load::Count { .. } => None,
        }
    }

    /// Total planned sending time, for timed loads.
    pub fn planned_secs(&self) -> Option<f64> {
        match &self.load {
            Load::Count { .. } => None,
            Load::Timed { phases, .. } => Some(phases.iter().map(|p| p.secs).sum()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_take_overrides() {
        let steady = Plan::new(Some(Scenario::Steady), &Overrides::default()).unwrap();
        assert_eq!(steady.citizens(), 1000);
        let Load::Timed { phases, .. } = &steady.load else {
            panic!("steady is timed")
        };
        assert!((phases[0].rate.unwrap() - 416.67).abs() < 0.01);

        let shorter_overrides = || Overrides {
            duration_secs: Some(5.0),
            ..Default::default()
        };
        let shorter = Plan::new(Some(Scenario::Steady), &shorter_overrides()).unwrap();
        let Load::Timed { phases, .. } = &shorter.load else {
            panic!("still timed")
        };
        assert_eq!((phases[0].secs, phases[0].rate), (5.0, Some(SEED_RATE)));
        assert_eq!(shorter.renew_after(), None, "steady keeps its citizens");

        // A soak's citizens come and go; --messages says after how many.
        let soak = Plan::new(Some(Scenario::Soak), &Overrides::default()).unwrap();
        assert_eq!(soak.renew_after(), Some(DIALOGUE_MESSAGES));
        let longer_dialogues = Overrides {
            messages: Some(8),
            rate: Some(100.0),
            ..Default::default()
        };
        let soak = Plan::new(Some(Scenario::Soak), &longer_dialogues).unwrap();
        assert_eq!(soak.renew_after(), Some(8));
        assert_eq!(soak.planned_secs(), Some(600.0));
        // Without a preset, --messages with a rate renews too.
        let run = Plan::new(None, &longer_dialogues).unwrap();
        assert_eq!(run.renew_after(), Some(8));
        // A count load keeps --messages as the count.
        let count = Overrides {
            messages: Some(3),
            ..Default::default()
        };
        assert_eq!(Plan::new(None, &count).unwrap().total_messages(), Some(600));
        let none = Overrides {
            messages: Some(0),
            ..Default::default()
        };
        assert!(Plan::new(Some(Scenario::Soak), &none).is_err());

        // Stress and spike keep their phases: a rate or length for all of them
        // is refused, not applied to one merged phase.
        for scenario in [Scenario::Stress, Scenario::Spike] {
            let err = Plan::new(Some(scenario), &shorter_overrides()).unwrap_err();
            assert!(err.to_string().contains("phases are fixed"), "{err}");
        }

        let smoke = Plan::new(Some(Scenario::Smoke), &Overrides::default()).unwrap();
        assert_eq!(smoke.total_messages(), Some(160));
        assert!(Plan::new(
            None,
            &Overrides {
                batch: Some(0),
                ..Default::default()
            }
        )
        .is_err());
    }
}
