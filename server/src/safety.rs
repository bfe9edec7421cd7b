//! Placeholder until the safety screen lands.
/// Concern.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SafetyConcern {
    /// Crisis.
    Crisis,
    /// Emergency.
    Emergency,
    /// Advice.
    MedicalAdvice,
}
/// Screen.
#[must_use]
pub fn screen(text: &str) -> Option<SafetyConcern> {
    text.contains("kill myself")
        .then_some(SafetyConcern::Crisis)
}
