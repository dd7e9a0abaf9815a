//! Capture: sources of timestamped link-layer frames: pcap/pcapng replay through libpcap, and
//! live capture through libpcap or AF_PACKET (pnet). Owns file/device handles, their settings and
//! statistics, and link-type mapping. It never parses past link framing and never knows about
//! flows.

pub mod live;
pub mod replay;

/// `[capture]`: live capture settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaptureConfig {
    pub snaplen: u32,
    pub promiscuous: bool,
    /// Kernel capture buffer.
    pub buffer_bytes: u64,
    /// BPF filter expression (libpcap backend only), already checked to compile.
    pub bpf_filter: Option<String>,
}

impl Default for CaptureConfig {
    fn default() -> Self {
        CaptureConfig {
            snaplen: 65_535,
            promiscuous: true,
            buffer_bytes: 16 << 20,
            bpf_filter: None,
        }
    }
}

use crate::time::Timestamp;

/// Link-layer framing of a frame, mapped from libpcap's DLT value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkType {
    /// DLT_EN10MB.
    Ethernet,
    /// DLT_NULL: 4-byte address family in the capturing host's byte order.
    Null,
    /// DLT_LOOP: 4-byte address family in network byte order.
    Loop,
    /// DLT_RAW (12 / 14 / LINKTYPE 101): raw IPv4 or IPv6.
    Raw,
    /// DLT_IPV4 (228).
    Ipv4,
    /// DLT_IPV6 (229).
    Ipv6,
    /// DLT_LINUX_SLL (113).
    LinuxSll,
    /// DLT_LINUX_SLL2 (276).
    LinuxSll2,
    /// DLT_PPP (9) and DLT_PPP_SERIAL (50): PPP, with or without HDLC address/control.
    Ppp,
    /// Anything else: frames are counted as `unsupported_linktype`, never parsed.
    Unknown(i32),
}

impl LinkType {
    pub fn from_dlt(dlt: i32) -> LinkType {
        match dlt {
            1 => LinkType::Ethernet,
            0 => LinkType::Null,
            108 => LinkType::Loop,
            12 | 14 | 101 => LinkType::Raw,
            228 => LinkType::Ipv4,
            229 => LinkType::Ipv6,
            113 => LinkType::LinuxSll,
            276 => LinkType::LinuxSll2,
            9 | 50 => LinkType::Ppp,
            other => LinkType::Unknown(other),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            LinkType::Ethernet => "ethernet",
            LinkType::Null => "null",
            LinkType::Loop => "loop",
            LinkType::Raw => "raw",
            LinkType::Ipv4 => "ipv4",
            LinkType::Ipv6 => "ipv6",
            LinkType::LinuxSll => "linux_sll",
            LinkType::LinuxSll2 => "linux_sll2",
            LinkType::Ppp => "ppp",
            LinkType::Unknown(_) => "unknown",
        }
    }
}

/// One captured frame, owned so that it can cross a channel to a worker.
#[derive(Debug, Clone)]
pub struct Frame {
    pub ts: Timestamp,
    pub linktype: LinkType,
    /// Length on the wire (may exceed `data.len()` when the snap length cut it).
    pub wire_len: u32,
    pub data: Vec<u8>,
    /// Set on a datagram rebuilt from IP fragments (see `defrag`): where its IP header starts
    /// in `data`. Its fragments were counted when they were captured; this frame is not.
    pub reassembled_at: Option<u32>,
}
