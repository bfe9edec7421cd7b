//! The chat journal: one writer task per server that stores what a turn
//! changes, the transcript lines and the session's row, in one
//! transaction, so that a reply goes out only once all of it is stored.
//!
//! # Group commit
//! The writer takes every job waiting (up to [`MAX_BATCH`]) and commits
//! them together: a thousand patients talking at once cost a few commits,
//! not a thousand queued on SQLite's one write lock. Within a batch the
//! transcript lines go in before the session rows, and batches commit in
//! the order they were queued, so a session row that is stored covers
//! every line queued before it. A turn therefore queues its lines without
//! waiting, and the transport waits for the session's row
//! ([`crate::sessions::Sessions::save`]) before it sends the reply: one
//! commit a turn, not one for the lines and another for the row.
//!
//! # When the database fails
//! A failed batch is tried again with backoff. Session rows are given up
//! (answered [`Saved::Failed`]) after [`ROW_RETRY_FOR`]: a newer snapshot
//! of the same session follows at its next turn, and the session carries
//! on in memory meanwhile. Lines are kept for [`GIVE_UP_AFTER`] before
//! they are logged as lost (with no content): a reply waits at most
//! [`DURABLE_WAIT`], so a database that is locked or full delays answers
//! by that much, never stops them (emergency guidance above all), and the
//! lines wait in memory, bounded by each session's allowance.
//!
//! [`Journal::flush`] waits until everything queued before it is written
//! (or given up), for the console (staff read what was said) and tests.
//!
//! # What it does not own
//! The row's rules (versions, leases, what a snapshot holds) are
//! [`crate::sessions`]'s; the transcript's layout is [`crate::store`]'s.

use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{mpsc, oneshot};
use tokio::time::Instant;

use crate::phi::Phi;
use crate::sessions::stored::{self, RowWrite, Saved};
use crate::store::{NewMessage, Store, StoreError, WrittenLine};

/// How long a line is retried before it is given up.
pub const GIVE_UP_AFTER: Duration = Duration::from_secs(300);
/// How long a session row is retried before it is answered failed.
pub const ROW_RETRY_FOR: Duration = Duration::from_secs(1);
/// The longest a reply waits for what its turn stored: below the 2 s
/// after which the transport tells the patient an answer is slow (its
/// `SLOW_ANSWER`), so that a locked database is not announced as a slow
/// records system.
pub const DURABLE_WAIT: Duration = Duration::from_secs(1);
/// The most jobs one transaction stores.
pub const MAX_BATCH: usize = 256;
/// The first and the longest wait between two tries.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
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
    Line(Line, oneshot::Sender<()>),
    Row(RowWrite, oneshot::Sender<Saved>),
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

/// The handle the conversation and the session registry write through.
#[derive(Clone)]
pub struct Journal {
    jobs: mpsc::UnboundedSender<Job>,
}

impl Journal {
    /// Starts the writer task for `store` (on the current tokio runtime).
    #[must_use]
    pub fn spawn(store: Store) -> Self {
        let (jobs, mut queue) = mpsc::unbounded_channel::<Job>();
        tokio::spawn(async move {
            let mut next = None;
            loop {
                // A flush met while batching goes first; only then wait.
                // (Not `next.take().or(queue.recv().await)`: that awaits a
                // new job even when one is held, and then drops it.)
                let job = match next.take() {
                    Some(job) => job,
                    None => match queue.recv().await {
                        Some(job) => job,
                        None => return,
                    },
                };
                let mut batch = Batch::default();
                match job {
                    Job::Flush(done) => {
                        let _ = done.send(());
                        continue;
                    }
                    job => batch.add(job),
                }
                // Everything already waiting joins this batch, up to a
                // flush (answered once the batch is in).
                while batch.len() < MAX_BATCH {
                    match queue.try_recv() {
                        Ok(Job::Flush(done)) => {
                            next = Some(Job::Flush(done));
                            break;
                        }
                        Ok(job) => batch.add(job),
                        Err(_) => break,
                    }
                }
                batch.commit(&store).await;
            }
        });
        Self { jobs }
    }

    /// Queues a line; returns at once with what tells when it is stored.
    pub fn line(&self, line: Line) -> Stored {
        let (stored, wait) = oneshot::channel();
        if self.jobs.send(Job::Line(line, stored)).is_err() {
            tracing::error!("the journal's writer stopped; a transcript line was not stored");
        }
        Stored(wait)
    }

