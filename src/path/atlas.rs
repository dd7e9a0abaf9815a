//! Imported traceroutes: RIPE Atlas results (the `"type": "traceroute"` objects of the Atlas API,
//! every firmware since 4460) and scamper's JSON output (`sc_warts2json`, `"type": "trace"`
//! objects; cycle and list objects skipped): one object, an array of them, JSON lines, or a
//! download wrapper with a `results` array. Parsing only: hop addresses, RTTs, timeouts (`"x": "*"`), ICMP errors
//! (`err`), late packets, MPLS label stacks from ICMP extensions (RFC 4884/4950), per-hop
//! errors. The derived values follow RIPE's own parser (ripe.atlas.sagan) so its tests' expected
//! values apply. No I/O here; the caller reads the file.

use std::collections::BTreeMap;
use std::net::IpAddr;

use serde::Deserialize;
use serde_json::Value;

#[derive(Debug, thiserror::Error)]
pub enum AtlasError {
    #[error("{file}: not JSON or JSON lines: {reason}")]
    Json { file: String, reason: String },
    #[error("{file}: no traceroute results in it")]
    Empty { file: String },
}

/// One reply (or non-reply) to a probe packet.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    pub from: Option<IpAddr>,
    pub rtt_ms: Option<f64>,
    /// `"x": "*"`: no answer.
    pub timeout: bool,
    /// ICMP error code letter (`H` host unreachable, `N` network, `A` administratively, ...).
    pub err: Option<String>,
    /// MPLS labels from an ICMP extension object, outermost first.
    pub mpls: Vec<u32>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Hop {
    /// Hop number (TTL); 255 marks the final probe of some firmwares; 0 when the entry had
    /// none (a measurement-level error).
    pub hop: u16,
    pub replies: Vec<Reply>,
    /// Replies that came after the next probe was sent (`late`): not counted as replies (as in
    /// sagan), since they may answer an earlier probe, i.e. another hop.
    pub late: u32,
    /// A per-hop error (e.g. "connect failed: Network is unreachable").
    pub error: Option<String>,
}

impl Hop {
    /// Median RTT of the replies that have one, rounded to µs as sagan does.
    pub fn median_rtt(&self) -> Option<f64> {
        let mut rtts: Vec<f64> = self.replies.iter().filter_map(|r| r.rtt_ms).collect();
        if rtts.is_empty() {
            return None;
        }
        rtts.sort_by(f64::total_cmp);
        let n = rtts.len();
        let m = if n % 2 == 1 {
            rtts[n / 2]
        } else {
            (rtts[n / 2 - 1] + rtts[n / 2]) / 2.0
        };
        Some((m * 1000.0).round() / 1000.0)
    }

    /// Distinct responding addresses, in order of first reply.
    pub fn addresses(&self) -> Vec<IpAddr> {
        let mut out: Vec<IpAddr> = Vec::new();
        for r in &self.replies {
            if let Some(a) = r.from {
                if !out.contains(&a) {
                    out.push(a);
                }
            }
        }
        out
    }
}

/// One traceroute.
#[derive(Debug, Clone, PartialEq)]
pub struct Traceroute {
    pub msm_id: Option<u64>,
    pub prb_id: Option<u64>,
    pub af: Option<u8>,
    pub proto: Option<String>,
    /// The probe's public address (`from`), if known.
    pub origin: Option<IpAddr>,
    pub src_addr: Option<IpAddr>,
    pub dst_addr: Option<IpAddr>,
    pub dst_name: Option<String>,
    pub timestamp: Option<i64>,
    pub hops: Vec<Hop>,
    /// A measurement-level error (e.g. name resolution failed).
    pub error: Option<String>,
    /// `ripe-atlas` or `scamper` (with scamper's method, e.g. `scamper icmp-paris`).
    pub source: String,
}

impl Traceroute {
    /// Hop entries (sagan's `total_hops`).
    pub fn total_hops(&self) -> usize {
        self.hops.len()
    }

    /// Median RTT of the last hop that answered at all (sagan's `last_median_rtt`).
    pub fn last_median_rtt(&self) -> Option<f64> {
        self.hops.iter().rev().find_map(Hop::median_rtt)
    }

    /// The destination itself answered in the last hop.
    pub fn destination_ip_responded(&self) -> bool {
        match (self.dst_addr, self.hops.last()) {
            (Some(d), Some(h)) => h.replies.iter().any(|r| r.from == Some(d)),
            _ => false,
        }
    }

