//! Threshold alerts: a rule watches a metric per site over a window of days around
//! the evaluation day (`pob.occupancy > 100 %` for any site over the next 7 days).
//! Rules are evaluated after each warehouse refresh and on their own cron. Each
//! (rule, site) keeps a state, so a notification goes out once when the condition
//! starts to hold and once when it clears, never while it holds. Notifications are
//! rows (listed on `/notifications`) written in the evaluation's transaction, then
//! emailed; one whose email failed is retried at the next evaluation.

use std::collections::BTreeMap;

use chrono::{DateTime, Days, Utc};
use opsflux_query::{Cell, Engine, Format, Grain, MetricRequest, Scope};
use sqlx::PgPool;
use uuid::Uuid;

use super::JobError;
use super::cadence::Cadence;
use super::mail::{Mailer, Outgoing};
use crate::auth::users;

/// A rule as asked for.
#[derive(Debug, Clone, Default, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleSpec {
    #[serde(default)]
    pub name: Option<String>,
    /// A metric of the catalog (`pob.occupancy`).
    pub metric: String,
    /// One of its measures; default its first.
    #[serde(default)]
    pub measure: Option<String>,
    /// Site codes watched; empty means every site.
    #[serde(default)]
    pub sites: Vec<String>,
    /// `> 100 %`, `>= 0.9`, `< 20`: an operator and a threshold, in the measure's unit.
    pub condition: String,
    /// First day of the window, from the evaluation day (0 = today, -7 = a week ago).
    #[serde(default)]
    pub from_days: Option<i32>,
    /// Last day of the window (6 = the next 7 days with today).
    #[serde(default)]
    pub to_days: Option<i32>,
    /// Also evaluate on this cron (besides each warehouse refresh).
    #[serde(default)]
    pub cron: Option<String>,
    #[serde(default)]
    pub timezone: Option<String>,
    #[serde(default)]
    pub to: Vec<String>,
    #[serde(default)]
    pub to_roles: Vec<String>,
    #[serde(default)]
    pub enabled: Option<bool>,
}

/// A stored rule.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Rule {
    #[schema(value_type = String)]
    pub id: Uuid,
    pub name: String,
    pub metric: String,
    pub measure: String,
    pub sites: Vec<String>,
    pub operator: String,
    pub threshold: f64,
    pub from_days: i32,
    pub to_days: i32,
    pub cron: Option<String>,
    pub timezone: String,
    pub recipients: Vec<String>,
    pub recipient_roles: Vec<String>,
    pub is_enabled: bool,
    #[schema(value_type = Option<String>)]
    pub owner_id: Option<Uuid>,
}

impl Rule {
    /// `pob.occupancy > 100 %`.
    pub fn condition(&self) -> String {
        format!("{}.{} {} {}", self.metric, self.measure, self.operator, self.threshold)
    }

    fn holds(&self, value: f64) -> bool {
        match self.operator.as_str() {
            ">" => value > self.threshold,
            ">=" => value >= self.threshold,
            "<" => value < self.threshold,
            _ => value <= self.threshold,
        }
    }

    /// The value of a day series that decides: the highest for `>`, the lowest for `<`.
    fn worst(&self, values: &[f64]) -> Option<f64> {
        let above = self.operator.starts_with('>');
        values.iter().copied().filter(|value| value.is_finite()).reduce(|a, b| if above == (b > a) { b } else { a })
    }
}

/// Reads `> 100 %`: the operator and the threshold (with `%` allowed for measures
/// shown as percentages, whose values are already in percent).
pub fn parse_condition(text: &str, format: Format) -> Result<(String, f64), JobError> {
    let text = text.trim();
    let operator = [">=", "<=", ">", "<"].into_iter().find(|operator| text.starts_with(operator)).ok_or_else(|| {
        JobError::invalid("condition", format!("`{text}` must start with >, >=, < or <= (e.g. `> 100 %`)"))
    })?;
    let mut number = text[operator.len()..].trim();
    if let Some(stripped) = number.strip_suffix('%') {
        if format != Format::Percent {
            return Err(JobError::invalid("condition", "`%` applies only to measures shown as percentages"));
        }
        number = stripped.trim();
    }
    let threshold: f64 = number
        .replace(',', ".")
        .replace([' ', '\u{a0}', '\u{202f}'], "")
        .parse()
        .ok()
        .filter(|value: &f64| value.is_finite())
        .ok_or_else(|| JobError::invalid("condition", format!("`{number}` is not a number")))?;
    Ok((operator.to_owned(), threshold))
}

