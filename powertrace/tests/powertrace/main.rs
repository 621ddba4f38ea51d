//! PowerTrace's specification: the load list of a site worked by hand, and demand
//! forecasts on series whose truth is known.

mod forecast;
mod loadlist;
mod scenario;
