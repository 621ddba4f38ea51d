//! Third parties, personnel on board and transport: companies and contacts, personnel
//! on rotations with their stays and approvals, and the crew-change flights and boats
//! that carry them, with manifests, cargo and fuel.
//!
//! Everything hangs together: a stay's arrival is a seat on an outbound leg the same
//! day, its departure a seat on the way back, and crews change on each site's two
//! crew-change weekdays, which is why occupancy varies by weekday.

use std::collections::{BTreeMap, HashSet};

use chrono::{DateTime, Datelike, Days, Duration, NaiveDate, Utc};
use rand::Rng;
use rand_distr::StandardNormal;
use uuid::Uuid;

use crate::catalog::{self, SiteRow};
use crate::csv::{Audit, TableData};
use crate::{Options, World, moment};

/// A stay as the transport generator needs it.
#[derive(Debug, Clone)]
struct Stay {
    id: Uuid,
    site: usize,
    personnel: Uuid,
    arrival: NaiveDate,
    departure: NaiveDate,
    travels: bool,
    submitted_at: Option<DateTime<Utc>>,
}

pub(crate) fn generate(options: &Options, world: &World) -> Vec<TableData> {
    let mut rng = options.rng("logistics");
    let start = options.start();
    let end = options.end;
    let setup_at = moment(start - Days::new(200), 8, 0);
    let audit = |created_at| Audit { external_id: None, created_at, created_by: Some(world.admin) };

    // Tiers: the operator, then suppliers and subcontractors, each with contacts.
    let mut companies =
        TableData::new("tiers.companies", &["id", "name", "kind", "registration_number", "country", "city"]);
    let mut contacts = TableData::new(
        "tiers.contacts",
        &["id", "company_id", "first_name", "last_name", "email", "phone", "job_title"],
    );
    let mut external_users =
        TableData::new("tiers.external_users", &["id", "company_id", "contact_id", "email", "access_expires_at"]);
    let mut company_ids = Vec::new();
    let mut company_kinds = Vec::new();
    let mut taken = HashSet::new();
    for company_index in 0..40usize {
        let (name, kind) = if company_index == 0 {
            ("Compagnie des Pétroles de l'Atlantique".to_owned(), "client")
        } else {
            loop {
                let (trade, kind) = catalog::pick(&mut rng, catalog::COMPANY_TRADES);
                let name = format!("{trade} {}", catalog::pick(&mut rng, catalog::COMPANY_STEMS));
                if taken.insert(name.clone()) {
                    break (name, kind);
                }
            }
        };
        let id = catalog::uuid(&mut rng);
        let (city, country) = catalog::pick(&mut rng, catalog::CITIES);
        let registration = if country == "FR" {
            format!("{:09} {:05}", rng.random_range(300_000_000u64..999_999_999), rng.random_range(10..99_999))
        } else {
            format!(
                "RCCM-{country}-{}-{}-B-{:05}",
                &city[..3].to_uppercase(),
                rng.random_range(1995..2024),
                rng.random_range(1..99_999)
            )
        };
        let external_id = format!("TIERS-{:04}", company_index + 1);
        companies.row(Audit { external_id: Some(&external_id), ..audit(setup_at) }, |row| {
            row.uuid(id).text(&name).text(kind).text(&registration).text(country).text(city);
        });
        let domain = catalog::ascii_slug(&name);
        for contact_index in 0..rng.random_range(2..=4) {
            let contact_id = catalog::uuid(&mut rng);
            let (first, last) = catalog::person(&mut rng);
            let email =
                format!("{}.{}{contact_index}@{domain}.example", catalog::ascii_slug(first), catalog::ascii_slug(last));
            let phone = format!(
                "+241 {:02} {:02} {:02} {:02}",
                rng.random_range(1..99),
                rng.random_range(0..99),
                rng.random_range(0..99),
                rng.random_range(0..99)
            );
            let title = catalog::pick(
                &mut rng,
                &[
                    "Directeur commercial",
                    "Chargé d'affaires",
                    "Responsable HSE",
                    "Coordinateur opérations",
                    "Comptable",
                ],
            );
            contacts.row(audit(setup_at), |row| {
                row.uuid(contact_id).uuid(id).text(first).text(last).text(&email).text(&phone).text(title);
            });
            if rng.random_bool(0.3) {
                let expires = moment(end + Days::new(rng.random_range(30..400)), 0, 0);
                external_users.row(audit(setup_at), |row| {
                    row.uuid(catalog::uuid(&mut rng)).uuid(id).uuid(contact_id).text(&email).timestamp(expires);
                });
            }
        }
        company_ids.push(id);
        company_kinds.push(kind);
    }
    let employers: Vec<Uuid> = company_ids
        .iter()
        .zip(&company_kinds)
        .filter(|(_, kind)| matches!(**kind, "client" | "subcontractor"))
        .map(|(id, _)| *id)
        .collect();

    // Personnel: rotating crews sized to each site's beds, plus a pool of campaign
    // workers and visitors who come for shutdowns and short trips.
    let mut personnel = TableData::new(
        "pob.personnel",
        &[
            "id",
            "company_id",
            "first_name",
            "last_name",
            "badge_number",
            "job_title",
            "nationality",
            "rotation_pattern",
            "home_site_id",
        ],
    );
    let mut rotations = TableData::new(
        "pob.rotations",
        &["id", "personnel_id", "site_id", "pattern", "on_days", "off_days", "cycle_start_date", "ends_on"],
    );
    let mut stays: Vec<Stay> = Vec::new();
    let mut stay_rotation: Vec<Option<Uuid>> = Vec::new();
    let mut badge = 0u32;
    let mut add_person =
        |rng: &mut rand_chacha::ChaCha8Rng, personnel: &mut TableData, pattern: &str, home: Option<Uuid>| {
            let id = catalog::uuid(rng);
            badge += 1;
            let (first, last) = catalog::person(rng);
            let employer = if rng.random_bool(0.35) { employers[0] } else { catalog::pick(rng, &employers) };
            let external_id = format!("HR-{badge:06}");
            personnel.row(Audit { external_id: Some(&external_id), ..audit(setup_at) }, |row| {
                row.uuid(id)
                    .uuid(employer)
                    .text(first)
                    .text(last)
                    .text(&format!("B{badge:06}"))
                    .text(catalog::pick(rng, catalog::JOB_TITLES))
                    .text(catalog::pick_weighted(rng, catalog::NATIONALITIES))
                    .text(pattern)
                    .opt_uuid(home);
            });
            id
        };
    let horizon = end + Days::new(35);
    for (site_index, site) in world.sites.iter().enumerate() {
        let crew = (f64::from(site.site.bed_capacity) * 2.0 * 0.91).round() as usize;
        for _ in 0..crew {
            let (pattern, on_days) =
                catalog::pick_weighted(&mut rng, &[(("14/14", 14u64), 60), (("28/28", 28), 25), (("21/21", 21), 15)]);
            let person = add_person(&mut rng, &mut personnel, pattern, Some(site.id));
            let cycle_weeks = on_days * 2 / 7;
            // Cycles start on a crew-change weekday, some whole weeks before the history.
            let crew_day = site.site.crew_change_days[rng.random_range(0..2)];
            let mut cycle_start = start - Days::new(7 * rng.random_range(1..=cycle_weeks));
            while cycle_start.weekday().num_days_from_monday() != crew_day {
                cycle_start = cycle_start + Days::new(1);
            }
            let rotation_id = catalog::uuid(&mut rng);
            rotations.row(audit(moment(cycle_start - Days::new(30), 9, 0)), |row| {
                row.uuid(rotation_id)
                    .uuid(person)
                    .uuid(site.id)
                    .text(pattern)
                    .int(on_days as i64)
                    .int(on_days as i64)
                    .date(cycle_start)
                    .null();
            });
            let mut arrival = cycle_start;
            while arrival < horizon {
                // Some crews stay a week longer or leave a week early: whole weeks keep
                // departures on crew-change days.
                let adjust = rng.random_range(0..100);
                let length = match adjust {
                    0..=4 => on_days + 7,
                    5..=7 if on_days > 14 => on_days - 7,
                    _ => on_days,
                };
                let departure = arrival + Days::new(length);
                if departure > start {
                    stays.push(Stay {
                        id: catalog::uuid(&mut rng),
                        site: site_index,
                        personnel: person,
                        arrival,
                        departure,
                        travels: true,
                        submitted_at: None,
                    });
                    stay_rotation.push(Some(rotation_id));
                }
                arrival = arrival + Days::new(on_days * 2);
            }
        }
    }
    let pool_size = (personnel.rows as f64 * 0.15) as usize;
    let pool: Vec<Uuid> = (0..pool_size).map(|_| add_person(&mut rng, &mut personnel, "day", None)).collect();
    let (campaign_workers, visitors) = pool.split_at(pool_size / 2);

    // Shutdown and maintenance campaigns bring extra crews, pushing POB over capacity.
    let mut busy_until: BTreeMap<Uuid, NaiveDate> = BTreeMap::new();
    let history_days = u64::from(options.history_days());
    for (site_index, site) in world.sites.iter().enumerate() {
        let n_campaigns = ((history_days as f64 / 365.0) * 2.5).round().max(1.0) as usize;
        for _ in 0..n_campaigns {
            let mut arrival = start + Days::new(rng.random_range(0..history_days + 20));
            while arrival.weekday().num_days_from_monday() != site.site.crew_change_days[0] {
                arrival = arrival + Days::new(1);
            }
            let departure = arrival + Days::new(7 * rng.random_range(2..=3));
            let extra = (f64::from(site.site.bed_capacity) * rng.random_range(0.08..0.28)).round() as usize;
            let mut added = 0;
            for worker in campaign_workers {
                if added == extra {
                    break;
                }
                if busy_until.get(worker).is_some_and(|until| *until >= arrival) {
                    continue;
                }
                busy_until.insert(*worker, departure);
                stays.push(Stay {
                    id: catalog::uuid(&mut rng),
                    site: site_index,
                    personnel: *worker,
                    arrival,
                    departure,
                    travels: true,
                    submitted_at: None,
                });
                stay_rotation.push(None);
                added += 1;
            }
        }
    }

    // Stays with their approval circuit, in the state they have on the last day.
    let mut stays_table = TableData::new(
        "pob.stays",
        &[
            "id",
            "site_id",
            "personnel_id",
            "rotation_id",
            "status",
            "arrival_date",
            "departure_date",
            "purpose",
            "requested_by",
            "requested_at",
            "submitted_at",
            "approved_at",
        ],
    );
    let mut approvals = TableData::new(
        "pob.stay_approvals",
        &["id", "stay_id", "level", "approver_id", "decision", "decided_at", "comment"],
    );
    for (stay, rotation) in stays.iter_mut().zip(&stay_rotation) {
        let site = &world.sites[stay.site];
        let requested_at = moment(
            stay.arrival - Days::new(rng.random_range(12..40)),
            rng.random_range(6..17),
            rng.random_range(0..60),
        );
        let days_ahead = (stay.arrival - end).num_days();
        let roll = rng.random_range(0..1000);
        let status = if days_ahead > 21 {
            "draft"
        } else if days_ahead > 14 {
            "pending"
        } else if days_ahead > 7 {
            "in_validation"
        } else if roll < 20 {
            "cancelled"
        } else if roll < 32 {
            "rejected"
        } else if stay.departure <= end {
            "completed"
        } else {
            "approved"
        };
        stay.travels = !matches!(status, "cancelled" | "rejected");
        let submitted_at = (status != "draft").then(|| requested_at + Duration::minutes(rng.random_range(10..2880)));
        stay.submitted_at = submitted_at;
        let levels = if rotation.is_some() { 2 } else { 3 };
        let decided = |level: i64, rng: &mut rand_chacha::ChaCha8Rng| {
            submitted_at.map(|at| at + Duration::hours(level * 20 + rng.random_range(1..30)))
        };
        let approved_at =
            matches!(status, "approved" | "completed" | "cancelled").then(|| decided(levels, &mut rng)).flatten();
        let purpose = if rotation.is_some() { "Relève équipe de quart" } else { "Campagne de maintenance" };
        let requester = world.site_managers[stay.site % world.site_managers.len()];
        stays_table.row(Audit { external_id: None, created_at: requested_at, created_by: Some(requester) }, |row| {
            row.uuid(stay.id)
                .uuid(site.id)
                .uuid(stay.personnel)
                .opt_uuid(*rotation)
                .text(status)
                .date(stay.arrival)
                .date(stay.departure)
                .text(purpose)
                .uuid(requester)
                .timestamp(requested_at)
                .opt_timestamp(submitted_at)
                .opt_timestamp(approved_at);
        });
        let Some(submitted) = submitted_at else { continue };
        for level in 1..=levels {
            let (decision, decided_at, comment) = match status {
                "pending" => ("pending", None, None),
                "in_validation" if level == 1 => ("approved", decided(level, &mut rng), None),
                "in_validation" => ("pending", None, None),
                "rejected" if level == levels => {
                    ("rejected", decided(level, &mut rng), Some("Capacité d'hébergement atteinte sur la période"))
                }
                _ => ("approved", decided(level, &mut rng), None),
            };
            let approver = if level == 1 { requester } else { catalog::pick(&mut rng, &world.users) };
            approvals.row(Audit { external_id: None, created_at: submitted, created_by: Some(requester) }, |row| {
                row.uuid(catalog::uuid(&mut rng))
                    .uuid(stay.id)
                    .int(level)
                    .uuid(approver)
                    .text(decision)
                    .opt_timestamp(decided_at)
                    .opt_text(comment);
            });
        }
    }

    let transport = transport(options, world, &mut rng, &company_ids, &stays, visitors);
    let mut tables = vec![companies, contacts, external_users, personnel, rotations, stays_table, approvals];
    tables.extend(transport);
    tables
}

