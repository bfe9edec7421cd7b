//! Schema migrations: the ordered list [`MIGRATIONS`] and a small runner
//! that applies the missing ones in one transaction, recording each in
//! `schema_migrations`. The same SQL runs on SQLite and PostgreSQL.
//!
//! To add a migration, write `server/migrations/000N_name.sql` and append
//! one line to [`MIGRATIONS`]. A migration may hold several statements;
//! each ends with `;` at the end of a line, and lines starting with `--` are
//! comments.

use sqlx::{AnyPool, Row as _};

use super::{Backend, StoreError};

/// One schema change.
#[derive(Debug, Clone, Copy)]
pub struct Migration {
    /// Its number, strictly increasing through [`MIGRATIONS`].
    pub version: i64,
    /// A short name, recorded with it.
    pub name: &'static str,
    /// The SQL (several statements allowed).
    pub sql: &'static str,
}

impl Migration {
    /// A migration (for the one-line entries in [`MIGRATIONS`]).
    #[must_use]
    pub const fn new(version: i64, name: &'static str, sql: &'static str) -> Self {
        Self { version, name, sql }
    }

    /// The statements, split at `;` ending a line, comments dropped.
    #[must_use]
    pub fn statements(&self) -> Vec<String> {
        let mut statements = Vec::new();
        let mut current = String::new();
        for line in self.sql.lines() {
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with("--") {
                continue;
            }
            current.push_str(line);
            current.push('\n');
            if trimmed.ends_with(';') {
                let statement = current.trim().trim_end_matches(';').trim().to_owned();
                if !statement.is_empty() {
                    statements.push(statement);
                }
                current.clear();
            }
        }
        let rest = current.trim().to_owned();
        if !rest.is_empty() {
            statements.push(rest);
        }
        statements
    }
}

/// Every migration, in order. Append new ones at the end, one line each.
pub const MIGRATIONS: &[Migration] = &[
    Migration::new(1, "init", include_str!("../../migrations/0001_init.sql")),
    Migration::new(
        2,
        "verification",
        include_str!("../../migrations/0002_verification.sql"),
    ),
    Migration::new(3, "staff", include_str!("../../migrations/0003_staff.sql")),
    Migration::new(
        4,
        "passkeys",
        include_str!("../../migrations/0004_passkeys.sql"),
    ),
    Migration::new(
        5,
        "feedback",
        include_str!("../../migrations/0005_feedback.sql"),
    ),
    Migration::new(
        6,
        "settings",
        include_str!("../../migrations/0006_settings.sql"),
    ),
    Migration::new(
        7,
        "consents",
        include_str!("../../migrations/0007_consents.sql"),
    ),
    Migration::new(
        8,
        "live sessions",
        include_str!("../../migrations/0008_live_sessions.sql"),
    ),
    Migration::new(
        9,
        "rate buckets",
        include_str!("../../migrations/0009_rate_buckets.sql"),
    ),
    Migration::new(
        10,
        "limit events",
        include_str!("../../migrations/0010_limit_events.sql"),
    ),
];

/// Applies the migrations `pool` lacks, in one transaction; concurrent
/// runners (several servers starting at once) wait for each other.
///
/// # Errors
/// [`StoreError::Migration`] naming the failing migration, or
/// [`StoreError::SchemaTooNew`] when the database has migrations this
/// binary does not know.
pub async fn run(pool: &AnyPool, backend: Backend, now_ms: i64) -> Result<Vec<i64>, StoreError> {
    let mut tx = super::write::WriteTx::begin(pool, backend).await?;
    if backend == Backend::Postgres {
        // Serializes concurrent migrators; released at commit.
        // (Wrapped so the result column is an integer: the Any driver
        // cannot decode `void`.)
        sqlx::query("SELECT 1 FROM (SELECT pg_advisory_xact_lock(7415021133)) AS migration_lock")
            .fetch_all(&mut *tx)
            .await?;
    }
    sqlx::query(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
    )
    .execute(&mut *tx)
    .await?;
    let applied: Vec<i64> = sqlx::query("SELECT version FROM schema_migrations ORDER BY version")
        .fetch_all(&mut *tx)
        .await?
        .iter()
        .map(|row| row.try_get::<i64, _>(0))
        .collect::<Result<_, _>>()?;
    let known = MIGRATIONS.last().map_or(0, |m| m.version);
    if let Some(&newest) = applied.iter().max() {
        if newest > known {
            return Err(StoreError::SchemaTooNew {
                found: newest,
                known,
            });
        }
    }
    let mut done = Vec::new();
    for migration in MIGRATIONS {
        if applied.contains(&migration.version) {
            continue;
        }
        for statement in migration.statements() {
            sqlx::query(&statement)
                .execute(&mut *tx)
                .await
                .map_err(|source| StoreError::Migration {
                    version: migration.version,
                    name: migration.name,
                    source,
                })?;
        }
        sqlx::query(
            "INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)",
        )
        .bind(migration.version)
        .bind(migration.name)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        done.push(migration.version);
    }
    tx.commit().await?;
    Ok(done)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_increase_and_statements_split_at_line_ends() {
        for pair in MIGRATIONS.windows(2) {
            assert!(pair[0].version < pair[1].version);
        }
        let m = Migration::new(
            9,
            "t",
            "-- c\nCREATE TABLE a (x TEXT);\nINSERT INTO a VALUES ('1;2');\n",
        );
        assert_eq!(
            m.statements(),
            vec!["CREATE TABLE a (x TEXT)", "INSERT INTO a VALUES ('1;2')"]
        );
        assert!(MIGRATIONS[0].statements().len() >= 5);
    }
}
