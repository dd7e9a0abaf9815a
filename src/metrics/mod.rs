//! Metrics: every metric name in one place (`sovereign_<what>_<unit>`), the counters a worker
//! keeps ([`Stats`]), and their conversion into Prometheus metric families. The live exporter
//! (registry, pipeline counters, latency summary, HTTP endpoint) is in [`exporter`]; it is the
//! only part that does I/O. Label values come from small fixed sets (skip reasons, end reasons,
//! alert kinds, tenant ids, country codes, worker numbers, interface names), never addresses or
//! hostnames. Metrics are never used for control flow.

pub mod exporter;

use std::collections::BTreeMap;

use prometheus::proto::{Counter, Gauge, LabelPair, Metric, MetricFamily, MetricType};
use prometheus::{Encoder, TextEncoder};

use crate::decode::Skip;
use crate::flow::FlowStats;

// Worker counters (summed over workers).
pub const PACKETS_TOTAL: &str = "sovereign_packets_total";
pub const BYTES_TOTAL: &str = "sovereign_bytes_total";
pub const DECODE_SKIPPED_TOTAL: &str = "sovereign_decode_skipped_packets_total";
pub const DECODE_ERRORS_TOTAL: &str = "sovereign_decode_errors_total";
pub const FLOWS_CREATED_TOTAL: &str = "sovereign_flows_created_total";
pub const FLOWS_ENDED_TOTAL: &str = "sovereign_flows_ended_total";
pub const FLOWS_EVICTED_TOTAL: &str = "sovereign_flows_evicted_total";
pub const FLOWS_ACTIVE: &str = "sovereign_flows_active";
pub const EGRESS_BYTES_TOTAL: &str = "sovereign_egress_bytes_total";
pub const ALERTS_TOTAL: &str = "sovereign_alerts_total";
pub const PII_SCANNED_BYTES_TOTAL: &str = "sovereign_pii_scanned_bytes_total";
pub const PII_FINDINGS_DROPPED_TOTAL: &str = "sovereign_pii_findings_dropped_total";
pub const GEO_CACHE_LOOKUPS_TOTAL: &str = "sovereign_geo_cache_lookups_total";
pub const DNS_CACHE_LOOKUPS_TOTAL: &str = "sovereign_dns_cache_lookups_total";
pub const ALERTS_HELD_TOTAL: &str = "sovereign_alerts_held_total";
pub const L7_ABANDONED_TOTAL: &str = "sovereign_l7_inspections_abandoned_total";
pub const ALERT_HOLD_SECONDS_TOTAL: &str = "sovereign_alert_hold_seconds_total";
// Capture thread (before the workers).
pub const DEFRAG_DATAGRAMS_TOTAL: &str = "sovereign_defrag_datagrams_total";
pub const DNS_CACHE_LEARNED_TOTAL: &str = "sovereign_dns_cache_learned_total";
pub const DNS_CACHE_EVICTED_TOTAL: &str = "sovereign_dns_cache_evicted_total";
pub const DNS_CACHE_ENTRIES: &str = "sovereign_dns_cache_entries";
// Pipeline, capture and sinks (exporter).
pub const CAPTURE_RECEIVED_TOTAL: &str = "sovereign_capture_received_packets_total";
pub const CAPTURE_DROPPED_TOTAL: &str = "sovereign_capture_dropped_packets_total";
pub const CHANNEL_DROPPED_TOTAL: &str = "sovereign_channel_dropped_packets_total";
pub const PACKET_LATENCY_SECONDS: &str = "sovereign_packet_latency_seconds";
pub const WORKERS: &str = "sovereign_workers";
pub const CONFIG_RELOADS_TOTAL: &str = "sovereign_config_reloads_total";
pub const CONFIG_LAST_RELOAD_SUCCESSFUL: &str = "sovereign_config_last_reload_successful";
pub const BUILD_INFO: &str = "sovereign_build_info";
pub const START_TIME_SECONDS: &str = "sovereign_start_time_seconds";
pub const AM_DELIVERED_TOTAL: &str = "sovereign_alertmanager_delivered_alerts_total";
pub const AM_POST_FAILURES_TOTAL: &str = "sovereign_alertmanager_post_failures_total";
pub const AM_SPOOLED: &str = "sovereign_alertmanager_spooled_alerts";
pub const AM_DROPPED_TOTAL: &str = "sovereign_alertmanager_dropped_alerts_total";
pub const AM_SPOOL_ERRORS_TOTAL: &str = "sovereign_alertmanager_spool_errors_total";
pub const SINK_WRITE_ERRORS_TOTAL: &str = "sovereign_sink_write_errors_total";
pub const PROBE_TRACES_TOTAL: &str = "sovereign_probe_traces_total";
pub const PROBE_DROPPED_TOTAL: &str = "sovereign_probe_requests_dropped_total";
pub const PROBE_CACHE_HITS_TOTAL: &str = "sovereign_probe_cache_hits_total";

