//! Protected health information as a type.
//!
//! [`Phi<T>`] wraps anything that identifies a patient or describes their
//! care: a date of birth, a phone number, an appointment's time, a message.
//! Its `Debug` prints `Phi(..)`, it has no `Display` and no `Serialize`, so it
//! cannot reach a log line, an error body or a URL by accident; the store
//! accepts it only to seal it. Reading the value is an explicit
//! [`Phi::expose`], easy to find in review.

use std::fmt;

/// A value that is PHI. Redacted in `Debug`; never `Display` or `Serialize`.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct Phi<T>(T);

impl<T> Phi<T> {
    /// Marks a value as PHI.
    pub const fn new(value: T) -> Self {
        Self(value)
    }

    /// The value, for the code that must use it (matching, sealing, showing
    /// it to the verified patient it belongs to).
    pub const fn expose(&self) -> &T {
        &self.0
    }

    /// The value, consuming the wrapper.
    pub fn into_inner(self) -> T {
        self.0
    }

    /// Applies `f` to the value, keeping the result PHI.
    pub fn map<U>(self, f: impl FnOnce(T) -> U) -> Phi<U> {
        Phi(f(self.0))
    }
}

impl<T> fmt::Debug for Phi<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Phi(..)")
    }
}

impl<T> From<T> for Phi<T> {
    fn from(value: T) -> Self {
        Self(value)
    }
}

#[cfg(test)]
mod tests {
    use super::Phi;

    #[test]
    fn debug_never_shows_the_value() {
        let dob = Phi::new("1984-03-02".to_owned());
        assert_eq!(format!("{dob:?}"), "Phi(..)");
        assert_eq!(format!("{:?}", Some(dob.clone())), "Some(Phi(..))");
        assert_eq!(dob.expose(), "1984-03-02");
    }
}
