//! The server functions for this area: administration (staff accounts and
//! roles, clinic settings: FAQ entries, staffed hours, canned responses),
//! and the canned responses the chat roles read. One per
//! [`AdminBackend`](crate::api::admin::AdminBackend) method; calls whose
//! arguments are lists or records travel as JSON, the rest form-encoded.
//!
//! An [`AdminError::Invalid`] travels as a `ServerFnError::ServerError`
//! whose message is `invalid:<what to fix>`; a refusal as the other calls'
//! `refused:<name>`. [`admin_error_of`] turns a failed call back into an
//! [`AdminError`] in the browser.

use leptos::prelude::*;
use leptos::server_fn::codec::Json;

use crate::api::admin::{
    AdminError, CannedResponse, FaqEntry, NewStaff, SecondFactor, StaffAccount, StaffedHours,
};
use crate::api::Role;

/// What an invalid input's error message starts with.
const INVALID: &str = "invalid:";

/// The error an admin call answers with.
pub fn admin_error(error: AdminError) -> ServerFnError {
    match error {
        AdminError::Refused(refusal) => super::refused(refusal),
        AdminError::Invalid(message) => ServerFnError::ServerError(format!("{INVALID}{message}")),
    }
}

/// What a failed admin call means: the invalid input's message, or the
/// refusal ([`super::refusal_of`]).
pub fn admin_error_of(error: &ServerFnError) -> AdminError {
    match error {
        ServerFnError::ServerError(message) => match message.strip_prefix(INVALID) {
            Some(text) => AdminError::Invalid(text.to_owned()),
            None => AdminError::Refused(super::refusal_of(error)),
        },
        _ => AdminError::Refused(super::refusal_of(error)),
    }
}

/// Every staff account.
#[server(name = StaffAccountsCall, prefix = "/console/api", endpoint = "staff_accounts")]
pub async fn staff_accounts() -> Result<Vec<StaffAccount>, ServerFnError> {
    let (backend, facts) = super::ssr::context(None).await?;
    backend.staff_accounts(&facts).await.map_err(admin_error)
}

/// Adds a staff account; its TOTP secret, shown once.
#[server(name = AddStaffCall, prefix = "/console/api", endpoint = "add_staff", input = Json)]
pub async fn add_staff(
    /// The session's CSRF token.
    csrf: String,
    /// The new account.
    new: NewStaff,
) -> Result<SecondFactor, ServerFnError> {
    let (backend, facts) = super::ssr::context(Some(csrf)).await?;
    backend.add_staff(&facts, &new).await.map_err(admin_error)
}

/// Changes a staff account's role.
#[server(name = SetStaffRoleCall, prefix = "/console/api", endpoint = "set_staff_role", input = Json)]
pub async fn set_staff_role(
    /// The session's CSRF token.
    csrf: String,
    /// The account.
    id: i64,
    /// The new role.
    role: Role,
) -> Result<(), ServerFnError> {
    let (backend, facts) = super::ssr::context(Some(csrf)).await?;
    backend
        .set_staff_role(&facts, id, role)
        .await
        .map_err(admin_error)
}

/// Disables or enables a staff account.
#[server(name = SetStaffDisabledCall, prefix = "/console/api", endpoint = "set_staff_disabled", input = Json)]
pub async fn set_staff_disabled(
    /// The session's CSRF token.
    csrf: String,
    /// The account.
    id: i64,
    /// Disable (`true`) or enable.
    disabled: bool,
) -> Result<(), ServerFnError> {
    let (backend, facts) = super::ssr::context(Some(csrf)).await?;
    backend
        .set_staff_disabled(&facts, id, disabled)
        .await
        .map_err(admin_error)
}

/// Gives a staff account a new TOTP secret, shown once.
#[server(name = ResetSecondFactorCall, prefix = "/console/api", endpoint = "reset_second_factor", input = Json)]
pub async fn reset_second_factor(
    /// The session's CSRF token.
    csrf: String,
    /// The account.
    id: i64,
) -> Result<SecondFactor, ServerFnError> {
    let (backend, facts) = super::ssr::context(Some(csrf)).await?;
    backend
        .reset_second_factor(&facts, id)
        .await
        .map_err(admin_error)
}

