//! Grouping hits by key, within bounds: the [`Collector`], its [`Limits`] and what did not
//! fit ([`Overflow`]), and [`compact_hits`] for sources that hold a blob's hits a while.

use std::collections::BTreeMap;

use super::{Finding, Fingerprint, Hit, Location, Provenance, Secret, Unlisted};

/// How much the collector holds, whatever the input: every count of places stays exact, but
/// only so many keys, and places per key, are kept to be listed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Distinct keys listed (`--max-keys`); the keys with the smallest fingerprints are kept.
    pub max_keys: usize,
    /// Places listed per key, with and without an allow comment each (`--max-locations`).
    pub max_locations: usize,
}

impl Limits {
    /// Places listed in all: the per-key limit shrinks when many keys share this budget (to
    /// `budget / keys`, never below one place per key), so that memory stays bounded when
    /// every one of many keys is in many places.
    #[must_use]
    pub fn budget(self) -> usize {
        self.max_locations.max(LOCATION_BUDGET)
    }
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_keys: 25_000,
            max_locations: 1_000,
        }
    }
}

/// Places listed in all, at least: see [`Limits::budget`].
pub const LOCATION_BUDGET: usize = 50_000;

/// Distinct keys beyond `max_keys` counted exactly; past this many the count is a lower bound
/// (counting them all would cost memory for each).
pub const DROPPED_COUNTED: usize = 1_000_000;

/// What the collector could not keep: the report says so.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Overflow {
    /// Distinct keys found but not listed (over `max_keys`).
    pub keys: u64,
    /// `keys` is a lower bound: more than [`DROPPED_COUNTED`] keys were left out.
    pub keys_at_least: bool,
    /// Places of those keys (exact).
    pub key_locations: u64,
    /// Keys listed with fewer places than they have.
    pub capped_keys: u64,
    /// The most places listed for one key: `max_locations`, or less when many keys share the
    /// budget.
    pub per_key: usize,
}

/// The first 16 bytes of a digest.
fn short(digest: &[u8; 32]) -> u128 {
    let mut b = [0u8; 16];
    b.copy_from_slice(&digest[..16]);
    u128::from_le_bytes(b)
}

/// SHA-256 digests are uniformly random: their low 64 bits are a good hash already.
#[derive(Debug, Default, Clone, Copy)]
struct DigestHasher(u64);

impl std::hash::Hasher for DigestHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for &b in bytes.iter().take(8) {
            self.0 = (self.0 << 8) | u64::from(b);
        }
    }

    fn write_u128(&mut self, n: u128) {
        self.0 = n as u64;
    }
}

/// Bounds the hits of one blob that a source holds until it knows the blob's paths (git):
/// per key, the first `max_locations` places with and without an allow comment (by offset;
/// the rest counted in the last kept hit's [`Hit::unlisted`]), and at most `max_keys` keys,
/// those with the smallest fingerprints, as the collector would keep. Returns the keys left
/// out, as `(digest, places)`, for the collector to count ([`Collector::add_dropped`]).
#[must_use]
pub fn compact_hits(hits: &mut Vec<Hit>, limits: Limits) -> Vec<([u8; 32], u64)> {
    let max = limits.max_locations.max(1);
    let mut keyed: Vec<([u8; 32], Hit)> = hits
        .drain(..)
        .map(|h| (Fingerprint::digest(h.secret.expose()), h))
        .collect();
    keyed.sort_by(|(a, x), (b, y)| {
        (a, x.location.inline_allow, x.location.offset).cmp(&(
            b,
            y.location.inline_allow,
            y.location.offset,
        ))
    });
    let mut dropped = Vec::new();
    let mut keys = 0;
    let mut i = 0;
    while i < keyed.len() {
        let digest = keyed[i].0;
        let end = i + keyed[i..].iter().take_while(|(d, _)| *d == digest).count();
        keys += 1;
        if keys > limits.max_keys.max(1) {
            let places = keyed[i..end]
                .iter()
                .map(|(_, h)| 1 + h.unlisted.total())
                .sum();
            dropped.push((digest, places));
        } else {
            for allowed in [false, true] {
                let group: Vec<&Hit> = keyed[i..end]
                    .iter()
                    .map(|(_, h)| h)
                    .filter(|h| h.location.inline_allow == allowed)
                    .collect();
                let extra: u64 = group.iter().skip(max).map(|h| 1 + h.unlisted.total()).sum();
                let kept = group.len().min(max);
                for (n, h) in group.into_iter().take(kept).enumerate() {
                    let mut h = h.clone();
                    if n + 1 == kept && extra > 0 {
                        if allowed {
                            h.unlisted.allowed += extra;
                        } else {
                            h.unlisted.plain += extra;
                        }
                    }
                    hits.push(h);
                }
            }
        }
        i = end;
    }
    dropped
}

