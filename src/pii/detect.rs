//! TEMPORARY STUB (replaced by the real detector module).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Detector { Email, PaymentCard, Iban }
impl Detector {
    pub const ALL: [Detector; 3] = [Detector::Email, Detector::PaymentCard, Detector::Iban];
    pub fn name(self) -> &'static str { match self { Detector::Email => "email", Detector::PaymentCard => "payment_card", Detector::Iban => "iban" } }
    pub fn from_name(s: &str) -> Option<Detector> { Detector::ALL.into_iter().find(|d| d.name() == s) }
}
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DetectorSet(u8);
impl DetectorSet {
    pub fn empty() -> Self { DetectorSet(0) }
    pub fn insert(&mut self, d: Detector) { self.0 |= 1 << d as u8 }
    pub fn contains(self, d: Detector) -> bool { self.0 & (1 << d as u8) != 0 }
    pub fn is_empty(self) -> bool { self.0 == 0 }
    pub fn union(self, o: Self) -> Self { DetectorSet(self.0 | o.0) }
    pub fn iter(self) -> impl Iterator<Item = Detector> { Detector::ALL.into_iter().filter(move |d| self.contains(*d)) }
}
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Match { pub detector: Detector, pub start: usize, pub end: usize }
pub fn scan(_h: &[u8], _s: DetectorSet, _o: &mut Vec<Match>) {}
pub fn canonical(_d: Detector, raw: &[u8]) -> Vec<u8> { raw.to_vec() }
pub fn mask(_d: Detector, _raw: &[u8]) -> String { String::new() }
