//! Metrics: every metric name in one place (`sovereign_<what>_<unit>`), the counters a worker
//! keeps, and their rendering (Prometheus text format; the HTTP exporter comes with the sidecar).
//! Label values come from small fixed sets (skip reasons, end reasons, alert kinds, tenant ids,
//! country codes), never addresses. Metrics are never used for control flow.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::decode::Skip;
use crate::flow::FlowStats;

pub const PACKETS_TOTAL: &str = "sovereign_packets_total";
pub const BYTES_TOTAL: &str = "sovereign_bytes_total";
pub const DECODE_SKIPPED_TOTAL: &str = "sovereign_decode_skipped_packets_total";
pub const FLOWS_CREATED_TOTAL: &str = "sovereign_flows_created_total";
pub const FLOWS_ENDED_TOTAL: &str = "sovereign_flows_ended_total";
pub const FLOWS_EVICTED_TOTAL: &str = "sovereign_flows_evicted_total";
pub const FLOWS_ACTIVE: &str = "sovereign_flows_active";
pub const EGRESS_BYTES_TOTAL: &str = "sovereign_egress_bytes_total";
pub const ALERTS_TOTAL: &str = "sovereign_alerts_total";
pub const PII_SCANNED_BYTES_TOTAL: &str = "sovereign_pii_scanned_bytes_total";
pub const PII_FINDINGS_DROPPED_TOTAL: &str = "sovereign_pii_findings_dropped_total";
pub const GEO_CACHE_LOOKUPS_TOTAL: &str = "sovereign_geo_cache_lookups_total";

/// (name, type, help) of every metric.
pub const ALL: &[(&str, &str, &str)] = &[
    (PACKETS_TOTAL, "counter", "Frames read from the capture."),
    (BYTES_TOTAL, "counter", "Captured bytes of frames read."),
    (
        DECODE_SKIPPED_TOTAL,
        "counter",
        "Frames that yielded no flow packet, by reason.",
    ),
    (FLOWS_CREATED_TOTAL, "counter", "Flows created."),
    (FLOWS_ENDED_TOTAL, "counter", "Flows ended, by reason."),
    (
        FLOWS_EVICTED_TOTAL,
        "counter",
        "Flows evicted because the flow table was full.",
    ),
    (FLOWS_ACTIVE, "gauge", "Flows in the table."),
    (
        EGRESS_BYTES_TOTAL,
        "counter",
        "IP bytes sent inside -> outside, by tenant, destination country and personal data.",
    ),
    (
        ALERTS_TOTAL,
        "counter",
        "Alerts raised, by tenant, kind and destination country.",
    ),
    (
        PII_SCANNED_BYTES_TOTAL,
        "counter",
        "Egress payload bytes scanned for personal data.",
    ),
    (
        PII_FINDINGS_DROPPED_TOTAL,
        "counter",
        "Identifiers not listed because a flow reached its findings limit.",
    ),
    (
        GEO_CACHE_LOOKUPS_TOTAL,
        "counter",
        "Geo lookups, by result (hit, miss).",
    ),
];

/// Counters of one worker.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Stats {
    pub packets: u64,
    pub bytes: u64,
    pub skipped: BTreeMap<Skip, u64>,
    pub flows: FlowStats,
    pub flows_ended: BTreeMap<&'static str, u64>,
    pub flows_active: u64,
    /// (tenant, country or "unknown", personal data) -> bytes.
    pub egress_bytes: BTreeMap<(String, String, bool), u64>,
    /// (tenant, kind, country or "unknown") -> alerts.
    pub alerts: BTreeMap<(String, &'static str, String), u64>,
    pub pii_scanned_bytes: u64,
    pub pii_findings_dropped: u64,
    pub geo_hits: u64,
    pub geo_misses: u64,
}

impl Stats {
    pub fn decode_errors(&self) -> u64 {
        self.skipped
            .iter()
            .filter(|(k, _)| k.is_error())
            .map(|(_, v)| v)
            .sum()
    }

