//! Names: the bounded, TTL-aware cache from addresses in DNS answers to the names asked. The
//! capture thread parses the answers ([`answers`] -> [`Learned`]) and hands them to every worker inside its
//! frame batches, at their place in capture order; each worker keeps its own identical copy and
//! reads it when a flow starts, so every worker count sees exactly what one thread would. Owns
//! no sockets, no clock and no locks.
//!
//! TTLs are clamped to [`NameConfig::min_ttl`, `max_ttl`]: answers with TTL 0-30 s are common
//! (CDNs) while the connection they lead to starts right after, and long TTLs outlive renumbering.

use std::collections::{HashMap, VecDeque};
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use crate::decode::{PacketMeta, PROTO_TCP, PROTO_UDP};
use crate::time::Timestamp;

/// Names kept per address (the newest replace the oldest).
const PER_ADDRESS: usize = 4;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NameConfig {
    /// Addresses held; learning a new one beyond this forgets the oldest learned.
    pub max_entries: usize,
    pub min_ttl: Duration,
    pub max_ttl: Duration,
}

impl Default for NameConfig {
    fn default() -> Self {
        NameConfig {
            max_entries: 65_536,
            min_ttl: Duration::from_secs(60),
            max_ttl: Duration::from_secs(86_400),
        }
    }
}

#[derive(Debug, Clone)]
struct Entry {
    name: Arc<str>,
    learned: Timestamp,
    expires: Timestamp,
}

/// One A/AAAA answer: `name` (the name asked) resolved to `addr` for `ttl` seconds at `ts`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Learned {
    pub addr: IpAddr,
    pub name: Arc<str>,
    pub ttl: u32,
    pub ts: Timestamp,
}

/// The A/AAAA answers of a DNS response from port 53 (UDP, or the first message of a TCP
/// segment), under the name asked.
pub fn answers(m: &PacketMeta<'_>, ts: Timestamp) -> Vec<Learned> {
    if m.src_port != 53 || m.payload.is_empty() {
        return Vec::new();
    }
    let msg = match m.proto {
        PROTO_UDP => super::dns::parse(m.payload),
        PROTO_TCP => super::dns::parse_tcp(m.payload),
        _ => None,
    };
    let Some(msg) = msg.filter(|m| m.response && m.rcode == 0) else {
        return Vec::new();
    };
    let Some(q) = msg.qname.filter(|q| !q.is_empty()) else {
        return Vec::new();
    };
    let name: Arc<str> = Arc::from(q.as_str());
    msg.addrs
        .iter()
        .map(|(addr, ttl)| Learned {
            addr: *addr,
            name: name.clone(),
            ttl: *ttl,
            ts,
        })
        .collect()
}

/// Counters of the cache. `learned` is counted where answers are parsed (the capture
/// thread); `evicted` and `entries` by each worker's copy (identical copies: merged by max).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NameStats {
    pub learned: u64,
    pub evicted: u64,
    pub entries: u64,
}

#[derive(Debug, Default)]
pub struct NameCache {
    cfg: NameConfig,
    map: HashMap<IpAddr, Vec<Entry>>,
    /// Addresses in the order they were first learned (eviction order).
    order: VecDeque<IpAddr>,
    learned: u64,
    evicted: u64,
}

impl NameCache {
    pub fn new(cfg: NameConfig) -> NameCache {
        NameCache {
            cfg,
            ..NameCache::default()
        }
    }

    /// Records an answer.
    pub fn learn(&mut self, l: &Learned) {
        let (addr, name, now) = (l.addr, &*l.name, l.ts);
        if name.is_empty() || self.cfg.max_entries == 0 {
            return;
        }
        let ttl = Duration::from_secs(u64::from(l.ttl)).clamp(self.cfg.min_ttl, self.cfg.max_ttl);
        let expires = now.saturating_add(ttl);
        self.learned += 1;
        if let Some(list) = self.map.get_mut(&addr) {
            if let Some(e) = list
                .iter_mut()
                .find(|e| &*e.name == name && e.expires > now)
            {
                e.expires = e.expires.max(expires);
                return;
            }
            if list.len() >= PER_ADDRESS {
                list.remove(0);
            }
            list.push(Entry {
                name: l.name.clone(),
                learned: now,
                expires,
            });
            return;
        }
        while self.map.len() >= self.cfg.max_entries {
            let Some(old) = self.order.pop_front() else {
                break;
            };
            if self.map.remove(&old).is_some() {
                self.evicted += 1;
            }
        }
        self.order.push_back(addr);
        self.map.insert(
            addr,
            vec![Entry {
                name: l.name.clone(),
                learned: now,
                expires,
            }],
        );
    }