/// How a site's crews travel from its base.
fn mode_of(site: &SiteRow) -> &'static str {
    match site.site.code {
        "MRN" | "SRC" | "ALB" | "CRM" => "helicopter",
        _ => "vessel",
    }
}

struct Vehicle {
    id: Uuid,
    kind: &'static str,
    base: &'static str,
    seats: usize,
    payload_kg: f64,
    speed_kn: f64,
    supply: bool,
}

fn transport(
    options: &Options,
    world: &World,
    rng: &mut rand_chacha::ChaCha8Rng,
    companies: &[Uuid],
    stays: &[Stay],
    visitors: &[Uuid],
) -> Vec<TableData> {
    let start = options.start();
    let end = options.end;
    let setup_at = moment(start - Days::new(200), 8, 0);
    let audit = |created_at| Audit { external_id: None, created_at, created_by: Some(world.admin) };

    let mut vehicles_table = TableData::new(
        "travel.vehicles",
        &[
            "id",
            "kind",
            "name",
            "registration",
            "operator_company_id",
            "seat_capacity",
            "max_payload_kg",
            "cruise_speed_kn",
            "home_site_id",
        ],
    );
    let fleet_spec: [(&str, &str, &str, usize, f64, f64, bool); 13] = [
        ("helicopter", "PGL", "H175 Ogooué", 16, 2300.0, 140.0, false),
        ("helicopter", "PGL", "H175 Estuaire", 16, 2300.0, 140.0, false),
        ("helicopter", "PGL", "AW139 Cap Lopez", 12, 1800.0, 145.0, false),
        ("helicopter", "PNR", "H175 Kouilou", 16, 2300.0, 140.0, false),
        ("helicopter", "PNR", "AW139 Mayombe", 12, 1800.0, 145.0, false),
        ("vessel", "PGL", "Crew boat Albatros Express", 60, 8000.0, 24.0, false),
        ("vessel", "PGL", "Crew boat Port-Gentil II", 45, 6000.0, 22.0, false),
        ("vessel", "PNR", "Crew boat Loango", 60, 8000.0, 24.0, false),
        ("vessel", "PGL", "Supply Ogooué Provider", 12, 1_800_000.0, 12.0, true),
        ("vessel", "PNR", "Supply Kouilou Provider", 12, 1_500_000.0, 12.0, true),
        ("vehicle", "PGL", "Bus navette aéroport", 45, 2000.0, 40.0, false),
        ("vehicle", "PNR", "Bus navette base", 45, 2000.0, 40.0, false),
        ("vehicle", "LCQ", "Pick-up Hilux", 5, 1000.0, 50.0, false),
    ];
    let mut fleet = Vec::new();
    for (index, (kind, base, name, seats, payload_kg, speed_kn, supply)) in fleet_spec.into_iter().enumerate() {
        let id = catalog::uuid(rng);
        let operator = companies[1 + index % (companies.len() - 1)];
        let home = world.sites.iter().find(|site| site.site.code == base).map(|site| site.id);
        let registration = match kind {
            "helicopter" => format!("TR-L{}{}", (b'A' + index as u8) as char, (b'K' + index as u8) as char),
            "vessel" => format!("IMO {}", 9_400_000 + index * 7919),
            _ => format!("{}-{:03}-{}", base, 100 + index, "GA"),
        };
        vehicles_table.row(audit(setup_at), |row| {
            row.uuid(id)
                .text(kind)
                .text(name)
                .text(&registration)
                .uuid(operator)
                .int(seats as i64)
                .decimal(payload_kg, 1)
                .decimal(speed_kn, 1)
                .opt_uuid(home);
        });
        fleet.push(Vehicle { id, kind, base, seats, payload_kg, speed_kn, supply });
    }

    // Who goes out and who comes back, per site and day.
    let mut outbound: BTreeMap<(usize, NaiveDate), Vec<&Stay>> = BTreeMap::new();
    let mut inbound: BTreeMap<(usize, NaiveDate), Vec<&Stay>> = BTreeMap::new();
    for stay in stays.iter().filter(|stay| stay.travels && world.sites[stay.site].site.is_offshore()) {
        if stay.arrival >= start {
            outbound.entry((stay.site, stay.arrival)).or_default().push(stay);
        }
        if stay.departure >= start {
            inbound.entry((stay.site, stay.departure)).or_default().push(stay);
        }
    }

    let mut writer = TripWriter {
        rng,
        trips: TableData::new(
            "travel.trips",
            &[
                "id",
                "vehicle_id",
                "trip_number",
                "status",
                "departure_site_id",
                "arrival_site_id",
                "scheduled_departure_at",
                "actual_departure_at",
                "actual_arrival_at",
                "distance_nm",
                "flight_hours",
            ],
        ),
        legs: TableData::new(
            "travel.trip_legs",
            &["id", "trip_id", "leg_number", "from_site_id", "to_site_id", "departs_at", "arrives_at", "distance_nm"],
        ),
        bookings: TableData::new(
            "travel.bookings",
            &["id", "trip_id", "personnel_id", "stay_id", "status", "booked_at"],
        ),
        passengers: TableData::new(
            "travel.manifest_passengers",
            &["id", "trip_leg_id", "booking_id", "personnel_id", "body_weight_kg", "baggage_kg"],
        ),
        cargo: TableData::new(
            "travel.manifest_cargo",
            &["id", "trip_leg_id", "description", "weight_kg", "is_dangerous_goods"],
        ),
        fuel: TableData::new(
            "travel.fuel_logs",
            &["id", "trip_id", "vehicle_id", "logged_at", "quantity_l", "fuel_type"],
        ),
        end,
        created_by: world.admin,
    };
    let mut trip_counter = 0u32;
    let trip_end = end + Days::new(14);
    let mut day = start;
    while day < trip_end {
        let weekday = day.weekday().num_days_from_monday();
        for (site_index, site) in world.sites.iter().enumerate() {
            if !site.site.is_offshore() {
                continue;
            }
            let Some(base) = world.sites.iter().find(|candidate| candidate.site.code == site.site.base) else {
                continue;
            };
            let crew_day = site.site.crew_change_days.contains(&weekday);
            let mode = mode_of(site);
            let candidates: Vec<&Vehicle> = fleet
                .iter()
                .filter(|vehicle| vehicle.kind == mode && vehicle.base == site.site.base && !vehicle.supply)
                .collect();
            let out: Vec<(Uuid, Option<&Stay>)> = outbound
                .get(&(site_index, day))
                .map(|list| list.iter().map(|stay| (stay.personnel, Some(*stay))).collect())
                .unwrap_or_default();
            let back: Vec<(Uuid, Option<&Stay>)> = inbound
                .get(&(site_index, day))
                .map(|list| list.iter().map(|stay| (stay.personnel, Some(*stay))).collect())
                .unwrap_or_default();
            // Crew-change days carry the crews; two other weekdays carry a few visitors.
            let (out, back) = if crew_day {
                (out, back)
            } else if (weekday + site_index as u32) % 7 < 2 {
                let count = writer.rng.random_range(1..=6).min(visitors.len());
                let chosen: Vec<(Uuid, Option<&Stay>)> = rand::seq::index::sample(writer.rng, visitors.len(), count)
                    .into_iter()
                    .map(|index| (visitors[index], None))
                    .collect();
                (chosen.clone(), chosen)
            } else {
                (Vec::new(), Vec::new())
            };
            if !out.is_empty() || !back.is_empty() {
                let seats = candidates.first().map_or(16, |vehicle| vehicle.seats);
                let n_trips = out.len().max(back.len()).div_ceil(seats).max(1);
                for trip_index in 0..n_trips {
                    let vehicle = candidates[trip_index % candidates.len().max(1)];
                    let out_slice = slice_for(&out, trip_index, seats);
                    let back_slice = slice_for(&back, trip_index, seats);
                    trip_counter += 1;
                    let prefix = if mode == "helicopter" { "HEL" } else { "CRW" };
                    let hour = 6 + 2 * trip_index as u32;
                    writer.trip(
                        vehicle,
                        base,
                        site,
                        day,
                        hour,
                        &format!("{prefix}-{}-{trip_counter:06}", site.site.base),
                        out_slice,
                        back_slice,
                    );
                }
            }
            // Supply boats twice a week, cargo only.
            if matches!((weekday + 2 * site_index as u32) % 7, 0 | 4)
                && let Some(vehicle) = fleet.iter().find(|vehicle| vehicle.supply && vehicle.base == site.site.base)
            {
                trip_counter += 1;
                writer.trip(
                    vehicle,
                    base,
                    site,
                    day,
                    5,
                    &format!("SUP-{}-{trip_counter:06}", site.site.base),
                    &[],
                    &[],
                );
            }
        }
        day = day + Days::new(1);
    }
    let TripWriter { trips, legs, bookings, passengers, cargo, fuel, .. } = writer;
    vec![vehicles_table, trips, legs, bookings, passengers, cargo, fuel]
}

