//! Resumption bookkeeping shared by both ends.
//!
//! After a dropped connection each side learns, from the peer's `sync`, the
//! highest `seq` the peer accepted, and must send again, under new `seq`
//! values, every message of its own the peer has not received. An [`Outbox`]
//! holds messages that were sent (or queued while offline) and are not yet
//! known to have arrived.
//!
//! A `sync` may also come inside a connection (the 2026-12 clarification):
//! it acknowledges what arrived ([`Outbox::acknowledge`]) and asks for
//! nothing. A peer that never sends one keeps everything it was sent here
//! until the next reconnect, so the outbox is bounded and drops its oldest
//! entries first (the ones most likely to have arrived).

use std::collections::VecDeque;

/// Messages not yet known to have reached the peer.
#[derive(Debug)]
pub struct Outbox<T> {
    entries: VecDeque<(T, Option<u64>)>,
    limit: usize,
}

impl<T> Outbox<T> {
    /// An empty outbox holding at most `limit` messages.
    #[must_use]
    pub fn new(limit: usize) -> Self {
        Self {
            entries: VecDeque::new(),
            limit: limit.max(1),
        }
    }

    /// Records a message that was sent as `seq`, or queued unsent (`None`).
    pub fn push(&mut self, message: T, seq: Option<u64>) {
        if self.entries.len() == self.limit {
            self.entries.pop_front();
        }
        self.entries.push_back((message, seq));
    }

    /// Handles the peer's `sync`: forgets what the peer has received
    /// (`seq <= last_seq_received`) and hands back, in order, every message
    /// it still needs. The caller sends each again and [`Self::push`]es it
    /// with its new `seq`.
    pub fn take_unreceived(&mut self, last_seq_received: Option<u64>) -> Vec<T> {
        let received =
            |seq: Option<u64>| matches!((seq, last_seq_received), (Some(s), Some(l)) if s <= l);
        self.entries
            .drain(..)
            .filter(|(_, seq)| !received(*seq))
            .map(|(message, _)| message)
            .collect()
    }

    /// Handles a `sync` inside a connection: forgets what the peer has
    /// received (`seq <= last_seq_received`) and keeps the rest, in order.
    pub fn acknowledge(&mut self, last_seq_received: Option<u64>) {
        if let Some(last) = last_seq_received {
            self.entries
                .retain(|(_, seq)| !matches!(seq, Some(s) if *s <= last));
        }
    }

    /// Drops messages that no longer need delivering (for example a `say`
    /// that has been answered).
    pub fn retain(&mut self, mut keep: impl FnMut(&T) -> bool) {
        self.entries.retain(|(message, _)| keep(message));
    }

    /// The messages held, oldest first, each with the `seq` it was sent
    /// as (`None`: queued unsent): what [`Self::from_entries`] takes back.
    pub fn entries(&self) -> impl Iterator<Item = (&T, Option<u64>)> {
        self.entries.iter().map(|(message, seq)| (message, *seq))
    }

    /// An outbox holding `entries` (as [`Self::entries`] gave them), at
    /// most `limit` of them: the oldest go first.
    #[must_use]
    pub fn from_entries(limit: usize, entries: impl IntoIterator<Item = (T, Option<u64>)>) -> Self {
        let mut outbox = Self::new(limit);
        for (message, seq) in entries {
            outbox.push(message, seq);
        }
        outbox
    }

    /// Number of messages held.
    #[must_use]
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// Whether nothing is held.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::Outbox;

    #[test]
    fn resends_only_what_the_peer_missed_in_order() {
        let mut out = Outbox::new(8);
        out.push("a", Some(1));
        out.push("b", Some(2));
        out.push("c", Some(3));
        out.push("queued", None);
        assert_eq!(out.take_unreceived(Some(1)), vec!["b", "c", "queued"]);
        assert!(out.is_empty());
    }

    #[test]
    fn null_sync_means_nothing_arrived() {
        let mut out = Outbox::new(8);
        out.push("welcome", Some(1));
        assert_eq!(out.take_unreceived(None), vec!["welcome"]);
    }

    #[test]
    fn a_sync_inside_a_connection_forgets_what_arrived_and_keeps_the_rest() {
        let mut out = Outbox::new(8);
        out.push("a", Some(1));
        out.push("b", Some(2));
        out.push("queued", None);
        out.acknowledge(None);
        assert_eq!(out.len(), 3);
        out.acknowledge(Some(1));
        assert_eq!(out.take_unreceived(Some(1)), vec!["b", "queued"]);
    }

    #[test]
    fn bounded_drops_oldest() {
        let mut out = Outbox::new(2);
        out.push(1, Some(1));
        out.push(2, Some(2));
        out.push(3, Some(3));
        assert_eq!(out.len(), 2);
        assert_eq!(out.take_unreceived(None), vec![2, 3]);
    }
}