/// Groups hits by key. Feed it in any order; [`Collector::finish`] sorts.
///
/// Memory is bounded by [`Limits`], whatever the hit density: at most `max_keys` findings;
/// places held in all stay under about `3 × budget + 2 × max_keys` (each key is compacted to
/// its share of the budget as it grows, and all are when the total passes `3 × budget + 2 × keys`); and
/// 16 bytes plus a hash set's overhead for each of at most [`DROPPED_COUNTED`] keys beyond
/// `max_keys`. Which keys and places are kept depends only on the input, never on the order
/// of arrival: the keys with the smallest fingerprints, and each key's first places in
/// report order.
#[derive(Debug, Default)]
pub struct Collector {
    limits: Limits,
    by_key: BTreeMap<[u8; 32], Finding>,
    /// Places held in `by_key`.
    held: usize,
    /// The first 16 bytes of the digests of keys evicted or refused (every one is larger than
    /// every key in `by_key`), to count them: up to [`DROPPED_COUNTED`].
    dropped: std::collections::HashSet<u128, std::hash::BuildHasherDefault<DigestHasher>>,
    dropped_more: bool,
    dropped_locations: u64,
    provenance: BTreeMap<Secret, Provenance>,
    /// Passes of [`Collector::compact_all`] so far (a test bounds them).
    passes: usize,
}

impl Collector {
    /// An empty collector with the default limits.
    #[must_use]
    pub fn new() -> Collector {
        Collector::default()
    }

    /// An empty collector holding at most what `limits` say.
    #[must_use]
    pub fn with_limits(limits: Limits) -> Collector {
        Collector {
            limits: Limits {
                max_keys: limits.max_keys.max(1),
                max_locations: limits.max_locations.max(1),
            },
            ..Collector::default()
        }
    }

    /// Places listed per key now: `max_locations`, or the key's share of the budget.
    fn per_key(&self) -> usize {
        self.per_key_after(0)
    }

    /// [`Collector::per_key`] once `new` more keys are held.
    fn per_key_after(&self, new: usize) -> usize {
        let keys = (self.by_key.len() + new).max(1);
        (self.limits.budget() / keys).clamp(1, self.limits.max_locations)
    }

    fn drop_key(&mut self, digest: &[u8; 32], places: u64) {
        self.dropped_locations += places;
        if self.dropped.len() < DROPPED_COUNTED {
            self.dropped.insert(short(digest));
        } else if !self.dropped.contains(&short(digest)) {
            self.dropped_more = true;
        }
    }

