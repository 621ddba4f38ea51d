//! Scenarios as the API and the forms send them: JSON read member by member, so a bad
//! value is refused with the JSON pointer of its member (`/items/3/power_factor`) and a
//! message saying what was expected — before anything is stored.

use chrono::NaiveDate;
use opsflux_powertrace::Category;
use opsflux_powertrace::scenario::{Change, Item};
use serde_json::{Map, Value};

/// Most items a scenario may hold.
pub const MAX_ITEMS: usize = 500;
/// The largest power (kW) or rating (kVA) an item may give: beyond any site.
const MAX_POWER: f64 = 10_000_000.0;
/// Longest name, tag or description.
const MAX_TEXT: usize = 500;

/// The statuses a scenario may have.
pub const STATUSES: [&str; 3] = ["draft", "published", "archived"];

/// The actions an item may take.
pub const ACTIONS: [&str; 10] = [
    "add_equipment",
    "remove_equipment",
    "modify_equipment",
    "set_factors",
    "add_generator",
    "remove_generator",
    "generator_out_of_service",
    "add_transformer",
    "remove_transformer",
    "transformer_out_of_service",
];

/// A bad member of a request body.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error("{message}")]
pub struct WireError {
    /// JSON pointer of the member at fault.
    pub pointer: String,
    /// What is wrong, naming the item and the field.
    pub message: String,
}

/// The factors a scenario changes from the site's defaults; absent ones keep them.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct FactorOverrides {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub continuous: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub intermittent: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub standby: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diversity: Option<f64>,
}

impl FactorOverrides {
    /// The defaults with these overrides applied.
    pub fn over(&self, mut factors: opsflux_powertrace::Factors) -> opsflux_powertrace::Factors {
        factors.continuous = self.continuous.unwrap_or(factors.continuous);
        factors.intermittent = self.intermittent.unwrap_or(factors.intermittent);
        factors.standby = self.standby.unwrap_or(factors.standby);
        factors.diversity = self.diversity.unwrap_or(factors.diversity);
        factors
    }
}

/// A scenario as asked for.
#[derive(Debug, Clone, PartialEq)]
pub struct ScenarioSpec {
    /// Site code.
    pub site: String,
    pub name: String,
    pub description: Option<String>,
    /// The day the scenario is evaluated as of by default, and the start of items
    /// that give none.
    pub base_date: NaiveDate,
    pub status: String,
    pub factors: FactorOverrides,
    pub items: Vec<Item>,
    /// Why this version was saved.
    pub comment: Option<String>,
}

/// Reads a scenario body; `today` is the base date when none is given.
pub fn scenario(body: &Value, today: NaiveDate) -> Result<ScenarioSpec, WireError> {
    let object = Fields::of(body, String::new(), "the scenario")?;
    object.only(&["site", "name", "description", "base_date", "status", "factors", "items", "comment"])?;
    let site = object.text("site")?.ok_or_else(|| object.missing("site", "a site code"))?;
    let name = object.text("name")?.ok_or_else(|| object.missing("name", "a name"))?;
    if name.trim().is_empty() {
        return Err(object.bad("name", "must not be empty".into()));
    }
    let description = object.text("description")?;
    let base_date = object.date("base_date")?.unwrap_or(today);
    let status = object.text("status")?.unwrap_or_else(|| "draft".to_owned());
    if !STATUSES.contains(&status.as_str()) {
        return Err(object.bad("status", format!("must be one of {}, not `{status}`", STATUSES.join(", "))));
    }
    let factors = match object.get("factors") {
        None | Some(Value::Null) => FactorOverrides::default(),
        Some(value) => {
            let fields = Fields::of(value, object.pointer_of("factors"), "factors")?;
            fields.only(&["continuous", "intermittent", "standby", "diversity"])?;
            FactorOverrides {
                continuous: fields.share("continuous")?,
                intermittent: fields.share("intermittent")?,
                standby: fields.share("standby")?,
                diversity: fields.share("diversity")?,
            }
        }
    };
    let items = match object.get("items") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) => {
            if items.len() > MAX_ITEMS {
                return Err(
                    object.bad("items", format!("holds {} items; at most {MAX_ITEMS} are allowed", items.len()))
                );
            }
            items
                .iter()
                .enumerate()
                .map(|(index, value)| item(index, value, base_date))
                .collect::<Result<Vec<_>, _>>()?
        }
        Some(other) => return Err(object.bad("items", format!("must be a list of items, not {}", kind(other)))),
    };
    let comment = object.text("comment")?;
    Ok(ScenarioSpec { site, name: name.trim().to_owned(), description, base_date, status, factors, items, comment })
}

