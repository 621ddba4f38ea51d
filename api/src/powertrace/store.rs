//! Scenarios in PostgreSQL: `powertrace.scenarios` holds each scenario and its current
//! version; `powertrace.scenario_items` its items, kept per version; every save adds a
//! row to `powertrace.scenario_versions` (who, when, why), so nothing saved is lost; and
//! `powertrace.scenario_evaluations` records each evaluation with the version and the
//! warehouse snapshot it read. A save is one transaction: all of it or nothing.

use chrono::{DateTime, NaiveDate, Utc};
use opsflux_powertrace::Category;
use opsflux_powertrace::scenario::{Change, Item};
use sqlx::{PgPool, Postgres, Row, Transaction};
use uuid::Uuid;

use super::wire::{FactorOverrides, ScenarioSpec};

/// Why a scenario could not be stored or read.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("no scenario {0}")]
    NotFound(Uuid),
    #[error("scenario {scenario} has no version {version} (its versions run from 1 to {latest})")]
    NoVersion { scenario: Uuid, version: i32, latest: i32 },
    #[error("no site `{0}` in the platform database")]
    UnknownSite(String),
    #[error("the platform database failed: {0}")]
    Database(#[from] sqlx::Error),
    #[error("a stored item is unreadable: {0}")]
    Corrupt(String),
}

/// A scenario as stored, at one version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Scenario {
    pub id: Uuid,
    /// Site code.
    pub site: String,
    pub name: String,
    pub description: Option<String>,
    pub base_date: NaiveDate,
    pub status: String,
    pub factors: FactorOverrides,
    /// The version shown.
    pub version: i32,
    /// The newest version.
    pub latest_version: i32,
    pub items: Vec<Item>,
    pub updated_at: DateTime<Utc>,
}

/// One line of the scenario list.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Summary {
    pub id: Uuid,
    pub site: String,
    pub name: String,
    pub status: String,
    pub version: i32,
    pub items: i64,
    pub updated_at: DateTime<Utc>,
}

/// One saved version.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Version {
    pub version: i32,
    pub name: String,
    pub status: String,
    pub comment: Option<String>,
    pub items: i64,
    pub saved_at: Option<DateTime<Utc>>,
    /// The saving user's email.
    pub saved_by: Option<String>,
}

/// A recorded evaluation.
#[derive(Debug, Clone, serde::Serialize)]
pub struct Recorded {
    pub id: Uuid,
    pub version: i32,
    pub day: NaiveDate,
    /// Table → snapshot version read.
    pub warehouse: serde_json::Value,
    pub failures: i32,
    pub evaluated_at: DateTime<Utc>,
    pub evaluated_by: Option<String>,
}

/// Stores a new scenario (version 1); its id.
pub async fn create(pool: &PgPool, spec: &ScenarioSpec, user: Option<Uuid>) -> Result<Uuid, StoreError> {
    let mut transaction = pool.begin().await?;
    let site_id = site_id(&mut transaction, &spec.site).await?;
    let id: Uuid = sqlx::query_scalar(
        "INSERT INTO powertrace.scenarios (site_id, name, description, base_date, status, factors, version, created_by, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, 1, $7, $7) RETURNING id",
    )
    .bind(site_id)
    .bind(&spec.name)
    .bind(&spec.description)
    .bind(spec.base_date)
    .bind(&spec.status)
    .bind(sqlx::types::Json(spec.factors))
    .bind(user)
    .fetch_one(&mut *transaction)
    .await?;
    write_version(&mut transaction, id, site_id, 1, spec, user).await?;
    transaction.commit().await?;
    Ok(id)
}

