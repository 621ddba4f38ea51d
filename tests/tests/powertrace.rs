//! PowerTrace from the command line, as an engineer runs it over the sample data:
//! `opsflux forecast` of a switchboard's metered demand (the forecast's shape, its
//! summary, the history written for a backtest), `forecast backtest` against seasonal
//! naive, and bad requests refused with the parameter or line named and nothing written.

use std::path::Path;
use std::process::Command;

use expect_test::expect;

fn opsflux() -> Command {
    Command::new(env!("CARGO_BIN_EXE_opsflux-under-test"))
}

/// Runs `opsflux` and returns (success, stdout, stderr).
fn run(arguments: &[&str]) -> (bool, String, String) {
    let output = opsflux().args(arguments).output().unwrap();
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn text(path: &Path) -> &str {
    path.to_str().unwrap()
}

#[tokio::test]
async fn an_engineer_forecasts_a_switchboard_and_backtests_it() {
    let directory = tempfile::tempdir().unwrap();
    let warehouse = directory.path().join("warehouse");
    let end = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let options = opsflux_sample_data::Options::new(42, 0.01).unwrap().ending(end);
    opsflux_api::sample_warehouse::write_sample_warehouse(&warehouse, options).await.unwrap();
    let out = directory.path().join("forecast.csv");
    let history = directory.path().join("history.csv");

    let (ok, stdout, stderr) = run(&[
        "forecast",
        "--warehouse",
        text(&warehouse),
        "--site",
        "PNR",
        "--switchboard",
        "TGBT-01",
        "--horizon",
        "1d",
        "--level",
        "80",
        "--out",
        text(&out),
        "--series-out",
        text(&history),
    ]);
    assert!(ok, "{stderr}");
    let lines: Vec<&str> = stdout.lines().collect();
    assert!(lines[0].starts_with("switchboard TGBT-01 of site PNR ("), "{stdout}");
    assert!(
        lines[0].ends_with("3552 readings every 15 min, 2026-10-24T00:00:00+00:00 to 2026-11-29T23:45:00+00:00"),
        "{stdout}"
    );
    expect![[r#"96 forecasts from 2026-11-30T00:00:00+00:00 to 2026-11-30T23:45:00+00:00 with 80 % intervals"#]]
        .assert_eq(lines.last().unwrap().split(", in ").next().unwrap());

    let forecast = std::fs::read_to_string(&out).unwrap();
    let rows: Vec<&str> = forecast.lines().collect();
    assert_eq!(rows[0], "timestamp,forecast,lower,upper");
    assert_eq!(rows.len(), 97);
    assert!(rows[1].starts_with("2026-11-30T00:00:00+00:00,"), "{}", rows[1]);
    assert!(rows[96].starts_with("2026-11-30T23:45:00+00:00,"), "{}", rows[96]);
    for row in &rows[1..] {
        let values: Vec<f64> = row.split(',').skip(1).map(|value| value.parse().unwrap()).collect();
        assert!(values[1] <= values[0] && values[0] <= values[2] && values[1] > 0.0, "{row}");
    }

    let history_text = std::fs::read_to_string(&history).unwrap();
    assert_eq!(history_text.lines().next(), Some("timestamp,value"));
    assert!(history_text.lines().last().unwrap().starts_with("2026-11-29T23:45:00+00:00,"));

    let (ok, stdout, stderr) =
        run(&["forecast", "backtest", "--input", text(&history), "--horizon", "1d", "--origins", "7", "--json"]);
    assert!(ok, "{stderr}");
    let result: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(result["horizon_steps"], 96);
    assert_eq!(result["origins"].as_array().unwrap().len(), 7);
    assert_eq!(
        (result["origins"][0].as_str(), result["origins"][6].as_str()),
        (Some("2026-11-23T00:00:00Z"), Some("2026-11-29T00:00:00Z"))
    );
    let methods = result["methods"].as_array().unwrap();
    let (model, naive) = (&methods[0], &methods[1]);
    assert_eq!((model["method"].as_str(), naive["method"].as_str()), (Some("opsflux"), Some("seasonal_naive")));
    assert_eq!(model["points"], 7 * 96);
    assert!(model["mape"].as_f64().unwrap() < naive["mape"].as_f64().unwrap(), "{stdout}");
}

#[tokio::test]
async fn bad_requests_name_the_parameter_or_line_and_write_nothing() {
    let directory = tempfile::tempdir().unwrap();
    let warehouse = directory.path().join("warehouse");
    let end = chrono::NaiveDate::from_ymd_opt(2026, 11, 30).unwrap();
    let options = opsflux_sample_data::Options::new(42, 0.01).unwrap().ending(end);
    opsflux_api::sample_warehouse::write_sample_warehouse(&warehouse, options).await.unwrap();
    let out = directory.path().join("forecast.csv");
    let input = directory.path().join("series.csv");
    std::fs::write(&input, "timestamp,value\n2026-11-02T00:00:00+01:00,12\n2026-11-02T00:15:00+01:00,twelve\n")
        .unwrap();

    let failing = |arguments: &[&str]| {
        let (ok, _, stderr) = run(arguments);
        assert!(!ok, "{arguments:?} succeeded");
        assert!(!out.exists(), "{arguments:?} wrote its output");
        stderr.trim().replace(directory.path().to_str().unwrap(), "<dir>")
    };
    let w = text(&warehouse);
    let o = text(&out);
    let report = [
        failing(&["forecast", "--warehouse", w, "--site", "NOPE", "--horizon", "7d", "--out", o]),
        failing(&[
            "forecast",
            "--warehouse",
            w,
            "--site",
            "PNR",
            "--switchboard",
            "TX-9",
            "--horizon",
            "7d",
            "--out",
            o,
        ])
        .split(" (it has")
        .next()
        .unwrap()
        .to_owned(),
        failing(&["forecast", "--warehouse", w, "--site", "PNR", "--horizon", "4 months", "--out", o]),
        failing(&["forecast", "--warehouse", w, "--site", "PNR", "--horizon", "93d", "--out", o]),
        failing(&["forecast", "--warehouse", w, "--site", "PNR", "--horizon", "1d", "--level", "100", "--out", o]),
        failing(&["forecast", "--input", text(&input), "--horizon", "1d", "--out", o]),
        failing(&["forecast", "--warehouse", w, "--site", "PNR", "--out", o]),
    ]
    .join("\n");
    expect![[r#"
        error: --site: no site `NOPE` among those you may read (ALB, CRM, GLD, LCQ, MRN, MST, NKS, PGL, PNR, SRC)
        error: --switchboard: site PNR has no switchboard `TX-9`
        error: --horizon: `4 months` is neither a number of steps (96) nor a duration (90min, 12h, 7d, 2w)
        error: --horizon: 8928 steps of 15 min: it must be from 1 step to 92 days (8832 steps)
        error: --level: 100 is not a percentage between 50 and 99.9
        error: <dir>/series.csv: line 3: value `twelve` is not a number
        error: --horizon is required (steps, or a duration like 7d)"#]]
    .assert_eq(&report);
}
