//! One live worker: its process, its pipes, and a line at a time each way.

use std::time::{Duration, Instant};

use ombud_core::ConversationId;
use serde_json::Value;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout};

/// The longest line a worker may write.
pub const LINE_MAX: u64 = 1024 * 1024;
/// How long a worker has to exit after its stdin closes.
const CLOSE_GRACE: Duration = Duration::from_secs(2);

pub struct Worker {
    child: Child,
    stdin: Option<ChildStdin>,
    stdout: BufReader<ChildStdout>,
    pub pid: u32,
    pub conversation: ConversationId,
    pub last_used: Instant,
}

impl Worker {
    pub fn spawn(
        mut cmd: tokio::process::Command,
        conversation: ConversationId,
    ) -> Result<Self, String> {
        let mut child = cmd
            .spawn()
            .map_err(|e| format!("could not start the worker: {e}"))?;
        let pid = child.id().unwrap_or(0);
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err("the worker's pipes could not be opened".into());
        };
        // Whatever it says on stderr goes to the log, a line at a time.
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let line: String = line.chars().take(2000).collect();
                tracing::debug!(pid, %line, "worker stderr");
            }
        });
        Ok(Self {
            child,
            stdin: Some(stdin),
            stdout: BufReader::new(stdout),
            pid,
            conversation,
            last_used: Instant::now(),
        })
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    pub async fn send(&mut self, message: &Value) -> Result<(), String> {
        let stdin = self.stdin.as_mut().ok_or("the worker's stdin is closed")?;
        let mut line = message.to_string();
        line.push('\n');
        stdin
            .write_all(line.as_bytes())
            .await
            .map_err(|e| format!("the worker stopped reading: {e}"))?;
        stdin
            .flush()
            .await
            .map_err(|e| format!("the worker stopped reading: {e}"))
    }

    /// The worker's next line, as JSON.
    pub async fn next(&mut self) -> Result<Value, String> {
        let mut line = Vec::new();
        let read = (&mut self.stdout)
            .take(LINE_MAX + 1)
            .read_until(b'\n', &mut line)
            .await
            .map_err(|e| format!("reading from the worker: {e}"))?;
        if read == 0 {
            let status = match self.child.try_wait() {
                Ok(Some(s)) => format!(" ({s})"),
                _ => String::new(),
            };
            return Err(format!("the worker exited before it was done{status}"));
        }
        if line.last() != Some(&b'\n') && read as u64 > LINE_MAX {
            return Err(format!(
                "the worker wrote a line longer than {LINE_MAX} bytes"
            ));
        }
        serde_json::from_slice(&line).map_err(|e| {
            let start: String = String::from_utf8_lossy(&line).chars().take(200).collect();
            format!("the worker wrote a line that is not JSON ({e}): {start}")
        })
    }

    /// Closes stdin and waits a little for the worker to exit; kills it if not.
    pub async fn close(mut self) {
        self.stdin.take();
        if tokio::time::timeout(CLOSE_GRACE, self.child.wait())
            .await
            .is_err()
        {
            self.kill().await;
        }
    }

    /// Kills the worker and reaps it.
    pub async fn kill(mut self) {
        let _ = self.child.kill().await;
    }
}
