//! Administration: staff accounts and roles, clinic settings (FAQ entries,
//! staffed hours, canned responses), and the canned responses the chat
//! roles use.
//!
//! Each call checks the session ([`Backend::signed_in`]), and for a state
//! change the origin and CSRF token ([`Backend::changing`]), then the role:
//! admin for everything but reading canned responses, which front desk and
//! nurses do too (compliance gets nothing). The rules themselves live in
//! [`crate::staff::admin`] and [`crate::settings`]; this maps their
//! answers to the console's, with messages fit to show (no secret, nothing
//! typed echoed back).

use carechat_console::api::admin::{
    AdminBackend, AdminError, CannedResponse, DayHours, FaqEntry, NewStaff, SecondFactor,
    StaffAccount, StaffedHours, DAYS,
};
use carechat_console::api::{Refusal, RequestFacts, Role};

use super::{role_of, Backend};
use crate::audit::Actor;
use crate::settings::{ChangedBy, DayInput, FaqEdit, Settings, SettingsError};
use crate::staff::{self, StaffError, StaffSession};

fn staff_role(role: Role) -> staff::Role {
    match role {
        Role::FrontDesk => staff::Role::FrontDesk,
        Role::Nurse => staff::Role::Nurse,
        Role::Compliance => staff::Role::Compliance,
        Role::Admin => staff::Role::Admin,
    }
}

fn admin_only(session: &StaffSession) -> Result<(), AdminError> {
    if session.member.role.can_admin() {
        Ok(())
    } else {
        Err(Refusal::NotAllowed.into())
    }
}

/// A staff-module answer as the console gets it.
fn staff_error(e: StaffError) -> AdminError {
    match e {
        StaffError::InvalidUsername
        | StaffError::InvalidDisplayName
        | StaffError::Password(_)
        | StaffError::LastAdmin
        | StaffError::OwnAccount => AdminError::Invalid(capitalised(&e.to_string())),
        StaffError::DuplicateUsername(_) => {
            AdminError::Invalid("There is already a staff member with this username.".into())
        }
        StaffError::NotFound(_) => Refusal::Gone.into(),
        StaffError::Hashing(_) | StaffError::Store(_) | StaffError::Database(_) => {
            tracing::error!(error = %e, "staff account change failed");
            Refusal::Unavailable.into()
        }
    }
}

fn settings_error(e: SettingsError) -> AdminError {
    match e {
        SettingsError::Invalid(message) => AdminError::Invalid(message),
        SettingsError::NotFound => Refusal::Gone.into(),
        SettingsError::Audit => Refusal::Unavailable.into(),
        SettingsError::Training(_) | SettingsError::Storage(_) => {
            tracing::error!(error = %e, "settings change failed");
            Refusal::Unavailable.into()
        }
    }
}

fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .next()
        .map(|c| c.to_uppercase().collect())
        .unwrap_or_default();
    out.push_str(chars.as_str());
    if !out.ends_with('.') {
        out.push('.');
    }
    out
}

impl Backend {
    fn settings(&self) -> Settings {
        Settings::new(
            self.store.clone(),
            self.audit.clone(),
            self.clock.clone(),
            self.conversation.live().clone(),
        )
    }

    /// A signed-in admin allowed to change something.
    async fn admin_changing(&self, facts: &RequestFacts) -> Result<StaffSession, AdminError> {
        let session = self.changing(facts).await?;
        admin_only(&session)?;
        Ok(session)
    }

    fn changed_by(session: &StaffSession, facts: &RequestFacts) -> ChangedBy {
        ChangedBy {
            actor: Actor::Staff(session.member.id.to_string()),
            client: facts.client,
        }
    }
}

fn factor(f: staff::admin::SecondFactor) -> SecondFactor {
    SecondFactor {
        username: f.username.clone(),
        secret: f.totp_secret_base32.clone(),
        otpauth_uri: f.otpauth_uri.clone(),
    }
}

fn canned_view(r: crate::settings::CannedResponse) -> CannedResponse {
    CannedResponse {
        id: r.id,
        title: r.title,
        text_en: r.text_en,
        text_es: r.text_es,
    }
}

#[async_trait::async_trait]
impl AdminBackend for Backend {
    async fn staff_accounts(&self, facts: &RequestFacts) -> Result<Vec<StaffAccount>, AdminError> {
        let session = self.signed_in(facts).await?;
        admin_only(&session)?;
        let accounts = self.staff.accounts().await.map_err(staff_error)?;
        Ok(accounts
            .into_iter()
            .map(|a| StaffAccount {
                own: a.member.id == session.member.id,
                id: a.member.id,
                username: a.member.username,
                name: a.member.display_name,
                role: role_of(a.member.role),
                disabled: a.disabled,
                locked: a.locked_until.is_some(),
            })
            .collect())
    }

    async fn add_staff(
        &self,
        facts: &RequestFacts,
        new: &NewStaff,
    ) -> Result<SecondFactor, AdminError> {
        let session = self.admin_changing(facts).await?;
        let account = self
            .staff
            .add_by(
                &session.member,
                &new.username,
                &new.name,
                staff_role(new.role),
                &new.password,
            )
            .await
            .map_err(staff_error)?;
        Ok(SecondFactor {
            username: account.member.username.clone(),
            secret: account.totp_secret_base32.clone(),
            otpauth_uri: account.otpauth_uri.clone(),
        })
    }

