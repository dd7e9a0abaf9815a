//! RIPE Atlas traceroute results (the `"type": "traceroute"` objects of the Atlas API, every
//! firmware since 4460): one object, an array of them, JSON lines, or a download wrapper with a
//! `results` array. Parsing only: hop addresses, RTTs, timeouts (`"x": "*"`), ICMP errors
//! (`err`), late packets, MPLS label stacks from ICMP extensions (RFC 4884/4950), per-hop
//! errors. The derived values follow RIPE's own parser (ripe.atlas.sagan) so its tests' expected
//! values apply. No I/O here; the caller reads the file.

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
