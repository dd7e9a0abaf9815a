//! Live capture from a network interface: libpcap (the `pcap` crate; snap length, promiscuous
//! mode, kernel buffer, BPF filter, drop statistics) or AF_PACKET through `pnet_datalink`
//! (no BPF filter and no kernel drop statistics: pnet exposes neither). Owns the device handle;
//! hands out owned [`Frame`]s and says when a read found nothing (`Idle`) so the pipeline can
//! flush batches, tick idle workers and notice shutdown.

use std::time::Duration;

use pcap::{Active, Capture, Precision};

use super::{CaptureConfig, Frame, LinkType};
use crate::time::{wall_clock, Timestamp};

/// AF_PACKET (pnet) reads block this long at most before reporting `Idle`; pnet has no
/// non-blocking mode, so this bounds the batching latency that backend adds.
pub const PNET_READ_TIMEOUT: Duration = Duration::from_millis(5);
/// libpcap handles are non-blocking; [`LiveCapture::wait`] sleeps on the descriptor up to this.
pub const WAIT_TIMEOUT: Duration = Duration::from_millis(100);

#[derive(Debug, thiserror::Error)]
pub enum LiveError {
    #[error("{iface}: cannot open capture: {message}")]
    Open { iface: String, message: String },
    #[error("{iface}: capture.bpf_filter {filter:?}: {message}")]
    Filter {
        iface: String,
        filter: String,
        message: String,
    },
    #[error("{iface}: capture failed: {message}")]
    Read { iface: String, message: String },
    #[error("{iface}: the afpacket backend cannot apply capture.bpf_filter; use --capture pcap or remove the filter")]
    NoFilter { iface: String },
}

/// Counters the source reports about itself (cumulative since open).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SourceStats {
    pub received: u64,
    /// Dropped by the kernel because the buffer was full (ps_drop).
    pub dropped_kernel: u64,
    /// Dropped by the interface or driver (ps_ifdrop).
    pub dropped_interface: u64,
}

/// One read.
#[derive(Debug)]
pub enum Read {
    Frame(Frame),
    /// Nothing is waiting right now (libpcap) or within [`PNET_READ_TIMEOUT`] (pnet).
    Idle,
}

/// Which implementation reads the interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Backend {
    Pcap,
    Afpacket,
}

/// An open live capture.
pub enum LiveCapture {
    Pcap {
        iface: String,
        cap: Capture<Active>,
        linktype: LinkType,
        /// Timestamps in nanoseconds (else microseconds).
        nano: bool,
        /// libpcap's counters are 32-bit and wrap; widened here.
        last: (u32, u32, u32),
        total: SourceStats,
    },
    Afpacket {
        iface: String,
        rx: Box<dyn pnet_datalink::DataLinkReceiver>,
    },
}

impl std::fmt::Debug for LiveCapture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LiveCapture")
            .field("iface", &self.iface())
            .finish()
    }
}

fn message(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(s) => s.clone(),
        other => other.to_string(),
    }
}

impl LiveCapture {
    pub fn open(iface: &str, backend: Backend, cfg: &CaptureConfig) -> Result<Self, LiveError> {
        match backend {
            Backend::Pcap => Self::open_pcap(iface, cfg),
            Backend::Afpacket => Self::open_afpacket(iface, cfg),
        }
    }

    fn open_pcap(iface: &str, cfg: &CaptureConfig) -> Result<Self, LiveError> {
        let open_err = |e: pcap::Error| LiveError::Open {
            iface: iface.to_string(),
            message: message(&e),
        };
        let inactive = Capture::from_device(iface)
            .map_err(open_err)?
            .snaplen(i32::try_from(cfg.snaplen).unwrap_or(i32::MAX))
            .promisc(cfg.promiscuous)
            .buffer_size(i32::try_from(cfg.buffer_bytes).unwrap_or(i32::MAX))
            .timeout(WAIT_TIMEOUT.as_millis() as i32)
            .immediate_mode(true);
        // Nanosecond timestamps where the platform has them; microseconds otherwise.
        let (cap, nano) = match inactive.precision(Precision::Nano).open() {
            Ok(c) => (c, true),
            Err(_) => (
                Capture::from_device(iface)
                    .map_err(open_err)?
                    .snaplen(i32::try_from(cfg.snaplen).unwrap_or(i32::MAX))
                    .promisc(cfg.promiscuous)
                    .buffer_size(i32::try_from(cfg.buffer_bytes).unwrap_or(i32::MAX))
                    .timeout(WAIT_TIMEOUT.as_millis() as i32)
                    .immediate_mode(true)
                    .open()
                    .map_err(open_err)?,
                false,
            ),
        };
        // Non-blocking: a read that finds nothing returns at once, so the pipeline can send a
        // partial batch the moment the capture runs dry instead of after a read timeout.
        let mut cap = cap.setnonblock().map_err(open_err)?;
        if let Some(f) = &cfg.bpf_filter {
            cap.filter(f, true).map_err(|e| LiveError::Filter {
                iface: iface.to_string(),
                filter: f.clone(),
                message: message(&e),
            })?;
        }
        let linktype = LinkType::from_dlt(cap.get_datalink().0);
        tracing::info!(
            iface,
            backend = "pcap",
            linktype = linktype.name(),
            nano,
            snaplen = cfg.snaplen,
            promiscuous = cfg.promiscuous,
            buffer_bytes = cfg.buffer_bytes,
            filter = cfg.bpf_filter.as_deref().unwrap_or(""),
            "capture_open"
        );
        Ok(LiveCapture::Pcap {
            iface: iface.to_string(),
            cap,
            linktype,
            nano,
            last: (0, 0, 0),
            total: SourceStats::default(),
        })
    }