/// Saves `spec` as the next version of scenario `id`; the new version number.
pub async fn update(pool: &PgPool, id: Uuid, spec: &ScenarioSpec, user: Option<Uuid>) -> Result<i32, StoreError> {
    let mut transaction = pool.begin().await?;
    let current: Option<(i32,)> =
        sqlx::query_as("SELECT version FROM powertrace.scenarios WHERE id = $1 AND deleted_at IS NULL FOR UPDATE")
            .bind(id)
            .fetch_optional(&mut *transaction)
            .await?;
    let Some((current,)) = current else { return Err(StoreError::NotFound(id)) };
    // A scenario written before versions were kept (imported, or sample data) gets its
    // current state recorded as its version before the next one is written.
    sqlx::query(
        "INSERT INTO powertrace.scenario_versions (scenario_id, version, name, description, base_date, status, factors, created_by, updated_by, created_at)
         SELECT id, version, name, description, base_date, status, factors, created_by, updated_by, updated_at
         FROM powertrace.scenarios WHERE id = $1
         ON CONFLICT (scenario_id, version) DO NOTHING",
    )
    .bind(id)
    .execute(&mut *transaction)
    .await?;
    let site_id = site_id(&mut transaction, &spec.site).await?;
    let version = current + 1;
    sqlx::query(
        "UPDATE powertrace.scenarios SET site_id = $2, name = $3, description = $4, base_date = $5, status = $6,
             factors = $7, version = $8, updated_at = now(), updated_by = $9
         WHERE id = $1",
    )
    .bind(id)
    .bind(site_id)
    .bind(&spec.name)
    .bind(&spec.description)
    .bind(spec.base_date)
    .bind(&spec.status)
    .bind(sqlx::types::Json(spec.factors))
    .bind(version)
    .bind(user)
    .execute(&mut *transaction)
    .await?;
    write_version(&mut transaction, id, site_id, version, spec, user).await?;
    transaction.commit().await?;
    Ok(version)
}

/// Deletes scenario `id` (kept, marked deleted, with its versions and evaluations).
pub async fn delete(pool: &PgPool, id: Uuid, user: Option<Uuid>) -> Result<(), StoreError> {
    let deleted = sqlx::query(
        "UPDATE powertrace.scenarios SET deleted_at = now(), deleted_by = $2 WHERE id = $1 AND deleted_at IS NULL",
    )
    .bind(id)
    .bind(user)
    .execute(pool)
    .await?;
    if deleted.rows_affected() == 0 {
        return Err(StoreError::NotFound(id));
    }
    Ok(())
}

/// Scenario `id` at `version` (default: the newest).
pub async fn get(pool: &PgPool, id: Uuid, version: Option<i32>) -> Result<Scenario, StoreError> {
    let row = sqlx::query(
        "SELECT s.id, site.code AS site, s.name, s.description, s.base_date, s.status, s.factors, s.version, s.updated_at
         FROM powertrace.scenarios s JOIN core.sites site ON site.id = s.site_id
         WHERE s.id = $1 AND s.deleted_at IS NULL",
    )
    .bind(id)
    .fetch_optional(pool)
    .await?
    .ok_or(StoreError::NotFound(id))?;
    let latest: i32 = row.try_get("version")?;
    let mut scenario = Scenario {
        id,
        site: row.try_get("site")?,
        name: row.try_get("name")?,
        description: row.try_get("description")?,
        base_date: row.try_get("base_date")?,
        status: row.try_get("status")?,
        factors: row.try_get::<sqlx::types::Json<FactorOverrides>, _>("factors")?.0,
        version: latest,
        latest_version: latest,
        items: Vec::new(),
        updated_at: row.try_get("updated_at")?,
    };
    let version = version.unwrap_or(latest);
    if version != latest {
        let saved = sqlx::query(
            "SELECT name, description, base_date, status, factors, created_at
             FROM powertrace.scenario_versions WHERE scenario_id = $1 AND version = $2",
        )
        .bind(id)
        .bind(version)
        .fetch_optional(pool)
        .await?
        .ok_or(StoreError::NoVersion { scenario: id, version, latest })?;
        scenario.version = version;
        scenario.name = saved.try_get("name")?;
        scenario.description = saved.try_get("description")?;
        scenario.base_date = saved.try_get("base_date")?;
        scenario.status = saved.try_get("status")?;
        scenario.factors = saved.try_get::<sqlx::types::Json<FactorOverrides>, _>("factors")?.0;
        scenario.updated_at = saved.try_get("created_at")?;
    }
    scenario.items = items(pool, id, version, scenario.base_date).await?;
    Ok(scenario)
}

