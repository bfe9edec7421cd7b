//! The transcript writer: every line of a chat reaches the encrypted
//! transcript without a patient's answer waiting for the database.
//!
//! Lines go, in order, to one writer task per server, which appends them
//! (sealed, see [`crate::store::Store::append_message`]) and retries a
//! failed append with backoff for [`GIVE_UP_AFTER`] before it logs the line
//! as lost (with no content). So a database that is locked or briefly full
//! delays the transcript, never the reply; the lines wait in memory, bounded
//! by each session's message allowance.
//!
//! [`TranscriptWriter::flush`] waits until everything queued before it is
//! written (or given up), for tests and for an orderly shutdown.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::phi::Phi;
use crate::store::Store;

/// How long one line is retried before it is given up.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(300);
/// The longest wait between two tries.
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// One line of a chat.
pub struct Line {
    /// The session's audit name (a digest, never the sid).
    pub session: String,
    /// `patient` or `assistant`.
    pub role: &'static str,
    /// What was said.
    pub text: Phi<String>,
    /// When.
    pub at: DateTime<Utc>,
}

enum Job {
    Write(Line),
    Flush(oneshot::Sender<()>),
}

/// The handle the conversation writes through.
#[derive(Clone)]
pub struct TranscriptWriter {
    jobs: mpsc::UnboundedSender<Job>,
}

impl TranscriptWriter {
    /// Starts the writer task for `store` (on the current tokio runtime).
    #[must_use]
    pub fn spawn(store: Store) -> Self {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        tokio::spawn(async move {
            while let Some(job) = queue.recv().await {
                match job {
                    Job::Write(line) => write(&store, &line).await,
                    Job::Flush(done) => {
                        let _ = done.send(());
                    }
                }
            }
        });
        Self { jobs }
    }

    /// Queues a line; returns at once.
    pub fn write(&self, line: Line) {
        if self.jobs.send(Job::Write(line)).is_err() {
            tracing::error!("transcript writer stopped; a transcript line was not stored");
        }
    }

    /// Waits until every line queued before this call is written or given
    /// up.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.jobs.send(Job::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

async fn write(store: &Store, line: &Line) {
    let started = tokio::time::Instant::now();
    let mut backoff = Duration::from_millis(50);
    let mut warned = false;
    loop {
        match store
            .append_message(&line.session, line.role, &line.text, line.at)
            .await
        {
            Ok(()) => {
                if warned {
                    tracing::info!("transcript writes are going through again");
                }
                return;
            }
            Err(e) if started.elapsed() < GIVE_UP_AFTER => {
                if !warned {
                    tracing::warn!(error = %e, "transcript line not stored yet; retrying");
                    warned = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(e) => {
                tracing::error!(error = %e, "transcript line given up after retrying");
                return;
            }
        }
    }
}