/// Reads item `index` of a scenario.
pub fn item(index: usize, value: &Value, base_date: NaiveDate) -> Result<Item, WireError> {
    let fields = Fields::of(value, format!("/items/{index}"), &format!("item {index}"))?;
    let action = fields
        .text("action")?
        .ok_or_else(|| fields.missing("action", &format!("an action ({})", ACTIONS.join(", "))))?;
    let start = fields.date("start")?.unwrap_or(base_date);
    let tag = || fields.text("tag")?.ok_or_else(|| fields.missing("tag", "a tag"));
    let board = |name: &str| fields.text(name)?.ok_or_else(|| fields.missing(name, "a switchboard code"));
    let change = match action.as_str() {
        "add_equipment" => {
            fields.only(&[
                "action",
                "start",
                "tag",
                "description",
                "switchboard",
                "rated_kw",
                "absorbed_kw",
                "power_factor",
                "efficiency",
                "category",
                "quantity",
            ])?;
            let absorbed_kw =
                fields.power("absorbed_kw")?.ok_or_else(|| fields.missing("absorbed_kw", "a power in kW"))?;
            Change::AddEquipment {
                tag: tag()?,
                description: fields.text("description")?.unwrap_or_default(),
                switchboard: board("switchboard")?,
                rated_kw: fields.power("rated_kw")?.unwrap_or(absorbed_kw),
                absorbed_kw,
                power_factor: fields
                    .share("power_factor")?
                    .ok_or_else(|| fields.missing("power_factor", "a power factor above 0 and at most 1"))?,
                efficiency: fields.share("efficiency")?.unwrap_or(1.0),
                category: fields
                    .category("category")?
                    .ok_or_else(|| fields.missing("category", "a load category (continuous, intermittent, standby)"))?,
                quantity: fields.quantity("quantity")?.unwrap_or(1),
            }
        }
        "modify_equipment" => {
            fields.only(&[
                "action",
                "start",
                "tag",
                "switchboard",
                "rated_kw",
                "absorbed_kw",
                "power_factor",
                "efficiency",
                "category",
                "quantity",
            ])?;
            let change = Change::ModifyEquipment {
                tag: tag()?,
                switchboard: fields.text("switchboard")?,
                rated_kw: fields.power("rated_kw")?,
                absorbed_kw: fields.power("absorbed_kw")?,
                power_factor: fields.share("power_factor")?,
                efficiency: fields.share("efficiency")?,
                category: fields.category("category")?,
                quantity: fields.quantity("quantity")?,
            };
            if fields.0.keys().all(|key| matches!(key.as_str(), "action" | "start" | "tag")) {
                return Err(fields.bad(
                    "action",
                    "modify_equipment changes nothing: give switchboard, rated_kw, absorbed_kw, power_factor, efficiency, category or quantity".into(),
                ));
            }
            change
        }
        "set_factors" => {
            fields.only(&["action", "start", "continuous", "intermittent", "standby", "diversity"])?;
            let change = Change::SetFactors {
                continuous: fields.share("continuous")?,
                intermittent: fields.share("intermittent")?,
                standby: fields.share("standby")?,
                diversity: fields.share("diversity")?,
            };
            if !["continuous", "intermittent", "standby", "diversity"].iter().any(|name| fields.0.contains_key(*name)) {
                return Err(
                    fields.bad("action", "set_factors needs continuous, intermittent, standby or diversity".into())
                );
            }
            change
        }
        "add_generator" => {
            fields.only(&["action", "start", "tag", "switchboard", "rated_kva", "power_factor"])?;
            Change::AddGenerator {
                tag: tag()?,
                switchboard: board("switchboard")?,
                rated_kva: fields.rating("rated_kva")?,
                power_factor: fields.share("power_factor")?.unwrap_or(0.8),
            }
        }
        "add_transformer" => {
            fields.only(&["action", "start", "tag", "primary", "secondary", "rated_kva"])?;
            Change::AddTransformer {
                tag: tag()?,
                primary: board("primary")?,
                secondary: board("secondary")?,
                rated_kva: fields.rating("rated_kva")?,
            }
        }
        "remove_equipment"
        | "remove_generator"
        | "generator_out_of_service"
        | "remove_transformer"
        | "transformer_out_of_service" => {
            fields.only(&["action", "start", "tag"])?;
            let tag = tag()?;
            match action.as_str() {
                "remove_equipment" => Change::RemoveEquipment { tag },
                "remove_generator" => Change::RemoveGenerator { tag },
                "generator_out_of_service" => Change::GeneratorOutOfService { tag },
                "remove_transformer" => Change::RemoveTransformer { tag },
                _ => Change::TransformerOutOfService { tag },
            }
        }
        other => {
            return Err(fields.bad("action", format!("`{other}` is not an action; use one of {}", ACTIONS.join(", "))));
        }
    };
    Ok(Item { start, change })
}

