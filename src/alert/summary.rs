//! End-of-run human summary: per tenant and destination country, flows, egress bytes, flows with
//! personal data and alerts; then the pipeline counters. Built from flow records only, so it
//! shows exactly what the records say.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::FlowRecord;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Row {
    pub flows: u64,
    pub egress_bytes: u64,
    pub pd_flows: u64,
    pub alerts: u64,
}

#[derive(Debug, Default)]
pub struct Summary {
    /// (tenant, destination country) -> row. Flows without a tenant are not listed.
    pub rows: BTreeMap<(String, String), Row>,
}

impl Summary {
    pub fn add(&mut self, f: &FlowRecord) {
        let Some(tenant) = &f.tenant else { return };
        let country = f
            .dest_geo
            .as_ref()
            .and_then(|g| g.country.clone())
            .unwrap_or_else(|| "unknown".to_string());
        let row = self.rows.entry((tenant.clone(), country)).or_default();
        row.flows += 1;
        row.egress_bytes += f.flow.egress_bytes;
        if f.personal_data.declared || !f.personal_data.detected.is_empty() {
            row.pd_flows += 1;
        }
        row.alerts += f.alerts.len() as u64;
    }

    pub fn render(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "{:<24} {:<7} {:>8} {:>14} {:>9} {:>7}",
            "tenant", "country", "flows", "egress_bytes", "pd_flows", "alerts"
        );
        for ((t, c), r) in &self.rows {
            let _ = writeln!(
                s,
                "{:<24} {:<7} {:>8} {:>14} {:>9} {:>7}",
                t, c, r.flows, r.egress_bytes, r.pd_flows, r.alerts
            );
        }
        if self.rows.is_empty() {
            let _ = writeln!(s, "(no tenant flows)");
        }
        s
    }
}
