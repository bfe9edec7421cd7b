//! Compliance and patient records: the audit log (search, verify, export), a front-desk unlock of a patient's verification lockout, and the transcripts a nurse took part in.

use carechat_console::api::records::RecordsBackend;

use super::Backend;

#[async_trait::async_trait]
impl RecordsBackend for Backend {}
