//! What-if scenarios on the hand-worked site ALPHA: a second gas compressor from
//! March, the standby set out of service, bad items named by position and field, and
//! the load a scenario adds over time.

use chrono::NaiveDate;
use expect_test::expect;
use opsflux_powertrace::scenario::{Change, Item, added_load, check_items, evaluate, n1_capacity};
use opsflux_powertrace::{Category, Factors, Limits};

use crate::loadlist::alpha;

fn day(text: &str) -> NaiveDate {
    text.parse().unwrap()
}

fn compressor(start: &str) -> Item {
    Item {
        start: day(start),
        change: Change::AddEquipment {
            tag: "K-202".into(),
            description: "Compresseur de gaz 2".into(),
            switchboard: "TGHT".into(),
            rated_kw: 495.0,
            absorbed_kw: 450.0,
            power_factor: 0.8,
            efficiency: 0.9,
            category: Category::Continuous,
            quantity: 1,
        },
    }
}

fn report(items: &[Item], on: &str) -> String {
    let evaluation = evaluate(&alpha(), &Factors::default(), &Limits::default(), items, day(on)).unwrap();
    let mut out = String::new();
    for board in &evaluation.switchboards {
        out.push_str(&format!(
            "{}: {:.1} kW → {:.1} kW\n",
            board.code,
            board.baseline_kw.unwrap_or(0.0),
            board.scenario_kw.unwrap_or(0.0)
        ));
    }
    out.push_str(&format!(
        "site: {:.1} kW → {:.1} kW, N-1 {:.0} kW → {:.0} kW\n",
        evaluation.baseline.demand.kw,
        evaluation.scenario.demand.kw,
        evaluation.baseline.generation.n1_kw,
        evaluation.scenario.generation.n1_kw
    ));
    for failure in &evaluation.baseline_failures {
        out.push_str(&format!("baseline fails {}\n", failure.check));
    }
    for failure in &evaluation.failures {
        out.push_str(&format!("scenario fails {}: {}\n", failure.check, failure.message));
    }
    for recommendation in &evaluation.recommendations {
        out.push_str(&format!("recommend: {}\n", recommendation.message()));
    }
    out
}

