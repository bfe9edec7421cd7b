//! The rows behind the clinic settings admins change in the console:
//! `clinic_settings` (named JSON values), `faq_overrides` (an edited FAQ
//! entry, by intent) and `canned_responses`. Plain reads and writes: what
//! the values mean and their checks belong to [`crate::settings`]. Nothing
//! here is PHI or a secret, so nothing is sealed.

use sqlx::Row as _;

use super::{Store, StoreError};

/// One canned response as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredCannedResponse {
    /// Its number.
    pub id: i64,
    /// What staff pick it by.
    pub title: String,
    /// The English text.
    pub text_en: String,
    /// The Spanish text.
    pub text_es: String,
}

impl Store {
    /// The stored value of the setting `name`, if an admin set it.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn setting(&self, name: &str) -> Result<Option<String>, StoreError> {
        let row = sqlx::query("SELECT value FROM clinic_settings WHERE name = $1")
            .bind(name)
            .fetch_optional(self.pool())
            .await?;
        Ok(row.map(|r| r.try_get::<String, _>(0)).transpose()?)
    }

    /// Sets the setting `name` to `value`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn put_setting(
        &self,
        name: &str,
        value: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO clinic_settings (name, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(name)
        .bind(value)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every edited FAQ entry: (intent, JSON value).
    ///
    /// # Errors
    /// When the database fails.
    pub async fn faq_overrides(&self) -> Result<Vec<(String, String)>, StoreError> {
        let rows = sqlx::query("SELECT intent, value FROM faq_overrides ORDER BY intent")
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|r| Ok((r.try_get(0)?, r.try_get(1)?)))
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Stores the edit of the FAQ entry `intent`.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn put_faq_override(
        &self,
        intent: &str,
        value: &str,
        now_ms: i64,
    ) -> Result<(), StoreError> {
        sqlx::query(
            "INSERT INTO faq_overrides (intent, value, updated_at) VALUES ($1, $2, $3) \
             ON CONFLICT (intent) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at",
        )
        .bind(intent)
        .bind(value)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Every canned response, by title then id.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn canned_responses(&self) -> Result<Vec<StoredCannedResponse>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, title, text_en, text_es FROM canned_responses ORDER BY title, id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|r| {
                Ok(StoredCannedResponse {
                    id: r.try_get(0)?,
                    title: r.try_get(1)?,
                    text_en: r.try_get(2)?,
                    text_es: r.try_get(3)?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }

    /// Adds a canned response; its new id.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn add_canned_response(
        &self,
        title: &str,
        text_en: &str,
        text_es: &str,
        now_ms: i64,
    ) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query("SELECT COALESCE(MAX(id), 0) + 1 FROM canned_responses")
            .fetch_one(&mut *tx)
            .await?
            .try_get(0)?;
        sqlx::query(
            "INSERT INTO canned_responses (id, title, text_en, text_es, updated_at) VALUES ($1, $2, $3, $4, $5)",
        )
        .bind(id)
        .bind(title)
        .bind(text_en)
        .bind(text_es)
        .bind(now_ms)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Replaces a canned response's words; `false` when there is no such id.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn update_canned_response(
        &self,
        response: &StoredCannedResponse,
        now_ms: i64,
    ) -> Result<bool, StoreError> {
        let done = sqlx::query(
            "UPDATE canned_responses SET title = $2, text_en = $3, text_es = $4, updated_at = $5 WHERE id = $1",
        )
        .bind(response.id)
        .bind(&response.title)
        .bind(&response.text_en)
        .bind(&response.text_es)
        .bind(now_ms)
        .execute(self.pool())
        .await?;
        Ok(done.rows_affected() == 1)
    }

    /// Deletes a canned response; `false` when there is no such id.
    ///
    /// # Errors
    /// When the database fails.
    pub async fn delete_canned_response(&self, id: i64) -> Result<bool, StoreError> {
        let done = sqlx::query("DELETE FROM canned_responses WHERE id = $1")
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
