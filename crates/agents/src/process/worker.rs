//! One live worker: its process, its pipes, and a line at a time each way.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
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
    /// The last lines the worker wrote on stderr, for the error when it dies.
    stderr_tail: Arc<Mutex<VecDeque<String>>>,
    /// Reads stderr until the worker closes it.
    stderr_reader: Option<tokio::task::JoinHandle<()>>,
}

/// How many of a worker's last stderr lines an error quotes.
const STDERR_TAIL: usize = 5;

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
        // Whatever it says on stderr goes to the log, a line at a time, and
        // its last lines are kept for the error if it dies.
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let tail = stderr_tail.clone();
        let stderr_reader = tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                let line: String = line.chars().take(500).collect();
                tracing::debug!(pid, %line, "worker stderr");
                let mut tail = tail.lock().unwrap_or_else(|e| e.into_inner());
                if tail.len() == STDERR_TAIL {
                    tail.pop_front();
                }
                tail.push_back(line);
            }
        });
        Ok(Self {
            child,
            stdin: Some(stdin),
            stdout: BufReader::new(stdout),
            pid,
            conversation,
            last_used: Instant::now(),
            stderr_tail,
            stderr_reader: Some(stderr_reader),
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
            // Its exit status and last words, when they come at once.
            let status = tokio::time::timeout(Duration::from_millis(200), self.child.wait())
                .await
                .ok()
                .and_then(Result::ok)
                .map_or(String::new(), |s| format!(" ({s})"));
            if let Some(reader) = self.stderr_reader.take() {
                let _ = tokio::time::timeout(Duration::from_millis(200), reader).await;
            }
            let tail: Vec<String> = self
                .stderr_tail
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .cloned()
                .collect();
            let said = if tail.is_empty() {
                String::new()
            } else {
                format!("; its stderr ended: {}", tail.join(" | "))
            };
            return Err(format!(
                "the worker exited before it was done{status}{said}"
            ));
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