/// (name, type, help) of every metric.
pub const ALL: &[(&str, &str, &str)] = &[
    (PACKETS_TOTAL, "counter", "Frames read from the capture and processed."),
    (BYTES_TOTAL, "counter", "Captured bytes of frames processed."),
    (DECODE_SKIPPED_TOTAL, "counter", "Frames that yielded no flow packet, by reason."),
    (DECODE_ERRORS_TOTAL, "counter", "Frames skipped because they were malformed or truncated."),
    (FLOWS_CREATED_TOTAL, "counter", "Flows created."),
    (FLOWS_ENDED_TOTAL, "counter", "Flows ended, by reason."),
    (FLOWS_EVICTED_TOTAL, "counter", "Flows evicted because the flow table was full."),
    (FLOWS_ACTIVE, "gauge", "Flows in the tables."),
    (EGRESS_BYTES_TOTAL, "counter", "IP bytes sent inside -> outside, by tenant, destination country and whether the flow was known to carry personal data when the packet passed."),
    (ALERTS_TOTAL, "counter", "Alerts raised, by tenant, kind and destination country."),
    (PII_SCANNED_BYTES_TOTAL, "counter", "Egress payload bytes scanned for personal data."),
    (PII_FINDINGS_DROPPED_TOTAL, "counter", "Identifiers not listed because a flow reached its findings limit."),
    (GEO_CACHE_LOOKUPS_TOTAL, "counter", "Geo lookups, by result (hit, miss)."),
    (DNS_CACHE_LOOKUPS_TOTAL, "counter", "DNS-name lookups for new flows' outside addresses, by result (hit, miss)."),
    (L7_ABANDONED_TOTAL, "counter", "Flows whose name inspection was abandoned, by reason: budget (the workers' 64 MiB of L7 buffers were spent) or age (still incomplete 10 s after it began)."),
    (ALERTS_HELD_TOTAL, "counter", "Alerts that waited for their flow's hostname, by how the wait ended: named (the name came), no_name (inspection ended without one), deadline ([app] name_wait_ms), flow_end, reload (the flow no longer carries personal data)."),
    (ALERT_HOLD_SECONDS_TOTAL, "counter", "Total time alerts waited for their flow's hostname (divide by sovereign_alerts_held_total for the mean cost)."),
    (DNS_CACHE_LEARNED_TOTAL, "counter", "A/AAAA answers learned into the DNS name cache."),
    (DNS_CACHE_EVICTED_TOTAL, "counter", "Addresses forgotten by the DNS name cache to stay within [app] dns_cache_entries (every worker holds an identical copy; this is one copy's count)."),
    (DNS_CACHE_ENTRIES, "gauge", "Addresses in the DNS name cache (one worker's copy; all are identical)."),
    (DEFRAG_DATAGRAMS_TOTAL, "counter", "Fragmented IP datagrams, by result: reassembled, or dropped (timeout, evicted, too_big, invalid); overlap_conflict counts datagrams whose overlapping fragments disagreed (first bytes kept)."),
    (CAPTURE_RECEIVED_TOTAL, "counter", "Packets the capture source reports as received (libpcap ps_recv)."),
    (CAPTURE_DROPPED_TOTAL, "counter", "Packets the capture source dropped: reason kernel (buffer full, ps_drop) or interface (ps_ifdrop)."),
    (CHANNEL_DROPPED_TOTAL, "counter", "Frames dropped because a worker's channel was full, by worker."),
    (PACKET_LATENCY_SECONDS, "summary", "Time from a frame being read from the capture to its worker having evaluated it (quantiles over the last 5-10 minutes; sum and count over the run)."),
    (WORKERS, "gauge", "Worker threads."),
    (CONFIG_RELOADS_TOTAL, "counter", "Config reloads (SIGHUP), by result."),
    (CONFIG_LAST_RELOAD_SUCCESSFUL, "gauge", "1 when the last reload succeeded (or none was tried), 0 when the running config is older than the file."),
    (BUILD_INFO, "gauge", "Always 1; the version is a label."),
    (START_TIME_SECONDS, "gauge", "Start time of the process, seconds since the Unix epoch."),
    (AM_DELIVERED_TOTAL, "counter", "Alerts Alertmanager accepted."),
    (AM_POST_FAILURES_TOTAL, "counter", "POSTs to Alertmanager that failed (retried later)."),
    (AM_SPOOLED, "gauge", "Alerts waiting in the on-disk spool for Alertmanager."),
    (AM_DROPPED_TOTAL, "counter", "Alerts given up for Alertmanager: spool_full (oldest dropped), channel_full, rejected (HTTP 400/422)."),
    (AM_SPOOL_ERRORS_TOTAL, "counter", "Spool writes that failed (alerts stay pending in memory; a restart would lose them)."),
    (PROBE_TRACES_TOTAL, "counter", "Traceroutes run by the probe thread, by result (ok, failed)."),
    (PROBE_DROPPED_TOTAL, "counter", "Probe requests dropped because the probe queue was full."),
    (PROBE_CACHE_HITS_TOTAL, "counter", "Probe requests answered from a path measured within cache_secs."),
    (SINK_WRITE_ERRORS_TOTAL, "counter", "Records lost because a JSON-lines sink failed, by sink."),
];