    /// Prometheus text exposition format.
    pub fn render_prometheus(&self) -> String {
        let mut s = String::new();
        let head = |s: &mut String, name: &str| {
            if let Some((n, t, h)) = ALL.iter().find(|(n, _, _)| *n == name) {
                let _ = writeln!(s, "# HELP {n} {h}\n# TYPE {n} {t}");
            }
        };
        head(&mut s, PACKETS_TOTAL);
        let _ = writeln!(s, "{PACKETS_TOTAL} {}", self.packets);
        head(&mut s, BYTES_TOTAL);
        let _ = writeln!(s, "{BYTES_TOTAL} {}", self.bytes);
        head(&mut s, DECODE_SKIPPED_TOTAL);
        for k in Skip::ALL {
            let v = self.skipped.get(&k).copied().unwrap_or(0);
            let _ = writeln!(s, "{DECODE_SKIPPED_TOTAL}{{reason=\"{}\"}} {v}", k.name());
        }
        head(&mut s, FLOWS_CREATED_TOTAL);
        let _ = writeln!(s, "{FLOWS_CREATED_TOTAL} {}", self.flows.created);
        head(&mut s, FLOWS_ENDED_TOTAL);
        for (r, v) in &self.flows_ended {
            let _ = writeln!(s, "{FLOWS_ENDED_TOTAL}{{reason=\"{r}\"}} {v}");
        }
        head(&mut s, FLOWS_EVICTED_TOTAL);
        let _ = writeln!(s, "{FLOWS_EVICTED_TOTAL} {}", self.flows.evicted);
        head(&mut s, FLOWS_ACTIVE);
        let _ = writeln!(s, "{FLOWS_ACTIVE} {}", self.flows_active);
        head(&mut s, EGRESS_BYTES_TOTAL);
        for ((t, c, pd), v) in &self.egress_bytes {
            let _ = writeln!(
                s,
                "{EGRESS_BYTES_TOTAL}{{tenant=\"{t}\",country=\"{c}\",personal_data=\"{pd}\"}} {v}"
            );
        }
        head(&mut s, ALERTS_TOTAL);
        for ((t, k, c), v) in &self.alerts {
            let _ = writeln!(
                s,
                "{ALERTS_TOTAL}{{tenant=\"{t}\",kind=\"{k}\",country=\"{c}\"}} {v}"
            );
        }
        head(&mut s, PII_SCANNED_BYTES_TOTAL);
        let _ = writeln!(s, "{PII_SCANNED_BYTES_TOTAL} {}", self.pii_scanned_bytes);
        head(&mut s, PII_FINDINGS_DROPPED_TOTAL);
        let _ = writeln!(
            s,
            "{PII_FINDINGS_DROPPED_TOTAL} {}",
            self.pii_findings_dropped
        );
        head(&mut s, GEO_CACHE_LOOKUPS_TOTAL);
        let _ = writeln!(
            s,
            "{GEO_CACHE_LOOKUPS_TOTAL}{{result=\"hit\"}} {}",
            self.geo_hits
        );
        let _ = writeln!(
            s,
            "{GEO_CACHE_LOOKUPS_TOTAL}{{result=\"miss\"}} {}",
            self.geo_misses
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_convention_and_are_unique() {
        let mut seen = std::collections::HashSet::new();
        for (n, t, h) in ALL {
            assert!(n.starts_with("sovereign_"), "{n}");
            assert!(seen.insert(*n), "{n} twice");
            assert!(!h.is_empty());
            match *t {
                "counter" => assert!(n.ends_with("_total"), "{n}"),
                "gauge" => assert!(!n.ends_with("_total"), "{n}"),
                other => panic!("{other}"),
            }
        }
    }

    #[test]
    fn every_rendered_sample_has_help_and_type() {
        let mut st = Stats::default();
        st.alerts
            .insert(("acme".into(), "residency", "US".into()), 2);
        let text = st.render_prometheus();
        for line in text.lines().filter(|l| !l.starts_with('#')) {
            let name = line.split(['{', ' ']).next().unwrap_or("");
            assert!(
                text.contains(&format!("# TYPE {name} ")),
                "{name} has no TYPE"
            );
        }
        assert!(text.contains(
            "sovereign_alerts_total{tenant=\"acme\",kind=\"residency\",country=\"US\"} 2"
        ));
    }
}
