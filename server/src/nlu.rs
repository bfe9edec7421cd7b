//! Placeholder until the matcher lands.
use crate::knowledge::KnowledgeBase;
/// Matcher.
pub struct FaqMatcher {
    kb: KnowledgeBase,
}
/// Match.
pub struct FaqMatch<'a> {
    /// Intent.
    pub intent: &'a str,
    /// Answer.
    pub answer: &'a str,
    /// Score.
    pub score: f32,
}
impl FaqMatcher {
    /// New.
    #[must_use]
    pub fn new(kb: &KnowledgeBase) -> Self {
        Self { kb: kb.clone() }
    }
    /// Best.
    #[must_use]
    pub fn best_match(&self, text: &str) -> Option<FaqMatch<'_>> {
        let t = text.to_lowercase();
        self.kb
            .faq
            .iter()
            .find(|e| e.keywords.iter().any(|k| t.contains(k.as_str())))
            .map(|e| FaqMatch {
                intent: &e.intent,
                answer: &e.answer,
                score: 1.0,
            })
    }
}