/// Checks and stores a rule.
pub async fn add(pool: &PgPool, engine: &Engine, spec: &RuleSpec, owner: Option<Uuid>) -> Result<Uuid, JobError> {
    let metric = engine
        .catalog()
        .metric(spec.metric.trim())
        .ok_or_else(|| JobError::invalid("metric", format!("unknown metric `{}`", spec.metric)))?;
    let measure = match &spec.measure {
        Some(name) => metric.measures.iter().find(|measure| measure.name == name.trim()).ok_or_else(|| {
            let known: Vec<&str> = metric.measures.iter().map(|measure| measure.name.as_str()).collect();
            JobError::invalid("measure", format!("`{name}` is not a measure of {} ({})", metric.name, known.join(", ")))
        })?,
        None => metric.measures.first().ok_or_else(|| JobError::invalid("metric", "the metric has no measure"))?,
    };
    let (operator, threshold) = parse_condition(&spec.condition, measure.format)?;
    let pin = engine.pin();
    for (index, site) in spec.sites.iter().enumerate() {
        if !pin.sites.contains(site.trim()) {
            return Err(JobError::invalid(&format!("sites/{index}"), format!("unknown site `{site}`")));
        }
    }
    let from_days = spec.from_days.unwrap_or(0);
    let to_days = spec.to_days.unwrap_or(6);
    let (from, to) = (i64::from(from_days), i64::from(to_days));
    if from > to || to - from > 366 || from.abs() > 3660 || to.abs() > 3660 {
        return Err(JobError::invalid("to_days", "the window must run forward and span at most 366 days"));
    }
    let timezone = spec.timezone.clone().unwrap_or_else(|| "Europe/Paris".to_owned());
    let cron = spec.cron.as_deref().map(str::trim).filter(|cron| !cron.is_empty());
    let next = match cron {
        Some(cron) => Cadence::new(cron, &timezone)
            .map_err(|error| JobError::invalid(error.field(), error.to_string()))?
            .next_after(Utc::now()),
        None => {
            timezone.parse::<chrono_tz::Tz>().map_err(|_| {
                JobError::invalid("timezone", super::cadence::CadenceError::TimeZone(timezone.clone()).to_string())
            })?;
            None
        }
    };
    let (to, to_roles) =
        super::recipients::check(pool, &spec.to, &spec.to_roles, "dashboards.read", "read dashboards").await?;
    let name = spec
        .name
        .as_deref()
        .map(str::trim)
        .filter(|name| !name.is_empty())
        .map(str::to_owned)
        .unwrap_or_else(|| format!("{} {} {}", metric.name, spec.condition.trim(), metric.unit));
    if name.chars().any(char::is_control) || name.chars().count() > 200 {
        return Err(JobError::invalid("name", "must be one line of at most 200 characters"));
    }
    let sites: Vec<String> = spec.sites.iter().map(|site| site.trim().to_owned()).collect();
    Ok(sqlx::query_scalar(
        "INSERT INTO platform.alert_rules (name, metric, measure, sites, operator, threshold, from_days, to_days, cron,
                timezone, next_run_at, recipients, recipient_roles, is_enabled, owner_id, created_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $15) RETURNING id",
    )
    .bind(name)
    .bind(&metric.name)
    .bind(&measure.name)
    .bind(sites)
    .bind(operator)
    .bind(threshold)
    .bind(from_days)
    .bind(to_days)
    .bind(cron)
    .bind(timezone)
    .bind(next)
    .bind(to)
    .bind(to_roles)
    .bind(spec.enabled.unwrap_or(true))
    .bind(owner)
    .fetch_one(pool)
    .await?)
}

const SELECT: &str = "SELECT id, name, metric, measure, sites, operator, threshold, from_days, to_days, cron, timezone,
        recipients, recipient_roles, is_enabled, owner_id FROM platform.alert_rules WHERE deleted_at IS NULL";