/// The members of one JSON object, with where it sits and what it is called in messages.
struct Fields<'a>(&'a Map<String, Value>, String, String);

impl<'a> Fields<'a> {
    fn of(value: &'a Value, pointer: String, what: &str) -> Result<Fields<'a>, WireError> {
        match value {
            Value::Object(map) => Ok(Fields(map, pointer, what.to_owned())),
            other => Err(WireError {
                message: format!("{what} must be a JSON object, not {}", kind(other)),
                pointer: if pointer.is_empty() { String::new() } else { pointer },
            }),
        }
    }

    fn pointer_of(&self, name: &str) -> String {
        format!("{}/{}", self.1, name.replace('~', "~0").replace('/', "~1"))
    }

    fn bad(&self, name: &str, message: String) -> WireError {
        WireError { pointer: self.pointer_of(name), message: format!("{}, {name}: {message}", self.2) }
    }

    fn missing(&self, name: &str, wanted: &str) -> WireError {
        self.bad(name, format!("is missing: give {wanted}"))
    }

    fn get(&self, name: &str) -> Option<&'a Value> {
        self.0.get(name)
    }

    /// Refuses members not in `known`, so a misspelt one is not silently ignored.
    fn only(&self, known: &[&str]) -> Result<(), WireError> {
        match self.0.keys().find(|key| !known.contains(&key.as_str())) {
            Some(unknown) => {
                Err(self.bad(unknown, format!("is not a member here; the members are {}", known.join(", "))))
            }
            None => Ok(()),
        }
    }

