//! Placeholder until the knowledge module lands.
use serde::Deserialize;
/// FAQ.
#[derive(Debug, Clone, Deserialize)]
pub struct KnowledgeBase {
    /// Entries.
    pub faq: Vec<FaqEntry>,
}
/// Entry.
#[derive(Debug, Clone, Deserialize)]
pub struct FaqEntry {
    /// Intent.
    pub intent: String,
    /// Answer.
    pub answer: String,
    /// Examples.
    pub examples: Vec<String>,
    /// Keywords.
    #[serde(default)]
    pub keywords: Vec<String>,
}
/// Error.
#[derive(Debug, thiserror::Error)]
#[error("bad")]
pub struct KnowledgeError;
impl KnowledgeBase {
    /// Validate.
    ///
    /// # Errors
    /// never
    pub fn validate(&self) -> Result<(), KnowledgeError> {
        Ok(())
    }
}
