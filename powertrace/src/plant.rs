//! What a site has, electrically: switchboards (in a hierarchy), the equipment they feed,
//! generators and transformers, with the factors and limits a load list is computed
//! with. Built from typed values or read from the warehouse tables' Arrow batches; every
//! value is checked, and a bad one is named by table, record and field.

use std::collections::BTreeSet;

use opsflux_warehouse::arrow::array::{Array, AsArray, RecordBatch};
use opsflux_warehouse::arrow::datatypes::{
    DataType, Decimal128Type, Float32Type, Float64Type, Int16Type, Int32Type, Int64Type,
};

use crate::PowerError;

/// How a load runs, which decides how much of it counts in the maximum demand.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Category {
    Continuous,
    Intermittent,
    Standby,
}

impl Category {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "continuous" => Some(Category::Continuous),
            "intermittent" => Some(Category::Intermittent),
            "standby" => Some(Category::Standby),
            _ => None,
        }
    }

    pub fn as_str(&self) -> &'static str {
        match self {
            Category::Continuous => "continuous",
            Category::Intermittent => "intermittent",
            Category::Standby => "standby",
        }
    }
}

/// What a generator is doing; running and standby sets are available, the others not.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum GeneratorStatus {
    Running,
    Standby,
    Maintenance,
    OutOfService,
}