    async fn set_staff_role(
        &self,
        facts: &RequestFacts,
        id: i64,
        role: Role,
    ) -> Result<(), AdminError> {
        let session = self.admin_changing(facts).await?;
        self.staff
            .set_role_by(&session.member, id, staff_role(role))
            .await
            .map_err(staff_error)
    }

    async fn set_staff_disabled(
        &self,
        facts: &RequestFacts,
        id: i64,
        disabled: bool,
    ) -> Result<(), AdminError> {
        let session = self.admin_changing(facts).await?;
        self.staff
            .set_disabled_by(&session.member, id, disabled)
            .await
            .map_err(staff_error)
    }

    async fn reset_second_factor(
        &self,
        facts: &RequestFacts,
        id: i64,
    ) -> Result<SecondFactor, AdminError> {
        let session = self.admin_changing(facts).await?;
        self.staff
            .reset_totp_by(&session.member, id)
            .await
            .map(factor)
            .map_err(staff_error)
    }

    async fn unlock_staff(&self, facts: &RequestFacts, id: i64) -> Result<(), AdminError> {
        let session = self.admin_changing(facts).await?;
        self.staff
            .unlock_by(&session.member, id)
            .await
            .map_err(staff_error)
    }

    async fn staffed_hours(&self, facts: &RequestFacts) -> Result<StaffedHours, AdminError> {
        let session = self.signed_in(facts).await?;
        admin_only(&session)?;
        let days = self.settings().staffed_hours().days();
        Ok(StaffedHours {
            days: DAYS
                .iter()
                .zip(days)
                .map(|(day, range)| DayHours {
                    day: (*day).to_owned(),
                    opens: range
                        .map(|r| r.opens.format("%H:%M").to_string())
                        .unwrap_or_default(),
                    closes: range
                        .map(|r| r.closes.format("%H:%M").to_string())
                        .unwrap_or_default(),
                })
                .collect(),
            time_zone: self.conversation.time_zone().name().to_owned(),
        })
    }

    async fn set_staffed_hours(
        &self,
        facts: &RequestFacts,
        hours: &StaffedHours,
    ) -> Result<(), AdminError> {
        let session = self.admin_changing(facts).await?;
        let mut days: [DayInput; 7] = Default::default();
        if hours.days.len() != 7 {
            return Err(AdminError::Invalid(
                "Give the hours of all seven days, Monday first.".into(),
            ));
        }
        for ((slot, given), name) in days.iter_mut().zip(&hours.days).zip(DAYS) {
            if given.day != name {
                return Err(AdminError::Invalid(
                    "Give the hours of all seven days, Monday first.".into(),
                ));
            }
            *slot = DayInput {
                opens: given.opens.clone(),
                closes: given.closes.clone(),
            };
        }
        self.settings()
            .set_staffed_hours(&Self::changed_by(&session, facts), &days)
            .await
            .map_err(settings_error)
    }

    async fn faq_entries(&self, facts: &RequestFacts) -> Result<Vec<FaqEntry>, AdminError> {
        let session = self.signed_in(facts).await?;
        admin_only(&session)?;
        Ok(self
            .settings()
            .faq_entries()
            .into_iter()
            .map(|e| FaqEntry {
                intent: e.intent,
                answer_en: e.answer,
                examples_en: e.examples,
                answer_es: e.answer_es,
                examples_es: e.examples_es,
            })
            .collect())
    }

    async fn set_faq_entry(
        &self,
        facts: &RequestFacts,
        entry: &FaqEntry,
    ) -> Result<(), AdminError> {
        let session = self.admin_changing(facts).await?;
        let edit = FaqEdit {
            intent: entry.intent.clone(),
            answer: entry.answer_en.clone(),
            examples: entry.examples_en.clone(),
            answer_es: entry.answer_es.clone(),
            examples_es: entry.examples_es.clone(),
        };
        self.settings()
            .set_faq_entry(&Self::changed_by(&session, facts), &edit)
            .await
            .map_err(settings_error)
    }

    async fn canned_responses(
        &self,
        facts: &RequestFacts,
    ) -> Result<Vec<CannedResponse>, AdminError> {
        let session = self.signed_in(facts).await?;
        let role = session.member.role;
        if !(role.can_chat() || role.can_admin()) {
            return Err(Refusal::NotAllowed.into());
        }
        let all = self
            .settings()
            .canned_responses()
            .await
            .map_err(settings_error)?;
        Ok(all.into_iter().map(canned_view).collect())
    }

    async fn save_canned_response(
        &self,
        facts: &RequestFacts,
        response: &CannedResponse,
    ) -> Result<CannedResponse, AdminError> {
        let session = self.admin_changing(facts).await?;
        let id = (response.id != 0).then_some(response.id);
        self.settings()
            .save_canned_response(
                &Self::changed_by(&session, facts),
                id,
                &response.title,
                &response.text_en,
                &response.text_es,
            )
            .await
            .map(canned_view)
            .map_err(settings_error)
    }

    async fn delete_canned_response(
        &self,
        facts: &RequestFacts,
        id: i64,
    ) -> Result<(), AdminError> {
        let session = self.admin_changing(facts).await?;
        self.settings()
            .delete_canned_response(&Self::changed_by(&session, facts), id)
            .await
            .map_err(settings_error)
    }
}
