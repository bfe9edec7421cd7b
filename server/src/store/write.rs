//! Write transactions that cannot outlive a failure.
//!
//! sqlx keeps its own count of the transactions open on a connection and
//! only lowers it when `ROLLBACK` succeeds. When SQLite runs out of disk it
//! may roll the transaction back itself; sqlx's `ROLLBACK` then fails ("no
//! transaction is active"), the count stays at one, and that pooled
//! connection refuses every later `BEGIN` ("attempted to call begin_with at
//! non-zero transaction depth") until the process restarts: the server stays
//! broken after space is freed.
//!
//! A [`WriteTx`] therefore issues `BEGIN`, `COMMIT` and `ROLLBACK` as plain
//! statements, so sqlx's count never moves, and a transaction that ends in
//! any way other than a successful `COMMIT` or `ROLLBACK` takes its
//! connection out of the pool and closes it (the database rolls back
//! whatever was left). The next write gets a fresh connection.

use std::ops::{Deref, DerefMut};

use sqlx::pool::PoolConnection;
use sqlx::{Any, AnyConnection, AnyPool};
use tokio::sync::OwnedMutexGuard;

use super::config::Backend;

/// One write transaction: `BEGIN IMMEDIATE` on SQLite (the write lock up
/// front, so writers wait instead of failing), `BEGIN` on PostgreSQL.
/// Dereferences to the connection, so `&mut *tx` is an executor.
pub struct WriteTx {
    conn: Option<PoolConnection<Any>>,
    /// This process's turn at SQLite's write lock, if the store keeps one
    /// (see `Store::begin_write`); given back when the transaction ends.
    /// Declared after `conn`, so a dropped transaction closes its
    /// connection before the next writer's turn.
    turn: Option<OwnedMutexGuard<()>>,
}

impl WriteTx {
    /// Begins on a connection from `pool`.
    ///
    /// # Errors
    /// When no connection can be had or `BEGIN` fails.
    pub async fn begin(pool: &AnyPool, backend: Backend) -> Result<Self, sqlx::Error> {
        let conn = pool.acquire().await?;
        Self::begin_on(conn, backend).await
    }

    /// Begins on `conn`.
    ///
    /// # Errors
    /// When `BEGIN` fails (the connection is then closed).
    pub async fn begin_on(
        conn: PoolConnection<Any>,
        backend: Backend,
    ) -> Result<Self, sqlx::Error> {
        let statement = match backend {
            Backend::Sqlite => "BEGIN IMMEDIATE",
            Backend::Postgres => "BEGIN",
        };
        let mut tx = Self {
            conn: Some(conn),
            turn: None,
        };
        sqlx::query(statement).execute(&mut *tx).await?;
        Ok(tx)
    }

    /// The same transaction, holding `turn` until it ends.
    #[must_use]
    pub(super) fn holding(mut self, turn: Option<OwnedMutexGuard<()>>) -> Self {
        self.turn = turn;
        self
    }

    /// Commits; on failure the transaction is rolled back (or its
    /// connection closed) before the error is returned.
    ///
    /// # Errors
    /// When `COMMIT` fails.
    pub async fn commit(mut self) -> Result<(), sqlx::Error> {
        match sqlx::query("COMMIT").execute(&mut *self).await {
            Ok(_) => {
                self.release();
                Ok(())
            }
            Err(e) => {
                // Whatever state SQLite or PostgreSQL left it in, this
                // connection goes no further.
                let _ = sqlx::query("ROLLBACK").execute(&mut *self).await;
                Err(e)
            }
        }
    }

    /// Rolls back.
    ///
    /// # Errors
    /// When `ROLLBACK` fails (the connection is then closed).
    pub async fn rollback(mut self) -> Result<(), sqlx::Error> {
        sqlx::query("ROLLBACK").execute(&mut *self).await?;
        self.release();
        Ok(())
    }

    /// Ends cleanly: the connection goes back to the pool.
    fn release(&mut self) {
        drop(self.conn.take());
        drop(self.turn.take());
    }
}

impl Deref for WriteTx {
    type Target = AnyConnection;

    fn deref(&self) -> &AnyConnection {
        // Present until commit, rollback or drop, which consume the value.
        match &self.conn {
            Some(conn) => conn,
            None => unreachable!("a WriteTx is used after it ended"),
        }
    }
}

impl DerefMut for WriteTx {
    fn deref_mut(&mut self) -> &mut AnyConnection {
        match &mut self.conn {
            Some(conn) => conn,
            None => unreachable!("a WriteTx is used after it ended"),
        }
    }
}

impl Drop for WriteTx {
    fn drop(&mut self) {
        // Not committed or rolled back: close the connection rather than
        // return it mid-transaction; the database discards the rest.
        if let Some(conn) = self.conn.take() {
            drop(conn.detach());
        }
    }
}