    fn text(&self, name: &str) -> Result<Option<String>, WireError> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(text)) if text.chars().count() > MAX_TEXT => {
                Err(self.bad(name, format!("is longer than {MAX_TEXT} characters")))
            }
            Some(Value::String(text)) if text.chars().any(|c| c.is_control() && c != '\n' && c != '\t') => {
                Err(self.bad(name, "holds a control character".into()))
            }
            Some(Value::String(text)) => Ok(Some(text.trim().to_owned())),
            Some(other) => Err(self.bad(name, format!("must be text, not {}", kind(other)))),
        }
    }

    fn number(&self, name: &str) -> Result<Option<f64>, WireError> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => number
                .as_f64()
                .filter(|value| value.is_finite())
                .map(Some)
                .ok_or_else(|| self.bad(name, format!("`{number}` is not a usable number"))),
            Some(other) => Err(self.bad(name, format!("must be a number, not {}", kind(other)))),
        }
    }

    /// A power in kW: 0 or more.
    fn power(&self, name: &str) -> Result<Option<f64>, WireError> {
        match self.number(name)? {
            Some(value) if !(0.0..=MAX_POWER).contains(&value) => {
                Err(self.bad(name, format!("must be a power from 0 to {MAX_POWER} kW, not {value}")))
            }
            other => Ok(other),
        }
    }

    /// A rating in kVA: above 0, required.
    fn rating(&self, name: &str) -> Result<f64, WireError> {
        match self.number(name)? {
            // Stored to a tenth of a kVA.
            Some(value) if (0.1..=MAX_POWER).contains(&value) => Ok(value),
            Some(value) => Err(self.bad(name, format!("must be a rating from 0.1 to {MAX_POWER} kVA, not {value}"))),
            None => Err(self.missing(name, "a rating in kVA")),
        }
    }

    /// A power factor, an efficiency or a factor: above 0, at most 1.
    fn share(&self, name: &str) -> Result<Option<f64>, WireError> {
        match self.number(name)? {
            Some(value) if !(value > 0.0 && value <= 1.0) => {
                Err(self.bad(name, format!("must be above 0 and at most 1, not {value}")))
            }
            // Stored to three decimals: a smaller share would be stored as 0.
            Some(value) if value < 0.001 => {
                Err(self.bad(name, format!("must be at least 0.001 (it is kept to three decimals), not {value}")))
            }
            other => Ok(other),
        }
    }

    fn quantity(&self, name: &str) -> Result<Option<u32>, WireError> {
        match self.get(name) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::Number(number)) => match number.as_u64() {
                Some(count) if (1..=100_000).contains(&count) => Ok(Some(count as u32)),
                _ => Err(self.bad(name, format!("must be a whole number from 1 to 100000, not {number}"))),
            },
            Some(other) => Err(self.bad(name, format!("must be a whole number, not {}", kind(other)))),
        }
    }

    fn category(&self, name: &str) -> Result<Option<Category>, WireError> {
        match self.text(name)? {
            None => Ok(None),
            Some(text) => Category::parse(&text).map(Some).ok_or_else(|| {
                self.bad(name, format!("`{text}` is not a load category; use continuous, intermittent or standby"))
            }),
        }
    }

    fn date(&self, name: &str) -> Result<Option<NaiveDate>, WireError> {
        match self.text(name)? {
            None => Ok(None),
            Some(text) => NaiveDate::parse_from_str(&text, "%Y-%m-%d")
                .map(Some)
                .map_err(|_| self.bad(name, format!("`{text}` is not a date (YYYY-MM-DD, like 2027-03-01)"))),
        }
    }
}

/// What kind of JSON value, for messages.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "true or false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