/// The scenarios of `sites` (all sites when `None`), newest change first.
pub async fn list(pool: &PgPool, sites: Option<&[String]>) -> Result<Vec<Summary>, StoreError> {
    let rows = sqlx::query(
        "SELECT s.id, site.code AS site, s.name, s.status, s.version, s.updated_at,
                (SELECT count(*) FROM powertrace.scenario_items i
                 WHERE i.scenario_id = s.id AND i.version = s.version AND i.deleted_at IS NULL) AS items
         FROM powertrace.scenarios s JOIN core.sites site ON site.id = s.site_id
         WHERE s.deleted_at IS NULL AND ($1::text[] IS NULL OR site.code = ANY($1))
         ORDER BY s.updated_at DESC, s.name
         LIMIT 1000",
    )
    .bind(sites)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Summary {
                id: row.try_get("id")?,
                site: row.try_get("site")?,
                name: row.try_get("name")?,
                status: row.try_get("status")?,
                version: row.try_get("version")?,
                items: row.try_get("items")?,
                updated_at: row.try_get("updated_at")?,
            })
        })
        .collect()
}

/// Every saved version of scenario `id`, newest first.
pub async fn versions(pool: &PgPool, id: Uuid) -> Result<Vec<Version>, StoreError> {
    let rows = sqlx::query(
        "SELECT v.version, v.name, v.status, v.comment, v.created_at, u.email,
                (SELECT count(*) FROM powertrace.scenario_items i
                 WHERE i.scenario_id = v.scenario_id AND i.version = v.version AND i.deleted_at IS NULL) AS items
         FROM powertrace.scenario_versions v LEFT JOIN platform.users u ON u.id = v.created_by
         WHERE v.scenario_id = $1 ORDER BY v.version DESC LIMIT 100",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    let mut versions: Vec<Version> = rows
        .iter()
        .map(|row| {
            Ok::<_, StoreError>(Version {
                version: row.try_get("version")?,
                name: row.try_get("name")?,
                status: row.try_get("status")?,
                comment: row.try_get("comment")?,
                items: row.try_get("items")?,
                saved_at: Some(row.try_get("created_at")?),
                saved_by: row.try_get("email")?,
            })
        })
        .collect::<Result<_, _>>()?;
    if versions.is_empty() {
        // Written by an import rather than through the API: its one version is itself.
        let scenario = get(pool, id, None).await?;
        versions.push(Version {
            version: scenario.version,
            name: scenario.name,
            status: scenario.status,
            comment: None,
            items: scenario.items.len() as i64,
            saved_at: None,
            saved_by: None,
        });
    }
    Ok(versions)
}

/// Records an evaluation of scenario `id` at `version`; its id.
#[allow(clippy::too_many_arguments)]
pub async fn record_evaluation(
    pool: &PgPool,
    id: Uuid,
    version: i32,
    day: NaiveDate,
    warehouse: &serde_json::Value,
    failures: usize,
    result: &serde_json::Value,
    user: Option<Uuid>,
) -> Result<Uuid, StoreError> {
    // Recorded only while the scenario exists: a deletion in between wins.
    sqlx::query_scalar(
        "INSERT INTO powertrace.scenario_evaluations (scenario_id, version, day, warehouse, failures, result, created_by, updated_by)
         SELECT $1, $2, $3, $4, $5, $6, $7, $7
         WHERE EXISTS (SELECT 1 FROM powertrace.scenarios WHERE id = $1 AND deleted_at IS NULL) RETURNING id",
    )
    .bind(id)
    .bind(version)
    .bind(day)
    .bind(warehouse)
    .bind(i32::try_from(failures).unwrap_or(i32::MAX))
    .bind(result)
    .bind(user)
    .fetch_optional(pool)
    .await?
    .ok_or(StoreError::NotFound(id))
}

/// The newest evaluations of scenario `id`.
pub async fn evaluations(pool: &PgPool, id: Uuid) -> Result<Vec<Recorded>, StoreError> {
    let rows = sqlx::query(
        "SELECT e.id, e.version, e.day, e.warehouse, e.failures, e.created_at AS evaluated_at, u.email
         FROM powertrace.scenario_evaluations e LEFT JOIN platform.users u ON u.id = e.created_by
         WHERE e.scenario_id = $1 AND e.deleted_at IS NULL ORDER BY e.created_at DESC LIMIT 100",
    )
    .bind(id)
    .fetch_all(pool)
    .await?;
    rows.iter()
        .map(|row| {
            Ok(Recorded {
                id: row.try_get("id")?,
                version: row.try_get("version")?,
                day: row.try_get("day")?,
                warehouse: row.try_get("warehouse")?,
                failures: row.try_get("failures")?,
                evaluated_at: row.try_get("evaluated_at")?,
                evaluated_by: row.try_get("email")?,
            })
        })
        .collect()
}

async fn site_id(transaction: &mut Transaction<'_, Postgres>, code: &str) -> Result<Uuid, StoreError> {
    sqlx::query_scalar("SELECT id FROM core.sites WHERE code = $1")
        .bind(code)
        .fetch_optional(&mut **transaction)
        .await?
        .ok_or_else(|| StoreError::UnknownSite(code.to_owned()))
}

/// Writes the version row and the items of `version`.
async fn write_version(
    transaction: &mut Transaction<'_, Postgres>,
    id: Uuid,
    site_id: Uuid,
    version: i32,
    spec: &ScenarioSpec,
    user: Option<Uuid>,
) -> Result<(), StoreError> {
    sqlx::query(
        "INSERT INTO powertrace.scenario_versions (scenario_id, version, name, description, base_date, status, factors, comment, created_by, updated_by)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $9)",
    )
    .bind(id)
    .bind(version)
    .bind(&spec.name)
    .bind(&spec.description)
    .bind(spec.base_date)
    .bind(&spec.status)
    .bind(sqlx::types::Json(spec.factors))
    .bind(&spec.comment)
    .bind(user)
    .execute(&mut **transaction)
    .await?;
    for (position, item) in spec.items.iter().enumerate() {
        let row = ItemRow::of(item);
        sqlx::query(
            "INSERT INTO powertrace.scenario_items (scenario_id, version, position, subject, action, tag, description,
                 switchboard_code, secondary_switchboard_code, rated_kw, absorbed_kw, power_factor, efficiency,
                 load_category, quantity, rated_kva, out_of_service, factors, start_date, equipment_id, created_by, updated_by)
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19,
                 (SELECT e.id FROM powertrace.equipment e
                  WHERE $4 = 'equipment' AND e.site_id = $20 AND e.tag = $6 AND e.deleted_at IS NULL LIMIT 1),
                 $21, $21)",
        )
        .bind(id)
        .bind(version)
        .bind(i32::try_from(position).unwrap_or(i32::MAX))
        .bind(row.subject)
        .bind(row.action)
        .bind(row.tag)
        .bind(row.description)
        .bind(row.switchboard)
        .bind(row.secondary)
        .bind(row.rated_kw)
        .bind(row.absorbed_kw)
        .bind(row.power_factor)
        .bind(row.efficiency)
        .bind(row.category.map(|category| category.as_str()))
        .bind(row.quantity.map(|quantity| i32::try_from(quantity).unwrap_or(i32::MAX)))
        .bind(row.rated_kva)
        .bind(row.out_of_service)
        .bind(row.factors.map(sqlx::types::Json))
        .bind(item.start)
        .bind(site_id)
        .bind(user)
        .execute(&mut **transaction)
        .await?;
    }
    Ok(())
}

