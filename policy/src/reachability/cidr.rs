//! IPv4 CIDR blocks and port ranges: just enough arithmetic for routes, NACLs and security groups.

use std::fmt;
use std::net::Ipv4Addr;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    pub base: u32,
    pub len: u8,
}

impl Cidr {
    pub fn parse(text: &str) -> Option<Cidr> {
        let (addr, len) = text.split_once('/')?;
        let addr: Ipv4Addr = addr.trim().parse().ok()?;
        let len: u8 = len.trim().parse().ok()?;
        if len > 32 {
            return None;
        }
        Some(Cidr {
            base: u32::from(addr) & mask(len),
            len,
        })
    }

    pub fn contains(&self, ip: Ipv4Addr) -> bool {
        u32::from(ip) & mask(self.len) == self.base
    }

    /// The `n`th address of the block: where the model places a node of a subnet.
    pub fn host(&self, n: u32) -> Ipv4Addr {
        Ipv4Addr::from(self.base.wrapping_add(n))
    }
}

fn mask(len: u8) -> u32 {
    if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.len)
    }
}

/// An inclusive port range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ports {
    pub from: u16,
    pub to: u16,
}

impl Ports {
    pub const ALL: Ports = Ports { from: 0, to: 65535 };

    pub fn one(port: u16) -> Ports {
        Ports {
            from: port,
            to: port,
        }
    }

    pub fn overlaps(&self, other: Ports) -> bool {
        self.from <= other.to && other.from <= self.to
    }
}

impl fmt::Display for Ports {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.from == self.to {
            write!(f, "{}", self.from)
        } else {
            write!(f, "{}-{}", self.from, self.to)
        }
    }
}

/// Ports still to be decided while walking an ordered rule list.
#[derive(Debug, Clone, Default)]
pub struct PortSet(Vec<Ports>);

impl PortSet {
    pub fn of(ports: Ports) -> PortSet {
        PortSet(vec![ports])
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn intersects(&self, ports: Ports) -> Option<Ports> {
        self.0.iter().find(|p| p.overlaps(ports)).map(|p| Ports {
            from: p.from.max(ports.from),
            to: p.to.min(ports.to),
        })
    }

    pub fn remove(&mut self, ports: Ports) {
        let mut kept = Vec::with_capacity(self.0.len() + 1);
        for p in &self.0 {
            if !p.overlaps(ports) {
                kept.push(*p);
                continue;
            }
            if p.from < ports.from {
                kept.push(Ports {
                    from: p.from,
                    to: ports.from - 1,
                });
            }
            if p.to > ports.to {
                kept.push(Ports {
                    from: ports.to + 1,
                    to: p.to,
                });
            }
        }
        self.0 = kept;
    }

    pub fn first(&self) -> Option<Ports> {
        self.0.first().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cidr_contains_and_hosts() {
        let c = Cidr::parse("10.0.20.0/24").unwrap();
        assert!(c.contains("10.0.20.7".parse().unwrap()));
        assert!(!c.contains("10.0.21.7".parse().unwrap()));
        assert_eq!(c.host(10).to_string(), "10.0.20.10");
        assert!(
            Cidr::parse("0.0.0.0/0")
                .unwrap()
                .contains("198.51.100.7".parse().unwrap())
        );
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
    }

    #[test]
    fn port_set_subtracts_ranges() {
        let mut s = PortSet::of(Ports {
            from: 1024,
            to: 65535,
        });
        s.remove(Ports {
            from: 3389,
            to: 3389,
        });
        assert_eq!(s.intersects(Ports::one(3389)), None);
        assert_eq!(
            s.intersects(Ports {
                from: 3000,
                to: 4000
            }),
            Some(Ports {
                from: 3000,
                to: 3388
            })
        );
        s.remove(Ports::ALL);
        assert!(s.is_empty());
    }
}