impl GeneratorStatus {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "running" => Some(GeneratorStatus::Running),
            "standby" => Some(GeneratorStatus::Standby),
            "maintenance" => Some(GeneratorStatus::Maintenance),
            "out_of_service" => Some(GeneratorStatus::OutOfService),
            _ => None,
        }
    }

    pub fn is_available(&self) -> bool {
        matches!(self, GeneratorStatus::Running | GeneratorStatus::Standby)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Switchboard {
    pub id: String,
    pub code: String,
    pub name: String,
    /// The switchboard it is fed from, if any (directly; a transformer is another way).
    pub parent: Option<String>,
    pub voltage_v: f64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Equipment {
    pub id: String,
    pub tag: String,
    pub description: String,
    /// The id of the switchboard feeding it.
    pub switchboard: String,
    pub rated_kw: f64,
    /// Power at the shaft (or absorbed by the process), per unit.
    pub absorbed_kw: f64,
    pub power_factor: f64,
    pub efficiency: f64,
    pub category: Category,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Generator {
    pub id: String,
    pub tag: String,
    pub switchboard: String,
    pub rated_kva: f64,
    pub power_factor: f64,
    pub status: GeneratorStatus,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Transformer {
    pub id: String,
    pub tag: String,
    pub primary: String,
    pub secondary: String,
    pub rated_kva: f64,
}

/// The share of each category's load counted in the maximum demand, and the diversity
/// factor applied once to each sum. The defaults (1.0, 0.3, 0.1; diversity 1.0) are
/// common practice, not a standard: a site or a scenario sets its own.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Factors {
    pub continuous: f64,
    pub intermittent: f64,
    pub standby: f64,
    pub diversity: f64,
}

impl Default for Factors {
    fn default() -> Self {
        Factors { continuous: 1.0, intermittent: 0.3, standby: 0.1, diversity: 1.0 }
    }
}

impl Factors {
    pub fn of(&self, category: Category) -> f64 {
        match category {
            Category::Continuous => self.continuous,
            Category::Intermittent => self.intermittent,
            Category::Standby => self.standby,
        }
    }

    pub(crate) fn check(&self) -> Result<(), PowerError> {
        let fields = [
            ("continuous", self.continuous),
            ("intermittent", self.intermittent),
            ("standby", self.standby),
            ("diversity", self.diversity),
        ];
        for (field, value) in fields {
            if !(value.is_finite() && value > 0.0 && value <= 1.0) {
                return Err(PowerError::Invalid {
                    table: "factors",
                    record: "of the load list".to_owned(),
                    field,
                    message: format!("must be above 0 and at most 1, not {value}"),
                });
            }
        }
        Ok(())
    }
}

/// The limits a load list is checked against.
#[derive(Debug, Clone, Copy, PartialEq, serde::Serialize)]
pub struct Limits {
    /// The most of the N-1 capacity the maximum demand may use in normal operation.
    pub n1_loading: f64,
    /// The lowest acceptable power factor of a site's demand.
    pub power_factor: f64,
    /// The most of its rating a transformer may carry.
    pub transformer_loading: f64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits { n1_loading: 0.85, power_factor: 0.85, transformer_loading: 1.0 }
    }
}

/// One site's electrical installation.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Plant {
    pub site: String,
    pub switchboards: Vec<Switchboard>,
    pub equipment: Vec<Equipment>,
    pub generators: Vec<Generator>,
    pub transformers: Vec<Transformer>,
}

impl Plant {
    /// Checks every value and every reference: what a database constraint would refuse,
    /// and the references a scenario may break.
    pub fn check(&self) -> Result<(), PowerError> {
        let boards: BTreeSet<&str> = self.switchboards.iter().map(|board| board.id.as_str()).collect();
        let known = |table: &'static str, record: &str, field: &'static str, id: &str| {
            if boards.contains(id) {
                Ok(())
            } else {
                Err(PowerError::UnknownSwitchboard {
                    table,
                    record: record.to_owned(),
                    field,
                    switchboard: id.to_owned(),
                    site: self.site.clone(),
                })
            }
        };
        for board in &self.switchboards {
            if let Some(parent) = &board.parent {
                known("switchboard", &board.code, "parent", parent)?;
            }
        }
        for item in &self.equipment {
            known("equipment", &item.tag, "switchboard", &item.switchboard)?;
            let bad = |field: &'static str, message: String| PowerError::Invalid {
                table: "equipment",
                record: item.tag.clone(),
                field,
                message,
            };
            for (field, value) in [("rated_kw", item.rated_kw), ("absorbed_kw", item.absorbed_kw)] {
                if !(value.is_finite() && value >= 0.0) {
                    return Err(bad(field, format!("must be a power of 0 kW or more, not {value}")));
                }
            }
            for (field, value) in [("power_factor", item.power_factor), ("efficiency", item.efficiency)] {
                if !(value.is_finite() && value > 0.0 && value <= 1.0) {
                    return Err(bad(field, format!("must be above 0 and at most 1, not {value}")));
                }
            }
            if item.quantity == 0 {
                return Err(bad("quantity", "must be at least 1".to_owned()));
            }
        }
        for set in &self.generators {
            known("generator", &set.tag, "switchboard", &set.switchboard)?;
            let bad = |field: &'static str, message: String| PowerError::Invalid {
                table: "generator",
                record: set.tag.clone(),
                field,
                message,
            };
            if !(set.rated_kva.is_finite() && set.rated_kva > 0.0) {
                return Err(bad("rated_kva", format!("must be above 0 kVA, not {}", set.rated_kva)));
            }
            if !(set.power_factor.is_finite() && set.power_factor > 0.0 && set.power_factor <= 1.0) {
                return Err(bad("power_factor", format!("must be above 0 and at most 1, not {}", set.power_factor)));
            }
        }
        for unit in &self.transformers {
            known("transformer", &unit.tag, "primary_switchboard", &unit.primary)?;
            known("transformer", &unit.tag, "secondary_switchboard", &unit.secondary)?;
            if !(unit.rated_kva.is_finite() && unit.rated_kva > 0.0) {
                return Err(PowerError::Invalid {
                    table: "transformer",
                    record: unit.tag.clone(),
                    field: "rated_kva",
                    message: format!("must be above 0 kVA, not {}", unit.rated_kva),
                });
            }
        }
        Ok(())
    }

    /// The installation of site `code` from batches of the warehouse tables `core.sites`,
    /// `powertrace.switchboards`, `.equipment`, `.generators` and `.transformers`; rows
    /// marked deleted are left out.
    pub fn from_batches(code: &str, tables: &Tables<'_>) -> Result<Plant, PowerError> {
        let mut site_id = None;
        for (batch, row) in rows(tables.sites) {
            let sites = Reader { table: "core.sites", batch };
            if sites.deleted(row)? {
                continue;
            }
            if sites.text("code", row)?.as_deref() == Some(code) {
                site_id = sites.text("id", row)?;
            }
        }
        let site_id = site_id.ok_or_else(|| PowerError::UnknownSite(code.to_owned()))?;
        let mut plant = Plant { site: code.to_owned(), ..Plant::default() };
        for found in site_rows(tables.switchboards, "powertrace.switchboards", &site_id) {
            let (table, row) = found?;
            plant.switchboards.push(Switchboard {
                id: table.required_text("id", row)?,
                code: table.required_text("code", row)?,
                name: table.required_text("name", row)?,
                parent: table.text("parent_switchboard_id", row)?,
                voltage_v: table.number("voltage_v", row)?,
            });
        }
        for found in site_rows(tables.equipment, "powertrace.equipment", &site_id) {
            let (table, row) = found?;
            let category = table.required_text("load_category", row)?;
            let quantity = table.number("quantity", row)?;
            plant.equipment.push(Equipment {
                id: table.required_text("id", row)?,
                tag: table.required_text("tag", row)?,
                description: table.required_text("description", row)?,
                switchboard: table.required_text("switchboard_id", row)?,
                rated_kw: table.number("rated_kw", row)?,
                absorbed_kw: table.number("absorbed_kw", row)?,
                power_factor: table.number("power_factor", row)?,
                efficiency: table.number("efficiency", row)?,
                category: Category::parse(&category)
                    .ok_or_else(|| table.bad("load_category", row, format!("unknown load category `{category}`")))?,
                quantity: u32::try_from(quantity as i64)
                    .ok()
                    .filter(|count| f64::from(*count) == quantity)
                    .ok_or_else(|| table.bad("quantity", row, format!("{quantity} is not a count")))?,
            });
        }
        for found in site_rows(tables.generators, "powertrace.generators", &site_id) {
            let (table, row) = found?;
            let status = table.required_text("status", row)?;
            plant.generators.push(Generator {
                id: table.required_text("id", row)?,
                tag: table.required_text("tag", row)?,
                switchboard: table.required_text("switchboard_id", row)?,
                rated_kva: table.number("rated_kva", row)?,
                power_factor: table.number("power_factor", row)?,
                status: GeneratorStatus::parse(&status)
                    .ok_or_else(|| table.bad("status", row, format!("unknown generator status `{status}`")))?,
            });
        }
        for found in site_rows(tables.transformers, "powertrace.transformers", &site_id) {
            let (table, row) = found?;
            plant.transformers.push(Transformer {
                id: table.required_text("id", row)?,
                tag: table.required_text("tag", row)?,
                primary: table.required_text("primary_switchboard_id", row)?,
                secondary: table.required_text("secondary_switchboard_id", row)?,
                rated_kva: table.number("rated_kva", row)?,
            });
        }
        plant.check()?;
        Ok(plant)
    }
}