    /// Adds one hit.
    pub fn add(&mut self, hit: Hit) {
        let Hit {
            rule,
            secret,
            location,
            unlisted,
        } = hit;
        let digest = Fingerprint::digest(secret.expose());
        if !self.by_key.contains_key(&digest) && self.by_key.len() >= self.limits.max_keys {
            let largest = self.by_key.last_key_value().map(|(k, _)| *k);
            if largest.is_some_and(|l| digest > l) {
                self.drop_key(&digest, 1 + unlisted.total());
                return;
            }
            if let Some((evicted, f)) = self.by_key.pop_last() {
                self.held -= f.locations.len();
                self.drop_key(&evicted, f.location_count());
            }
        }
        let per_key = self.per_key_after(usize::from(!self.by_key.contains_key(&digest)));
        let f = self.by_key.entry(digest).or_insert_with(|| Finding {
            fingerprint: Fingerprint::from_digest(&digest),
            rule,
            secret,
            // Most keys have one place: no room for more until a second one comes.
            locations: Vec::with_capacity(1),
            unlisted: Unlisted::default(),
            verification: None,
            suppression_overridden: None,
            provenance: None,
            exposure: Vec::new(),
        });
        f.locations.push(location);
        f.unlisted.plain += unlisted.plain;
        f.unlisted.allowed += unlisted.allowed;
        self.held += 1;
        if f.locations.len() >= 4 * per_key {
            let before = f.locations.len();
            f.compact(per_key);
            self.held -= before - f.locations.len();
        }
        // Every key keeps at least one place, so the threshold grows with the keys: a pass
        // over all keys then frees at least `2 × budget + keys` places, and its cost is paid
        // for by as many adds (never a pass per add when keys outnumber the budget).
        if self.held > 3 * self.limits.budget() + 2 * self.by_key.len() {
            self.compact_all(per_key);
        }
    }

    fn compact_all(&mut self, per_key: usize) {
        self.passes += 1;
        self.held = 0;
        for f in self.by_key.values_mut() {
            f.compact(per_key);
            self.held += f.locations.len();
        }
    }

    /// Counts keys a source left out before they reached the collector
    /// ([`compact_hits`]): as keys not listed, with their places.
    pub fn add_dropped(&mut self, dropped: &[([u8; 32], u64)]) {
        for (digest, places) in dropped {
            if !self.by_key.contains_key(digest) {
                self.drop_key(digest, *places);
            }
        }
    }

    /// Records where a key came from; kept only if some hit holds the key.
    pub fn set_provenance(&mut self, secret: Secret, provenance: Provenance) {
        self.provenance.insert(secret, provenance);
    }

    /// How many distinct keys so far (listed or not).
    #[must_use]
    pub fn len(&self) -> usize {
        self.by_key.len() + self.dropped.len()
    }