/// The items of `version`, in their order.
async fn items(pool: &PgPool, id: Uuid, version: i32, base_date: NaiveDate) -> Result<Vec<Item>, StoreError> {
    let rows = sqlx::query(
        "SELECT subject, action, tag, description, switchboard_code, secondary_switchboard_code,
                CAST(rated_kw AS float8) AS rated_kw, CAST(absorbed_kw AS float8) AS absorbed_kw,
                CAST(power_factor AS float8) AS power_factor, CAST(efficiency AS float8) AS efficiency,
                load_category, quantity, CAST(rated_kva AS float8) AS rated_kva, out_of_service, factors, start_date,
                (SELECT b.code FROM powertrace.equipment e JOIN powertrace.switchboards b ON b.id = e.switchboard_id
                 WHERE e.id = i.equipment_id) AS equipment_board
         FROM powertrace.scenario_items i
         WHERE scenario_id = $1 AND version = $2 AND deleted_at IS NULL
         ORDER BY position, created_at, id",
    )
    .bind(id)
    .bind(version)
    .fetch_all(pool)
    .await?;
    rows.iter().map(|row| item_of(row, base_date)).collect()
}

/// An item's columns.
#[derive(Default)]
pub(crate) struct ItemRow {
    pub subject: &'static str,
    pub action: &'static str,
    pub tag: Option<String>,
    pub description: Option<String>,
    pub switchboard: Option<String>,
    pub secondary: Option<String>,
    pub rated_kw: Option<f64>,
    pub absorbed_kw: Option<f64>,
    pub power_factor: Option<f64>,
    pub efficiency: Option<f64>,
    pub category: Option<Category>,
    pub quantity: Option<u32>,
    pub rated_kva: Option<f64>,
    pub out_of_service: bool,
    pub factors: Option<FactorOverrides>,
}

