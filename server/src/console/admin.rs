//! Administration: staff accounts and roles, clinic settings (FAQ entries, staffed hours, canned responses), and the canned responses the chat roles use.

use carechat_console::api::admin::AdminBackend;

use super::Backend;

#[async_trait::async_trait]
impl AdminBackend for Backend {}