    /// Whether no key was added.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.by_key.is_empty() && self.dropped.is_empty()
    }

    /// The findings: locations sorted and deduplicated, findings ordered by their first
    /// location, then fingerprint. The order depends only on the input, never on threads.
    /// Also what did not fit the limits.
    #[must_use]
    pub fn finish(mut self) -> (Vec<Finding>, Overflow) {
        let per_key = self.per_key();
        let mut overflow = Overflow {
            keys: self.dropped.len() as u64,
            keys_at_least: self.dropped_more,
            key_locations: self.dropped_locations,
            capped_keys: 0,
            per_key,
        };
        let mut out: Vec<Finding> = self
            .by_key
            .into_values()
            .map(|mut f| {
                f.provenance = self.provenance.remove(&f.secret);
                f.compact(per_key);
                if f.unlisted.total() > 0 {
                    overflow.capped_keys += 1;
                }
                f
            })
            .collect();
        out.sort_by(|a, b| {
            let ka = a.locations.first().map(Location::sort_key);
            let kb = b.locations.first().map(Location::sort_key);
            ka.cmp(&kb).then_with(|| a.fingerprint.cmp(&b.fingerprint))
        });
        (out, overflow)
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::finding::{Origin, Part};
    use crate::testkeys::Rng;

    fn hit(key: &str, offset: u64, allowed: bool) -> Hit {
        Hit {
            rule: 0,
            secret: Secret::new(key),
            location: Location {
                origin: Origin::File(PathBuf::from("f")),
                part: Part::Content,
                line: offset + 1,
                column: 1,
                column_utf16: 1,
                offset,
                len: 40,
                binary: false,
                snippet: None,
                inline_allow: allowed,
                allow_ambiguous: false,
                line_hash: None,
                inner: None,
            },
            unlisted: Unlisted::default(),
        }
    }

    /// What a collector with `limits` keeps: (fingerprint, listed offsets, place count).
    fn kept(limits: Limits, hits: &[Hit]) -> (Vec<(String, Vec<u64>, u64)>, Overflow) {
        let mut c = Collector::with_limits(limits);
        for h in hits {
            c.add(h.clone());
        }
        let (findings, overflow) = c.finish();
        let out = findings
            .iter()
            .map(|f| {
                let offsets = f.locations.iter().map(|l| l.offset).collect();
                (f.fingerprint.0.clone(), offsets, f.location_count())
            })
            .collect();
        (out, overflow)
    }

    /// Regression for unbounded memory: a hit-dense input made the collector hold every
    /// place of every key. It now holds at most its limits, keeps exact counts, and keeps the
    /// same keys and places whatever order the hits arrive in.
    #[test]
    fn the_collector_is_bounded_exact_and_independent_of_arrival_order() {
        let mut rng = Rng::new(31);
        let keys: Vec<String> = (0..40).map(|_| rng.live_key()).collect();
        let mut hits = Vec::new();
        for (i, k) in keys.iter().enumerate() {
            for j in 0..(i as u64 % 7 + 1) * 5 {
                hits.push(hit(k, j * 100 + i as u64, j % 3 == 0));
            }
        }
        let limits = Limits {
            max_keys: 10,
            max_locations: 4,
        };
        let (want, overflow) = kept(limits, &hits);
        assert_eq!(want.len(), 10);
        assert_eq!(overflow.keys, 30);
        let listed: u64 = want.iter().map(|(_, _, n)| n).sum();
        assert_eq!(listed + overflow.key_locations, hits.len() as u64);
        // The keys kept are those with the smallest fingerprints.
        let mut fps: Vec<String> = keys.iter().map(|k| Fingerprint::of(k).0).collect();
        fps.sort();
        let mut got: Vec<String> = want.iter().map(|(f, _, _)| f.clone()).collect();
        got.sort();
        assert_eq!(got, fps[..10]);
        for (_, offsets, n) in &want {
            assert!(offsets.len() <= 8 && (offsets.len() as u64) <= *n);
        }
        for seed in 0..20 {
            let mut shuffled = hits.clone();
            let mut r = Rng::new(seed);
            for i in (1..shuffled.len()).rev() {
                shuffled.swap(i, r.below(i + 1));
            }
            assert_eq!(kept(limits, &shuffled).0, want, "seed {seed}");
        }
    }

    /// Regression: with more keys than the location budget (`--max-keys 2000000` on a log of a
    /// million distinct keys), every add compacted every key: quadratic, hours for a million.
    /// Compacting every key is now paid for by as many adds; this counts the passes.
    #[test]
    fn more_keys_than_the_location_budget_do_not_compact_every_key_on_every_add() {
        let mut rng = Rng::new(33);
        let mut c = Collector::with_limits(Limits {
            max_keys: 1_000_000,
            max_locations: 1_000,
        });
        let n = 4 * LOCATION_BUDGET;
        for i in 0..n {
            c.add(hit(&rng.live_key(), i as u64, false));
        }
        assert!(
            c.passes <= 4,
            "{} passes over all keys for {n} adds",
            c.passes
        );
        let (findings, overflow) = c.finish();
        assert_eq!(findings.len(), n);
        assert_eq!(overflow.keys, 0);
    }

    #[test]
    fn many_keys_share_the_location_budget_but_keep_one_place_each() {
        let mut rng = Rng::new(32);
        let keys: Vec<String> = (0..LOCATION_BUDGET / 1000 * 3)
            .map(|_| rng.live_key())
            .collect();
        let mut hits = Vec::new();
        for k in &keys {
            for j in 0..600 {
                hits.push(hit(k, j, false));
            }
        }
        let (kept, overflow) = kept(Limits::default(), &hits);
        assert_eq!(kept.len(), keys.len());
        assert_eq!(overflow.per_key, LOCATION_BUDGET / keys.len());
        assert!(
            kept.iter()
                .all(|(_, o, n)| o.len() == overflow.per_key && *n == 600)
        );
    }
}