/// Help text of a metric named in [`ALL`].
pub fn help(name: &str) -> &'static str {
    ALL.iter()
        .find(|(n, _, _)| *n == name)
        .map_or("", |(_, _, h)| *h)
}

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
    /// Fragment reassembly (capture thread).
    pub defrag: crate::defrag::DefragStats,
    pub names_hits: u64,
    pub names_misses: u64,
    /// DNS name cache (capture thread).
    pub names: crate::l7::names::NameStats,
    /// Alerts that waited for a hostname, by outcome, and the total wait.
    pub alert_holds: BTreeMap<&'static str, u64>,
    pub alert_hold_us: u64,
    /// L7 inspections abandoned: over the worker's budget, and past their age limit.
    pub l7_abandoned: u64,
    pub l7_aged_out: u64,
}

fn add_map<K: Ord + Clone>(into: &mut BTreeMap<K, u64>, from: &BTreeMap<K, u64>) {
    for (k, v) in from {
        *into.entry(k.clone()).or_insert(0) += v;
    }
}

/// Flow end reasons, always exported (zero until seen).
const END_REASONS: [&str; 4] = ["timeout", "evicted", "reused", "shutdown"];

impl Stats {
    pub fn decode_errors(&self) -> u64 {
        self.skipped
            .iter()
            .filter(|(k, _)| k.is_error())
            .map(|(_, v)| v)
            .sum()
    }

