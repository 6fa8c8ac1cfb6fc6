//! A process agent version's configuration: what to start and how to fence it.

use serde::{Deserialize, Serialize};

use crate::config::{text, within, ConfigError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SandboxMode {
    /// bubblewrap: read-only system, private /tmp, own work dir, no network
    /// unless allowed, nothing of Ombud's data dir or environment.
    Bubblewrap,
    /// No sandbox. Ombud warns loudly at start when a version asks for this.
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sandbox {
    #[serde(default = "default_mode")]
    pub mode: SandboxMode,
    /// Let the worker reach the network (off: it has no interface but loopback
    /// of its own).
    #[serde(default)]
    pub network: bool,
    /// Absolute paths the worker may read (its program's own files); never
    /// Ombud's data dir.
    #[serde(default)]
    pub read_only: Vec<String>,
}

fn default_mode() -> SandboxMode {
    SandboxMode::Bubblewrap
}

impl Default for Sandbox {
    fn default() -> Self {
        Self {
            mode: default_mode(),
            network: false,
            read_only: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcessConfig {
    /// An absolute path to the program; it is run directly, never by a shell.
    pub command: String,
    #[serde(default)]
    pub args: Vec<String>,
    /// Names of Ombud's environment variables passed on; nothing else is.
    #[serde(default)]
    pub env: Vec<String>,
    /// The worker's working directory, relative to its agent's work dir under
    /// Ombud's data dir; the agent's work dir itself when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_dir: Option<String>,
    #[serde(default)]
    pub sandbox: Sandbox,
    /// A warm worker with no message for this long is closed.
    #[serde(default = "default_idle")]
    pub idle_timeout_secs: u32,
    /// A run that takes longer is failed and its worker killed.
    #[serde(default = "default_hard")]
    pub hard_timeout_secs: u32,
    /// Live workers of this version at most; the least recently used warm one
    /// is closed to make room.
    #[serde(default = "default_max_workers")]
    pub max_workers: u32,
}

fn default_idle() -> u32 {
    300
}
fn default_hard() -> u32 {
    60
}
fn default_max_workers() -> u32 {
    8
}

impl ProcessConfig {
    pub fn validate(&self) -> Result<(), ConfigError> {
        text("command", &self.command, 500)?;
        if !self.command.starts_with('/') {
            return Err(ConfigError::new(
                "command",
                "must be an absolute path such as /usr/bin/python3",
            ));
        }
        for (i, a) in self.args.iter().enumerate() {
            if a.contains('\0') || a.chars().count() > 2000 {
                return Err(ConfigError::new(
                    format!("args[{i}]"),
                    "must be at most 2000 characters, without NUL",
                ));
            }
        }
        within("args", self.args.len() as u64, 0..=64)?;
        for (i, name) in self.env.iter().enumerate() {
            let ok = !name.is_empty()
                && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
                && !name.as_bytes()[0].is_ascii_digit();
            if !ok {
                return Err(ConfigError::new(
                    format!("env[{i}]"),
                    format!("{name:?} is not a variable name"),
                ));
            }
            if name.starts_with("OMBUD_") {
                return Err(ConfigError::new(
                    format!("env[{i}]"),
                    "Ombud's own settings are never passed to a worker",
                ));
            }
        }
        if let Some(dir) = &self.working_dir {
            text("working_dir", dir, 200)?;
            let escapes = std::path::Path::new(dir)
                .components()
                .any(|c| !matches!(c, std::path::Component::Normal(_)));
            if escapes {
                return Err(ConfigError::new(
                    "working_dir",
                    "must be a relative path inside the agent's work dir, without ..",
                ));
            }
        }
        within(
            "sandbox.read_only",
            self.sandbox.read_only.len() as u64,
            0..=16,
        )?;
        for (i, path) in self.sandbox.read_only.iter().enumerate() {
            let field = format!("sandbox.read_only[{i}]");
            text(&field, path, 500)?;
            let p = std::path::Path::new(path);
            let plain = p.is_absolute()
                && p.components()
                    .all(|c| !matches!(c, std::path::Component::ParentDir));
            if !plain || p == std::path::Path::new("/") {
                return Err(ConfigError::new(
                    field,
                    "must be an absolute path other than /, without ..",
                ));
            }
        }
        within(
            "idle_timeout_secs",
            self.idle_timeout_secs.into(),
            1..=86_400,
        )?;
        within(
            "hard_timeout_secs",
            self.hard_timeout_secs.into(),
            1..=3_600,
        )?;
        within("max_workers", self.max_workers.into(), 1..=256)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use crate::config::{validate, AgentKind};

    #[test]
    fn a_process_config_is_fenced_and_names_what_is_wrong() {
        let ok = validate(
            AgentKind::Process,
            &json!({"command": "/usr/bin/python3", "args": ["w.py"]}),
        )
        .unwrap();
        assert_eq!(
            ok["sandbox"],
            json!({"mode": "bubblewrap", "network": false, "read_only": []})
        );
        assert_eq!(
            (ok["idle_timeout_secs"].as_u64(), ok["max_workers"].as_u64()),
            (Some(300), Some(8))
        );
        let cases = [
            (json!({"command": "python3"}), "command"),
            (
                json!({"command": "/bin/x", "env": ["OMBUD_DATABASE_URL"]}),
                "env[0]",
            ),
            (
                json!({"command": "/bin/x", "env": ["PATH", "A B"]}),
                "env[1]",
            ),
            (
                json!({"command": "/bin/x", "working_dir": "../../etc"}),
                "working_dir",
            ),
            (
                json!({"command": "/bin/x", "working_dir": "/etc"}),
                "working_dir",
            ),
            (
                json!({"command": "/bin/x", "sandbox": {"mode": "docker"}}),
                "sandbox.mode",
            ),
            (
                json!({"command": "/bin/x", "max_workers": 0}),
                "max_workers",
            ),
            (
                json!({"command": "/bin/x", "hard_timeout_secs": 7200}),
                "hard_timeout_secs",
            ),
            (json!({"command": "/bin/x", "shell": true}), "shell"),
            (
                json!({"command": "/bin/x", "sandbox": {"read_only": ["/"]}}),
                "sandbox.read_only[0]",
            ),
            (
                json!({"command": "/bin/x", "sandbox": {"read_only": ["/opt/../var"]}}),
                "sandbox.read_only[0]",
            ),
            (
                json!({"command": "/bin/x", "sandbox": {"read_only": ["opt"]}}),
                "sandbox.read_only[0]",
            ),
        ];
        for (config, field) in cases {
            let e = validate(AgentKind::Process, &config).unwrap_err();
            assert_eq!(e.field, field, "{config}: {e}");
        }
    }
}