    /// The name most recently learned for `addr` that was valid at `now` (learned at or before
    /// it, not expired).
    pub fn lookup(&self, addr: IpAddr, now: Timestamp) -> Option<Arc<str>> {
        self.map
            .get(&addr)?
            .iter()
            .filter(|e| e.learned <= now && now < e.expires)
            .max_by_key(|e| e.learned)
            .map(|e| e.name.clone())
    }

    pub fn stats(&self) -> NameStats {
        NameStats {
            learned: self.learned,
            evicted: self.evicted,
            entries: self.map.len() as u64,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> Timestamp {
        Timestamp(s * 1_000_000_000)
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("test address")
    }

    fn learned(addr: IpAddr, name: &str, ttl: u32, ts: Timestamp) -> Learned {
        Learned {
            addr,
            name: Arc::from(name),
            ttl,
            ts,
        }
    }

    #[test]
    fn lookups_see_only_what_was_valid_at_their_time() {
        let mut c = NameCache::new(NameConfig::default());
        let a = ip("203.0.113.7");
        c.learn(&learned(a, "old.example.com", 300, t(100)));
        c.learn(&learned(a, "new.example.com", 300, t(200)));
        assert_eq!(c.lookup(a, t(99)), None, "not learned yet");
        assert_eq!(c.lookup(a, t(150)).as_deref(), Some("old.example.com"));
        assert_eq!(c.lookup(a, t(250)).as_deref(), Some("new.example.com"));
        // TTL 300 s: old expires at 400, new at 500.
        assert_eq!(c.lookup(a, t(450)).as_deref(), Some("new.example.com"));
        assert_eq!(c.lookup(a, t(500)), None);
    }

    #[test]
    fn short_ttls_are_raised_to_the_floor_and_long_ones_capped() {
        let mut c = NameCache::new(NameConfig::default());
        let a = ip("2001:db8::7");
        c.learn(&learned(a, "cdn.example.net", 0, t(10)));
        assert_eq!(c.lookup(a, t(69)).as_deref(), Some("cdn.example.net"));
        assert_eq!(c.lookup(a, t(70)), None);
        c.learn(&learned(a, "long.example.net", u32::MAX, t(100)));
        assert!(c.lookup(a, t(100 + 86_399)).is_some());
        assert!(c.lookup(a, t(100 + 86_400)).is_none());
    }

    #[test]
    fn bounded_by_addresses_oldest_forgotten_and_counted() {
        let mut c = NameCache::new(NameConfig {
            max_entries: 2,
            ..NameConfig::default()
        });
        c.learn(&learned(ip("192.0.2.1"), "a.example", 60, t(1)));
        c.learn(&learned(ip("192.0.2.2"), "b.example", 60, t(2)));
        c.learn(&learned(ip("192.0.2.3"), "c.example", 60, t(3)));
        assert_eq!(c.lookup(ip("192.0.2.1"), t(4)), None);
        assert!(c.lookup(ip("192.0.2.3"), t(4)).is_some());
        let s = c.stats();
        assert_eq!((s.learned, s.evicted, s.entries), (3, 1, 2));
        // Per address: at most 4 names, the oldest dropped.
        for (i, n) in ["n1", "n2", "n3", "n4", "n5"].iter().enumerate() {
            c.learn(&learned(ip("192.0.2.3"), n, 600, t(10 + i as u64)));
        }
        assert_eq!(c.lookup(ip("192.0.2.3"), t(10)).as_deref(), None);
        assert_eq!(c.lookup(ip("192.0.2.3"), t(11)).as_deref(), Some("n2"));
        assert_eq!(c.lookup(ip("192.0.2.3"), t(20)).as_deref(), Some("n5"));
    }
}