    /// Adds another worker's counters.
    pub fn merge(&mut self, o: &Stats) {
        self.packets += o.packets;
        self.bytes += o.bytes;
        add_map(&mut self.skipped, &o.skipped);
        self.flows.created += o.flows.created;
        self.flows.timed_out += o.flows.timed_out;
        self.flows.evicted += o.flows.evicted;
        self.flows.reused += o.flows.reused;
        add_map(&mut self.flows_ended, &o.flows_ended);
        self.flows_active += o.flows_active;
        add_map(&mut self.egress_bytes, &o.egress_bytes);
        add_map(&mut self.alerts, &o.alerts);
        self.pii_scanned_bytes += o.pii_scanned_bytes;
        self.pii_findings_dropped += o.pii_findings_dropped;
        self.geo_hits += o.geo_hits;
        self.geo_misses += o.geo_misses;
        let (d, od) = (&mut self.defrag, &o.defrag);
        d.reassembled += od.reassembled;
        d.timeout += od.timeout;
        d.evicted += od.evicted;
        d.too_big += od.too_big;
        d.invalid += od.invalid;
        d.overlap_conflict += od.overlap_conflict;
        self.names_hits += o.names_hits;
        self.names_misses += o.names_misses;
        // Answers are counted once (capture thread); every worker holds an identical copy.
        self.names.learned += o.names.learned;
        self.names.evicted = self.names.evicted.max(o.names.evicted);
        self.names.entries = self.names.entries.max(o.names.entries);
        add_map(&mut self.alert_holds, &o.alert_holds);
        self.alert_hold_us += o.alert_hold_us;
        self.l7_abandoned += o.l7_abandoned;
        self.l7_aged_out += o.l7_aged_out;
    }

    /// The worker counters as Prometheus metric families.
    pub fn families(&self) -> Vec<MetricFamily> {
        let one = |v: u64| vec![(Vec::new(), v as f64)];
        let mut out = vec![
            family(PACKETS_TOTAL, MetricType::COUNTER, one(self.packets)),
            family(BYTES_TOTAL, MetricType::COUNTER, one(self.bytes)),
            family(
                DECODE_SKIPPED_TOTAL,
                MetricType::COUNTER,
                Skip::ALL
                    .iter()
                    .map(|k| {
                        let v = self.skipped.get(k).copied().unwrap_or(0);
                        (vec![("reason", k.name().to_string())], v as f64)
                    })
                    .collect(),
            ),
            family(
                DEFRAG_DATAGRAMS_TOTAL,
                MetricType::COUNTER,
                self.defrag
                    .pairs()
                    .iter()
                    .map(|(k, v)| (vec![("result", (*k).to_string())], *v as f64))
                    .collect(),
            ),
            family(
                DNS_CACHE_LOOKUPS_TOTAL,
                MetricType::COUNTER,
                vec![
                    (vec![("result", "hit".to_string())], self.names_hits as f64),
                    (
                        vec![("result", "miss".to_string())],
                        self.names_misses as f64,
                    ),
                ],
            ),
            family(
                DNS_CACHE_LEARNED_TOTAL,
                MetricType::COUNTER,
                one(self.names.learned),
            ),
            family(
                DNS_CACHE_EVICTED_TOTAL,
                MetricType::COUNTER,
                one(self.names.evicted),
            ),
            family(
                DNS_CACHE_ENTRIES,
                MetricType::GAUGE,
                one(self.names.entries),
            ),
            family(
                L7_ABANDONED_TOTAL,
                MetricType::COUNTER,
                vec![
                    (
                        vec![("reason", "budget".to_string())],
                        self.l7_abandoned as f64,
                    ),
                    (vec![("reason", "age".to_string())], self.l7_aged_out as f64),
                ],
            ),
            family(
                ALERTS_HELD_TOTAL,
                MetricType::COUNTER,
                ["named", "no_name", "deadline", "flow_end", "reload"]
                    .iter()
                    .map(|k| {
                        let v = self.alert_holds.get(k).copied().unwrap_or(0);
                        (vec![("outcome", (*k).to_string())], v as f64)
                    })
                    .collect(),
            ),
            family(
                ALERT_HOLD_SECONDS_TOTAL,
                MetricType::COUNTER,
                vec![(Vec::new(), self.alert_hold_us as f64 / 1e6)],
            ),
            family(
                DECODE_ERRORS_TOTAL,
                MetricType::COUNTER,
                one(self.decode_errors()),
            ),
            family(
                FLOWS_CREATED_TOTAL,
                MetricType::COUNTER,
                one(self.flows.created),
            ),
            family(
                FLOWS_ENDED_TOTAL,
                MetricType::COUNTER,
                END_REASONS
                    .iter()
                    .map(|r| {
                        let v = self.flows_ended.get(r).copied().unwrap_or(0);
                        (vec![("reason", r.to_string())], v as f64)
                    })
                    .collect(),
            ),
            family(
                FLOWS_EVICTED_TOTAL,
                MetricType::COUNTER,
                one(self.flows.evicted),
            ),
            family(FLOWS_ACTIVE, MetricType::GAUGE, one(self.flows_active)),
        ];
        if !self.egress_bytes.is_empty() {
            out.push(family(
                EGRESS_BYTES_TOTAL,
                MetricType::COUNTER,
                self.egress_bytes
                    .iter()
                    .map(|((t, c, pd), v)| {
                        (
                            vec![
                                ("tenant", t.clone()),
                                ("country", c.clone()),
                                ("personal_data", pd.to_string()),
                            ],
                            *v as f64,
                        )
                    })
                    .collect(),
            ));
        }
        if !self.alerts.is_empty() {
            out.push(family(
                ALERTS_TOTAL,
                MetricType::COUNTER,
                self.alerts
                    .iter()
                    .map(|((t, k, c), v)| {
                        (
                            vec![
                                ("tenant", t.clone()),
                                ("kind", k.to_string()),
                                ("country", c.clone()),
                            ],
                            *v as f64,
                        )
                    })
                    .collect(),
            ));
        }
        out.push(family(
            PII_SCANNED_BYTES_TOTAL,
            MetricType::COUNTER,
            one(self.pii_scanned_bytes),
        ));
        out.push(family(
            PII_FINDINGS_DROPPED_TOTAL,
            MetricType::COUNTER,
            one(self.pii_findings_dropped),
        ));
        out.push(family(
            GEO_CACHE_LOOKUPS_TOTAL,
            MetricType::COUNTER,
            vec![
                (vec![("result", "hit".to_string())], self.geo_hits as f64),
                (vec![("result", "miss".to_string())], self.geo_misses as f64),
            ],
        ));
        out
    }

