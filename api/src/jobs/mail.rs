//! Email over SMTP (lettre): the transport from `--smtp-url`, and the messages the
//! scheduler and alerts send — multipart with an HTML and a plain-text body, files
//! attached with their MIME types, Message-ID and Date headers.

use lettre::message::header::ContentType;
use lettre::message::{Attachment, Mailbox, MultiPart, SinglePart};
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// An SMTP URL or From address that cannot be used, or a message the server refused.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error(
        "--smtp-url `{url}`: {reason} (write smtp://host:port, smtp://user:password@host:587?tls=required for STARTTLS, or smtps://host:465)"
    )]
    Url { url: String, reason: String },
    #[error(
        "--mail-from `{0}` is not an email address (write reports@example.com or \"OpsFlux <reports@example.com>\")"
    )]
    From(String),
    #[error("`{0}` is not an email address")]
    Recipient(String),
    #[error("the message could not be built: {0}")]
    Build(String),
    /// The SMTP server refused the message or could not be reached; its reply, if any.
    #[error("SMTP: {0}")]
    Smtp(String),
}

/// Where and as whom messages are sent.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    /// The URL with any password hidden, for logs and pages.
    described: String,
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter.debug_struct("Mailer").field("smtp", &self.described).field("from", &self.from).finish()
    }
}

/// A file attached to a message.
#[derive(Debug, Clone)]
pub struct File {
    pub name: String,
    pub content_type: &'static str,
    pub bytes: Vec<u8>,
}

/// One message to one recipient.
#[derive(Debug, Clone)]
pub struct Outgoing {
    pub to: String,
    pub to_name: Option<String>,
    pub subject: String,
    pub text: String,
    pub html: String,
    pub files: Vec<File>,
    /// `<…@…>`; the same for every attempt at the same delivery.
    pub message_id: String,
}

impl Mailer {
    /// Checks the URL (scheme, host, TLS mode) and the From address; connects only
    /// when a message is sent.
    pub fn new(url: &str, from: &str) -> Result<Self, MailError> {
        let bad = |reason: &str| MailError::Url { url: hide_password(url), reason: reason.to_owned() };
        let parsed = url::Url::parse(url).map_err(|error| bad(&error.to_string()))?;
        if !matches!(parsed.scheme(), "smtp" | "smtps") {
            return Err(bad(&format!("the scheme must be smtp or smtps, not {}", parsed.scheme())));
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return Err(bad("it names no host"));
        }
        for (name, value) in parsed.query_pairs() {
            if name != "tls" || !matches!(value.as_ref(), "required" | "opportunistic") {
                return Err(bad(&format!("unknown option `{name}={value}` (only tls=required or tls=opportunistic)")));
            }
        }
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .map_err(|error| bad(&error.to_string()))?
            .timeout(Some(std::time::Duration::from_secs(30)))
            .build();
        let from: Mailbox = from.parse().map_err(|_| MailError::From(from.to_owned()))?;
        Ok(Self { transport, from, described: hide_password(url) })
    }

    /// The From address's domain, for Message-IDs.
    pub fn domain(&self) -> &str {
        self.from.email.domain()
    }

    pub fn described(&self) -> &str {
        &self.described
    }

    /// Sends one message; the error carries the server's reply.
    pub async fn send(&self, outgoing: &Outgoing) -> Result<(), MailError> {
        let message = self.build(outgoing)?;
        self.transport.send(message).await.map(|_| ()).map_err(|error| MailError::Smtp(error.to_string()))
    }

    /// The message as it goes on the wire.
    pub fn build(&self, outgoing: &Outgoing) -> Result<Message, MailError> {
        let address = outgoing.to.parse().map_err(|_| MailError::Recipient(outgoing.to.clone()))?;
        let to = Mailbox::new(outgoing.to_name.clone(), address);
        let bodies = MultiPart::alternative()
            .singlepart(SinglePart::builder().header(ContentType::TEXT_PLAIN).body(outgoing.text.clone()))
            .singlepart(SinglePart::builder().header(ContentType::TEXT_HTML).body(outgoing.html.clone()));
        let builder = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(&outgoing.subject)
            .message_id(Some(outgoing.message_id.clone()))
            .date_now();
        let message = if outgoing.files.is_empty() {
            builder.multipart(bodies)
        } else {
            let mut mixed = MultiPart::mixed().multipart(bodies);
            for file in &outgoing.files {
                let content_type = ContentType::parse(file.content_type)
                    .map_err(|error| MailError::Build(format!("{}: {error}", file.content_type)))?;
                mixed = mixed.singlepart(Attachment::new(file.name.clone()).body(file.bytes.clone(), content_type));
            }
            builder.multipart(mixed)
        };
        message.map_err(|error| MailError::Build(error.to_string()))
    }
}

/// The URL with its password replaced by `***`.
fn hide_password(url: &str) -> String {
    match url::Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        Ok(parsed) => parsed.to_string(),
        Err(_) => url.to_owned(),
    }
}

/// Escapes text for the HTML body.
pub fn escape(text: &str) -> String {
    crate::http::layout::escape(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_before_any_connection_and_passwords_never_shown() {
        assert!(Mailer::new("smtp://127.0.0.1:2525", "OpsFlux <rapports@opsflux.example>").is_ok());
        assert!(Mailer::new("smtps://user:secret@mail.example.com", "rapports@opsflux.example").is_ok());
        assert!(Mailer::new("smtp://mail.example.com:587?tls=required", "rapports@opsflux.example").is_ok());
        let http = Mailer::new("http://user:secret@mail.example.com", "a@b.example").expect_err("http");
        assert_eq!(
            http.to_string(),
            "--smtp-url `http://user:***@mail.example.com/`: the scheme must be smtp or smtps, not http (write smtp://host:port, smtp://user:password@host:587?tls=required for STARTTLS, or smtps://host:465)"
        );
        assert!(matches!(Mailer::new("smtp://host?tls=maybe", "a@b.example"), Err(MailError::Url { .. })));
        assert!(matches!(Mailer::new("smtp://host", "not an address"), Err(MailError::From(_))));
    }
}
