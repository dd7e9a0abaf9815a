//! Alert: the stable output schema (EVE-like `alert` and `flow` JSON records), the JSON-lines
//! sinks and the end-of-run summary. Field names follow Suricata EVE where they overlap; `src_*`
//! is the inside (tenant) endpoint, `dest_*` the outside one. Records carry only masked forms and
//! keyed hashes of identifiers. This module makes no policy decisions: it formats what it is given.

pub mod alertmanager;
pub mod summary;

use std::io::{self, Write};
use std::net::IpAddr;

use serde::Serialize;

/// `dest_geo` object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct GeoField {
    pub country: Option<String>,
    pub source: Option<String>,
    /// IANA special-purpose range name of the destination, if any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub special: Option<&'static str>,
    /// IPv4 address the destination embeds (NAT64, IPv4-mapped, 6to4), which was geolocated.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub embedded_ipv4: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Detected {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub count: u32,
    pub masked: String,
    pub hmac: String,
}

/// `personal_data` object.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PersonalData {
    pub declared: bool,
    pub detected: Vec<Detected>,
    #[serde(skip_serializing_if = "is_zero")]
    pub detected_not_listed: u32,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertBody {
    pub kind: &'static str,
    pub severity: &'static str,
    pub reason: String,
}

/// Endpoint and flow identity shared by alert and flow records.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Endpoints {
    pub flow_id: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sensor: Option<String>,
    pub src_ip: IpAddr,
    pub src_port: u16,
    pub dest_ip: IpAddr,
    pub dest_port: u16,
    pub proto: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub vlan: Vec<u16>,
    /// `outbound` (inside opened it), `inbound` (outside opened it), `internal` (both inside),
    /// `external` (neither inside).
    pub direction: &'static str,
    /// The encapsulation the flow travels in.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tunnel: Option<TunnelField>,
    /// Application protocol recognised (dns, tls, quic, http); null when none was.
    pub app_proto: Option<&'static str>,
    /// The outside endpoint's name and where it came from (sni, quic, http, dns); null when
    /// unknown.
    pub hostname: Option<crate::l7::Hostname>,
}

/// `tunnel` of a record.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct TunnelField {
    #[serde(rename = "type")]
    pub kind: &'static str,
    /// Outer endpoints (absent for MPLS).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outer_src_ip: Option<IpAddr>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub outer_dest_ip: Option<IpAddr>,
    /// VNI (VXLAN, Geneve), GRE key or PPTP call id, ERSPAN session, top MPLS label.
    #[serde(skip_serializing_if = "is_zero")]
    pub id: u32,
    /// Encapsulations unwrapped, when more than one.
    #[serde(skip_serializing_if = "is_one")]
    pub depth: u8,
}

fn is_one(v: &u8) -> bool {
    *v == 1
}

/// Protocol fields of a flow record.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct AppFields {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tls: Option<Box<crate::l7::TlsInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quic: Option<Box<crate::l7::QuicInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http: Option<Box<crate::l7::HttpInfo>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dns: Option<Box<crate::l7::DnsInfo>>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AlertRecord {
    /// Capture time of the packet that raised it (RFC 3339, microseconds, UTC).
    pub timestamp: String,
    pub event_type: &'static str,
    #[serde(flatten)]
    pub ends: Endpoints,
    pub tenant: String,
    pub alert: AlertBody,
    pub dest_geo: GeoField,
    pub personal_data: PersonalData,
    /// Path evidence (transit alerts; also on other alerts of a flow whose path was checked).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transit: Option<crate::path::Transit>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowCounters {
    pub start: String,
    pub end: String,
    /// Seconds from first to last packet (EVE `age`).
    pub age: u64,
    pub pkts_toserver: u64,
    pub pkts_toclient: u64,
    pub bytes_toserver: u64,
    pub bytes_toclient: u64,
    /// Packets and IP bytes that travelled inside -> outside.
    pub egress_pkts: u64,
    pub egress_bytes: u64,
    pub state: &'static str,
    pub reason: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_server_us: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rtt_client_us: Option<u64>,
    pub alerted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FlowRecord {
    /// First packet's capture time.
    pub timestamp: String,
    pub event_type: &'static str,
    #[serde(flatten)]
    pub ends: Endpoints,
    pub tenant: Option<String>,
    /// Geolocation of the outside endpoint (absent when no endpoint is outside).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub dest_geo: Option<GeoField>,
    pub flow: FlowCounters,
    pub personal_data: PersonalData,
    /// The transit verdict, when the flow's path was checked against a `deny_transit`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub transit: Option<crate::path::Transit>,
    /// Alert kinds raised on this flow.
    pub alerts: Vec<&'static str>,
    #[serde(flatten)]
    pub app: AppFields,
}

/// What the engine hands to sinks.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    Alert(Box<AlertRecord>),
    Flow(Box<FlowRecord>),
    /// A flow waiting for path evidence from live probing: routed by the pipeline to the probe
    /// thread, never written.
    Probe(Box<crate::probe::Request>),
}

/// EVE protocol names.
pub fn proto_name(p: u8) -> String {
    match p {
        1 => "ICMP".to_string(),
        6 => "TCP".to_string(),
        17 => "UDP".to_string(),
        58 => "IPv6-ICMP".to_string(),
        132 => "SCTP".to_string(),
        n => n.to_string(),
    }
}

/// A JSON-lines sink (stdout or a file), buffered.
pub struct JsonLines {
    out: Box<dyn Write + Send>,
    pub written: u64,
}

impl std::fmt::Debug for JsonLines {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("JsonLines")
            .field("written", &self.written)
            .finish()
    }
}

impl JsonLines {
    pub fn new(out: Box<dyn Write + Send>) -> JsonLines {
        JsonLines {
            out: Box::new(io::BufWriter::new(out)),
            written: 0,
        }
    }

    pub fn write<T: Serialize>(&mut self, rec: &T) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, rec).map_err(io::Error::other)?;
        self.out.write_all(b"\n")?;
        self.written += 1;
        Ok(())
    }

    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }
}
