//! PowerTrace: per-site switchboards, generators, transformers and equipment load lists,
//! meters, what-if scenarios, and a year of 15-minute meter readings with daily and
//! weekly seasonality, a trend, outages and noise — streamed a day at a time.

use chrono::{Datelike, Days, Duration, Timelike};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use rand_distr::StandardNormal;
use uuid::Uuid;

use crate::catalog::{self, LOADS};
use crate::csv::{AUDIT_COLUMNS, Audit, Row, TableData};
use crate::{Options, World, moment};

/// Quarter hours in a day.
const SLOTS_PER_DAY: u32 = 96;

/// One meter's behaviour over the history.
#[derive(Debug, Clone)]
struct MeterModel {
    id: Uuid,
    /// Mean active power in kW.
    base_kw: f64,
    /// tan φ of the loads behind the meter, to derive reactive power.
    tan_phi: f64,
    onshore: bool,
    /// Relative change per year.
    trend: f64,
    /// Quarter hours (from the start of history) when the meter read nothing.
    outages: Vec<(u64, u64)>,
}

/// The meter readings, generated on demand one day at a time: ten million rows at
/// scale 1 never sit in memory at once.
#[derive(Debug, Clone)]
pub struct ReadingsPlan {
    options: Options,
    meters: Vec<MeterModel>,
}

/// One day of readings for every meter, as `COPY` CSV.
#[derive(Debug)]
pub struct ReadingsChunk {
    pub csv: String,
    pub rows: u64,
}

impl ReadingsPlan {
    pub const TABLE: &'static str = "powertrace.meter_readings";

    pub fn columns() -> Vec<&'static str> {
        let mut columns = vec!["id", "meter_id", "read_at", "kw", "kvar"];
        columns.extend(AUDIT_COLUMNS);
        columns
    }

    pub fn meter_count(&self) -> usize {
        self.meters.len()
    }

    pub fn total_rows(&self) -> u64 {
        self.meters.len() as u64 * u64::from(self.options.history_days()) * u64::from(SLOTS_PER_DAY)
    }

    /// The readings in time order (all meters at one instant, then the next), which
    /// keeps the time-ordered identifiers and the `(meter_id, read_at)` index appending.
    pub fn chunks(&self) -> impl Iterator<Item = ReadingsChunk> + '_ {
        (0..self.options.history_days()).map(move |day_index| self.day(day_index))
    }

    fn day(&self, day_index: u32) -> ReadingsChunk {
        // Each day has its own random stream, so any day can be generated alone.
        let mut rng = self.options.rng(&format!("readings-{day_index}"));
        let date = self.options.start() + Days::new(u64::from(day_index));
        let weekday = date.weekday().num_days_from_monday();
        let years = f64::from(day_index) / 365.0;
        let mut csv = String::with_capacity(self.meters.len() * SLOTS_PER_DAY as usize * 170);
        for slot in 0..SLOTS_PER_DAY {
            let read_at = moment(date, 0, 0) + Duration::minutes(i64::from(slot) * 15);
            let stamp = format!("{}+00", read_at.format("%Y-%m-%d %H:%M:%S"));
            let hour = f64::from(read_at.hour()) + f64::from(read_at.minute()) / 60.0;
            let quarter = u64::from(day_index) * u64::from(SLOTS_PER_DAY) + u64::from(slot);
            let millis = u64::try_from(read_at.timestamp_millis()).unwrap_or_default();
            for meter in &self.meters {
                let profile = if meter.onshore {
                    // Offices and workshops: a working-day bell, quieter weekends.
                    let bell = (-((hour - 13.0) / 4.5).powi(2)).exp();
                    let week = if weekday >= 5 { 0.72 } else { 1.0 };
                    (0.55 + 0.55 * bell) * week
                } else {
                    // Process loads run flat; quarters and galley add a daytime swell.
                    1.0 + 0.07 * ((hour - 9.0) / 24.0 * std::f64::consts::TAU).sin()
                        - if weekday == 6 { 0.03 } else { 0.0 }
                };
                let noise: f64 = rng.sample(StandardNormal);
                let in_outage = meter.outages.iter().any(|(from, to)| (*from..*to).contains(&quarter));
                let (kw, kvar) = if in_outage {
                    (0.0, 0.0)
                } else {
                    let kw = (meter.base_kw * (1.0 + meter.trend * years) * profile * (1.0 + 0.035 * noise)).max(0.0);
                    let reactive_noise: f64 = rng.sample(StandardNormal);
                    (kw, kw * meter.tan_phi * (1.0 + 0.02 * reactive_noise))
                };
                let mut random = [0u8; 10];
                rng.fill(&mut random);
                let id = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
                // The timestamp text is formatted once and shared by every meter of the slot.
                Row::new(&mut csv)
                    .uuid(id)
                    .uuid(meter.id)
                    .raw(&stamp)
                    .decimal(kw, 3)
                    .decimal(kvar, 3)
                    .null()
                    .raw(&stamp)
                    .raw(&stamp)
                    .null()
                    .null()
                    .end();
            }
        }
        ReadingsChunk { csv, rows: self.meters.len() as u64 * u64::from(SLOTS_PER_DAY) }
    }
}