impl ItemRow {
    pub(crate) fn of(item: &Item) -> ItemRow {
        let tagged =
            |subject, action, tag: &String| ItemRow { subject, action, tag: Some(tag.clone()), ..ItemRow::default() };
        match &item.change {
            Change::AddEquipment {
                tag,
                description,
                switchboard,
                rated_kw,
                absorbed_kw,
                power_factor,
                efficiency,
                category,
                quantity,
            } => ItemRow {
                description: Some(description.clone()),
                switchboard: Some(switchboard.clone()),
                rated_kw: Some(*rated_kw),
                absorbed_kw: Some(*absorbed_kw),
                power_factor: Some(*power_factor),
                efficiency: Some(*efficiency),
                category: Some(*category),
                quantity: Some(*quantity),
                ..tagged("equipment", "add", tag)
            },
            Change::RemoveEquipment { tag } => tagged("equipment", "remove", tag),
            Change::ModifyEquipment {
                tag,
                switchboard,
                rated_kw,
                absorbed_kw,
                power_factor,
                efficiency,
                category,
                quantity,
            } => ItemRow {
                switchboard: switchboard.clone(),
                rated_kw: *rated_kw,
                absorbed_kw: *absorbed_kw,
                power_factor: *power_factor,
                efficiency: *efficiency,
                category: *category,
                quantity: *quantity,
                ..tagged("equipment", "modify", tag)
            },
            Change::SetFactors { continuous, intermittent, standby, diversity } => ItemRow {
                subject: "factors",
                action: "modify",
                factors: Some(FactorOverrides {
                    continuous: *continuous,
                    intermittent: *intermittent,
                    standby: *standby,
                    diversity: *diversity,
                }),
                ..ItemRow::default()
            },
            Change::AddGenerator { tag, switchboard, rated_kva, power_factor } => ItemRow {
                switchboard: Some(switchboard.clone()),
                rated_kva: Some(*rated_kva),
                power_factor: Some(*power_factor),
                ..tagged("generator", "add", tag)
            },
            Change::RemoveGenerator { tag } => tagged("generator", "remove", tag),
            Change::GeneratorOutOfService { tag } => {
                ItemRow { out_of_service: true, ..tagged("generator", "modify", tag) }
            }
            Change::AddTransformer { tag, primary, secondary, rated_kva } => ItemRow {
                switchboard: Some(primary.clone()),
                secondary: Some(secondary.clone()),
                rated_kva: Some(*rated_kva),
                ..tagged("transformer", "add", tag)
            },
            Change::RemoveTransformer { tag } => tagged("transformer", "remove", tag),
            Change::TransformerOutOfService { tag } => {
                ItemRow { out_of_service: true, ..tagged("transformer", "modify", tag) }
            }
        }
    }
}

/// A stored item's columns by name, wherever the row was read: PostgreSQL for the
/// pages and the API, the warehouse for documents.
pub(crate) trait ItemColumns {
    fn text(&self, column: &str) -> Result<Option<String>, StoreError>;
    fn number(&self, column: &str) -> Result<Option<f64>, StoreError>;
    fn integer(&self, column: &str) -> Result<Option<i64>, StoreError>;
    fn date(&self, column: &str) -> Result<Option<NaiveDate>, StoreError>;
    fn flag(&self, column: &str) -> Result<bool, StoreError>;
    fn factors(&self, column: &str) -> Result<Option<FactorOverrides>, StoreError>;
}