/// Ends a staff account's sign-in lock.
#[server(name = UnlockStaffCall, prefix = "/console/api", endpoint = "unlock_staff", input = Json)]
pub async fn unlock_staff(
    /// The session's CSRF token.
    csrf: String,
    /// The account.
    id: i64,
) -> Result<(), ServerFnError> {
    let (backend, facts) = super::ssr::context(Some(csrf)).await?;
    backend.unlock_staff(&facts, id).await.map_err(admin_error)
}

/// The staffed hours in force.
#[server(name = StaffedHoursCall, prefix = "/console/api", endpoint = "staffed_hours")]
pub async fn staffed_hours() -> Result<StaffedHours, ServerFnError> {
    let (backend, facts) = super::ssr::context(None).await?;
    backend.staffed_hours(&facts).await.map_err(admin_error)
}

/// Sets the staffed hours.
#[server(name = SetStaffedHoursCall, prefix = "/console/api", endpoint = "set_staffed_hours", input = Json)]
pub async fn set_staffed_hours(
    /// The session's CSRF token.
    csrf: String,
    /// The week's hours, Monday first.
    hours: StaffedHours,
) -> Result<(), ServerFnError> {
    let (backend, facts) = super::ssr::context(Some(csrf)).await?;
    backend
        .set_staffed_hours(&facts, &hours)
        .await
        .map_err(admin_error)
}

/// Every FAQ entry as in force.
#[server(name = FaqEntriesCall, prefix = "/console/api", endpoint = "faq_entries")]
pub async fn faq_entries() -> Result<Vec<FaqEntry>, ServerFnError> {
    let (backend, facts) = super::ssr::context(None).await?;
    backend.faq_entries(&facts).await.map_err(admin_error)
}

/// Edits one FAQ entry.
#[server(name = SetFaqEntryCall, prefix = "/console/api", endpoint = "set_faq_entry", input = Json)]
pub async fn set_faq_entry(
    /// The session's CSRF token.
    csrf: String,
    /// The entry's new words.
    entry: FaqEntry,
) -> Result<(), ServerFnError> {
    let (backend, facts) = super::ssr::context(Some(csrf)).await?;
    backend
        .set_faq_entry(&facts, &entry)
        .await
        .map_err(admin_error)
}

/// Every canned response.
#[server(name = CannedResponsesCall, prefix = "/console/api", endpoint = "canned_responses")]
pub async fn canned_responses() -> Result<Vec<CannedResponse>, ServerFnError> {
    let (backend, facts) = super::ssr::context(None).await?;
    backend.canned_responses(&facts).await.map_err(admin_error)
}

/// Adds (`id` 0) or changes a canned response.
#[server(name = SaveCannedResponseCall, prefix = "/console/api", endpoint = "save_canned_response", input = Json)]
pub async fn save_canned_response(
    /// The session's CSRF token.
    csrf: String,
    /// The response.
    response: CannedResponse,
) -> Result<CannedResponse, ServerFnError> {
    let (backend, facts) = super::ssr::context(Some(csrf)).await?;
    backend
        .save_canned_response(&facts, &response)
        .await
        .map_err(admin_error)
}

/// Deletes a canned response.
#[server(name = DeleteCannedResponseCall, prefix = "/console/api", endpoint = "delete_canned_response", input = Json)]
pub async fn delete_canned_response(
    /// The session's CSRF token.
    csrf: String,
    /// The response.
    id: i64,
) -> Result<(), ServerFnError> {
    let (backend, facts) = super::ssr::context(Some(csrf)).await?;
    backend
        .delete_canned_response(&facts, id)
        .await
        .map_err(admin_error)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::Refusal;

    #[test]
    fn admin_errors_survive_the_trip() {
        for error in [
            AdminError::Invalid("Monday: the closing time must be after the opening time.".into()),
            AdminError::Refused(Refusal::NotAllowed),
            AdminError::Refused(Refusal::SignedOut),
        ] {
            assert_eq!(admin_error_of(&admin_error(error.clone())), error);
        }
        assert_eq!(
            admin_error_of(&ServerFnError::Request("offline".into())),
            AdminError::Refused(Refusal::Unavailable)
        );
    }
}