pub(crate) fn generate(options: &Options, world: &World) -> (Vec<TableData>, ReadingsPlan) {
    let mut rng = options.rng("powertrace");
    let start = options.start();
    let setup = moment(start - Days::new(300), 8, 0);
    let engineer = world.engineers.first().copied().unwrap_or(world.admin);
    let audit = |external_id| Audit { external_id, created_at: setup, created_by: Some(engineer) };
    let meters_per_site = ((28.5 * options.scale.sqrt()).round() as usize).max(3);

    let mut switchboards = TableData::new(
        "powertrace.switchboards",
        &["id", "site_id", "parent_switchboard_id", "code", "name", "voltage_v", "rated_current_a"],
    );
    let mut generators = TableData::new(
        "powertrace.generators",
        &["id", "site_id", "switchboard_id", "tag", "rated_kva", "power_factor", "fuel_type", "status"],
    );
    let mut transformers = TableData::new(
        "powertrace.transformers",
        &[
            "id",
            "site_id",
            "primary_switchboard_id",
            "secondary_switchboard_id",
            "tag",
            "rated_kva",
            "primary_voltage_v",
            "secondary_voltage_v",
        ],
    );
    let mut equipment = TableData::new(
        "powertrace.equipment",
        &[
            "id",
            "site_id",
            "switchboard_id",
            "tag",
            "description",
            "rated_kw",
            "absorbed_kw",
            "power_factor",
            "efficiency",
            "load_category",
            "quantity",
        ],
    );
    let mut meters = TableData::new("powertrace.meters", &["id", "site_id", "switchboard_id", "tag", "description"]);
    let mut scenarios =
        TableData::new("powertrace.scenarios", &["id", "site_id", "name", "description", "base_date", "status"]);
    let mut scenario_items = TableData::new(
        "powertrace.scenario_items",
        &[
            "id",
            "scenario_id",
            "equipment_id",
            "action",
            "tag",
            "description",
            "rated_kw",
            "absorbed_kw",
            "power_factor",
            "load_category",
            "version",
            "position",
            "subject",
            "start_date",
            "switchboard_code",
            "efficiency",
            "quantity",
            "out_of_service",
        ],
    );
    let mut models = Vec::new();
    let total_quarters = u64::from(options.history_days()) * u64::from(SLOTS_PER_DAY);
    let site_outage_start = |rng: &mut ChaCha8Rng| rng.random_range(0..total_quarters.max(1));

    for (site_index, site) in world.sites.iter().enumerate() {
        let onshore = !site.site.is_offshore();
        let hv_voltage = if onshore { 20_000 } else { 11_000 };
        // Main HV board, two LV boards fed by transformers, and distribution boards.
        let mut boards: Vec<(Uuid, String, i64)> = Vec::new();
        let hv = catalog::uuid(&mut rng);
        switchboards.row(audit(None), |row| {
            row.uuid(hv)
                .uuid(site.id)
                .null()
                .text("TGHT-01")
                .text("Tableau général haute tension")
                .int(hv_voltage)
                .int(1250);
        });
        boards.push((hv, "TGHT-01".into(), hv_voltage));
        for (index, voltage) in [(1, 690), (2, 400)] {
            let id = catalog::uuid(&mut rng);
            let code = format!("TGBT-{index:02}");
            switchboards.row(audit(None), |row| {
                row.uuid(id)
                    .uuid(site.id)
                    .uuid(hv)
                    .text(&code)
                    .text(&format!("Tableau général basse tension {index}"))
                    .int(voltage)
                    .int(4000);
            });
            transformers.row(audit(None), |row| {
                row.uuid(catalog::uuid(&mut rng))
                    .uuid(site.id)
                    .uuid(hv)
                    .uuid(id)
                    .text(&format!("TR-{index:02}"))
                    .decimal(if onshore { 1600.0 } else { 3150.0 }, 1)
                    .int(hv_voltage)
                    .int(voltage);
            });
            boards.push((id, code, voltage));
        }
        let n_distribution = meters_per_site.saturating_sub(3).clamp(1, 20);
        for index in 1..=n_distribution {
            let id = catalog::uuid(&mut rng);
            let code = format!("TD-{index:02}");
            let parent = boards[1 + index % 2].0;
            switchboards.row(audit(None), |row| {
                row.uuid(id)
                    .uuid(site.id)
                    .uuid(parent)
                    .text(&code)
                    .text(&format!("Tableau divisionnaire {index}"))
                    .int(400)
                    .int(630);
            });
            boards.push((id, code, 400));
        }

        // The equipment load list: large machines on the HV board, the rest below.
        let mut board_load = vec![0.0_f64; boards.len()];
        let mut board_reactive = vec![0.0_f64; boards.len()];
        let n_equipment = if onshore { rng.random_range(20..35) } else { rng.random_range(35..60) };
        let mut listed = Vec::new();
        // The maximum demand the load list will compute (category factors 1.0 / 0.3 /
        // 0.1 of the electrical input, diversity 1), for sizing the generators.
        let mut demand_kw = 0.0;
        for index in 0..n_equipment {
            let (description, low, high, load_factor, power_factor, category) = catalog::pick(&mut rng, LOADS);
            let scale = if onshore { 0.4 } else { 1.0 };
            let rated = (rng.random_range(low..high) * scale / 5.0).round() * 5.0;
            let absorbed = rated * load_factor * rng.random_range(0.9..1.1);
            let power_factor = (power_factor + rng.random_range(-0.02..0.02_f64)).min(0.99);
            let efficiency = rng.random_range(0.90..0.965);
            let board = if rated >= 400.0 { 0 } else { 1 + rng.random_range(0..boards.len() - 1) };
            let prefix = match description.split_whitespace().next() {
                Some("Pompe") => "P",
                Some("Compresseur") => "K",
                Some("Ventilateur") | Some("Groupe") => "HV",
                Some("Éclairage") => "L",
                Some("Grue") | Some("Treuil") => "CR",
                _ => "E",
            };
            let tag = format!("{prefix}-{}{:02}{}", 1 + index / 26, index % 100, (b'A' + (index % 26) as u8) as char);
            let id = catalog::uuid(&mut rng);
            let quantity: i32 = if rng.random_bool(0.15) { 2 } else { 1 };
            let external_id = format!("{}:{tag}", site.site.code);
            equipment.row(Audit { external_id: Some(&external_id), ..audit(None) }, |row| {
                row.uuid(id)
                    .uuid(site.id)
                    .uuid(boards[board].0)
                    .text(&tag)
                    .text(description)
                    .decimal(rated, 2)
                    .decimal(absorbed, 2)
                    .decimal(power_factor, 3)
                    .decimal(efficiency, 3)
                    .text(category)
                    .int(i64::from(quantity));
            });
            let duty = match category {
                "continuous" => 1.0,
                "intermittent" => 0.35,
                _ => 0.0,
            };
            let factor = match category {
                "continuous" => 1.0,
                "intermittent" => 0.3,
                _ => 0.1,
            };
            // As stored: two decimals for power, three for efficiency.
            let stored = |value: f64, decimals: i32| (value * 10f64.powi(decimals)).round() / 10f64.powi(decimals);
            demand_kw += stored(absorbed, 2) * f64::from(quantity) / stored(efficiency, 3) * factor;
            let running_kw = absorbed * f64::from(quantity) * duty;
            board_load[board] += running_kw;
            board_reactive[board] += running_kw * power_factor.acos().tan();
            listed.push((id, tag, description, absorbed, category));
        }

        // Generators sized with N+1 redundancy: the maximum demand within 75 % of the
        // capacity with the largest set out (rated at power factor 0.8), in steps of
        // 250 kVA — except on the second site, whose sets have fallen behind its load:
        // it fails N-1 with today's equipment, as a demo should show.
        let n_generators = if onshore { 2 } else { rng.random_range(3..=4) };
        let spare_sets = f64::from(n_generators - 1);
        let unit_kva = if site_index == 1 {
            ((demand_kw / 0.8 / 1.1 / spare_sets) / 250.0).floor().max(1.0) * 250.0
        } else {
            ((demand_kw / 0.8 / 0.75 / spare_sets) / 250.0).ceil().max(2.0) * 250.0
        };
        for index in 1..=n_generators {
            let status = if index == n_generators { "standby" } else { "running" };
            generators.row(audit(None), |row| {
                row.uuid(catalog::uuid(&mut rng))
                    .uuid(site.id)
                    .uuid(hv)
                    .text(&format!("G-{index:02}"))
                    .decimal(unit_kva, 1)
                    .decimal(0.8, 3)
                    .text(if onshore { "diesel" } else { "dual_fuel" })
                    .text(status);
            });
        }

        // Meters: one per board, the rest on the busiest boards' outgoing feeders.
        let site_trend = rng.random_range(-0.03..0.06);
        let blackout_start = site_outage_start(&mut rng);
        let blackout = (blackout_start, blackout_start + rng.random_range(4..16));
        let mut meters_on_board = vec![0usize; boards.len()];
        let assignments: Vec<usize> = (0..meters_per_site).map(|index| index % boards.len()).collect();
        for board in &assignments {
            meters_on_board[*board] += 1;
        }
        for (index, board) in assignments.iter().enumerate() {
            let id = catalog::uuid(&mut rng);
            let tag = format!("CPT-{:03}", index + 1);
            let external_id = format!("{}:{tag}", site.site.code);
            meters.row(Audit { external_id: Some(&external_id), ..audit(None) }, |row| {
                row.uuid(id)
                    .uuid(site.id)
                    .uuid(boards[*board].0)
                    .text(&tag)
                    .text(&format!("Comptage {}", boards[*board].1));
            });
            let share = meters_on_board[*board] as f64;
            let base_kw = (board_load[*board] / share).max(15.0);
            let tan_phi = if board_load[*board] > 0.0 { board_reactive[*board] / board_load[*board] } else { 0.6 };
            let mut outages = vec![blackout];
            let n_outages = (total_quarters as f64 / 35_040.0 * 3.0).round() as u64;
            for _ in 0..n_outages {
                let from = rng.random_range(0..total_quarters.max(1));
                outages.push((from, from + rng.random_range(8..48)));
            }
            models.push(MeterModel { id, base_kw, tan_phi, onshore, trend: site_trend, outages });
        }

        // Two what-if scenarios per site, with the items an engineer would write. The
        // random draws are those the generator has always made here, so the data of
        // the following sites does not move; what the items say is decided by the site.
        let scale = if onshore { 0.4 } else { 1.0 };
        let start = |days: i64| options.end + Duration::days(days);
        for (name, description, plan) in [
            (
                "Ajout compresseurs gaz",
                "Deux compresseurs de réinjection sur le TGHT-01 au printemps, leur refroidisseur, et un groupe en révision l'été suivant",
                ScenarioPlan::Compressors,
            ),
            (
                "Extension quartiers vie",
                "Module de 40 lits : climatisation, cuisine, buanderie et éclairage, la cuisine plus utilisée",
                ScenarioPlan::Quarters,
            ),
        ] {
            let scenario_id = catalog::uuid(&mut rng);
            scenarios.row(audit(None), |row| {
                row.uuid(scenario_id)
                    .uuid(site.id)
                    .text(name)
                    .text(description)
                    .date(options.end)
                    .text(if rng.random_bool(0.5) { "published" } else { "draft" });
            });
            let count = rng.random_range(3..=6);
            for position in 0..count {
                let (equipment_id, tag, _, absorbed, _) = catalog::pick_ref(&mut rng, &listed).clone();
                let _ = catalog::pick(&mut rng, &["add", "remove", "modify"]);
                let item_id = catalog::uuid(&mut rng);
                let item = plan.item(position, scale);
                scenario_items.row(audit(None), |row| {
                    row.uuid(item_id).uuid(scenario_id);
                    match &item {
                        PlannedItem::Add {
                            tag,
                            description,
                            board,
                            kw,
                            power_factor,
                            efficiency,
                            category,
                            quantity,
                            days,
                        } => row
                            .null()
                            .text("add")
                            .text(tag)
                            .text(description)
                            .decimal(kw * 1.1, 2)
                            .decimal(*kw, 2)
                            .decimal(*power_factor, 3)
                            .text(category)
                            .int(1)
                            .int(position as i64)
                            .text("equipment")
                            .date(start(*days))
                            .text(board)
                            .decimal(*efficiency, 3)
                            .int(*quantity)
                            .boolean(false),
                        PlannedItem::Grow { days } => row
                            .uuid(equipment_id)
                            .text("modify")
                            .text(&tag)
                            .null()
                            .null()
                            .decimal(absorbed * 1.15, 2)
                            .null()
                            .null()
                            .int(1)
                            .int(position as i64)
                            .text("equipment")
                            .date(start(*days))
                            .null()
                            .null()
                            .null()
                            .boolean(false),
                        PlannedItem::GeneratorOut { tag, days } => row
                            .null()
                            .text("modify")
                            .text(tag)
                            .null()
                            .null()
                            .null()
                            .null()
                            .null()
                            .int(1)
                            .int(position as i64)
                            .text("generator")
                            .date(start(*days))
                            .null()
                            .null()
                            .null()
                            .boolean(true),
                    };
                });
            }
        }
    }
    (
        vec![switchboards, generators, transformers, equipment, meters, scenarios, scenario_items],
        ReadingsPlan { options: *options, meters: models },
    )
}

