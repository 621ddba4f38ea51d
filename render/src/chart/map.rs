//! The map chart: sites placed by latitude and longitude on an equirectangular
//! projection fitted to them, each a numbered disc coloured by its value (pale yellow
//! low, dark red high), with a graticule for bearings, a colour scale, and beside the
//! map the numbered list of sites with their values — sites of one field sit too close
//! for names on the map itself. Drawn from the chart alone — no tile server, no
//! network — so every output format carries the same map.

use std::fmt::Write as _;

use super::{Chart, escape, heat_colour, nice_scale, raw};
use crate::Locale;

/// The series of a map chart that hold the sites' coordinates, in degrees.
pub const LATITUDE: &str = "latitude";
pub const LONGITUDE: &str = "longitude";

pub(super) const WIDTH: f64 = 640.0;
const HEIGHT: f64 = 380.0;
const MARGIN: f64 = 28.0;
const LEGEND: f64 = 44.0;
/// Where the map ends and the list of sites begins.
const MAP_RIGHT: f64 = 420.0;
const LINE: f64 = 17.0;

/// The drawing's height: the map's, or the list's when it holds many sites.
pub(super) fn height(chart: &Chart) -> f64 {
    HEIGHT.max(MARGIN + LINE * (chart.categories.len() as f64 + 2.0) + LEGEND)
}

/// One site as drawn.
struct Place<'a> {
    name: &'a str,
    latitude: f64,
    longitude: f64,
    value: Option<f64>,
}

impl Chart {
    /// The values series (the first that is not a coordinate) and the sites with both
    /// coordinates; sites without them are named under the map.
    fn places(&self) -> (Option<&super::Series>, Vec<Place<'_>>, Vec<&str>) {
        let series = |name: &str| self.series.iter().find(|series| series.name == name);
        let values = self.series.iter().find(|series| series.name != LATITUDE && series.name != LONGITUDE);
        let at = |series: Option<&super::Series>, index: usize| {
            series.and_then(|series| series.values.get(index).copied().flatten())
        };
        let (mut placed, mut unplaced) = (Vec::new(), Vec::new());
        for (index, name) in self.categories.iter().enumerate() {
            match (at(series(LATITUDE), index), at(series(LONGITUDE), index)) {
                (Some(latitude), Some(longitude))
                    if (-90.0..=90.0).contains(&latitude) && (-180.0..=180.0).contains(&longitude) =>
                {
                    placed.push(Place { name, latitude, longitude, value: at(values, index) });
                }
                _ => unplaced.push(name.as_str()),
            }
        }
        (values, placed, unplaced)
    }

    pub(super) fn draw_map(&self, svg: &mut String, locale: Locale) {
        let (values, places, unplaced) = self.places();
        let bottom = HEIGHT - LEGEND;
        if places.is_empty() {
            let _ = write!(
                svg,
                r##"<text class="no-data" x="{}" y="{}" text-anchor="middle" fill="#5b6b7c">{}</text>"##,
                MAP_RIGHT / 2.0,
                bottom / 2.0,
                locale.word(crate::Word::NoData)
            );
        }
        // Bounds with a margin; at least a degree across, so one site sits mid-map.
        let fold =
            |pick: fn(&Place) -> f64, start: f64, keep: fn(f64, f64) -> f64| places.iter().map(pick).fold(start, keep);
        let (south, north) = (fold(|p| p.latitude, 90.0, f64::min), fold(|p| p.latitude, -90.0, f64::max));
        let (west, east) = (fold(|p| p.longitude, 180.0, f64::min), fold(|p| p.longitude, -180.0, f64::max));
        let pad = |low: f64, high: f64| {
            let span = (high - low).max(1.0);
            let middle = (low + high) / 2.0;
            (middle - span * 0.6, middle + span * 0.6)
        };
        let (south, north) = pad(south, north);
        let (west, east) = pad(west, east);
        // Equirectangular: a degree of longitude shrinks with the cosine of the latitude.
        let squeeze = ((south + north) / 2.0).to_radians().cos().max(0.2);
        let (plot_width, plot_height) = (MAP_RIGHT - 2.0 * MARGIN, bottom - 2.0 * MARGIN);
        let scale = (plot_width / ((east - west) * squeeze)).min(plot_height / (north - south));
        let (centre_x, centre_y) = (MARGIN + plot_width / 2.0, MARGIN + plot_height / 2.0);
        let x_of = |longitude: f64| centre_x + (longitude - (west + east) / 2.0) * squeeze * scale;
        let y_of = |latitude: f64| centre_y - (latitude - (south + north) / 2.0) * scale;
        let _ = write!(
            svg,
            r##"<rect x="{MARGIN}" y="{MARGIN}" width="{plot_width}" height="{plot_height}" fill="#f3f7fb" stroke="#d5dbe1"/>"##
        );
        if !places.is_empty() {
            self.draw_graticule(svg, (south, north, west, east), &x_of, &y_of, bottom);
        }
        let numbers: Vec<f64> = places.iter().filter_map(|place| place.value).collect();
        let low = numbers.iter().copied().fold(f64::INFINITY, f64::min);
        let high = numbers.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        let series_name = values.map(|series| series.name.as_str()).unwrap_or_default();
        for (index, place) in places.iter().enumerate() {
            let (x, y) = (x_of(place.longitude), y_of(place.latitude));
            let (fill, shown, value, share) = match place.value {
                Some(value) => {
                    let share = if high > low { (value - low) / (high - low) } else { 0.5 };
                    (heat_colour(share), self.format_value(value, locale), raw(value), share)
                }
                None => ("#c8d0d8".to_owned(), "—".to_owned(), String::new(), 0.0),
            };
            let ink = if share > 0.6 { "#ffffff" } else { "#1d2733" };
            let number = index + 1;
            let _ = write!(
                svg,
                r##"<circle class="mark" cx="{x:.2}" cy="{y:.2}" r="8" fill="{fill}" stroke="#1d2733" stroke-width="1" data-series="{}" data-category="{}" data-value="{value}" data-latitude="{}" data-longitude="{}"><title>{} : {}</title></circle><text x="{x:.2}" y="{:.2}" text-anchor="middle" font-size="8" fill="{ink}">{number}</text>"##,
                escape(series_name),
                escape(place.name),
                raw(place.latitude),
                raw(place.longitude),
                escape(place.name),
                escape(&shown),
                y + 3.0,
            );
            let line = MARGIN + LINE * index as f64;
            let _ = write!(
                svg,
                r##"<circle cx="{:.2}" cy="{:.2}" r="6" fill="{fill}" stroke="#1d2733" stroke-width="0.6"/><text x="{:.2}" y="{:.2}" text-anchor="middle" font-size="7" fill="{ink}">{number}</text><text x="{:.2}" y="{:.2}" fill="#1d2733">{} · {}</text>"##,
                MAP_RIGHT + 8.0,
                line + 6.0,
                MAP_RIGHT + 8.0,
                line + 8.5,
                MAP_RIGHT + 18.0,
                line + 10.0,
                escape(place.name),
                escape(&shown),
            );
        }
        if !numbers.is_empty() {
            self.draw_map_legend(svg, low, high, locale);
        }
        if !unplaced.is_empty() {
            let first = MARGIN + LINE * (places.len() as f64 + 0.5);
            let _ = write!(
                svg,
                r##"<text class="unplaced" x="{}" y="{:.2}" fill="#5b6b7c">{} :</text>"##,
                MAP_RIGHT + 4.0,
                first + 10.0,
                locale.word(crate::Word::NoCoordinates),
            );
            for (index, name) in unplaced.iter().enumerate() {
                let _ = write!(
                    svg,
                    r##"<text class="unplaced" x="{}" y="{:.2}" fill="#5b6b7c">{}</text>"##,
                    MAP_RIGHT + 18.0,
                    first + 10.0 + LINE * (index as f64 + 1.0),
                    escape(name)
                );
            }
        }
    }

