//! Replay of pcap and pcapng files through libpcap (the `pcap` crate), in nanosecond precision.
//! Owns the file handles; reports where a damaged file broke (file, packet index) so that the
//! packets before the damage are still processed.

use std::path::{Path, PathBuf};

use pcap::{Capture, Offline, Precision};

use super::{Frame, LinkType};
use crate::time::Timestamp;

#[derive(Debug, thiserror::Error)]
pub enum ReplayError {
    #[error("{path}: cannot open capture: {message}")]
    Open { path: PathBuf, message: String },
    #[error("{path}: capture damaged after {packets_read} packets: {message}")]
    Damaged {
        path: PathBuf,
        packets_read: u64,
        message: String,
    },
}

/// A pcap or pcapng file opened for replay. The format is recognised by its magic number, not by
/// its name (libpcap does that).
pub struct ReplayFile {
    path: PathBuf,
    cap: Capture<Offline>,
    linktype: LinkType,
    packets_read: u64,
}

impl std::fmt::Debug for ReplayFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ReplayFile")
            .field("path", &self.path)
            .field("linktype", &self.linktype)
            .field("packets_read", &self.packets_read)
            .finish()
    }
}

impl ReplayFile {
    pub fn open(path: &Path) -> Result<ReplayFile, ReplayError> {
        let cap = Capture::from_file_with_precision(path, Precision::Nano).map_err(|e| {
            ReplayError::Open {
                path: path.to_path_buf(),
                message: pcap_message(&e),
            }
        })?;
        let linktype = LinkType::from_dlt(cap.get_datalink().0);
        Ok(ReplayFile {
            path: path.to_path_buf(),
            cap,
            linktype,
            packets_read: 0,
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn linktype(&self) -> LinkType {
        self.linktype
    }

    pub fn packets_read(&self) -> u64 {
        self.packets_read
    }

    /// The next frame, `Ok(None)` at a clean end of file, or an error naming where the file broke.
    pub fn next_frame(&mut self) -> Result<Option<Frame>, ReplayError> {
        match self.cap.next_packet() {
            Ok(p) => {
                self.packets_read += 1;
                // With Precision::Nano, libpcap fills tv_usec with nanoseconds.
                let secs: i64 = p.header.ts.tv_sec;
                let nanos = u32::try_from(p.header.ts.tv_usec)
                    .unwrap_or(0)
                    .min(999_999_999);
                Ok(Some(Frame {
                    ts: Timestamp::from_secs_nanos(secs, nanos),
                    linktype: self.linktype,
                    wire_len: p.header.len,
                    reassembled_at: None,
                    data: p.data.to_vec(),
                }))
            }
            Err(pcap::Error::NoMorePackets) => Ok(None),
            Err(e) => Err(ReplayError::Damaged {
                path: self.path.clone(),
                packets_read: self.packets_read,
                message: pcap_message(&e),
            }),
        }
    }
}

fn pcap_message(e: &pcap::Error) -> String {
    match e {
        pcap::Error::PcapError(s) => s.clone(),
        other => other.to_string(),
    }
}