    /// Something answered in the last hop.
    pub fn last_hop_responded(&self) -> bool {
        self.hops
            .last()
            .is_some_and(|h| h.replies.iter().any(|r| r.rtt_ms.is_some()))
    }

    /// The last hop got a reply that is not an ICMP error (sagan's `is_success`; the reply
    /// need not come from the destination address, see [`Self::destination_ip_responded`]).
    pub fn is_success(&self) -> bool {
        self.hops.last().is_some_and(|h| {
            h.replies
                .iter()
                .any(|r| r.rtt_ms.is_some() && r.err.is_none())
        })
    }
}

#[derive(Deserialize)]
struct RawReply {
    #[serde(default)]
    from: Option<String>,
    #[serde(default)]
    rtt: Option<f64>,
    #[serde(default)]
    x: Option<String>,
    #[serde(default)]
    err: Option<Value>,
    #[serde(default)]
    late: Option<Value>,
    #[serde(default)]
    icmpext: Option<Value>,
}

#[derive(Deserialize)]
struct RawHop {
    #[serde(default)]
    hop: Option<u16>,
    #[serde(default)]
    result: Vec<Value>,
    #[serde(default)]
    error: Option<String>,
}

fn ip(s: Option<&str>) -> Option<IpAddr> {
    s.and_then(|s| s.trim().parse().ok())
}

fn mpls_labels(ext: &Value) -> Vec<u32> {
    let mut out = Vec::new();
    if let Some(objs) = ext.get("obj").and_then(Value::as_array) {
        for o in objs {
            if let Some(stack) = o.get("mpls").and_then(Value::as_array) {
                out.extend(
                    stack
                        .iter()
                        .filter_map(|e| e.get("label").and_then(Value::as_u64))
                        .filter_map(|l| u32::try_from(l).ok()),
                );
            }
        }
    }
    out
}

fn reply(v: &Value) -> Option<Reply> {
    let r: RawReply = serde_json::from_value(v.clone()).ok()?;
    if r.late.is_some() {
        return None;
    }
    Some(Reply {
        from: ip(r.from.as_deref()),
        rtt_ms: r.rtt.filter(|x| x.is_finite() && *x >= 0.0),
        timeout: r.x.as_deref() == Some("*"),
        err: r.err.map(|e| match e {
            Value::String(s) => s,
            other => other.to_string(),
        }),
        mpls: r.icmpext.as_ref().map(mpls_labels).unwrap_or_default(),
    })
}

/// One result object; `None` when it is not a traceroute.
fn traceroute(v: &Value) -> Option<Traceroute> {
    let o = v.as_object()?;
    if o.get("type")
        .and_then(Value::as_str)
        .is_some_and(|t| t != "traceroute")
    {
        return None;
    }
    let raw_hops = o.get("result")?.as_array()?;
    let mut hops = Vec::new();
    let mut error = None;
    for h in raw_hops {
        let Ok(rh) = serde_json::from_value::<RawHop>(h.clone()) else {
            continue;
        };
        if rh.hop.is_none() {
            // `[{"error": "..."}]` without a hop number: the measurement failed as a whole.
            error = rh.error.clone().or(error);
        }
        hops.push(Hop {
            hop: rh.hop.unwrap_or(0),
            replies: rh.result.iter().filter_map(reply).collect(),
            late: rh.result.iter().filter(|r| r.get("late").is_some()).count() as u32,
            error: rh.error,
        });
    }
    let s = |k: &str| o.get(k).and_then(Value::as_str);
    let u = |k: &str| o.get(k).and_then(Value::as_u64);
    Some(Traceroute {
        msm_id: u("msm_id"),
        prb_id: u("prb_id"),
        af: u("af").and_then(|a| u8::try_from(a).ok()),
        proto: s("proto").map(str::to_string),
        origin: ip(s("from")),
        src_addr: ip(s("src_addr")),
        dst_addr: ip(s("dst_addr")),
        dst_name: s("dst_name").map(str::to_string),
        timestamp: o.get("timestamp").and_then(Value::as_i64),
        hops,
        error,
        source: "ripe-atlas".to_string(),
    })
}

