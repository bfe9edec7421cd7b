//! Protected health information as a type.
//!
//! [`Phi<T>`] wraps anything that identifies a patient or describes their
//! care: a date of birth, a phone number, an appointment's time, a message.
//! Its `Debug` prints `Phi(..)`, it has no `Display` and no `Serialize`, so it
//! cannot reach a log line, an error body or a URL by accident; the store
//! accepts it only to seal it. Reading the value is an explicit
//! [`Phi::expose`], easy to find in review.
//!
//! The one exception is the session snapshot: a session's conversation
//! state is written to the database so that another server (or this one,
//! restarted) can resume it, and it holds PHI. Its `Phi` fields opt in, one
//! by one, with [`sealed_serde`] or [`sealed_serde_opt`]; `Phi` itself still
//! implements neither `Serialize` nor `Deserialize`.

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

/// Serde for one `Phi<T>` field of a **session snapshot**, and for nothing
/// else: `#[serde(with = "crate::phi::sealed_serde")]` on the field (on a
/// tuple variant, on the variant's field:
/// `Phone(#[serde(with = "crate::phi::sealed_serde")] Phi<String>)`).
///
/// The value is written as `T` writes itself, in the clear, into the
/// snapshot's bytes; the store seals the whole snapshot (AES-256-GCM)
/// before it leaves memory, so the value never reaches a log, a response or
/// the database unsealed. Anything that serializes a type using this for
/// any other purpose (a log line, an API response, a debug dump) would leak
/// PHI: that is why `Phi` has no `Serialize` of its own, and why each field
/// has to name this module.
pub mod sealed_serde {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Phi;

    /// Writes the value inside (for a snapshot the store seals).
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Phi<T>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.0.serialize(serializer)
    }

    /// Reads a value written by [`serialize`], as PHI again.
    ///
    /// # Errors
    /// The deserializer's.
    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Phi<T>, D::Error> {
        T::deserialize(deserializer).map(Phi)
    }
}

/// [`sealed_serde`] for an `Option<Phi<T>>` field of a session snapshot:
/// `#[serde(with = "crate::phi::sealed_serde_opt")]`. The same rule: only
/// in snapshots the store seals (AES-256-GCM) before they leave memory.
pub mod sealed_serde_opt {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use super::Phi;

    /// Writes the value inside, or `None` (for a snapshot the store seals).
    ///
    /// # Errors
    /// The serializer's.
    pub fn serialize<T: Serialize, S: Serializer>(
        value: &Option<Phi<T>>,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        value.as_ref().map(Phi::expose).serialize(serializer)
    }

    /// Reads a value written by [`serialize`], as PHI again.
    ///
    /// # Errors
    /// The deserializer's.
    pub fn deserialize<'de, T: Deserialize<'de>, D: Deserializer<'de>>(
        deserializer: D,
    ) -> Result<Option<Phi<T>>, D::Error> {
        Option::<T>::deserialize(deserializer).map(|value| value.map(Phi))
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

    #[derive(serde::Serialize, serde::Deserialize)]
    struct Snapshot {
        #[serde(with = "super::sealed_serde")]
        name: Phi<String>,
        #[serde(with = "super::sealed_serde_opt")]
        phone: Option<Phi<String>>,
        #[serde(with = "super::sealed_serde_opt")]
        email: Option<Phi<String>>,
    }

    #[test]
    #[allow(clippy::unwrap_used)]
    fn a_snapshot_field_round_trips_only_where_it_opts_in() {
        let snapshot = Snapshot {
            name: Phi::new("Morgan".to_owned()),
            phone: Some(Phi::new("+15550100".to_owned())),
            email: None,
        };
        let json = serde_json::to_string(&snapshot).unwrap();
        assert_eq!(
            json,
            r#"{"name":"Morgan","phone":"+15550100","email":null}"#
        );
        let back: Snapshot = serde_json::from_str(&json).unwrap();
        assert_eq!(back.name.expose(), "Morgan");
        assert_eq!(
            back.phone.as_ref().map(Phi::expose),
            Some(&"+15550100".to_owned())
        );
        assert!(back.email.is_none());
    }
}
