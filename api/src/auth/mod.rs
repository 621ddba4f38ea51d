//! Who is asking: users and their roles, passwords (Argon2id), browser sessions, API
//! tokens (JWT access, rotating refresh), the second factor (TOTP) and sign-in
//! throttling. A signed-in caller becomes a [`Principal`], whose permissions give the
//! [`Scope`] the query engine applies.

pub mod password;
pub mod roles;
pub mod secret;
pub mod sessions;
pub mod throttle;
pub mod tokens;
pub mod totp;
pub mod users;

use std::collections::BTreeSet;

use opsflux_query::Scope;
use uuid::Uuid;

/// Why an authentication step failed. The variants say who must act.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// Wrong email or password, or a disabled account: deliberately not told apart.
    #[error("the email or password is wrong")]
    BadCredentials,
    #[error("a one-time code (totp) is required for this account")]
    SecondFactorRequired,
    #[error("the one-time code is wrong or was already used")]
    BadSecondFactor,
    #[error("this account must enrol a second factor first: sign in with a browser and follow /account/two-factor")]
    EnrolmentRequired,
    #[error("too many failed sign-ins: try again in {seconds} s")]
    Throttled { seconds: u64 },
    #[error("the token is invalid or expired")]
    BadToken,
    #[error("the refresh token was already used: every token of its sign-in is now revoked")]
    RefreshReused,
    /// A command-line request was wrong (unknown role or site, duplicate email...).
    #[error("{0}")]
    Invalid(String),
    #[error("the platform database failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Crypto(String),
}

/// A signed-in caller (or, serving a warehouse alone on loopback, the local reader).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// None for the local reader.
    pub user_id: Option<Uuid>,
    pub email: String,
    pub display_name: String,
    pub roles: Vec<String>,
    /// Permission codes `module.action.scope` held through the roles.
    pub permissions: BTreeSet<String>,
    /// Site codes of the user's site scope.
    pub sites: BTreeSet<String>,
}

impl Principal {
    /// The reader of a server with no database: dashboards, metrics, documents and
    /// exports over every site, and nothing that administers.
    pub fn local() -> Self {
        Self {
            user_id: None,
            email: "local".to_owned(),
            display_name: "Lecture locale".to_owned(),
            roles: Vec::new(),
            permissions: roles::LOCAL_READER.iter().map(|code| (*code).to_owned()).collect(),
            sites: BTreeSet::new(),
        }
    }

    /// Whether the caller holds `module.action` at some scope, and with which rows:
    /// `module.action.all` gives every site, `module.action.site` the user's sites.
    pub fn scope_for(&self, module_action: &str) -> Option<Scope> {
        if self.permissions.contains(&format!("{module_action}.all")) {
            Some(Scope::All)
        } else if self.permissions.contains(&format!("{module_action}.site")) {
            Some(Scope::Sites(self.sites.clone()))
        } else {
            None
        }
    }

    /// The audit trail's name for the caller.
    pub fn actor(&self) -> &str {
        &self.email
    }
}

/// Random bytes from the operating system.
pub fn random_bytes<const N: usize>() -> Result<[u8; N], AuthError> {
    let mut bytes = [0u8; N];
    getrandom::fill(&mut bytes).map_err(|error| AuthError::Crypto(format!("no randomness: {error}")))?;
    Ok(bytes)
}

/// A random token for cookies and refresh tokens (256 bits, URL-safe).
pub fn random_token() -> Result<String, AuthError> {
    use base64::Engine as _;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(random_bytes::<32>()?))
}

/// SHA-256 of a token: what the database keeps instead of the token.
pub fn token_hash(token: &str) -> Vec<u8> {
    use sha2::Digest as _;
    sha2::Sha256::digest(token.as_bytes()).to_vec()
}

/// Compares two tokens in time independent of where they differ.
pub fn same_token(given: &str, expected: &str) -> bool {
    use subtle::ConstantTimeEq as _;
    given.len() == expected.len() && bool::from(given.as_bytes().ct_eq(expected.as_bytes()))
}
