//! The `map` block: the sites of the document's scope (or of the block's `site` list)
//! placed by their latitude and longitude, each coloured by a metric's total over the
//! period — `{"metric": "hse.incidents", "measure"?: "incidents", "title"?, "unit"?,
//! "period"?}`. The metric is asked by site; sites it has no value for are drawn grey,
//! sites without coordinates are named under the map.

use super::{DataRequest, DataTable, DocumentError, Fields, Node, Scope, SiteInfo, Value, measure_column};
use crate::chart::{Chart, ChartKind, LATITUDE, LONGITUDE, Series};

/// The metric's totals by site over the block's period.
pub(super) fn request(fields: &Fields, scope: &Scope) -> Result<DataRequest, DocumentError> {
    fields.metric_request(scope, Some("total".into()), Some(vec!["site".into()]))
}

/// The map of `sites` (those the block names, or every site of the reader when it names
/// none) with the values of `table`.
pub(super) fn node(
    fields: &Fields,
    id: String,
    table: &DataTable,
    sites: &[SiteInfo],
    wanted: &[String],
) -> Result<Node, DocumentError> {
    let (measure, column) = measure_column(fields, table)?;
    let site_column = table
        .column("site")
        .ok_or_else(|| fields.error("metric", "a map needs a metric by site; this one has no `site` dimension"))?;
    let shown: Vec<&SiteInfo> = sites.iter().filter(|site| wanted.is_empty() || wanted.contains(&site.code)).collect();
    let value_of = |site: &SiteInfo| {
        table
            .rows
            .iter()
            .find(|row| matches!(&row[site_column], Value::Text(text) if *text == site.code || *text == site.name))
            .and_then(|row| row[measure].as_number())
    };
    Ok(Node::Chart {
        id,
        chart: Chart {
            kind: ChartKind::Map,
            title: fields.text("title")?,
            unit: fields.text("unit")?,
            categories: shown.iter().map(|site| site.name.clone()).collect(),
            series: vec![
                Series { name: column.label.clone(), values: shown.iter().map(|site| value_of(site)).collect() },
                Series { name: LATITUDE.into(), values: shown.iter().map(|site| site.latitude).collect() },
                Series { name: LONGITUDE.into(), values: shown.iter().map(|site| site.longitude).collect() },
            ],
            style: column.format.chart_style(),
            threshold: None,
            band: None,
        },
    })
}