/// One scamper `trace` object: replies are listed flat with their `probe_ttl`; TTLs with none are
/// unresponsive hops.
fn scamper(v: &Value) -> Option<Traceroute> {
    let o = v.as_object()?;
    let s = |k: &str| o.get(k).and_then(Value::as_str);
    let v6 = ip(s("dst")).is_some_and(|a| a.is_ipv6());
    let mut by_ttl: BTreeMap<u16, Vec<Reply>> = BTreeMap::new();
    for h in o
        .get("hops")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let Some(ttl) = h
            .get("probe_ttl")
            .and_then(Value::as_u64)
            // TTLs are 8 bits; anything else is a corrupt file (and must not make 65k hops).
            .filter(|t| (1..=255).contains(t))
            .and_then(|t| u16::try_from(t).ok())
        else {
            continue;
        };
        let mut mpls = Vec::new();
        for ext in h
            .get("icmpext")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            for l in ext
                .get("mpls_labels")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(label) = l.get("mpls_label").and_then(Value::as_u64) {
                    mpls.extend(u32::try_from(label).ok());
                }
            }
        }
        // Destination unreachable other than port unreachable is an error reply: ICMP 3/x
        // (x != 3) for IPv4, ICMPv6 1/x (x != 4) for IPv6 (where type 3 is time exceeded).
        let (t, c) = (
            h.get("icmp_type").and_then(Value::as_u64),
            h.get("icmp_code").and_then(Value::as_u64),
        );
        let (unreachable, port_unreachable) = if v6 { (1, 4) } else { (3, 3) };
        let err = match (t, c) {
            (Some(t), Some(code)) if t == unreachable && code != port_unreachable => {
                Some(code.to_string())
            }
            _ => None,
        };
        by_ttl.entry(ttl).or_default().push(Reply {
            from: ip(h.get("addr").and_then(Value::as_str)),
            rtt_ms: h
                .get("rtt")
                .and_then(Value::as_f64)
                .filter(|x| x.is_finite() && *x >= 0.0),
            timeout: false,
            err,
            mpls,
        });
    }
    let last = by_ttl.keys().next_back().copied().unwrap_or(0);
    let first = o
        .get("firsthop")
        .and_then(Value::as_u64)
        .and_then(|t| u16::try_from(t).ok())
        .unwrap_or(1);
    let hops = (first..=last)
        .map(|ttl| Hop {
            hop: ttl,
            replies: by_ttl.remove(&ttl).unwrap_or_default(),
            late: 0,
            error: None,
        })
        .collect();
    let method = s("method").unwrap_or("trace");
    Some(Traceroute {
        msm_id: None,
        prb_id: None,
        af: None,
        proto: Some(method.to_string()),
        origin: None,
        src_addr: ip(s("src")),
        dst_addr: ip(s("dst")),
        dst_name: None,
        timestamp: o
            .get("start")
            .and_then(|t| t.get("sec"))
            .and_then(Value::as_i64),
        hops,
        error: None,
        source: format!("scamper {method}"),
    })
}

fn collect(v: &Value, out: &mut Vec<Traceroute>) {
    match v {
        Value::Array(items) => items.iter().for_each(|i| collect(i, out)),
        Value::Object(o)
            if o.get("result").is_some_and(Value::is_array) && !o.contains_key("results") =>
        {
            out.extend(traceroute(v));
        }
        Value::Object(o) if o.get("type").and_then(Value::as_str) == Some("trace") => {
            out.extend(scamper(v));
        }
        // Download wrappers (e.g. ripe-atlas-monitor): {"results": [...], ...}.
        Value::Object(o) => {
            if let Some(r) = o.get("results") {
                collect(r, out);
            }
        }
        _ => {}
    }
}

