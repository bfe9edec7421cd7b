//! Passkeys (WebAuthn): registering one while signed in, and signing in with one.

use carechat_console::api::passkey::PasskeyBackend;

use super::Backend;

#[async_trait::async_trait]
impl PasskeyBackend for Backend {}