    /// Queues a session row (sealed by [`crate::sessions`]); the receiver
    /// tells how it went.
    pub(crate) fn row(&self, write: RowWrite) -> oneshot::Receiver<Saved> {
        let (done, wait) = oneshot::channel();
        if let Err(mpsc::error::SendError(Job::Row(write, done))) =
            self.jobs.send(Job::Row(write, done))
        {
            stored::settle(&write, Saved::Failed);
            let _ = done.send(Saved::Failed);
        }
        wait
    }

    /// Waits until every job queued before this call is written or given
    /// up.
    pub async fn flush(&self) {
        let (done, wait) = oneshot::channel();
        if self.jobs.send(Job::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

/// The jobs of one transaction.
#[derive(Default)]
struct Batch {
    lines: Vec<(Line, oneshot::Sender<()>)>,
    rows: Vec<(RowWrite, oneshot::Sender<Saved>)>,
}

impl Batch {
    fn add(&mut self, job: Job) {
        match job {
            Job::Line(line, done) => self.lines.push((line, done)),
            Job::Row(row, done) => self.rows.push((row, done)),
            Job::Flush(_) => unreachable!("a flush is answered, never batched"),
        }
    }

    fn len(&self) -> usize {
        self.lines.len() + self.rows.len()
    }

    /// Commits the batch, retrying with backoff; answers every job.
    ///
    /// A `COMMIT` whose answer is lost (the connection died under it)
    /// may or may not have taken effect. Tried again blindly, the lines
    /// would be stored twice and the rows refused as moved on (their
    /// version went up), ending chats that lost nothing. So before the
    /// next try the writer looks for what that try wrote ([`Sent`]): found,
    /// the batch is done; not found, it is tried again. Until that is
    /// known no row is given up, since its lease must learn the version
    /// it is at.
    async fn commit(mut self, store: &Store) {
        let started = Instant::now();
        let mut backoff = FIRST_BACKOFF;
        let mut warned = false;
        let mut sent: Option<Sent> = None;
        loop {
            let outcome = match sent.take() {
                Some(unsure) => match unsure.took_effect(store, &self).await {
                    Ok(true) => Ok(unsure.saved),
                    Ok(false) => self.try_commit(store, &mut sent).await,
                    Err(e) => {
                        sent = Some(unsure);
                        Err(e)
                    }
                },
                None => self.try_commit(store, &mut sent).await,
            };
            match outcome {
                Ok(saved) => {
                    if warned {
                        tracing::info!("transcript and session writes are going through again");
                    }
                    for ((row, done), saved) in self.rows.into_iter().zip(saved) {
                        stored::settle(&row, saved);
                        let _ = done.send(saved);
                    }
                    for (_, done) in self.lines {
                        let _ = done.send(());
                    }
                    return;
                }
                Err(e) => {
                    let waited = started.elapsed();
                    if waited >= ROW_RETRY_FOR && !self.rows.is_empty() && sent.is_none() {
                        tracing::warn!(error = %e, sessions = self.rows.len(), "session rows not written; those sessions carry on in memory");
                        for (row, done) in self.rows.drain(..) {
                            stored::settle(&row, Saved::Failed);
                            let _ = done.send(Saved::Failed);
                        }
                    }
                    if waited >= GIVE_UP_AFTER {
                        tracing::error!(error = %e, lines = self.lines.len(), "transcript lines given up after retrying");
                        for (row, done) in self.rows.drain(..) {
                            stored::settle(&row, Saved::Failed);
                            let _ = done.send(Saved::Failed);
                        }
                        return;
                    }
                    if self.len() == 0 {
                        return;
                    }
                    if !warned && !self.lines.is_empty() {
                        tracing::warn!(error = %e, lines = self.lines.len(), "transcript lines not stored yet; retrying");
                        warned = true;
                    } else {
                        tracing::debug!(error = %e, "journal batch not written yet; retrying");
                    }
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                }
            }
        }
    }

    /// One try: the lines, then the rows, in one transaction; one result
    /// per row. Just before `COMMIT`, `sent` is told what the try wrote;
    /// it is cleared once `COMMIT` is answered, either way.
    async fn try_commit(
        &self,
        store: &Store,
        sent: &mut Option<Sent>,
    ) -> Result<Vec<Saved>, StoreError> {
        let messages: Vec<NewMessage<'_>> = self
            .lines
            .iter()
            .map(|(line, _)| NewMessage {
                session: &line.session,
                role: line.role,
                text: &line.text,
                at: line.at,
            })
            .collect();
        let rows: Vec<&RowWrite> = self.rows.iter().map(|(row, _)| row).collect();
        let mut tx = store.begin_write().await?;
        let first_line = store.append_in(&mut tx, &messages).await?;
        let saved = stored::write_rows(&mut tx, &rows).await?;
        let mark = match first_line {
            Some(line) => Some(Mark::Line(line)),
            // The last row written is the newest write of its copy (an
            // older one shares its result but was not itself written).
            None => saved
                .iter()
                .rposition(|s| matches!(s, Saved::Written(_)))
                .map(Mark::Row),
        };
        *sent = mark.map(|mark| Sent {
            mark,
            saved: saved.clone(),
        });
        // A failed COMMIT may still have taken effect (its answer lost):
        // `sent` stays, and the next try looks first.
        tx.commit().await?;
        *sent = None;
        Ok(saved)
    }
}

/// What a try wrote, kept from just before its `COMMIT` (see
/// [`Batch::commit`]).
struct Sent {
    /// One thing the transaction wrote that is unique to it.
    mark: Mark,
    /// The rows' results, had it committed.
    saved: Vec<Saved>,
}

enum Mark {
    /// The first transcript line.
    Line(WrittenLine),
    /// The batch's row at this index, written.
    Row(usize),
}

impl Sent {
    /// Whether the transaction took effect (all of it or none did).
    async fn took_effect(&self, store: &Store, batch: &Batch) -> Result<bool, StoreError> {
        match &self.mark {
            Mark::Line(line) => store.holds_line(line).await,
            Mark::Row(index) => match batch.rows.get(*index) {
                Some((row, _)) => stored::row_holds(store, row).await,
                None => Ok(false),
            },
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    /// A journal on a SQLite store in a temporary directory.
    pub(crate) async fn journal() -> (tempfile::TempDir, Store, Journal) {
        let dir = tempfile::tempdir().unwrap();
        let config = crate::store::RawStorage {
            url: None,
            master_key_file: None,
        }
        .validate(dir.path(), |_| None)
        .unwrap();
        let store = Store::open(&config).await.unwrap();
        let journal = Journal::spawn(store.clone());
        (dir, store, journal)
    }

    fn line(text: &str) -> Line {
        Line {
            session: "s".into(),
            role: "patient",
            text: Phi::new(text.to_owned()),
            at: Utc::now(),
        }
    }

    #[tokio::test]
    async fn a_line_queued_behind_a_flush_is_stored_not_dropped() {
        let (_dir, store, journal) = journal().await;
        let first = journal.line(line("first"));
        // The writer sees the first line, then the flush, then the second
        // line, all queued before it runs.
        let (_, second) = tokio::join!(journal.flush(), async {
            journal.line(line("second")).wait(DURABLE_WAIT).await
        });
        assert!(first.wait(DURABLE_WAIT).await);
        assert!(second, "the line after the flush was not stored");
        let kept = store.transcript("s").await.unwrap();
        let texts: Vec<&str> = kept.iter().map(|m| m.text.expose().as_str()).collect();
        assert_eq!(texts, ["first", "second"]);
    }

    #[test]
    fn a_values_list_numbers_every_placeholder_once() {
        assert_eq!(crate::store::values_list(2, 2, None), "($1, $2), ($3, $4)");
        assert_eq!(
            crate::store::values_list(2, 3, Some("1")),
            "($1, 1, $2, $3), ($4, 1, $5, $6)"
        );
    }

    #[tokio::test]
    async fn lines_of_many_sessions_in_one_batch_keep_their_order() {
        let (_dir, store, journal) = journal().await;
        let mut waits = Vec::new();
        for n in 0..MAX_BATCH + 40 {
            let mut l = line(&format!("line {n}"));
            l.session = format!("s{}", n % 7);
            waits.push(journal.line(l));
        }
        for wait in waits {
            assert!(wait.wait(DURABLE_WAIT * 5).await);
        }
        for s in 0..7 {
            let kept = store.transcript(&format!("s{s}")).await.unwrap();
            let expected: Vec<String> = (0..MAX_BATCH + 40)
                .filter(|n| n % 7 == s)
                .map(|n| format!("line {n}"))
                .collect();
            let texts: Vec<String> = kept.iter().map(|m| m.text.expose().clone()).collect();
            assert_eq!(texts, expected);
        }
    }
}
