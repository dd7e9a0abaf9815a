//! sovereign: a network egress monitor that proves tenants' personal data stays in the
//! jurisdictions it was promised to. Modules in pipeline order:
//! `capture -> decode -> flow -> (pii, geo) -> policy -> alert/metrics`, joined per packet by
//! `engine` and wired into threads by `pipeline`. See ARCHITECTURE.md.

pub mod alert;
pub mod capture;
pub mod cli;
pub mod config;
pub mod decode;
pub mod defrag;
pub mod engine;
pub mod fixture;
pub mod flow;
pub mod geo;
pub mod l7;
pub mod metrics;
pub mod path;
pub mod pii;
pub mod pipeline;
pub mod policy;
pub mod probe;
pub mod time;