fn slice_for<T>(items: &[T], trip_index: usize, seats: usize) -> &[T] {
    let from = (trip_index * seats).min(items.len());
    let to = ((trip_index + 1) * seats).min(items.len());
    &items[from..to]
}

struct TripWriter<'a> {
    rng: &'a mut rand_chacha::ChaCha8Rng,
    trips: TableData,
    legs: TableData,
    bookings: TableData,
    passengers: TableData,
    cargo: TableData,
    fuel: TableData,
    end: NaiveDate,
    created_by: Uuid,
}

const CARGO: &[(&str, f64, f64, bool)] = &[
    ("Conteneur vivres", 800.0, 4000.0, false),
    ("Pièces de rechange pompe", 40.0, 900.0, false),
    ("Fûts d'huile de lubrification", 200.0, 1800.0, false),
    ("Bouteilles d'azote", 150.0, 900.0, true),
    ("Produits chimiques de traitement", 300.0, 6000.0, true),
    ("Outillage", 20.0, 400.0, false),
    ("Tubulaires de forage", 8000.0, 40000.0, false),
    ("Sacs de ciment", 2000.0, 20000.0, false),
    ("Courrier et colis", 5.0, 60.0, false),
    ("Eau potable (citerne)", 10000.0, 60000.0, false),
];

