//! The transcript writer: every line of a chat reaches the encrypted
//! transcript, in order, in few transactions, and an answer goes out only
//! once its line is stored.
//!
//! Lines go to one writer task per server. It takes every line waiting
//! (up to [`MAX_BATCH`]) and appends them in one transaction
//! ([`crate::store::Store::append_messages`]): group commit, so a thousand
//! patients talking at once cost a few commits, not a thousand queued on
//! SQLite's one write lock. Each [`TranscriptWriter::write`] returns a
//! [`Stored`] that resolves when its line's transaction has committed;
//! the conversation waits for the assistant's line before the reply is
//! sent, and since batches commit in order that covers the patient's line
//! before it.
//!
//! A failed batch is retried with backoff for [`GIVE_UP_AFTER`] before its
//! lines are logged as lost (with no content). A reply waits at most
//! [`DURABLE_WAIT`] for its line: a database that is locked or full delays
//! answers by that much, never stops them (emergency guidance above all),
//! and the lines wait in memory, bounded by each session's allowance.
//!
//! [`TranscriptWriter::flush`] waits until everything queued before it is
//! written (or given up), for tests and for an orderly shutdown.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};

use crate::phi::Phi;
use crate::store::{NewMessage, Store};

/// How long one line is retried before it is given up.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(300);
/// The longest a reply waits for its line to be stored: below the 2 s
/// after which the transport tells the patient an answer is slow (its
/// `SLOW_ANSWER`), so that a locked database is not announced as a slow
/// records system.
pub const DURABLE_WAIT: Duration = Duration::from_secs(1);
/// The most lines one transaction appends.
pub const MAX_BATCH: usize = 256;
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
    Write(Line, oneshot::Sender<()>),
    Flush(oneshot::Sender<()>),
}

/// Resolves when a line is stored; see [`Stored::wait`].
#[must_use = "a line is stored either way; wait only when the reply depends on it"]
pub struct Stored(oneshot::Receiver<()>);

impl Stored {
    /// Waits up to `within` for the line's transaction to commit; false
    /// when it has not (yet), or was given up.
    pub async fn wait(self, within: Duration) -> bool {
        matches!(tokio::time::timeout(within, self.0).await, Ok(Ok(())))
    }
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
            let mut next = None;
            loop {
                let Some(job) = next.take().or(queue.recv().await) else {
                    return;
                };
                match job {
                    Job::Flush(done) => {
                        let _ = done.send(());
                    }
                    Job::Write(line, stored) => {
                        // Everything already waiting joins this batch, up
                        // to a flush (answered once the batch is in).
                        let mut batch = vec![(line, stored)];
                        while batch.len() < MAX_BATCH {
                            match queue.try_recv() {
                                Ok(Job::Write(line, stored)) => batch.push((line, stored)),
                                Ok(flush) => {
                                    next = Some(flush);
                                    break;
                                }
                                Err(_) => break,
                            }
                        }
                        if write(&store, &batch).await {
                            for (_, stored) in batch {
                                let _ = stored.send(());
                            }
                        }
                    }
                }
            }
        });
        Self { jobs }
    }

    /// Queues a line; returns at once with what tells when it is stored.
    pub fn write(&self, line: Line) -> Stored {
        let (stored, wait) = oneshot::channel();
        if self.jobs.send(Job::Write(line, stored)).is_err() {
            tracing::error!("transcript writer stopped; a transcript line was not stored");
        }
        Stored(wait)
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

/// Appends `batch` in one transaction, retrying; false when given up.
async fn write(store: &Store, batch: &[(Line, oneshot::Sender<()>)]) -> bool {
    let messages: Vec<NewMessage<'_>> = batch
        .iter()
        .map(|(line, _)| NewMessage {
            session: &line.session,
            role: line.role,
            text: &line.text,
            at: line.at,
        })
        .collect();
    let started = tokio::time::Instant::now();
    let mut backoff = Duration::from_millis(50);
    let mut warned = false;
    loop {
        match store.append_messages(&messages).await {
            Ok(()) => {
                if warned {
                    tracing::info!("transcript writes are going through again");
                }
                return true;
            }
            Err(e) if started.elapsed() < GIVE_UP_AFTER => {
                if !warned {
                    tracing::warn!(error = %e, lines = batch.len(), "transcript lines not stored yet; retrying");
                    warned = true;
                }
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
            Err(e) => {
                tracing::error!(error = %e, lines = batch.len(), "transcript lines given up after retrying");
                return false;
            }
        }
    }
}
