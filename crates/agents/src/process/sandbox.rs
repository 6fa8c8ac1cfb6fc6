//! How a worker is started: a clean environment, its own work dir, and under
//! bubblewrap unless the version asks for no sandbox.

use std::path::{Path, PathBuf};
use std::process::Stdio;

use super::config::{ProcessConfig, SandboxMode};

/// Where workers live and what fences them, set by the operator.
#[derive(Debug, Clone)]
pub struct ProcessSettings {
    /// Each agent's work dir is `<work_root>/<agent id>`.
    pub work_root: PathBuf,
    /// Ombud's data dir: never visible to a worker.
    pub data_dir: PathBuf,
    /// The `bwrap` program, if installed.
    pub bwrap: Option<PathBuf>,
    /// The programs versions may name as their `command`.
    pub commands: CommandAllowList,
}

/// The programs process agents may run, set by the operator: tenants choose
/// the version, not what runs on the server.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum CommandAllowList {
    /// None: process agents are off.
    #[default]
    Nothing,
    Any,
    Only(Vec<PathBuf>),
}

impl CommandAllowList {
    /// `*`, or absolute paths separated by commas; empty allows nothing.
    pub fn parse(text: &str) -> Result<Self, String> {
        let text = text.trim();
        if text.is_empty() {
            return Ok(Self::Nothing);
        }
        if text == "*" {
            return Ok(Self::Any);
        }
        let paths: Vec<PathBuf> = text.split(',').map(|p| PathBuf::from(p.trim())).collect();
        match paths.iter().find(|p| !p.is_absolute()) {
            Some(p) => Err(format!("{} is not an absolute path", p.display())),
            None => Ok(Self::Only(paths)),
        }
    }

    /// Why `command` may not run, if it may not.
    pub fn refuses(&self, command: &str) -> Option<String> {
        let allowed = match self {
            Self::Any => true,
            Self::Nothing => false,
            Self::Only(paths) => paths.iter().any(|p| p == Path::new(command)),
        };
        (!allowed).then(|| {
            format!("this server does not let agents run {command}; its operator lists the programs they may run in agents.process_commands")
        })
    }
}

impl ProcessSettings {
    /// Settings for a data dir, finding `bwrap` on the PATH.
    pub fn for_data_dir(data_dir: &Path) -> Self {
        Self {
            work_root: data_dir.join("work"),
            data_dir: data_dir.to_owned(),
            bwrap: find_on_path("bwrap"),
            commands: CommandAllowList::Nothing,
        }
    }
}

pub fn find_on_path(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|p| p.is_file())
}

/// The worker's environment: nothing of Ombud's but the names the version lists.
fn environment(config: &ProcessConfig, home: &Path) -> Vec<(String, String)> {
    let mut env = vec![
        ("PATH".to_owned(), "/usr/local/bin:/usr/bin:/bin".to_owned()),
        ("HOME".to_owned(), home.display().to_string()),
        ("LANG".to_owned(), "C.UTF-8".to_owned()),
    ];
    for name in &config.env {
        if name.starts_with("OMBUD_") {
            continue;
        }
        if let Ok(value) = std::env::var(name) {
            env.retain(|(k, _)| k != name);
            env.push((name.clone(), value));
        }
    }
    env
}

/// Whether one path holds the other (or they are the same).
fn overlaps(a: &Path, b: &Path) -> bool {
    a.starts_with(b) || b.starts_with(a)
}

/// What programs need of `/etc` to start; with network, name resolution too.
const ETC: &[&str] = &[
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/alternatives",
    "/etc/ssl",
    "/etc/ca-certificates",
    "/etc/localtime",
    "/etc/passwd",
    "/etc/group",
];
const ETC_NET: &[&str] = &["/etc/resolv.conf", "/etc/hosts", "/etc/nsswitch.conf"];
const SYSTEM: &[&str] = &["/bin", "/sbin", "/lib", "/lib64", "/lib32"];

/// The command that starts a worker of `config` with `agent_dir` as its own.
pub fn command(
    config: &ProcessConfig,
    settings: &ProcessSettings,
    agent_dir: &Path,
) -> Result<tokio::process::Command, String> {
    if let Some(why) = settings.commands.refuses(&config.command) {
        return Err(why);
    }
    let cwd = match &config.working_dir {
        Some(dir) => agent_dir.join(dir),
        None => agent_dir.to_owned(),
    };
    std::fs::create_dir_all(&cwd)
        .map_err(|e| format!("cannot make the work dir {}: {e}", cwd.display()))?;
    let env = environment(config, agent_dir);
    let mut cmd = match config.sandbox.mode {
        SandboxMode::None => {
            tracing::warn!(command = %config.command, "starting a worker WITHOUT a sandbox (sandbox.mode = none): it runs as Ombud's user and can reach what Ombud can");
            let mut cmd = tokio::process::Command::new(&config.command);
            cmd.args(&config.args)
                .env_clear()
                .envs(env)
                .current_dir(&cwd);
            cmd
        }
        SandboxMode::Bubblewrap => {
            let bwrap = settings.bwrap.as_ref().ok_or(
                "the version asks for the bubblewrap sandbox but bwrap is not installed (Debian: apt-get install bubblewrap)",
            )?;
            let data = settings
                .data_dir
                .canonicalize()
                .unwrap_or_else(|_| settings.data_dir.clone());
            let mut args: Vec<String> = vec![
                "--die-with-parent".into(),
                "--new-session".into(),
                "--unshare-all".into(),
                "--uid".into(),
                "65534".into(),
                "--gid".into(),
                "65534".into(),
                "--clearenv".into(),
            ];
            if config.sandbox.network {
                args.push("--share-net".into());
            }
            for (k, v) in &env {
                args.extend(["--setenv".into(), k.clone(), v.clone()]);
            }
            args.extend(["--ro-bind".into(), "/usr".into(), "/usr".into()]);
            for dir in SYSTEM {
                match std::fs::read_link(dir) {
                    Ok(target) => args.extend([
                        "--symlink".into(),
                        target.display().to_string(),
                        (*dir).into(),
                    ]),
                    Err(_) => args.extend(["--ro-bind-try".into(), (*dir).into(), (*dir).into()]),
                }
            }
            let etc = ETC
                .iter()
                .chain(if config.sandbox.network { ETC_NET } else { &[] });
            for path in etc {
                args.extend(["--ro-bind-try".into(), (*path).into(), (*path).into()]);
            }
            args.extend([
                "--proc".into(),
                "/proc".into(),
                "--dev".into(),
                "/dev".into(),
                "--tmpfs".into(),
                "/tmp".into(),
            ]);
            // After /tmp, so a path under it is not hidden by the private one.
            for path in &config.sandbox.read_only {
                let p = Path::new(path);
                let real = p.canonicalize().unwrap_or_else(|_| p.to_owned());
                if overlaps(&real, &data) {
                    return Err(format!("sandbox.read_only: {path} overlaps Ombud's data dir, which a worker may never see"));
                }
                args.extend(["--ro-bind".into(), path.clone(), path.clone()]);
            }
            args.extend([
                "--bind".into(),
                agent_dir.display().to_string(),
                agent_dir.display().to_string(),
                "--chdir".into(),
                cwd.display().to_string(),
                "--".into(),
                config.command.clone(),
            ]);
            args.extend(config.args.iter().cloned());
            let mut cmd = tokio::process::Command::new(bwrap);
            cmd.args(args).env_clear().current_dir(&cwd);
            cmd
        }
    };
    cmd.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true);
    Ok(cmd)
}