impl TripWriter<'_> {
    /// Writes one round trip from `base` to `site` and back: two legs, bookings and
    /// manifests for the people going out and coming back, cargo, and fuel once flown.
    #[allow(clippy::too_many_arguments)]
    fn trip(
        &mut self,
        vehicle: &Vehicle,
        base: &SiteRow,
        site: &SiteRow,
        day: NaiveDate,
        hour: u32,
        trip_number: &str,
        out: &[(Uuid, Option<&Stay>)],
        back: &[(Uuid, Option<&Stay>)],
    ) {
        let rng = &mut *self.rng;
        let distance = base.site.distance_nm(&site.site);
        let leg_duration = Duration::minutes((distance / vehicle.speed_kn * 60.0).round() as i64 + 10);
        let scheduled = moment(day, hour, 0);
        let planned = day >= self.end;
        let cancelled = !planned && rng.random_bool(0.02);
        let status = match (planned, cancelled) {
            (true, _) => "planned",
            (false, true) => "cancelled",
            (false, false) => "completed",
        };
        let delay =
            Duration::minutes(if rng.random_bool(0.7) { rng.random_range(0..15) } else { rng.random_range(15..120) });
        let departs = scheduled + delay;
        let turnaround = Duration::minutes(rng.random_range(25..50));
        let arrives = departs + leg_duration + turnaround + leg_duration;
        let flying = status == "completed";
        let trip_id = catalog::uuid(rng);
        let hours =
            if vehicle.kind == "helicopter" { Some((leg_duration.num_minutes() * 2) as f64 / 60.0) } else { None };
        let audit =
            Audit { external_id: None, created_at: scheduled - Duration::days(5), created_by: Some(self.created_by) };
        self.trips.row(audit, |row| {
            row.uuid(trip_id)
                .uuid(vehicle.id)
                .text(trip_number)
                .text(status)
                .uuid(base.id)
                .uuid(base.id)
                .timestamp(scheduled)
                .opt_timestamp(flying.then_some(departs))
                .opt_timestamp(flying.then_some(arrives))
                .decimal(distance * 2.0, 1)
                .opt_decimal(hours, 2);
        });
        let legs_spec = [(1, base, site, departs, out), (2, site, base, departs + leg_duration + turnaround, back)];
        let mut booked: BTreeMap<Uuid, Uuid> = BTreeMap::new();
        for (leg_number, from, to, leg_departs, people) in legs_spec {
            let leg_id = catalog::uuid(rng);
            self.legs.row(audit, |row| {
                row.uuid(leg_id)
                    .uuid(trip_id)
                    .int(leg_number)
                    .uuid(from.id)
                    .uuid(to.id)
                    .timestamp(leg_departs)
                    .timestamp(leg_departs + leg_duration)
                    .decimal(distance, 1);
            });
            for (person, stay) in people {
                let booking_id = *booked.entry(*person).or_insert_with(|| {
                    let booking_id = catalog::uuid(rng);
                    let booked_at = stay.and_then(|stay| stay.submitted_at).unwrap_or(scheduled - Duration::days(3));
                    let booking_status = match status {
                        "planned" => "confirmed",
                        "cancelled" => "cancelled",
                        _ => "completed",
                    };
                    self.bookings.row(Audit { created_at: booked_at, ..audit }, |row| {
                        row.uuid(booking_id)
                            .uuid(trip_id)
                            .uuid(*person)
                            .opt_uuid(stay.map(|stay| stay.id))
                            .text(booking_status)
                            .timestamp(booked_at);
                    });
                    booking_id
                });
                if status == "cancelled" {
                    continue;
                }
                let weight = (82.0 + 12.0 * rng.sample::<f64, _>(StandardNormal)).clamp(50.0, 140.0);
                self.passengers.row(audit, |row| {
                    row.uuid(catalog::uuid(rng))
                        .uuid(leg_id)
                        .uuid(booking_id)
                        .uuid(*person)
                        .decimal(weight, 1)
                        .decimal(rng.random_range(5.0..23.0), 1);
                });
            }
            if status == "cancelled" {
                continue;
            }
            let n_items = match (vehicle.kind, vehicle.supply) {
                (_, true) => rng.random_range(5..=15),
                ("helicopter", _) => rng.random_range(0..=3),
                _ => rng.random_range(1..=5),
            };
            let mut load_kg = 0.0;
            for _ in 0..n_items {
                let (description, low, high, dangerous) = catalog::pick(rng, CARGO);
                let cap = (vehicle.payload_kg * 0.9 - load_kg).max(5.0);
                let weight = rng.random_range(low..high).min(cap).max(1.0);
                if vehicle.kind == "helicopter" && low > 1000.0 {
                    continue;
                }
                load_kg += weight;
                self.cargo.row(audit, |row| {
                    row.uuid(catalog::uuid(rng)).uuid(leg_id).text(description).decimal(weight, 1).boolean(dangerous);
                });
            }
        }
        if flying {
            let (quantity, fuel_type) = match (vehicle.kind, hours) {
                ("helicopter", Some(hours)) => (hours * rng.random_range(480.0..560.0), "jet_a1"),
                _ if vehicle.supply => (distance * 2.0 * rng.random_range(25.0..35.0), "marine_gasoil"),
                _ => (distance * 2.0 * rng.random_range(8.0..12.0), "marine_gasoil"),
            };
            self.fuel.row(audit, |row| {
                row.uuid(catalog::uuid(rng))
                    .uuid(trip_id)
                    .uuid(vehicle.id)
                    .timestamp(arrives)
                    .decimal(quantity.max(1.0), 1)
                    .text(fuel_type);
            });
        }
    }
}
