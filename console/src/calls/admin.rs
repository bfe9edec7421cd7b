//! The server functions for this area: Administration: staff accounts and roles, clinic settings (FAQ entries, staffed hours, canned responses), and the canned responses the chat roles use.