/// Parses a file's text: a JSON document (object, array or wrapper) or JSON lines.
pub fn parse(text: &str, file: &str) -> Result<Vec<Traceroute>, AtlasError> {
    let mut out = Vec::new();
    match serde_json::from_str::<Value>(text) {
        Ok(v) => collect(&v, &mut out),
        Err(whole) => {
            for (i, line) in text.lines().enumerate() {
                if line.trim().is_empty() {
                    continue;
                }
                let v: Value = serde_json::from_str(line).map_err(|e| AtlasError::Json {
                    file: file.to_string(),
                    reason: if i == 0 {
                        whole.to_string()
                    } else {
                        format!("line {}: {e}", i + 1)
                    },
                })?;
                collect(&v, &mut out);
            }
        }
    }
    if out.is_empty() {
        return Err(AtlasError::Empty {
            file: file.to_string(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_timeouts_errors_late_and_mpls() {
        let text = r#"{"af":4,"dst_addr":"203.0.113.9","from":"","msm_id":1,"prb_id":2,"proto":"ICMP","type":"traceroute",
            "result":[
              {"hop":1,"result":[{"from":"192.0.2.1","rtt":1.5,"ttl":64},{"x":"*"},{"late":1}]},
              {"hop":2,"result":[{"from":"198.51.100.7","rtt":10.0,"icmpext":{"obj":[{"class":1,"type":1,"mpls":[{"label":220,"s":1}]}]}},
                                 {"from":"198.51.100.7","rtt":12.0}]},
              {"hop":3,"result":[{"err":"H","from":"203.0.113.9","rtt":20.0}]},
              {"hop":4,"error":"connect failed"}]}"#;
        let t = &parse(text, "t.json").unwrap()[0];
        assert_eq!(t.origin, None);
        assert_eq!(t.total_hops(), 4);
        assert!(t.hops[0].replies[1].timeout);
        assert_eq!((t.hops[0].replies.len(), t.hops[0].late), (2, 1));
        assert_eq!(t.hops[1].replies[0].mpls, [220]);
        assert_eq!(t.hops[1].median_rtt(), Some(11.0));
        assert_eq!(t.hops[2].replies[0].err.as_deref(), Some("H"));
        assert_eq!(t.hops[3].error.as_deref(), Some("connect failed"));
        assert_eq!(t.last_median_rtt(), Some(20.0));
        assert!(!t.last_hop_responded() && !t.is_success());
    }

    #[test]
    fn scamper_json_traces_become_hops_with_silent_ttls() {
        let start = r#"{"type":"cycle-start","list_name":"default","id":1,"hostname":"gw","start_time":1700000000}"#;
        // One object per line, as sc_warts2json writes it (split here for reading).
        let trace = concat!(
            r#"{"type":"trace","version":"0.1","method":"udp-paris","src":"192.0.2.1","dst":"203.0.113.9","stop_reason":"COMPLETED","start":{"sec":1700000001,"usec":0},"hop_count":4,"firsthop":1,"#,
            r#""hops":[{"addr":"198.51.100.2","probe_ttl":1,"probe_id":1,"rtt":1.25,"icmp_type":11,"icmp_code":0,"icmpext":[{"ie_cn":1,"ie_ct":1,"ie_dl":4,"mpls_labels":[{"mpls_ttl":1,"mpls_s":1,"mpls_exp":0,"mpls_label":16005}]}]},"#,
            r#"{"addr":"198.51.100.2","probe_ttl":1,"probe_id":2,"rtt":1.75,"icmp_type":11,"icmp_code":0},"#,
            r#"{"addr":"203.0.113.9","probe_ttl":3,"probe_id":1,"rtt":9.5,"icmp_type":3,"icmp_code":3}]}"#,
        );
        let stop = r#"{"type":"cycle-stop","list_name":"default","id":1,"hostname":"gw","stop_time":1700000002}"#;
        let text = &format!("{start}\n{trace}\n{stop}\n");
        let t = parse(text, "scamper.jsonl").unwrap();
        assert_eq!(t.len(), 1);
        let t = &t[0];
        assert_eq!(t.source, "scamper udp-paris");
        assert_eq!(t.dst_addr, Some("203.0.113.9".parse().unwrap()));
        assert_eq!(t.timestamp, Some(1_700_000_001));
        assert_eq!(
            t.hops
                .iter()
                .map(|h| (h.hop, h.replies.len()))
                .collect::<Vec<_>>(),
            [(1, 2), (2, 0), (3, 1)]
        );
        assert_eq!(t.hops[0].replies[0].mpls, [16005]);
        assert_eq!(t.hops[0].median_rtt(), Some(1.5));
        assert!(
            t.destination_ip_responded() && t.is_success(),
            "port unreachable is the answer"
        );
    }

    #[test]
    fn json_lines_and_wrappers_and_garbage() {
        let line = r#"{"type":"traceroute","dst_addr":"192.0.2.9","result":[{"hop":1,"result":[{"from":"192.0.2.9","rtt":1.0}]}]}"#;
        let two = format!("{line}\n\n{line}\n");
        assert_eq!(parse(&two, "x").unwrap().len(), 2);
        let wrapped = format!("{{\"meta_data\":{{}},\"results\":[{line},{line},{line}]}}");
        let t = parse(&wrapped, "x").unwrap();
        assert_eq!(t.len(), 3);
        assert!(t[0].is_success());
        assert!(matches!(
            parse("{\"a\":1}", "f"),
            Err(AtlasError::Empty { .. })
        ));
        let e = parse("{not json", "f.json").unwrap_err().to_string();
        assert!(e.starts_with("f.json: "), "{e}");
    }
}
