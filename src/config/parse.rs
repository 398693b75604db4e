//! Parsing and validation of configuration documents. (Placeholder: implemented in the
//! configuration work.)

use std::path::Path;

use super::LoggingSystemConfig;
use crate::Error;

pub(super) fn from_json_str(s: &str) -> Result<LoggingSystemConfig, Error> {
    let v: serde_json::Value = serde_json::from_str(s).map_err(|e| {
        Error::configuration("LoggerFactory", format!("invalid JSON: {e}")).with_source(e)
    })?;
    from_json_value(&v)
}

pub(super) fn from_yaml_str(_s: &str) -> Result<LoggingSystemConfig, Error> {
    Err(Error::configuration(
        "LoggerFactory",
        "YAML not supported yet",
    ))
}

pub(super) fn from_json_value(_v: &serde_json::Value) -> Result<LoggingSystemConfig, Error> {
    Err(Error::configuration("LoggerFactory", "not implemented yet"))
}

pub(super) fn from_path(path: &Path) -> Result<LoggingSystemConfig, Error> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Error::configuration(
            "LoggerFactory",
            format!("cannot read configuration `{}`: {e}", path.display()),
        )
        .with_source(e)
    })?;
    match path.extension().and_then(|e| e.to_str()) {
        Some("yaml") | Some("yml") => from_yaml_str(&text),
        _ => from_json_str(&text),
    }
}