    fn open_afpacket(iface: &str, cfg: &CaptureConfig) -> Result<Self, LiveError> {
        if cfg.bpf_filter.is_some() {
            return Err(LiveError::NoFilter {
                iface: iface.to_string(),
            });
        }
        let dev = pnet_datalink::interfaces()
            .into_iter()
            .find(|i| i.name == iface)
            .ok_or_else(|| LiveError::Open {
                iface: iface.to_string(),
                message: "no such interface".to_string(),
            })?;
        // pnet hands out frames as Ethernet; a tun/WireGuard/PPP interface (no MAC) would give
        // frames that never decode. libpcap knows those link types.
        if dev.mac.is_none() && !dev.is_loopback() {
            return Err(LiveError::Open {
                iface: iface.to_string(),
                message: "not an Ethernet interface (no MAC address); use --capture pcap"
                    .to_string(),
            });
        }
        let config = pnet_datalink::Config {
            read_timeout: Some(PNET_READ_TIMEOUT),
            read_buffer_size: cfg.snaplen as usize,
            promiscuous: cfg.promiscuous,
            ..Default::default()
        };
        match pnet_datalink::channel(&dev, config) {
            Ok(pnet_datalink::Channel::Ethernet(_tx, rx)) => {
                tracing::info!(
                    iface,
                    backend = "afpacket",
                    promiscuous = cfg.promiscuous,
                    "capture_open"
                );
                Ok(LiveCapture::Afpacket {
                    iface: iface.to_string(),
                    rx,
                })
            }
            Ok(_) => Err(LiveError::Open {
                iface: iface.to_string(),
                message: "not an Ethernet channel".to_string(),
            }),
            Err(e) => Err(LiveError::Open {
                iface: iface.to_string(),
                message: e.to_string(),
            }),
        }
    }

    pub fn iface(&self) -> &str {
        match self {
            LiveCapture::Pcap { iface, .. } | LiveCapture::Afpacket { iface, .. } => iface,
        }
    }

    /// Blocks until a frame may be waiting or `timeout` passed (libpcap: poll(2) on the
    /// capture descriptor; pnet: returns at once, its reads block by themselves).
    pub fn wait(&mut self, timeout: Duration) {
        if let LiveCapture::Pcap { cap, .. } = self {
            use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
            use std::os::fd::AsFd;
            let ms = u16::try_from(timeout.as_millis()).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(cap.as_fd(), PollFlags::POLLIN)];
            // EINTR (a signal) or any error: return and let the caller look around.
            let _ = poll(&mut fds, PollTimeout::from(ms));
        }
    }

    /// The next frame, or `Idle` when none is waiting.
    pub fn read(&mut self) -> Result<Read, LiveError> {
        match self {
            LiveCapture::Pcap {
                iface,
                cap,
                linktype,
                nano,
                ..
            } => {
                let nano = *nano;
                match cap.next_packet() {
                    Ok(p) => {
                        let secs: i64 = p.header.ts.tv_sec;
                        let frac = u32::try_from(p.header.ts.tv_usec).unwrap_or(0);
                        let nanos = if nano {
                            frac
                        } else {
                            frac.saturating_mul(1000)
                        };
                        Ok(Read::Frame(Frame {
                            ts: Timestamp::from_secs_nanos(secs, nanos.min(999_999_999)),
                            linktype: *linktype,
                            wire_len: p.header.len,
                            reassembled_at: None,
                            data: p.data.to_vec(),
                        }))
                    }
                    Err(pcap::Error::TimeoutExpired) => Ok(Read::Idle),
                    Err(e) => Err(LiveError::Read {
                        iface: iface.clone(),
                        message: message(&e),
                    }),
                }
            }
            LiveCapture::Afpacket { iface, rx } => match rx.next() {
                // pnet gives no kernel timestamp: the time of the read stands in for it.
                Ok(data) => Ok(Read::Frame(Frame {
                    ts: wall_clock(),
                    linktype: LinkType::Ethernet,
                    wire_len: data.len() as u32,
                    reassembled_at: None,
                    data: data.to_vec(),
                })),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::TimedOut | std::io::ErrorKind::WouldBlock
                    ) =>
                {
                    Ok(Read::Idle)
                }
                Err(e) => Err(LiveError::Read {
                    iface: iface.clone(),
                    message: e.to_string(),
                }),
            },
        }
    }

    /// Cumulative counters from libpcap (`pcap_stats`); `None` for AF_PACKET via pnet.
    pub fn stats(&mut self) -> Option<SourceStats> {
        match self {
            LiveCapture::Pcap {
                cap, last, total, ..
            } => {
                let s = cap.stats().ok()?;
                total.received += u64::from(s.received.wrapping_sub(last.0));
                total.dropped_kernel += u64::from(s.dropped.wrapping_sub(last.1));
                total.dropped_interface += u64::from(s.if_dropped.wrapping_sub(last.2));
                *last = (s.received, s.dropped, s.if_dropped);
                Some(*total)
            }
            LiveCapture::Afpacket { .. } => None,
        }
    }
}