    /// Prometheus text exposition format of the worker counters.
    pub fn render_prometheus(&self) -> String {
        encode(&self.families())
    }
}

/// A metric family of plain samples (counter or gauge).
pub fn family(
    name: &str,
    ty: MetricType,
    samples: Vec<(Vec<(&str, String)>, f64)>,
) -> MetricFamily {
    let mut mf = MetricFamily::default();
    mf.set_name(name.to_string());
    mf.set_help(help(name).to_string());
    mf.set_field_type(ty);
    for (labels, v) in samples {
        let mut m = Metric::default();
        m.set_label(
            labels
                .into_iter()
                .map(|(k, v)| {
                    let mut p = LabelPair::default();
                    p.set_name(k.to_string());
                    p.set_value(v);
                    p
                })
                .collect(),
        );
        match ty {
            MetricType::GAUGE => {
                let mut g = Gauge::default();
                g.set_value(v);
                m.set_gauge(g);
            }
            _ => {
                let mut c = Counter::default();
                c.set_value(v);
                m.set_counter(c);
            }
        }
        mf.mut_metric().push(m);
    }
    mf
}

/// Text exposition of metric families.
pub fn encode(families: &[MetricFamily]) -> String {
    let mut buf = Vec::new();
    if let Err(e) = TextEncoder::new().encode(families, &mut buf) {
        tracing::error!(error = %e, "metrics_encode_error");
    }
    String::from_utf8_lossy(&buf).into_owned()
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
                "gauge" | "summary" => assert!(!n.ends_with("_total"), "{n}"),
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
