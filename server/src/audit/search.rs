//! Finding events: what compliance officers ask of the log in the console
//! (who opened which record, what one staff member did, every failure in
//! a week). Reads only; the chain is checked by [`super::verify`].

use chrono::NaiveDate;

use super::{stored_event, AuditError, AuditLog, StoredEvent, EVENT_COLUMNS};
use crate::store::Store;

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActorFilter {
    /// A stored actor exactly (`patient`, `system`, `staff:<id>`).
    Exactly(String),
    /// Anyone on staff.
    AnyStaff,
}

/// What to look for; every field set narrows the search.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    /// Who.
    pub actor: Option<ActorFilter>,
    /// The action's dotted name, or its start.
    pub action_prefix: Option<String>,
    /// The entity's resource type.
    pub entity_type: Option<String>,
    /// The entity's id (with its type).
    pub entity_id: Option<String>,
    /// The outcome's stored name.
    pub outcome: Option<String>,
    /// From this day (UTC), inclusive.
    pub from: Option<NaiveDate>,
    /// To this day (UTC), inclusive.
    pub to: Option<NaiveDate>,
    /// Only events before this position.
    pub before: Option<i64>,
}

/// A bound value of the query being built.
enum Bound {
    Text(String),
    Int(i64),
}

/// The conditions of a query being built and their values, numbered
/// `$1…` in order.
#[derive(Default)]
struct Where {
    conditions: Vec<String>,
    values: Vec<Bound>,
}

impl Where {
    /// Adds `sql`, whose one `?` stands for `value`.
    fn and(&mut self, sql: &str, value: Bound) {
        self.values.push(value);
        self.conditions
            .push(sql.replace('?', &format!("${}", self.values.len())));
    }
}

/// The WHERE clause and its values.
fn clause(filter: &Filter) -> (String, Vec<Bound>) {
    let mut w = Where::default();
    match &filter.actor {
        Some(ActorFilter::Exactly(actor)) => w.and("actor = ?", Bound::Text(actor.clone())),
        Some(ActorFilter::AnyStaff) => {
            w.and("substr(actor, 1, 6) = ?", Bound::Text("staff:".into()))
        }
        None => {}
    }
    if let Some(prefix) = &filter.action_prefix {
        // substr rather than LIKE: no wildcard in the prefix to escape, and
        // the same SQL on SQLite and PostgreSQL.
        let len = prefix.len();
        w.and(
            &format!("substr(action, 1, {len}) = ?"),
            Bound::Text(prefix.clone()),
        );
    }
    if let Some(t) = &filter.entity_type {
        w.and("entity_type = ?", Bound::Text(t.clone()));
    }
    if let Some(id) = &filter.entity_id {
        w.and("entity_id = ?", Bound::Text(id.clone()));
    }
    if let Some(outcome) = &filter.outcome {
        w.and("outcome = ?", Bound::Text(outcome.clone()));
    }
    if let Some(day) = filter.from.and_then(|d| d.and_hms_opt(0, 0, 0)) {
        w.and("at >= ?", Bound::Int(day.and_utc().timestamp_millis()));
    }
    let day_after = filter.to.and_then(|d| d.succ_opt());
    if let Some(day) = day_after.and_then(|d| d.and_hms_opt(0, 0, 0)) {
        w.and("at < ?", Bound::Int(day.and_utc().timestamp_millis()));
    }
    if let Some(before) = filter.before {
        w.and("seq < ?", Bound::Int(before));
    }
    let sql = if w.conditions.is_empty() {
        String::new()
    } else {
        format!(" WHERE {}", w.conditions.join(" AND "))
    };
    (sql, w.values)
}

/// Events matching `filter`, newest first when `newest_first`, at most
/// `limit`.
///
/// # Errors
/// When the database fails.
pub async fn search(
    store: &Store,
    filter: &Filter,
    newest_first: bool,
    limit: i64,
) -> Result<Vec<StoredEvent>, AuditError> {
    let (sql, values) = clause(filter);
    let order = if newest_first { "DESC" } else { "ASC" };
    let text = format!(
        "SELECT {EVENT_COLUMNS} FROM audit_events{sql} ORDER BY seq {order} LIMIT ${}",
        values.len() + 1
    );
    let mut query = sqlx::query(&text);
    for value in values {
        query = match value {
            Bound::Text(t) => query.bind(t),
            Bound::Int(i) => query.bind(i),
        };
    }
    let rows = query.bind(limit).fetch_all(store.pool()).await?;
    rows.iter()
        .map(stored_event)
        .collect::<Result<_, sqlx::Error>>()
        .map_err(AuditError::from)
}

impl AuditLog {
    /// Events matching `filter` in this log; see [`search`].
    ///
    /// # Errors
    /// When the database fails.
    pub async fn search(
        &self,
        filter: &Filter,
        newest_first: bool,
        limit: i64,
    ) -> Result<Vec<StoredEvent>, AuditError> {
        search(&self.store, filter, newest_first, limit).await
    }

    /// `event` as a FHIR R4 `AuditEvent`, naming this log's observer.
    #[must_use]
    pub fn to_fhir(&self, event: &StoredEvent) -> serde_json::Value {
        super::fhir::to_fhir(event, &self.observer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_filter_has_no_clause() {
        let (sql, values) = clause(&Filter::default());
        assert!(sql.is_empty());
        assert!(values.is_empty());
    }

    #[test]
    fn placeholders_are_numbered_in_order() {
        let filter = Filter {
            actor: Some(ActorFilter::AnyStaff),
            action_prefix: Some("handoff.".into()),
            outcome: Some("success".into()),
            before: Some(40),
            ..Filter::default()
        };
        let (sql, values) = clause(&filter);
        assert_eq!(
            sql,
            " WHERE substr(actor, 1, 6) = $1 AND substr(action, 1, 8) = $2 AND outcome = $3 AND seq < $4"
        );
        assert_eq!(values.len(), 4);
    }
}