/// The message and pointer of an item the plant refuses (an unknown tag or switchboard).
pub fn item_error(error: &opsflux_powertrace::scenario::ItemError) -> WireError {
    WireError {
        pointer: format!("/items/{}/{}", error.item, error.field),
        message: format!("item {}, {}: {}", error.item, error.field, error.message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn today() -> NaiveDate {
        NaiveDate::from_ymd_opt(2027, 1, 1).expect("date")
    }

    #[test]
    fn a_scenario_reads_with_its_defaults() {
        let spec = scenario(
            &json!({"site": "ALB", "name": " Ajout compresseurs gaz ", "items": [
                {"action": "add_equipment", "start": "2027-04-01", "tag": "K-201", "switchboard": "HV-01",
                 "absorbed_kw": 850, "power_factor": 0.86, "category": "continuous", "quantity": 2},
                {"action": "generator_out_of_service", "tag": "G-02"},
            ]}),
            today(),
        )
        .expect("valid");
        assert_eq!(
            (spec.name.as_str(), spec.status.as_str(), spec.base_date),
            ("Ajout compresseurs gaz", "draft", today())
        );
        assert_eq!(spec.items[1].start, today(), "an item with no start takes the base date");
        let Change::AddEquipment { rated_kw, efficiency, quantity, .. } = &spec.items[0].change else {
            panic!("{:?}", spec.items[0])
        };
        assert_eq!((*rated_kw, *efficiency, *quantity), (850.0, 1.0, 2));
    }

    #[test]
    fn bad_members_are_named_by_item_and_field() {
        let cases = [
            (
                json!({"action": "add_equipment", "tag": "X", "switchboard": "B", "absorbed_kw": -5, "power_factor": 0.9, "category": "continuous"}),
                "/items/0/absorbed_kw",
                "item 0, absorbed_kw: must be a power from 0 to 10000000 kW, not -5",
            ),
            (
                json!({"action": "add_equipment", "tag": "X", "switchboard": "B", "absorbed_kw": 5, "power_factor": 0, "category": "continuous"}),
                "/items/0/power_factor",
                "item 0, power_factor: must be above 0 and at most 1, not 0",
            ),
            (
                json!({"action": "add_equipment", "tag": "X", "switchboard": "B", "absorbed_kw": 5, "power_factor": 1.2, "category": "continuous"}),
                "/items/0/power_factor",
                "item 0, power_factor: must be above 0 and at most 1, not 1.2",
            ),
            (
                json!({"action": "add_equipment", "tag": "X", "switchboard": "B", "absorbed_kw": 5, "power_factor": 0.9, "efficiency": 1.1, "category": "continuous"}),
                "/items/0/efficiency",
                "item 0, efficiency: must be above 0 and at most 1, not 1.1",
            ),
            (
                json!({"action": "remove_equipment", "tag": "X", "start": "2027-13-01"}),
                "/items/0/start",
                "item 0, start: `2027-13-01` is not a date (YYYY-MM-DD, like 2027-03-01)",
            ),
            (
                json!({"action": "explode", "tag": "X"}),
                "/items/0/action",
                "item 0, action: `explode` is not an action; use one of add_equipment, remove_equipment, modify_equipment, set_factors, add_generator, remove_generator, generator_out_of_service, add_transformer, remove_transformer, transformer_out_of_service",
            ),
            (
                json!({"action": "remove_equipment", "tag": "X", "absorbd_kw": 5}),
                "/items/0/absorbd_kw",
                "item 0, absorbd_kw: is not a member here; the members are action, start, tag",
            ),
            (
                json!({"action": "modify_equipment", "tag": "X"}),
                "/items/0/action",
                "item 0, action: modify_equipment changes nothing: give switchboard, rated_kw, absorbed_kw, power_factor, efficiency, category or quantity",
            ),
            (json!("K-1"), "/items/0", "item 0 must be a JSON object, not text"),
            (
                json!({"action": "add_equipment", "tag": "X", "switchboard": "B", "absorbed_kw": 5, "power_factor": 0.0004, "category": "continuous"}),
                "/items/0/power_factor",
                "item 0, power_factor: must be at least 0.001 (it is kept to three decimals), not 0.0004",
            ),
            (
                json!({"action": "add_generator", "tag": "G", "switchboard": "B", "rated_kva": 0.04}),
                "/items/0/rated_kva",
                "item 0, rated_kva: must be a rating from 0.1 to 10000000 kVA, not 0.04",
            ),
        ];
        for (item, pointer, message) in cases {
            let error = scenario(&json!({"site": "ALB", "name": "s", "items": [item]}), today()).expect_err("refused");
            assert_eq!((error.pointer.as_str(), error.message.as_str()), (pointer, message));
        }
    }

    #[test]
    fn scenario_members_are_checked() {
        let error = scenario(&json!({"name": "s"}), today()).expect_err("no site");
        assert_eq!(
            (error.pointer.as_str(), error.message.as_str()),
            ("/site", "the scenario, site: is missing: give a site code")
        );
        let error = scenario(&json!({"site": "A", "name": "s", "status": "done"}), today()).expect_err("status");
        assert_eq!(error.message, "the scenario, status: must be one of draft, published, archived, not `done`");
        let error =
            scenario(&json!({"site": "A", "name": "s", "factors": {"standby": 2}}), today()).expect_err("factor");
        assert_eq!(
            (error.pointer.as_str(), error.message.as_str()),
            ("/factors/standby", "factors, standby: must be above 0 and at most 1, not 2")
        );
    }
}
