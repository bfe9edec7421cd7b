//! The server functions for this area: Feedback counts: patients' thumbs up and down per intent, for compliance and admin.
