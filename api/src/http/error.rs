//! Errors as RFC 9457 `application/problem+json` documents: the one place HTTP maps
//! errors. Internal details are logged, never sent.

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use opsflux_query::{ParameterError, QueryError};

/// An error as an RFC 9457 problem document. Internal details are logged, not sent.
#[derive(Debug)]
pub struct ApiError {
    pub(crate) status: StatusCode,
    pub(crate) title: &'static str,
    pub(crate) detail: String,
    /// The query parameter at fault, as an extension member.
    pub(crate) parameter: Option<&'static str>,
    /// For documents: the block at fault and the JSON pointer of the member.
    pub(crate) block: Option<String>,
    pub(crate) pointer: Option<String>,
    /// Seconds before trying again (`Retry-After`), for throttling and overload.
    pub(crate) retry_after: Option<u32>,
}

impl ApiError {
    pub(crate) fn internal(context: &str, error: &dyn std::error::Error) -> Self {
        tracing::error!(%error, "{context}");
        Self {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            title: "Internal error",
            detail: format!("{context}; the server log has the details"),
            parameter: None,
            block: None,
            pointer: None,
            retry_after: None,
        }
    }

    pub(crate) fn bad_parameter(error: &ParameterError) -> Self {
        Self {
            status: StatusCode::BAD_REQUEST,
            title: "Invalid parameter",
            detail: error.to_string(),
            parameter: Some(error.parameter()),
            block: None,
            pointer: None,
            retry_after: None,
        }
    }

    pub(crate) fn new(status: StatusCode, title: &'static str, detail: impl Into<String>) -> Self {
        Self { status, title, detail: detail.into(), parameter: None, block: None, pointer: None, retry_after: None }
    }

    pub(crate) fn unauthorized(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, "Sign-in required", detail)
    }

    pub(crate) fn forbidden(detail: impl Into<String>) -> Self {
        Self::new(StatusCode::FORBIDDEN, "Not allowed", detail)
    }

    pub(crate) fn with_parameter(mut self, parameter: &'static str) -> Self {
        self.parameter = Some(parameter);
        self
    }

    pub(crate) fn with_pointer(mut self, pointer: String) -> Self {
        self.pointer = Some(pointer);
        self
    }

    pub(crate) fn with_retry_after(mut self, seconds: u64) -> Self {
        self.retry_after = Some(u32::try_from(seconds).unwrap_or(u32::MAX));
        self
    }

    pub(crate) fn not_found(detail: String) -> Self {
        Self::new(StatusCode::NOT_FOUND, "Not found", detail)
    }

    pub(crate) fn from_render(error: crate::documents::RenderError) -> Self {
        if !error.is_bad_input() {
            return Self::internal("rendering the document failed", &error);
        }
        Self {
            status: StatusCode::BAD_REQUEST,
            title: "Invalid document",
            detail: error.to_string(),
            parameter: match &error {
                crate::documents::RenderError::UnknownTemplate(_) => Some("template"),
                crate::documents::RenderError::Document(opsflux_render::DocumentError::Parameter { .. }) => {
                    Some("parameters")
                }
                _ => None,
            },
            block: error.block().map(str::to_owned),
            pointer: error.pointer().map(str::to_owned),
            retry_after: None,
        }
    }

    pub(crate) fn bad_body(detail: String, pointer: Option<String>) -> Self {
        Self { pointer, ..Self::new(StatusCode::BAD_REQUEST, "Invalid request body", detail) }
    }

    pub(crate) fn from_query(context: &str, error: QueryError) -> Self {
        match error {
            QueryError::Parameter(ParameterError::OutsideScope(site)) => {
                Self::forbidden(format!("site `{site}` is outside your site scope")).with_parameter("site")
            }
            QueryError::Parameter(parameter) => Self::bad_parameter(&parameter),
            QueryError::Timeout { seconds } => Self::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "Time limit reached",
                format!("the query ran longer than {seconds} s and was stopped"),
            ),
            other => Self::internal(context, &other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = serde_json::json!({
            "type": "about:blank",
            "title": self.title,
            "status": self.status.as_u16(),
            "detail": self.detail,
        });
        if let Some(parameter) = self.parameter {
            body["parameter"] = parameter.into();
        }
        if let Some(block) = self.block {
            body["block"] = block.into();
        }
        if let Some(pointer) = self.pointer {
            body["pointer"] = pointer.into();
        }
        let mut response =
            (self.status, [(header::CONTENT_TYPE, "application/problem+json")], body.to_string()).into_response();
        if let Some(seconds) = self.retry_after
            && let Ok(value) = header::HeaderValue::from_str(&seconds.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, value);
        }
        if self.status == StatusCode::UNAUTHORIZED {
            response.headers_mut().insert(header::WWW_AUTHENTICATE, header::HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Reads a JSON body; a refusal names the member at fault as a JSON pointer.
pub(crate) fn json_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    let mut deserializer = serde_json::Deserializer::from_slice(body);
    serde_path_to_error::deserialize(&mut deserializer).map_err(|error| {
        let pointer: String = error
            .path()
            .iter()
            .map(|segment| match segment {
                serde_path_to_error::Segment::Seq { index } => format!("/{index}"),
                serde_path_to_error::Segment::Map { key } | serde_path_to_error::Segment::Enum { variant: key } => {
                    format!("/{}", crate::jobs::schedules::escape_pointer(key))
                }
                serde_path_to_error::Segment::Unknown => String::new(),
            })
            .collect();
        ApiError::bad_body(format!("invalid body: {}", error.inner()), Some(pointer))
    })
}

impl ApiError {
    /// A schedule, rule or job error: bad input names its member (400), a missing
    /// schedule is 404, the rest is internal.
    pub(crate) fn from_job(error: crate::jobs::JobError) -> Self {
        use crate::jobs::JobError;
        match error {
            JobError::Invalid { ref field, ref message } => {
                Self::bad_body(format!("{field}: {message}"), error.pointer())
            }
            JobError::NotFound(detail) => Self::not_found(detail),
            JobError::Busy(detail) => Self::new(StatusCode::CONFLICT, "Conflict", detail),
            other => Self::internal("the schedule or alert could not be stored or read", &other),
        }
    }
}

/// The problem document every error answers (RFC 9457), for the OpenAPI description.
#[derive(Debug, serde::Serialize, utoipa::ToSchema)]
pub struct Problem {
    #[serde(rename = "type")]
    pub problem_type: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
    /// The query parameter at fault.
    pub parameter: Option<String>,
    /// The document block at fault.
    pub block: Option<String>,
    /// The JSON pointer of the member at fault.
    pub pointer: Option<String>,
}