impl ItemColumns for sqlx::postgres::PgRow {
    fn text(&self, column: &str) -> Result<Option<String>, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn number(&self, column: &str) -> Result<Option<f64>, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn integer(&self, column: &str) -> Result<Option<i64>, StoreError> {
        Ok(self.try_get::<Option<i32>, _>(column)?.map(i64::from))
    }
    fn date(&self, column: &str) -> Result<Option<NaiveDate>, StoreError> {
        Ok(self.try_get(column)?)
    }
    fn flag(&self, column: &str) -> Result<bool, StoreError> {
        Ok(self.try_get::<Option<bool>, _>(column)?.unwrap_or(false))
    }
    fn factors(&self, column: &str) -> Result<Option<FactorOverrides>, StoreError> {
        Ok(self.try_get::<Option<sqlx::types::Json<FactorOverrides>>, _>(column)?.map(|json| json.0))
    }
}

/// An item from its row. Rows written before items had a subject, a start or a
/// switchboard are equipment changes from the base date, on the equipment's own board.
pub(crate) fn item_of(row: &impl ItemColumns, base_date: NaiveDate) -> Result<Item, StoreError> {
    let subject = row.text("subject")?.unwrap_or_else(|| "equipment".to_owned());
    let action = row.text("action")?.unwrap_or_default();
    let tag = row.text("tag")?;
    let tag = || tag.clone().ok_or_else(|| StoreError::Corrupt(format!("a {subject} item with no tag")));
    let start = row.date("start_date")?;
    let number = |column: &str| row.number(column);
    let category = |text: Option<String>| text.as_deref().and_then(Category::parse);
    let quantity = row.integer("quantity")?.map(|quantity| u32::try_from(quantity.max(1)).unwrap_or(u32::MAX));
    let board = row.text("switchboard_code")?;
    let board = board.or(row.text("equipment_board")?);
    let out_of_service = row.flag("out_of_service")?;
    let change = match (subject.as_str(), action.as_str()) {
        ("equipment", "add") => Change::AddEquipment {
            tag: tag()?,
            description: row.text("description")?.unwrap_or_default(),
            switchboard: board.unwrap_or_default(),
            rated_kw: number("rated_kw")?.or(number("absorbed_kw")?).unwrap_or(0.0),
            absorbed_kw: number("absorbed_kw")?.unwrap_or(0.0),
            power_factor: number("power_factor")?.unwrap_or(0.85),
            efficiency: number("efficiency")?.unwrap_or(1.0),
            category: category(row.text("load_category")?).unwrap_or(Category::Continuous),
            quantity: quantity.unwrap_or(1),
        },
        ("equipment", "remove") => Change::RemoveEquipment { tag: tag()? },
        ("equipment", _) => Change::ModifyEquipment {
            tag: tag()?,
            switchboard: row.text("switchboard_code")?,
            rated_kw: number("rated_kw")?,
            absorbed_kw: number("absorbed_kw")?,
            power_factor: number("power_factor")?,
            efficiency: number("efficiency")?,
            category: category(row.text("load_category")?),
            quantity,
        },
        ("factors", _) => {
            let factors = row.factors("factors")?.unwrap_or_default();
            Change::SetFactors {
                continuous: factors.continuous,
                intermittent: factors.intermittent,
                standby: factors.standby,
                diversity: factors.diversity,
            }
        }
        ("generator", "add") => Change::AddGenerator {
            tag: tag()?,
            switchboard: board.unwrap_or_default(),
            rated_kva: number("rated_kva")?.unwrap_or(0.0),
            power_factor: number("power_factor")?.unwrap_or(0.8),
        },
        ("generator", "remove") => Change::RemoveGenerator { tag: tag()? },
        ("generator", _) if out_of_service => Change::GeneratorOutOfService { tag: tag()? },
        ("transformer", "add") => Change::AddTransformer {
            tag: tag()?,
            primary: board.unwrap_or_default(),
            secondary: row.text("secondary_switchboard_code")?.unwrap_or_default(),
            rated_kva: number("rated_kva")?.unwrap_or(0.0),
        },
        ("transformer", "remove") => Change::RemoveTransformer { tag: tag()? },
        ("transformer", _) if out_of_service => Change::TransformerOutOfService { tag: tag()? },
        (subject, action) => return Err(StoreError::Corrupt(format!("a {subject} item with action `{action}`"))),
    };
    Ok(Item { start: start.unwrap_or(base_date), change })
}
