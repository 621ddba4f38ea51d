//! The load list against a site worked out by hand: three switchboards (a 6.6 kV board
//! feeding a 400 V board through a transformer, which feeds a distribution board), two
//! generators and ten loads. Every intermediate figure below was computed on paper
//! first; the snapshot then holds the whole list as an engineer reads it.

use expect_test::{Expect, expect};
use opsflux_powertrace::{
    Category, Equipment, Factors, Generator, GeneratorStatus, Limits, LoadList, Plant, PowerError, Switchboard,
    Transformer, failures, load_list, recommendations,
};

fn board(id: &str, name: &str, parent: Option<&str>, voltage_v: f64) -> Switchboard {
    Switchboard { id: id.into(), code: id.into(), name: name.into(), parent: parent.map(Into::into), voltage_v }
}

#[allow(clippy::too_many_arguments)]
fn load(
    tag: &str,
    description: &str,
    switchboard: &str,
    absorbed_kw: f64,
    efficiency: f64,
    power_factor: f64,
    category: Category,
    quantity: u32,
) -> Equipment {
    Equipment {
        id: format!("id-{tag}"),
        tag: tag.into(),
        description: description.into(),
        switchboard: switchboard.into(),
        rated_kw: (absorbed_kw * 1.1).round(),
        absorbed_kw,
        power_factor,
        efficiency,
        category,
        quantity,
    }
}

pub(crate) fn alpha() -> Plant {
    use Category::*;
    Plant {
        site: "ALPHA".into(),
        switchboards: vec![
            board("TGHT", "Tableau général haute tension", None, 6600.0),
            // Fed through TR-1 and also recorded as the child of TGHT: counted once.
            board("TGBT", "Tableau général basse tension", Some("TGHT"), 400.0),
            board("TD-1", "Tableau divisionnaire quartiers", Some("TGBT"), 400.0),
        ],
        equipment: vec![
            load("P-101", "Pompe d'injection", "TGHT", 380.0, 0.95, 0.8, Continuous, 1),
            load("K-201", "Compresseur de gaz", "TGHT", 450.0, 0.9, 0.8, Continuous, 1),
            load("P-102", "Pompe d'injection de secours", "TGHT", 190.0, 0.95, 0.8, Standby, 1),
            load("H-301", "Réchauffeur électrique", "TGBT", 120.0, 1.0, 1.0, Intermittent, 2),
            load("F-401", "Ventilateur", "TGBT", 36.0, 0.9, 0.8, Continuous, 3),
            load("L-501", "Éclairage", "TGBT", 30.0, 1.0, 0.6, Continuous, 1),
            load("W-601", "Treuil", "TGBT", 72.0, 0.9, 0.8, Intermittent, 1),
            load("A-701", "Climatisation", "TD-1", 85.0, 0.85, 0.8, Continuous, 1),
            load("S-801", "Prises de courant", "TD-1", 20.0, 1.0, 1.0, Intermittent, 1),
            load("U-901", "Onduleur", "TD-1", 27.0, 0.9, 0.6, Continuous, 1),
        ],
        generators: vec![
            Generator {
                id: "g1".into(),
                tag: "G-1".into(),
                switchboard: "TGHT".into(),
                rated_kva: 2000.0,
                power_factor: 0.8,
                status: GeneratorStatus::Running,
            },
            Generator {
                id: "g2".into(),
                tag: "G-2".into(),
                switchboard: "TGHT".into(),
                rated_kva: 2500.0,
                power_factor: 0.8,
                status: GeneratorStatus::Standby,
            },
        ],
        transformers: vec![Transformer {
            id: "t1".into(),
            tag: "TR-1".into(),
            primary: "TGHT".into(),
            secondary: "TGBT".into(),
            rated_kva: 1000.0,
        }],
    }
}

fn near(actual: f64, expected: f64) {
    assert!((actual - expected).abs() < 1e-6, "{actual} is not {expected}");
}