    /// Parallels and meridians at a round step, labelled in degrees.
    fn draw_graticule(
        &self,
        svg: &mut String,
        (south, north, west, east): (f64, f64, f64, f64),
        x_of: &dyn Fn(f64) -> f64,
        y_of: &dyn Fn(f64) -> f64,
        bottom: f64,
    ) {
        let inside_x = |x: f64| (MARGIN..=MAP_RIGHT - MARGIN).contains(&x);
        let inside_y = |y: f64| (MARGIN..=bottom - MARGIN).contains(&y);
        let (_, _, step) = nice_scale(south, north);
        let mut latitude = (south / step).ceil() * step;
        while latitude <= north {
            let y = y_of(latitude);
            if inside_y(y) {
                let _ = write!(
                    svg,
                    r##"<line x1="{MARGIN}" x2="{}" y1="{y:.2}" y2="{y:.2}" stroke="#dde5ee"/><text x="{}" y="{:.2}" fill="#8795a1" font-size="9">{}°</text>"##,
                    MAP_RIGHT - MARGIN,
                    MARGIN + 2.0,
                    y - 2.0,
                    raw((latitude * 1e6).round() / 1e6)
                );
            }
            latitude += step;
        }
        let (_, _, step) = nice_scale(west, east);
        let mut longitude = (west / step).ceil() * step;
        while longitude <= east {
            let x = x_of(longitude);
            if inside_x(x) {
                let _ = write!(
                    svg,
                    r##"<line x1="{x:.2}" x2="{x:.2}" y1="{MARGIN}" y2="{}" stroke="#dde5ee"/><text x="{:.2}" y="{}" fill="#8795a1" font-size="9">{}°</text>"##,
                    bottom - MARGIN,
                    x + 2.0,
                    bottom - MARGIN - 3.0,
                    raw((longitude * 1e6).round() / 1e6)
                );
            }
            longitude += step;
        }
    }

    /// A five-step colour scale from the lowest value to the highest, with the unit.
    fn draw_map_legend(&self, svg: &mut String, low: f64, high: f64, locale: Locale) {
        let y = HEIGHT - LEGEND + 10.0;
        for step in 0..5 {
            let _ = write!(
                svg,
                r#"<rect x="{}" y="{y}" width="24" height="10" fill="{}"/>"#,
                MARGIN + 24.0 * f64::from(step),
                heat_colour(f64::from(step) / 4.0)
            );
        }
        let _ = write!(
            svg,
            r##"<text class="legend" x="{}" y="{}" fill="#5b6b7c">{} – {} {}</text>"##,
            MARGIN + 128.0,
            y + 9.0,
            escape(&self.format_value(low, locale)),
            escape(&self.format_value(high, locale)),
            escape(&self.unit)
        );
    }
}