pub async fn list(pool: &PgPool, owner: Option<Uuid>) -> Result<Vec<Rule>, JobError> {
    Ok(sqlx::query_as(sqlx::AssertSqlSafe(format!(
        "{SELECT} AND ($1::uuid IS NULL OR owner_id = $1) ORDER BY name, id"
    )))
    .bind(owner)
    .fetch_all(pool)
    .await?)
}

pub async fn get(pool: &PgPool, id: Uuid) -> Result<Rule, JobError> {
    sqlx::query_as(sqlx::AssertSqlSafe(format!("{SELECT} AND id = $1")))
        .bind(id)
        .fetch_optional(pool)
        .await?
        .ok_or_else(|| JobError::NotFound(format!("no alert rule {id}")))
}

pub async fn set_enabled(pool: &PgPool, id: Uuid, enabled: bool, by: Option<Uuid>) -> Result<(), JobError> {
    let updated = sqlx::query(
        "UPDATE platform.alert_rules SET is_enabled = $2, updated_at = now(), updated_by = $3
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(enabled)
    .bind(by)
    .execute(pool)
    .await?;
    if updated.rows_affected() == 0 {
        return Err(JobError::NotFound(format!("no alert rule {id}")));
    }
    Ok(())
}

pub async fn delete(pool: &PgPool, id: Uuid, by: Option<Uuid>) -> Result<(), JobError> {
    let deleted = sqlx::query(
        "UPDATE platform.alert_rules SET deleted_at = now(), deleted_by = $2, is_enabled = false
         WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(by)
    .execute(pool)
    .await?;
    if deleted.rows_affected() == 0 {
        return Err(JobError::NotFound(format!("no alert rule {id}")));
    }
    Ok(())
}

/// What one evaluation found.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, utoipa::ToSchema)]
pub struct Evaluation {
    /// Site → the deciding value over the window (none: no data).
    pub values: BTreeMap<String, Option<f64>>,
    pub started: Vec<String>,
    pub cleared: Vec<String>,
}

/// Evaluates one rule now against the engine's current pin, records the evaluation
/// and the state changes, queues the notifications and emails them.
pub async fn evaluate(
    pool: &PgPool,
    engine: &Engine,
    mailer: Option<&Mailer>,
    rule_id: Uuid,
    trigger: &str,
    now: DateTime<Utc>,
) -> Result<Evaluation, JobError> {
    let mut transaction = pool.begin().await?;
    // One evaluation of a rule at a time, across schedulers.
    // Another evaluation of this rule under way: this one gives way at once rather
    // than hold a connection while it waits.
    let locked: Option<Uuid> = sqlx::query_scalar(
        "SELECT id FROM platform.alert_rules WHERE id = $1 AND deleted_at IS NULL FOR UPDATE NOWAIT",
    )
    .bind(rule_id)
    .fetch_optional(&mut *transaction)
    .await
    .map_err(|error| match &error {
        sqlx::Error::Database(database) if database.code().as_deref() == Some("55P03") => {
            JobError::Busy("this rule is being evaluated already: try again in a moment".into())
        }
        _ => JobError::Database(error),
    })?;
    if locked.is_none() {
        return Err(JobError::NotFound(format!("no alert rule {rule_id}")));
    }
    let rule = get(pool, rule_id).await?;
    let measured = measure(engine, &rule, now).await;
    let (values, warehouse) = match measured {
        Ok(measured) => measured,
        Err(error) => {
            sqlx::query(
                "INSERT INTO platform.alert_evaluations (rule_id, evaluated_at, trigger, error) VALUES ($1, $2, $3, $4)",
            )
            .bind(rule.id)
            .bind(now)
            .bind(trigger)
            .bind(error.to_string())
            .execute(&mut *transaction)
            .await?;
            transaction.commit().await?;
            return Err(error);
        }
    };
    let states: Vec<(String, bool)> =
        sqlx::query_as("SELECT subject, firing FROM platform.alert_states WHERE rule_id = $1")
            .bind(rule.id)
            .fetch_all(&mut *transaction)
            .await?;
    let before: BTreeMap<String, bool> = states.into_iter().collect();
    let mut evaluation = Evaluation { values: values.clone(), ..Default::default() };
    let mut subjects: Vec<&String> = values.keys().chain(before.keys()).collect();
    subjects.sort();
    subjects.dedup();
    for subject in subjects {
        let value = values.get(subject).copied().flatten();
        let firing = value.is_some_and(|value| rule.holds(value));
        let was = before.get(subject).copied().unwrap_or(false);
        if firing != was {
            if firing { evaluation.started.push(subject.clone()) } else { evaluation.cleared.push(subject.clone()) }
        }
        sqlx::query(
            "INSERT INTO platform.alert_states (rule_id, subject, firing, since, value) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (rule_id, subject) DO UPDATE SET
                 since = CASE WHEN alert_states.firing = EXCLUDED.firing THEN alert_states.since ELSE EXCLUDED.since END,
                 firing = EXCLUDED.firing, value = EXCLUDED.value, updated_at = now()",
        )
        .bind(rule.id)
        .bind(subject)
        .bind(firing)
        .bind(now)
        .bind(value)
        .execute(&mut *transaction)
        .await?;
    }
    let changes = evaluation
        .started
        .iter()
        .map(|site| (site, "started"))
        .chain(evaluation.cleared.iter().map(|site| (site, "cleared")));
    for (site, kind) in changes {
        for (user, _) in recipients(pool, &rule, site).await? {
            let value = values.get(site).copied().flatten();
            sqlx::query(
                "INSERT INTO platform.notifications (user_id, rule_id, subject, kind, message)
                 VALUES ($1, $2, $3, $4, $5)",
            )
            .bind(user)
            .bind(rule.id)
            .bind(site)
            .bind(kind)
            .bind(describe(&rule, site, kind, value))
            .execute(&mut *transaction)
            .await?;
        }
    }
    sqlx::query(
        "INSERT INTO platform.alert_evaluations (rule_id, evaluated_at, trigger, warehouse, outcome)
         VALUES ($1, $2, $3, $4, $5)",
    )
    .bind(rule.id)
    .bind(now)
    .bind(trigger)
    .bind(serde_json::to_value(&warehouse).unwrap_or_default())
    .bind(serde_json::to_value(&evaluation).unwrap_or_default())
    .execute(&mut *transaction)
    .await?;
    transaction.commit().await?;
    if let Some(mailer) = mailer {
        send_pending(pool, mailer).await?;
    }
    Ok(evaluation)
}

/// The deciding value per site over the rule's window, and the warehouse versions read.
async fn measure(
    engine: &Engine,
    rule: &Rule,
    now: DateTime<Utc>,
) -> Result<(BTreeMap<String, Option<f64>>, BTreeMap<String, String>), JobError> {
    let timezone: chrono_tz::Tz = rule.timezone.parse().unwrap_or(chrono_tz::Europe::Paris);
    let today = now.with_timezone(&timezone).date_naive();
    let shift = |days: i32| {
        if days >= 0 {
            today.checked_add_days(Days::new(days as u64))
        } else {
            today.checked_sub_days(Days::new(days.unsigned_abs() as u64))
        }
    };
    let (Some(from), Some(to)) = (shift(rule.from_days), shift(rule.to_days)) else {
        return Err(JobError::invalid("to_days", "the window leaves the calendar"));
    };
    let request = MetricRequest {
        sites: rule.sites.clone(),
        from,
        to,
        grain: Some(Grain::Day),
        by: Some(vec!["site".to_owned()]),
    };
    let result = engine.metric(&rule.metric, &request, &Scope::All).await?;
    let column = |name: &str| result.columns.iter().position(|column| column.name == name);
    let (Some(site_column), Some(measure_column)) = (column("site"), column(&rule.measure)) else {
        return Err(JobError::invalid(
            "measure",
            format!("the result of {} has no site or {} column", rule.metric, rule.measure),
        ));
    };
    let mut series: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for site in &rule.sites {
        series.entry(site.clone()).or_default();
    }
    for row in &result.rows {
        if let Some(Cell::Text(site)) = row.get(site_column) {
            let values = series.entry(site.clone()).or_default();
            if let Some(Cell::Number(value)) = row.get(measure_column) {
                values.push(*value);
            }
        }
    }
    let values = series.into_iter().map(|(site, values)| (site, rule.worst(&values))).collect();
    Ok((values, result.warehouse.clone()))
}

/// The users a notification about `site` goes to: the rule's recipients who may read
/// that site's dashboards.
async fn recipients(pool: &PgPool, rule: &Rule, site: &str) -> Result<Vec<(Uuid, String)>, JobError> {
    let candidates = super::recipients::active_users(pool, &rule.recipients, &rule.recipient_roles).await?;
    let mut allowed = Vec::new();
    for user in candidates {
        let principal = users::principal(pool, user.0).await.map_err(JobError::from_auth)?;
        if principal
            .and_then(|principal| principal.scope_for("dashboards.read"))
            .is_some_and(|scope| scope.allows(site))
        {
            allowed.push(user);
        }
    }
    Ok(allowed)
}

fn describe(rule: &Rule, site: &str, kind: &str, value: Option<f64>) -> String {
    let value = value.map(|value| format!("{value:.1}").replace('.', ",")).unwrap_or_else(|| "—".to_owned());
    match kind {
        "started" => format!(
            "{} — {site} : la condition {} {} est atteinte (valeur {value}, du jour {:+} au jour {:+}).",
            rule.name, rule.operator, rule.threshold, rule.from_days, rule.to_days
        ),
        _ => format!(
            "{} — {site} : la condition {} {} n'est plus atteinte (valeur {value}).",
            rule.name, rule.operator, rule.threshold
        ),
    }
}

/// Emails the notifications not emailed yet (each once; a failure is kept and
/// retried at the next call).
pub async fn send_pending(pool: &PgPool, mailer: &Mailer) -> Result<usize, JobError> {
    let mut sent = 0;
    loop {
        let mut transaction = pool.begin().await?;
        let next: Option<(Uuid, String, String, String, String)> = sqlx::query_as(
            "SELECT n.id, u.email, u.display_name, n.kind, n.message FROM platform.notifications n
             JOIN platform.users u ON u.id = n.user_id
             WHERE n.emailed_at IS NULL AND n.created_at > now() - interval '1 day'
             ORDER BY n.email_error IS NOT NULL, n.created_at LIMIT 1 FOR UPDATE OF n SKIP LOCKED",
        )
        .fetch_optional(&mut *transaction)
        .await?;
        let Some((id, email, name, kind, message)) = next else { break };
        let subject = match kind.as_str() {
            "started" => format!("Alerte OpsFlux : {}", message.split(" : ").next().unwrap_or(&message)),
            _ => format!("Fin d'alerte OpsFlux : {}", message.split(" : ").next().unwrap_or(&message)),
        };
        let outgoing = Outgoing {
            to: email,
            to_name: Some(name.clone()),
            subject,
            text: format!("Bonjour {name},\n\n{message}\n"),
            html: super::report::wrap_html(&format!(
                "<p>Bonjour {},</p><p>{}</p>",
                super::mail::escape(&name),
                super::mail::escape(&message)
            )),
            files: Vec::new(),
            message_id: format!("<notification.{id}@{}>", mailer.domain()),
        };
        match mailer.send(&outgoing).await {
            Ok(()) => {
                sqlx::query("UPDATE platform.notifications SET emailed_at = now(), email_error = NULL WHERE id = $1")
                    .bind(id)
                    .execute(&mut *transaction)
                    .await?;
                sent += 1;
                transaction.commit().await?;
            }
            Err(error) => {
                sqlx::query("UPDATE platform.notifications SET email_error = $2 WHERE id = $1")
                    .bind(id)
                    .bind(error.to_string())
                    .execute(&mut *transaction)
                    .await?;
                transaction.commit().await?;
                // The server is refusing: try the rest at the next evaluation.
                break;
            }
        }
    }
    Ok(sent)
}

/// Evaluates the rules whose cron is due (trigger `schedule`) and, when the engine
/// pinned a new warehouse snapshot since `last_generation` (or at the first call),
/// every enabled rule (trigger `refresh`). Returns the generation seen.
pub async fn evaluate_due(
    pool: &PgPool,
    engine: &Engine,
    mailer: &Mailer,
    now: DateTime<Utc>,
    last_generation: Option<u64>,
) -> Result<u64, JobError> {
    let generation = engine.pin().generation;
    let mut due: Vec<(Uuid, &str)> = Vec::new();
    let mut transaction = pool.begin().await?;
    let scheduled: Vec<(Uuid, Option<String>, String)> = sqlx::query_as(
        "SELECT id, cron, timezone FROM platform.alert_rules
         WHERE is_enabled AND deleted_at IS NULL AND cron IS NOT NULL AND next_run_at <= $1 FOR UPDATE SKIP LOCKED",
    )
    .bind(now)
    .fetch_all(&mut *transaction)
    .await?;
    for (id, cron, timezone) in scheduled {
        let next = cron
            .as_deref()
            .and_then(|cron| Cadence::new(cron, &timezone).ok())
            .and_then(|cadence| cadence.next_after(now));
        sqlx::query("UPDATE platform.alert_rules SET next_run_at = $2 WHERE id = $1")
            .bind(id)
            .bind(next)
            .execute(&mut *transaction)
            .await?;
        due.push((id, "schedule"));
    }
    transaction.commit().await?;
    if last_generation != Some(generation) {
        let enabled: Vec<Uuid> =
            sqlx::query_scalar("SELECT id FROM platform.alert_rules WHERE is_enabled AND deleted_at IS NULL")
                .fetch_all(pool)
                .await?;
        for id in enabled {
            if !due.iter().any(|(known, _)| *known == id) {
                due.push((id, "refresh"));
            }
        }
    }
    for (rule, trigger) in due {
        if let Err(error) = evaluate(pool, engine, None, rule, trigger, now).await {
            tracing::warn!(%rule, "alert rule evaluation failed: {error}");
        }
    }
    send_pending(pool, mailer).await?;
    Ok(generation)
}

/// A user's notifications, newest first.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Notification {
    #[schema(value_type = String)]
    pub id: Uuid,
    pub rule: Option<String>,
    pub subject: String,
    /// started or cleared.
    pub kind: String,
    pub message: String,
    pub created_at: DateTime<Utc>,
    pub read_at: Option<DateTime<Utc>>,
}

pub async fn notifications(pool: &PgPool, user: Uuid, limit: i64) -> Result<Vec<Notification>, JobError> {
    Ok(sqlx::query_as(
        "SELECT n.id, r.name AS rule, n.subject, n.kind, n.message, n.created_at, n.read_at
         FROM platform.notifications n LEFT JOIN platform.alert_rules r ON r.id = n.rule_id
         WHERE n.user_id = $1 ORDER BY n.created_at DESC, n.id LIMIT $2",
    )
    .bind(user)
    .bind(limit.clamp(1, 500))
    .fetch_all(pool)
    .await?)
}

/// One logged evaluation of a rule.
#[derive(Debug, Clone, serde::Serialize, sqlx::FromRow, utoipa::ToSchema)]
pub struct Logged {
    pub evaluated_at: DateTime<Utc>,
    pub trigger: String,
    #[schema(value_type = Object)]
    pub outcome: serde_json::Value,
    pub error: Option<String>,
}

pub async fn evaluations(pool: &PgPool, rule: Uuid, limit: i64) -> Result<Vec<Logged>, JobError> {
    Ok(sqlx::query_as(
        "SELECT evaluated_at, trigger, outcome, error FROM platform.alert_evaluations WHERE rule_id = $1
         ORDER BY evaluated_at DESC LIMIT $2",
    )
    .bind(rule)
    .bind(limit.clamp(1, 1000))
    .fetch_all(pool)
    .await?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_read_operator_threshold_and_percent() {
        assert_eq!(parse_condition("> 100 %", Format::Percent).unwrap(), (">".to_owned(), 100.0));
        assert_eq!(parse_condition(">=0,9", Format::Decimal).unwrap(), (">=".to_owned(), 0.9));
        assert_eq!(parse_condition("< 1 200", Format::Integer).unwrap(), ("<".to_owned(), 1200.0));
        assert!(
            matches!(parse_condition("= 3", Format::Integer), Err(JobError::Invalid { field, .. }) if field == "condition")
        );
        assert!(parse_condition("> 90 %", Format::Integer).is_err());
        assert!(parse_condition("> lots", Format::Integer).is_err());
    }
}