#[test]
fn a_second_compressor_from_march_fails_n1_from_march_only() {
    let items = [compressor("2027-03-01")];
    // The day before it starts, the scenario is the baseline.
    expect![[r#"
        TD-1: 136.0 kW → 136.0 kW
        TGBT: 382.0 kW → 382.0 kW
        TGHT: 1302.0 kW → 1302.0 kW
        site: 1302.0 kW → 1302.0 kW, N-1 1600 kW → 1600 kW
        baseline fails power_factor
        scenario fails power_factor: the site's demand runs at a power factor of 0.807, below 0.85
        recommend: 525 kVAR of power-factor correction brings the site from 0.807 to 0.95
    "#]]
    .assert_eq(&report(&items, "2027-02-28"));
    // From its start: 500 kW more on TGHT (450 ÷ 0.9), N-1 overloaded, as worked in the
    // load-list tests.
    expect![[r#"
        TD-1: 136.0 kW → 136.0 kW
        TGBT: 382.0 kW → 382.0 kW
        TGHT: 1302.0 kW → 1802.0 kW
        site: 1302.0 kW → 1802.0 kW, N-1 1600 kW → 1600 kW
        baseline fails power_factor
        scenario fails n1_overload: maximum demand 1802 kW exceeds the N-1 capacity 1600 kW (G-2 out)
        scenario fails running_load_factor: maximum demand is 112.6 % of the N-1 capacity, above the 85 % limit
        scenario fails power_factor: the site's demand runs at a power factor of 0.805, below 0.85
        recommend: a generator of at least 650 kVA (at PF 0.80) keeps maximum demand within 85 % of N-1
        recommend: shed these standby loads: P-102 (20.0 kW) — not enough alone, 422.0 kW short
        recommend: 736 kVAR of power-factor correction brings the site from 0.805 to 0.95
    "#]]
    .assert_eq(&report(&items, "2027-03-01"));
}

#[test]
fn generators_transformers_and_factors_change_from_their_dates() {
    let items = [
        Item { start: day("2027-01-10"), change: Change::GeneratorOutOfService { tag: "G-2".into() } },
        Item {
            start: day("2027-01-20"),
            change: Change::AddGenerator {
                tag: "G-3".into(),
                switchboard: "TGHT".into(),
                rated_kva: 2500.0,
                power_factor: 0.8,
            },
        },
        Item {
            start: day("2027-02-01"),
            change: Change::SetFactors {
                continuous: None,
                intermittent: Some(0.5),
                standby: None,
                diversity: Some(0.9),
            },
        },
        Item { start: day("2027-02-01"), change: Change::RemoveEquipment { tag: "W-601".into() } },
    ];
    expect![[r#"
        TD-1: 136.0 kW → 136.0 kW
        TGBT: 382.0 kW → 382.0 kW
        TGHT: 1302.0 kW → 1302.0 kW
        site: 1302.0 kW → 1302.0 kW, N-1 1600 kW → 0 kW
        baseline fails power_factor
        scenario fails n1_overload: maximum demand 1302 kW exceeds the N-1 capacity 0 kW (G-1 out)
        scenario fails running_load_factor: no capacity is left at N-1
        scenario fails power_factor: the site's demand runs at a power factor of 0.807, below 0.85
        recommend: a generator of at least 1915 kVA (at PF 0.80) keeps maximum demand within 85 % of N-1
        recommend: shed these standby loads: P-102 (20.0 kW) — not enough alone, 1282.0 kW short
        recommend: 525 kVAR of power-factor correction brings the site from 0.807 to 0.95
    "#]]
    .assert_eq(&report(&items, "2027-01-15"));
    expect![[r#"
        TD-1: 136.0 kW → 126.0 kW
        TGBT: 382.0 kW → 369.0 kW
        TGHT: 1302.0 kW → 1197.0 kW
        site: 1302.0 kW → 1197.0 kW, N-1 1600 kW → 1600 kW
        baseline fails power_factor
        scenario fails power_factor: the site's demand runs at a power factor of 0.818, below 0.85
        recommend: 448 kVAR of power-factor correction brings the site from 0.818 to 0.95
    "#]]
    .assert_eq(&report(&items, "2027-02-01"));
    let steps = added_load(&alpha(), &Factors::default(), &items).unwrap();
    let steps: Vec<String> = steps.iter().map(|(day, kw)| format!("{day}: {kw:+.1} kW")).collect();
    expect![[r#"["2027-01-10: +0.0 kW", "2027-01-20: +0.0 kW", "2027-02-01: -105.0 kW"]"#]]
        .assert_eq(&format!("{steps:?}"));
    // N-1 falls to nothing with G-2 out, and comes back with G-3; the factors leave it.
    let capacity = n1_capacity(&alpha(), &Factors::default(), &items).unwrap();
    let capacity: Vec<String> = capacity.iter().map(|(day, kw)| format!("{day}: {kw:.0} kW")).collect();
    expect![[r#"["2027-01-10: 0 kW", "2027-01-20: 1600 kW"]"#]].assert_eq(&format!("{capacity:?}"));
}

#[test]
fn bad_items_are_named_by_position_and_field() {
    let plant = alpha();
    let with = |change: Change| vec![compressor("2027-03-01"), Item { start: day("2027-04-01"), change }];
    let modify =
        |power_factor: Option<f64>, efficiency: Option<f64>, absorbed_kw: Option<f64>| Change::ModifyEquipment {
            tag: "P-101".into(),
            switchboard: None,
            rated_kw: None,
            absorbed_kw,
            power_factor,
            efficiency,
            category: None,
            quantity: None,
        };
    let cases = [
        with(Change::RemoveEquipment { tag: "P-999".into() }),
        with(modify(None, None, Some(-5.0))),
        with(modify(Some(0.0), None, None)),
        with(modify(Some(1.2), None, None)),
        with(modify(None, Some(1.05), None)),
        with(Change::GeneratorOutOfService { tag: "G-9".into() }),
        with(Change::AddTransformer {
            tag: "TR-2".into(),
            primary: "TGHT".into(),
            secondary: "TD-9".into(),
            rated_kva: 500.0,
        }),
        with(Change::SetFactors { continuous: None, intermittent: None, standby: None, diversity: None }),
        vec![compressor("2027-03-01"), compressor("2027-04-01")],
    ];
    let report: String = cases
        .iter()
        .map(|items| {
            format!("{}\n", check_items(&plant, items).map_or_else(|error| error.to_string(), |()| "accepted".into()))
        })
        .collect();
    expect![[r#"
        item 1: tag names equipment `P-999`, which site ALPHA does not have
        item 1: absorbed_kw must be a power of 0 or more, not -5
        item 1: power_factor must be above 0 and at most 1, not 0
        item 1: power_factor must be above 0 and at most 1, not 1.2
        item 1: efficiency must be above 0 and at most 1, not 1.05
        item 1: tag names generator `G-9`, which site ALPHA does not have
        item 1: secondary names switchboard `TD-9`, which site ALPHA does not have
        item 1: factors change none: give continuous, intermittent, standby or diversity
        item 1: tag `K-202` is already used by another equipment
    "#]]
    .assert_eq(&report);
    // Removing the compressor the scenario itself adds is allowed.
    assert_eq!(check_items(&plant, &with(Change::RemoveEquipment { tag: "K-202".into() })), Ok(()));
}