/// The batches of each table a plant is read from.
#[derive(Debug, Clone, Copy, Default)]
pub struct Tables<'a> {
    pub sites: &'a [RecordBatch],
    pub switchboards: &'a [RecordBatch],
    pub equipment: &'a [RecordBatch],
    pub generators: &'a [RecordBatch],
    pub transformers: &'a [RecordBatch],
}

fn rows(batches: &[RecordBatch]) -> impl Iterator<Item = (&RecordBatch, usize)> {
    batches.iter().flat_map(|batch| (0..batch.num_rows()).map(move |row| (batch, row)))
}

/// The rows of `table` that belong to the site and are not marked deleted.
fn site_rows<'a>(
    batches: &'a [RecordBatch],
    table: &'static str,
    site_id: &'a str,
) -> impl Iterator<Item = Result<(Reader<'a>, usize), PowerError>> {
    rows(batches).filter_map(move |(batch, row)| {
        let reader = Reader { table, batch };
        let belongs = || -> Result<bool, PowerError> {
            Ok(!reader.deleted(row)? && reader.text("site_id", row)?.as_deref() == Some(site_id))
        };
        match belongs() {
            Ok(true) => Some(Ok((reader, row))),
            Ok(false) => None,
            Err(error) => Some(Err(error)),
        }
    })
}

/// Typed reads from one batch, errors naming the table, column and row.
struct Reader<'a> {
    table: &'static str,
    batch: &'a RecordBatch,
}

impl Reader<'_> {
    fn bad(&self, column: &str, row: usize, message: String) -> PowerError {
        PowerError::Column {
            table: self.table.to_owned(),
            column: column.to_owned(),
            message: format!("row {row}: {message}"),
        }
    }

    fn column(&self, name: &str) -> Result<&dyn Array, PowerError> {
        self.batch.column_by_name(name).map(|column| column.as_ref()).ok_or_else(|| PowerError::Column {
            table: self.table.to_owned(),
            column: name.to_owned(),
            message: "missing".to_owned(),
        })
    }

    fn deleted(&self, row: usize) -> Result<bool, PowerError> {
        Ok(self.batch.column_by_name("deleted_at").is_some_and(|column| column.is_valid(row)))
    }

    fn text(&self, name: &str, row: usize) -> Result<Option<String>, PowerError> {
        let column = self.column(name)?;
        if column.is_null(row) {
            return Ok(None);
        }
        match column.data_type() {
            DataType::Utf8 => Ok(Some(column.as_string::<i32>().value(row).to_owned())),
            DataType::LargeUtf8 => Ok(Some(column.as_string::<i64>().value(row).to_owned())),
            DataType::Utf8View => Ok(Some(column.as_string_view().value(row).to_owned())),
            other => Err(self.bad(name, row, format!("text expected, the column holds {other}"))),
        }
    }

    fn required_text(&self, name: &str, row: usize) -> Result<String, PowerError> {
        self.text(name, row)?.ok_or_else(|| self.bad(name, row, "empty".to_owned()))
    }

    fn number(&self, name: &str, row: usize) -> Result<f64, PowerError> {
        let column = self.column(name)?;
        if column.is_null(row) {
            return Err(self.bad(name, row, "empty".to_owned()));
        }
        let value = match column.data_type() {
            DataType::Float64 => column.as_primitive::<Float64Type>().value(row),
            DataType::Float32 => f64::from(column.as_primitive::<Float32Type>().value(row)),
            DataType::Int16 => f64::from(column.as_primitive::<Int16Type>().value(row)),
            DataType::Int32 => f64::from(column.as_primitive::<Int32Type>().value(row)),
            DataType::Int64 => column.as_primitive::<Int64Type>().value(row) as f64,
            DataType::Decimal128(_, scale) => {
                column.as_primitive::<Decimal128Type>().value(row) as f64 / 10f64.powi(i32::from(*scale))
            }
            other => return Err(self.bad(name, row, format!("a number expected, the column holds {other}"))),
        };
        Ok(value)
    }
}