#[test]
fn every_figure_of_the_hand_worked_site() {
    let list = load_list(&alpha(), &Factors::default()).unwrap();

    // Lines: input = quantity × absorbed ÷ efficiency; kVAR from the power factor.
    let line = |tag: &str| list.lines.iter().find(|line| line.tag == tag).unwrap();
    near(line("P-101").input.kw, 400.0);
    near(line("P-101").input.kvar, 300.0);
    near(line("P-101").input.kva(), 500.0);
    near(line("F-401").input.kw, 120.0); // 3 × 36 ÷ 0.9
    near(line("F-401").input.kvar, 90.0);
    near(line("U-901").input.kvar, 40.0); // 30 kW at 0.6
    near(line("P-102").demand.kw, 20.0); // standby at 0.1
    near(line("H-301").demand.kw, 72.0); // 2 × 120 intermittent at 0.3

    // Switchboards: their own lines plus everything downstream.
    let board = |code: &str| list.switchboards.iter().find(|board| board.code == code).unwrap();
    near(board("TD-1").connected.kw, 150.0);
    near(board("TD-1").connected.kvar, 115.0);
    near(board("TD-1").demand.kw, 136.0);
    near(board("TD-1").demand.kvar, 115.0);
    near(board("TGBT").own.kw, 470.0);
    near(board("TGBT").connected.kw, 620.0);
    near(board("TGBT").connected.kvar, 305.0);
    near(board("TGBT").demand.kw, 382.0);
    near(board("TGBT").demand.kvar, 263.0);
    near(board("TGBT").demand.kva(), 215_093.0_f64.sqrt());
    assert_eq!(board("TGHT").feeds, ["TD-1", "TGBT"]);
    near(board("TGHT").connected.kw, 1720.0);
    near(board("TGHT").demand.kw, 1302.0);
    near(board("TGHT").demand.kvar, 953.0);

    // The site: connected load against maximum demand, the power factor of the sum.
    near(list.connected.kw, 1720.0);
    near(list.connected.kvar, 1130.0);
    near(list.demand.kw, 1302.0);
    near(list.demand.kvar, 953.0);
    near(list.demand.kva(), 2_603_413.0_f64.sqrt());
    near(list.demand.power_factor(), 1302.0 / 2_603_413.0_f64.sqrt());

    // Generation: the largest available set (G-2, 2500 kVA) out at N-1.
    let generation = &list.generation;
    near(generation.installed_kva, 4500.0);
    near(generation.installed_kw, 3600.0);
    near(generation.running_kw, 1600.0);
    assert_eq!(generation.largest, ["G-2", "G-1"]);
    near(generation.n1_kva, 2000.0);
    near(generation.n1_kw, 1600.0);
    near(generation.n2_kw, 0.0);
    near(generation.n1_loading.unwrap(), 1302.0 / 1600.0);

    // TR-1 carries the demand of TGBT and TD-1.
    near(list.transformers[0].demand_kva, 215_093.0_f64.sqrt());
    near(list.transformers[0].loading, 215_093.0_f64.sqrt() / 1000.0);

    check(
        &list,
        expect![[r#"
            line     board  category     qty  absorbed kW  input kW   kVAR     kVA  factor  demand kW
            A-701    TD-1   continuous     1        85.00    100.00  75.00  125.00    1.00     100.00
            S-801    TD-1   intermittent   1        20.00     20.00   0.00   20.00    0.30       6.00
            U-901    TD-1   continuous     1        27.00     30.00  40.00   50.00    1.00      30.00
            F-401    TGBT   continuous     3       108.00    120.00  90.00  150.00    1.00     120.00
            H-301    TGBT   intermittent   2       240.00    240.00   0.00  240.00    0.30      72.00
            L-501    TGBT   continuous     1        30.00     30.00  40.00   50.00    1.00      30.00
            W-601    TGBT   intermittent   1        72.00     80.00  60.00  100.00    0.30      24.00
            K-201    TGHT   continuous     1       450.00    500.00 375.00  625.00    1.00     500.00
            P-101    TGHT   continuous     1       380.00    400.00 300.00  500.00    1.00     400.00
            P-102    TGHT   standby        1       190.00    200.00 150.00  250.00    0.10      20.00
            board  connected kW  kVAR     kVA  demand kW  kVAR     kVA    PF  feeds
            TD-1         150.00  115.00  189.01     136.00  115.00  178.10 0.764  
            TGBT         620.00  305.00  690.96     382.00  263.00  463.78 0.824  TD-1
            TGHT        1720.00 1130.00 2057.98    1302.00  953.00 1613.51 0.807  TD-1, TGBT
            transformer TR-1 TGHT → TGBT: 463.78 of 1000 kVA, 46.4 %
            site ALPHA: connected 1720.00 kW 2057.98 kVA PF 0.836; maximum demand 1302.00 kW 1613.51 kVA PF 0.807
            generation: installed 4500 kVA 3600 kW; available 3600 kW; running 1600 kW; N-1 1600 kW; N-2 0 kW; largest G-2, G-1; demand/N-1 81.4 %
        "#]],
    );
}

#[test]
fn diversity_applies_once_and_unavailable_sets_do_not_count() {
    let mut plant = alpha();
    plant.generators[1].status = GeneratorStatus::Maintenance;
    let factors = Factors { diversity: 0.9, ..Factors::default() };
    let list = load_list(&plant, &factors).unwrap();
    let board = |code: &str| list.switchboards.iter().find(|board| board.code == code).unwrap();
    // 0.9 on each sum, not 0.9³ on the distribution board three levels down.
    near(board("TD-1").demand.kw, 136.0 * 0.9);
    near(board("TGHT").demand.kw, 1302.0 * 0.9);
    near(list.demand.kw, 1302.0 * 0.9);
    // Only G-1 is available: nothing is left at N-1.
    near(list.generation.available_kw, 1600.0);
    near(list.generation.n1_kw, 0.0);
    assert_eq!(list.generation.n1_loading, None);
    near(list.generation.installed_kw, 3600.0);
}

#[test]
fn bad_installations_are_named() {
    let mut plant = alpha();
    plant.equipment[3].efficiency = 1.2;
    assert_eq!(
        load_list(&plant, &Factors::default()).unwrap_err().to_string(),
        "equipment H-301: efficiency must be above 0 and at most 1, not 1.2"
    );
    let mut plant = alpha();
    plant.equipment[0].switchboard = "TGXX".into();
    assert_eq!(
        load_list(&plant, &Factors::default()).unwrap_err().to_string(),
        "equipment P-101: switchboard names switchboard `TGXX`, which site ALPHA does not have"
    );
    let mut plant = alpha();
    plant.switchboards[0].parent = Some("TD-1".into());
    assert_eq!(
        load_list(&plant, &Factors::default()).unwrap_err(),
        PowerError::Loop(vec!["TD-1".into(), "TGHT".into(), "TGBT".into(), "TD-1".into()])
    );
    let factors = Factors { standby: 0.0, ..Factors::default() };
    assert_eq!(
        load_list(&alpha(), &factors).unwrap_err().to_string(),
        "factors of the load list: standby must be above 0 and at most 1, not 0"
    );
}

/// The list as an engineer reads it: lines, switchboards, transformers, site, generation.
fn check(list: &LoadList, expected: Expect) {
    let mut out = String::new();
    out.push_str("line     board  category     qty  absorbed kW  input kW   kVAR     kVA  factor  demand kW\n");
    for line in &list.lines {
        out.push_str(&format!(
            "{:<8} {:<6} {:<12} {:>3} {:>12.2} {:>9.2} {:>6.2} {:>7.2} {:>7.2} {:>10.2}\n",
            line.tag,
            line.switchboard,
            line.category.as_str(),
            line.quantity,
            line.absorbed_kw,
            line.input.kw,
            line.input.kvar,
            line.input.kva(),
            line.factor,
            line.demand.kw,
        ));
    }
    out.push_str("board  connected kW  kVAR     kVA  demand kW  kVAR     kVA    PF  feeds\n");
    for board in &list.switchboards {
        out.push_str(&format!(
            "{:<6} {:>12.2} {:>7.2} {:>7.2} {:>10.2} {:>7.2} {:>7.2} {:>5.3}  {}\n",
            board.code,
            board.connected.kw,
            board.connected.kvar,
            board.connected.kva(),
            board.demand.kw,
            board.demand.kvar,
            board.demand.kva(),
            board.demand.power_factor(),
            board.feeds.join(", "),
        ));
    }
    for unit in &list.transformers {
        out.push_str(&format!(
            "transformer {} {} → {}: {:.2} of {:.0} kVA, {:.1} %\n",
            unit.tag,
            unit.primary,
            unit.secondary,
            unit.demand_kva,
            unit.rated_kva,
            unit.loading * 100.0
        ));
    }
    out.push_str(&format!(
        "site {}: connected {:.2} kW {:.2} kVA PF {:.3}; maximum demand {:.2} kW {:.2} kVA PF {:.3}\n",
        list.site,
        list.connected.kw,
        list.connected.kva(),
        list.connected.power_factor(),
        list.demand.kw,
        list.demand.kva(),
        list.demand.power_factor(),
    ));
    let generation = &list.generation;
    out.push_str(&format!(
        "generation: installed {:.0} kVA {:.0} kW; available {:.0} kW; running {:.0} kW; N-1 {:.0} kW; N-2 {:.0} kW; largest {}; demand/N-1 {}\n",
        generation.installed_kva,
        generation.installed_kw,
        generation.available_kw,
        generation.running_kw,
        generation.n1_kw,
        generation.n2_kw,
        generation.largest.join(", "),
        generation.n1_loading.map_or("-".to_owned(), |loading| format!("{:.1} %", loading * 100.0)),
    ));
    expected.assert_eq(&out);
}

#[test]
fn a_plant_is_read_from_the_warehouse_tables_batches() {
    use opsflux_powertrace::Tables;
    use opsflux_warehouse::arrow::array::{ArrayRef, Decimal128Array, Int32Array, RecordBatch, StringArray};
    use std::sync::Arc;

    let text = |values: &[Option<&str>]| Arc::new(StringArray::from(values.to_vec())) as ArrayRef;
    let decimal = |values: &[i128], scale: i8| {
        Arc::new(Decimal128Array::from(values.to_vec()).with_precision_and_scale(10, scale).unwrap()) as ArrayRef
    };
    let sites = RecordBatch::try_from_iter([
        ("id", text(&[Some("s1"), Some("s2")])),
        ("code", text(&[Some("ALPHA"), Some("BRAVO")])),
        ("deleted_at", text(&[None, None])),
    ])
    .unwrap();
    let switchboards = RecordBatch::try_from_iter([
        ("id", text(&[Some("b1"), Some("b2")])),
        ("site_id", text(&[Some("s1"), Some("s2")])),
        ("parent_switchboard_id", text(&[None, None])),
        ("code", text(&[Some("TGBT"), Some("OTHER")])),
        ("name", text(&[Some("Tableau général"), Some("Ailleurs")])),
        ("voltage_v", Arc::new(Int32Array::from(vec![400, 400])) as ArrayRef),
        ("deleted_at", text(&[None, None])),
    ])
    .unwrap();
    let equipment = RecordBatch::try_from_iter([
        ("id", text(&[Some("e1"), Some("e2")])),
        ("site_id", text(&[Some("s1"), Some("s1")])),
        ("switchboard_id", text(&[Some("b1"), Some("b1")])),
        ("tag", text(&[Some("P-1"), Some("P-OLD")])),
        ("description", text(&[Some("Pompe"), Some("Pompe déposée")])),
        ("rated_kw", decimal(&[5500, 1000], 2)),
        ("absorbed_kw", decimal(&[4500, 1000], 2)),
        ("power_factor", decimal(&[800, 800], 3)),
        ("efficiency", decimal(&[900, 900], 3)),
        ("load_category", text(&[Some("continuous"), Some("standby")])),
        ("quantity", Arc::new(Int32Array::from(vec![2, 1])) as ArrayRef),
        ("deleted_at", text(&[None, Some("2026-01-01T00:00:00Z")])),
    ])
    .unwrap();
    let tables = Tables {
        sites: std::slice::from_ref(&sites),
        switchboards: std::slice::from_ref(&switchboards),
        equipment: std::slice::from_ref(&equipment),
        ..Tables::default()
    };
    let plant = Plant::from_batches("ALPHA", &tables).unwrap();
    assert_eq!(plant.switchboards.len(), 1, "BRAVO's board is not ALPHA's");
    assert_eq!(plant.equipment.len(), 1, "the deleted pump is gone");
    let pump = &plant.equipment[0];
    assert_eq!((pump.absorbed_kw, pump.power_factor, pump.efficiency, pump.quantity), (45.0, 0.8, 0.9, 2));
    near(load_list(&plant, &Factors::default()).unwrap().connected.kw, 100.0);
    assert_eq!(Plant::from_batches("ZULU", &tables).unwrap_err(), PowerError::UnknownSite("ZULU".into()));
}

/// Failures and recommendations, one per line.
pub(crate) fn verdict(plant: &Plant) -> String {
    let list = load_list(plant, &Factors::default()).unwrap();
    let limits = Limits::default();
    let mut out = String::new();
    for failure in failures(&list, &limits) {
        out.push_str(&format!("fails {} {}: {}\n", failure.check, failure.subject, failure.message));
    }
    for recommendation in recommendations(&list, &limits) {
        out.push_str(&format!("recommend: {}\n", recommendation.message()));
    }
    out
}

#[test]
fn each_failing_check_and_its_remedy() {
    // As built: N-1 holds at 81.4 %; the power factor of 0.807 does not.
    // Correction: 953 − 1302 × tan(acos 0.95) = 953 − 427.95 = 525 kVAR.
    expect![[r#"
        fails power_factor ALPHA: the site's demand runs at a power factor of 0.807, below 0.85
        recommend: 525 kVAR of power-factor correction brings the site from 0.807 to 0.95
    "#]]
    .assert_eq(&verdict(&alpha()));

    // A second gas compressor (+500 kW, +375 kVAR): 1802 kW against 1600 kW at N-1.
    // N-1 must reach 1802 ÷ 0.85 = 2120 kW: 520 kW more, 650 kVA at the sets' 0.8;
    // shedding needs 1802 − 0.85 × 1600 = 442 kW, and the one standby pump gives 20.
    let mut plant = alpha();
    plant.equipment.push(load("K-202", "Compresseur de gaz 2", "TGHT", 450.0, 0.9, 0.8, Category::Continuous, 1));
    expect![[r#"
        fails n1_overload ALPHA: maximum demand 1802 kW exceeds the N-1 capacity 1600 kW (G-2 out)
        fails running_load_factor ALPHA: maximum demand is 112.6 % of the N-1 capacity, above the 85 % limit
        fails power_factor ALPHA: the site's demand runs at a power factor of 0.805, below 0.85
        recommend: a generator of at least 650 kVA (at PF 0.80) keeps maximum demand within 85 % of N-1
        recommend: shed these standby loads: P-102 (20.0 kW) — not enough alone, 422.0 kW short
        recommend: 736 kVAR of power-factor correction brings the site from 0.805 to 0.95
    "#]]
    .assert_eq(&verdict(&plant));

    // A transformer too small for its board: 463.78 kVA on 400 kVA.
    let mut plant = alpha();
    plant.transformers[0].rated_kva = 400.0;
    expect![[r#"
        fails transformer_overload TR-1: TR-1 carries 464 kVA, 115.9 % of its 400 kVA rating
        fails power_factor ALPHA: the site's demand runs at a power factor of 0.807, below 0.85
        recommend: 525 kVAR of power-factor correction brings the site from 0.807 to 0.95
    "#]]
    .assert_eq(&verdict(&plant));

    // A third set makes N-2 a criterion: with G-2 and G-1 out, 800 kW for 1302.
    let mut plant = alpha();
    plant.generators.push(Generator {
        id: "g3".into(),
        tag: "G-3".into(),
        switchboard: "TGHT".into(),
        rated_kva: 1000.0,
        power_factor: 0.8,
        status: GeneratorStatus::Running,
    });
    expect![[r#"
        fails n2_overload ALPHA: maximum demand 1302 kW exceeds the N-2 capacity 800 kW (G-2 and G-1 out)
        fails power_factor ALPHA: the site's demand runs at a power factor of 0.807, below 0.85
        recommend: 525 kVAR of power-factor correction brings the site from 0.807 to 0.95
    "#]]
    .assert_eq(&verdict(&plant));

    // Demand beyond every set: more than one set is needed.
    let mut plant = alpha();
    for number in 0..4 {
        plant.equipment.push(load(
            &format!("K-3{number}"),
            "Compresseur",
            "TGHT",
            900.0,
            0.9,
            0.8,
            Category::Continuous,
            1,
        ));
    }
    expect![[r#"
        fails n1_overload ALPHA: maximum demand 5302 kW exceeds the N-1 capacity 1600 kW (G-2 out)
        fails running_load_factor ALPHA: maximum demand is 331.4 % of the N-1 capacity, above the 85 % limit
        fails power_factor ALPHA: the site's demand runs at a power factor of 0.802, below 0.85
        recommend: generators totalling at least 5797 kVA (at PF 0.80), in two sets or more: one set that large would itself be the set out
        recommend: shed these standby loads: P-102 (20.0 kW) — not enough alone, 3922.0 kW short
        recommend: 2210 kVAR of power-factor correction brings the site from 0.802 to 0.95
    "#]].assert_eq(&verdict(&plant));
}