/// The two demo scenarios of every site.
#[derive(Debug, Clone, Copy)]
enum ScenarioPlan {
    Compressors,
    Quarters,
}

/// One planned scenario item.
#[derive(Debug, Clone)]
enum PlannedItem {
    Add {
        tag: String,
        description: &'static str,
        board: &'static str,
        kw: f64,
        power_factor: f64,
        efficiency: f64,
        category: &'static str,
        quantity: i64,
        days: i64,
    },
    /// An existing load that grows by 15 %.
    Grow {
        days: i64,
    },
    GeneratorOut {
        tag: &'static str,
        days: i64,
    },
}

impl ScenarioPlan {
    /// Item `position` (from 0) of the plan; `scale` shrinks onshore loads.
    fn item(self, position: usize, scale: f64) -> PlannedItem {
        let add = |tag: &str, description, board, kw: f64, power_factor, efficiency, category, quantity, days| {
            PlannedItem::Add {
                tag: tag.to_owned(),
                description,
                board,
                kw: (kw * scale / 5.0).round() * 5.0,
                power_factor,
                efficiency,
                category,
                quantity,
                days,
            }
        };
        match (self, position) {
            (ScenarioPlan::Compressors, 0) => {
                add("K-901A", "Compresseur gaz de réinjection", "TGHT-01", 1100.0, 0.87, 0.96, "continuous", 1, 120)
            }
            (ScenarioPlan::Compressors, 1) => {
                add("K-901B", "Compresseur gaz de réinjection", "TGHT-01", 1100.0, 0.87, 0.96, "continuous", 1, 150)
            }
            (ScenarioPlan::Compressors, 2) => {
                add("E-902", "Aéroréfrigérant de gaz", "TGBT-01", 90.0, 0.84, 0.93, "intermittent", 2, 120)
            }
            (ScenarioPlan::Compressors, 3) => PlannedItem::GeneratorOut { tag: "G-01", days: 240 },
            (ScenarioPlan::Compressors, 4) => PlannedItem::Grow { days: 150 },
            (ScenarioPlan::Compressors, _) => {
                add("P-903", "Pompe de gaz combustible", "TGBT-01", 45.0, 0.85, 0.92, "standby", 2, 150)
            }
            (ScenarioPlan::Quarters, 0) => {
                add("HV-951", "Climatisation module vie 40 lits", "TGBT-02", 160.0, 0.85, 0.93, "continuous", 1, 60)
            }
            (ScenarioPlan::Quarters, 1) => {
                add("E-952", "Cuisine — fours et plaques", "TGBT-02", 120.0, 0.98, 0.95, "intermittent", 1, 60)
            }
            (ScenarioPlan::Quarters, 2) => add("E-953", "Buanderie", "TGBT-02", 60.0, 0.9, 0.92, "intermittent", 1, 75),
            (ScenarioPlan::Quarters, 3) => {
                add("L-954", "Éclairage module vie", "TGBT-02", 25.0, 0.95, 0.95, "continuous", 1, 60)
            }
            (ScenarioPlan::Quarters, 4) => PlannedItem::Grow { days: 90 },
            (ScenarioPlan::Quarters, _) => {
                add("E-955", "Chauffe-eau sanitaire", "TGBT-02", 40.0, 0.99, 0.97, "intermittent", 2, 75)
            }
        }
    }
}
