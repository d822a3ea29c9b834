//! The controller's pure readers, without AWS: its settings (`Config::from_lookup`) and the
//! listener's forward action (`listener::parse`, `listener::action`), from the harness's valid
//! settings and forward actions.

mod config;
mod listener;
