//! The server functions for this area: Passkeys (WebAuthn): registering one while signed in, and signing in with one.
