//! Work that runs on its own: scheduled reports ([`schedules`], [`scheduler`],
//! [`report`]), threshold alerts ([`alerts`]) and the email both send ([`mail`]).
//! The scheduler runs inside `opsflux serve` or alone (`opsflux scheduler`); several
//! may share one database, and each firing still runs once.

pub mod alerts;
pub mod cadence;
pub mod mail;
pub mod recipients;
pub mod report;
pub mod scheduler;
pub mod schedules;

/// Why a schedule, an alert rule or a job could not be stored or run.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
    /// A member of a schedule or rule is wrong: `field` is its name or JSON pointer
    /// below the body (`to/1`, `parameters/site`).
    #[error("{field}: {message}")]
    Invalid { field: String, message: String },
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with work under way (a firing already queued).
    #[error("{0}")]
    Busy(String),
    #[error("the platform database failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("{0}")]
    Auth(String),
    #[error(transparent)]
    Mail(#[from] mail::MailError),
    #[error("{0}")]
    Query(#[from] opsflux_query::QueryError),
    /// Some deliveries of a firing failed; they are retried.
    #[error("{0}")]
    Delivery(String),
}

impl JobError {
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        JobError::Invalid { field: field.to_owned(), message: message.into() }
    }

    pub(crate) fn from_auth(error: crate::auth::AuthError) -> Self {
        match error {
            crate::auth::AuthError::Database(error) => JobError::Database(error),
            other => JobError::Auth(other.to_string()),
        }
    }

    /// The member at fault, as a JSON pointer (`/to/1`), for bad input.
    pub fn pointer(&self) -> Option<String> {
        match self {
            JobError::Invalid { field, .. } => Some(format!("/{field}")),
            _ => None,
        }
    }
}
