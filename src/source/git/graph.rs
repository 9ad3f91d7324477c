//! Commit graphs without libgit2: walking around damage, topological order, what a range holds,
//! and resolving the revisions a range names.
//!
//! libgit2's revwalk stops at the first commit it cannot read (a missing parent, a commit with
//! more than 65,535 parents), and `nmleaks` used to lose every key the walk had not reached.
//! Here each walk goes as far as the graph allows: a parent that is missing, damaged or not a
//! commit ends that path only, and is returned as a [`Broken`] edge for the caller to report.
//!
//! The audit builds its graph from the commits phase 1 read anyway ([`Commits`]); a range reads
//! the commits it needs through a [`Reader`], stopping (like `git log A..B`) once only commits
//! reachable from `A` are left to look at. Commits listed in `.git/shallow` have no parents here,
//! as in git. Reporting is the caller's business.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use git2::{Oid, Repository};

use super::objects::{self, Kind};
use super::store::{ReadError, Reader, Store};
use super::{OidMap, OidSet};

/// What history needs of a commit.
#[derive(Debug, Clone)]
pub(crate) struct CommitRec {
    /// Its tree (`None` when the commit names none).
    pub tree: Option<Oid>,
    /// Its parents in the commit's order (`~N` follows the first), each once.
    pub parents: Box<[Oid]>,
    /// The committer's time.
    pub time: i64,
}

impl CommitRec {
    /// The record of a raw commit; `shallow` commits have no parents.
    pub fn parse(data: &[u8], shallow: bool) -> CommitRec {
        let c = objects::Commit::parse(data);
        let parents = if shallow {
            Vec::new()
        } else {
            first_of_each(c.parents)
        };
        CommitRec {
            tree: c.tree,
            parents: parents.into(),
            time: c.time,
        }
    }
}

/// `ids` without repeats, each where it first appears. Sorted, not hashed: these ids are
/// whatever a commit says, and the id hasher trusts ids to be random.
fn first_of_each(ids: Vec<Oid>) -> Vec<Oid> {
    if ids.len() < 2 {
        return ids;
    }
    let mut order: Vec<(Oid, usize)> = ids.into_iter().enumerate().map(|(i, id)| (id, i)).collect();
    order.sort_unstable();
    order.dedup_by_key(|(id, _)| *id);
    order.sort_unstable_by_key(|(_, i)| *i);
    order.into_iter().map(|(id, _)| id).collect()
}

/// Every commit phase 1 read, by id.
pub(crate) type Commits = OidMap<CommitRec>;

/// A commit whose parents could not be followed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Broken {
    /// The commit.
    pub commit: Oid,
    /// The ref the walk came from when it found this.
    pub via: String,
    /// Its parents that are not commits the walk could read, in the commit's order.
    pub parents: Vec<Oid>,
}

/// The commits reachable from each of `starts` (`(ref name, commit)`), each walked as far as
/// it goes, and the commits whose parents could not be followed.
pub(crate) fn reachable(commits: &Commits, starts: &[(String, Oid)]) -> (OidSet, Vec<Broken>) {
    let mut seen = OidSet::default();
    let mut broken = Vec::new();
    let mut stack = Vec::new();
    for (name, start) in starts {
        if !commits.contains_key(start) || !seen.insert(*start) {
            continue;
        }
        stack.push(*start);
        while let Some(id) = stack.pop() {
            let rec = &commits[&id];
            let mut bad = Vec::new();
            for p in &rec.parents {
                if commits.contains_key(p) {
                    if seen.insert(*p) {
                        stack.push(*p);
                    }
                } else {
                    bad.push(*p);
                }
            }
            if !bad.is_empty() {
                broken.push(Broken {
                    commit: id,
                    via: name.clone(),
                    parents: bad,
                });
            }
        }
    }
    (seen, broken)
}

/// `nodes` oldest first in topological order: every commit after its parents (those among
/// `nodes`), ties broken by commit time, then id.
pub(crate) fn topo_order(commits: &Commits, nodes: &OidSet) -> Vec<Oid> {
    let mut ids: Vec<Oid> = nodes.iter().copied().collect();
    // By bytes, the order of `Oid`'s own comparison, which is a call into libgit2 (a few
    // million of them for git/git's commits). So position `i` orders as the id does.
    ids.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    let mut index: OidMap<usize> =
        OidMap::with_capacity_and_hasher(ids.len(), std::hash::BuildHasherDefault::default());
    index.extend(ids.iter().enumerate().map(|(i, id)| (*id, i)));
    let mut pending = vec![0usize; ids.len()];
    let mut children: Vec<Vec<usize>> = vec![Vec::new(); ids.len()];
    let time = |id: &Oid| commits.get(id).map_or(0, |c| c.time);
    for (i, id) in ids.iter().enumerate() {
        if let Some(c) = commits.get(id) {
            for p in &c.parents {
                if let Some(&pi) = index.get(p) {
                    pending[i] += 1;
                    children[pi].push(i);
                }
            }
        }
    }
    // Ties in time broken by position, which orders as the id.
    let times: Vec<i64> = ids.iter().map(time).collect();
    let mut ready: BinaryHeap<Reverse<(i64, usize)>> = (0..ids.len())
        .filter(|&i| pending[i] == 0)
        .map(|i| Reverse((times[i], i)))
        .collect();
    let mut order = Vec::with_capacity(ids.len());
    let mut done = vec![false; ids.len()];
    while let Some(Reverse((_, i))) = ready.pop() {
        order.push(ids[i]);
        done[i] = true;
        for &c in &children[i] {
            pending[c] -= 1;
            if pending[c] == 0 {
                ready.push(Reverse((times[c], c)));
            }
        }
    }
    if order.len() < ids.len() {
        // Only a cycle leaves commits behind, which SHA-1 ids make impossible; never drop one.
        let mut rest: Vec<(i64, usize)> = (0..ids.len())
            .filter(|&i| !done[i])
            .map(|i| (times[i], i))
            .collect();
        rest.sort_unstable();
        order.extend(rest.into_iter().map(|(_, i)| ids[i]));
    }
    order
}

/// The ids `.git/shallow` lists: commits whose parents were not fetched.
pub(crate) fn shallow_commits(repo: &Repository) -> OidSet {
    std::fs::read_to_string(repo.commondir().join("shallow"))
        .map(|text| {
            text.lines()
                .filter_map(|l| Oid::from_str(l.trim()).ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Reads commits by id for a range walk, each once.
pub(crate) struct CommitReader<'a> {
    reader: Reader<'a>,
    shallow: OidSet,
    memo: OidMap<Result<CommitRec, ReadError>>,
}

impl<'a> CommitReader<'a> {
    pub fn new(store: &'a Store, shallow: OidSet) -> CommitReader<'a> {
        CommitReader {
            reader: store.reader(),
            shallow,
            memo: OidMap::default(),
        }
    }

    /// The commit `id`, or why it cannot be had.
    pub fn get(&mut self, id: Oid) -> Result<&CommitRec, ReadError> {
        if !self.memo.contains_key(&id) {
            let rec = match self.reader.read(id) {
                Ok((Kind::Commit, data)) => Ok(CommitRec::parse(&data, self.shallow.contains(&id))),
                Ok(_) => Err(ReadError::Damaged {
                    id,
                    reason: "it is not a commit".to_string(),
                }),
                Err(e) => Err(e),
            };
            self.memo.insert(id, rec);
        }
        self.memo[&id].as_ref().map_err(Clone::clone)
    }

    /// The reader underneath, for other objects.
    pub fn reader(&mut self) -> &mut Reader<'a> {
        &mut self.reader
    }
}

/// The commits reachable from `to` but not from `hide`, oldest first in topological order
/// (what `git log --topo-order --reverse hide..to` lists), and the commits that could not be
/// read on the way (each ends its path; one that `hide` reaches only makes the range larger).
pub(crate) fn range(
    commits: &mut CommitReader<'_>,
    to: &[Oid],
    hide: &[Oid],
) -> (Vec<Oid>, Vec<ReadError>) {
    // git's limited walk: newest first, uninteresting marks flowing down from `hide`, until
    // only uninteresting commits are queued and none of them is newer than the oldest
    // interesting commit found (a few more steps allow for clock skew, as git does).
    const SLOP: usize = 5;
    let mut w = Limited {
        commits,
        hidden: OidSet::default(),
        queued: OidSet::default(),
        done: OidSet::default(),
        heap: BinaryHeap::new(),
        failed: Vec::new(),
        interesting: 0,
    };
    for &h in hide {
        w.hidden.insert(h);
        w.push(h);
    }
    for &t in to {
        w.push(t);
    }
    let mut found: Vec<Oid> = Vec::new();
    let mut slop = SLOP;
    let mut oldest_found = i64::MAX;
    while let Some((time, id)) = w.heap.pop() {
        let is_hidden = w.hidden.contains(&id);
        if !is_hidden {
            w.interesting = w.interesting.saturating_sub(1);
        }
        w.done.insert(id);
        let parents: Vec<Oid> = w
            .commits
            .get(id)
            .map(|c| c.parents.to_vec())
            .unwrap_or_default();
        if is_hidden {
            w.hide_below(&parents);
        } else {
            found.push(id);
            oldest_found = oldest_found.min(time);
        }
        for p in parents {
            w.push(p);
        }
        if w.interesting == 0 {
            let newest_queued = w.heap.peek().map_or(i64::MIN, |(t, _)| *t);
            if newest_queued < oldest_found {
                if slop == 0 {
                    break;
                }
                slop -= 1;
            } else {
                slop = SLOP;
            }
        }
    }
    let nodes: OidSet = found
        .into_iter()
        .filter(|id| !w.hidden.contains(id))
        .collect();
    let recs: Commits = nodes
        .iter()
        .filter_map(|id| w.commits.get(*id).ok().map(|c| (*id, c.clone())))
        .collect();
    (topo_order(&recs, &nodes), w.failed)
}

/// The state of [`range`]'s walk.
struct Limited<'r, 'a> {
    commits: &'r mut CommitReader<'a>,
    hidden: OidSet,
    queued: OidSet,
    done: OidSet,
    heap: BinaryHeap<(i64, Oid)>,
    failed: Vec<ReadError>,
    /// Queued commits not hidden.
    interesting: usize,
}

impl Limited<'_, '_> {
    fn push(&mut self, id: Oid) {
        if !self.queued.insert(id) {
            return;
        }
        match self.commits.get(id) {
            Ok(c) => {
                let time = c.time;
                self.heap.push((time, id));
                if !self.hidden.contains(&id) {
                    self.interesting += 1;
                }
            }
            Err(e) => self.failed.push(e),
        }
    }

    /// Hides `parents` and everything already walked below them.
    fn hide_below(&mut self, parents: &[Oid]) {
        let mut stack = parents.to_vec();
        while let Some(p) = stack.pop() {
            if !self.hidden.insert(p) {
                continue;
            }
            if self.done.contains(&p) {
                if let Ok(c) = self.commits.get(p) {
                    stack.extend(c.parents.iter().copied());
                }
            } else if self.queued.contains(&p) {
                // Queued as interesting: it no longer counts.
                self.interesting = self.interesting.saturating_sub(1);
            }
        }
    }
}

/// Why a revision did not resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct BadRevision(pub String);

/// Resolves one side of a range to a commit without letting libgit2 read any object: a ref
/// name as git abbreviates it (`main`, `origin/main`, `v1.0`, `HEAD`), a full or abbreviated
/// id, then any of `~N`, `^N`, `^{commit}`, `^{}`. Other syntax (`@{upstream}`, `:/text`) goes
/// to libgit2, but only once every loose object has been checked to inflate, so that libgit2
/// never meets a damaged one.
pub(crate) fn resolve(
    repo: &Repository,
    store: &Store,
    commits: &mut CommitReader<'_>,
    rev: &str,
) -> Result<Oid, BadRevision> {
    let split = rev.find(['~', '^']).unwrap_or(rev.len());
    let (base, suffix) = rev.split_at(split);
    if base.contains(':') || base.contains("@{") || base.is_empty() {
        return resolve_with_libgit2(repo, store, commits, rev);
    }
    let mut id = if base.len() == 40 && base.bytes().all(|b| b.is_ascii_hexdigit()) {
        Oid::from_str(base).map_err(|e| BadRevision(e.message().to_string()))?
    } else if let Ok(r) = repo.resolve_reference_from_short_name(base) {
        r.resolve()
            .ok()
            .and_then(|r| r.target())
            .ok_or_else(|| BadRevision(format!("{base} points at nothing")))?
    } else {
        match store.with_prefix(base).as_slice() {
            [one] => *one,
            [] => return Err(BadRevision(format!("no ref or object is named {base}"))),
            _ => {
                return Err(BadRevision(format!(
                    "{base} is an ambiguous abbreviated id"
                )));
            }
        }
    };
    id = peel_to_commit(commits, id)?;
    let mut rest = suffix;
    while !rest.is_empty() {
        if let Some(r) = rest
            .strip_prefix("^{commit}")
            .or_else(|| rest.strip_prefix("^{}"))
        {
            rest = r;
            continue;
        }
        let (op, r) = rest.split_at(1);
        let digits = r.bytes().take_while(u8::is_ascii_digit).count();
        let n: usize = if digits == 0 {
            1
        } else {
            r[..digits]
                .parse()
                .map_err(|_| BadRevision(format!("{rev}: a number too large")))?
        };
        rest = &r[digits..];
        let parents = |commits: &mut CommitReader<'_>, id: Oid| -> Result<Vec<Oid>, BadRevision> {
            commits
                .get(id)
                .map(|c| c.parents.to_vec())
                .map_err(|e| BadRevision(e.to_string()))
        };
        if op == "^" {
            if n == 0 {
                continue;
            }
            id = *parents(commits, id)?
                .get(n - 1)
                .ok_or_else(|| BadRevision(format!("{rev}: commit {id} has no parent {n}")))?;
        } else if rest.starts_with('{') {
            return resolve_with_libgit2(repo, store, commits, rev);
        } else {
            for _ in 0..n {
                id = *parents(commits, id)?
                    .first()
                    .ok_or_else(|| BadRevision(format!("{rev}: history ends before that")))?;
            }
        }
    }
    Ok(id)
}

/// Follows tags from `id` to the commit they name.
fn peel_to_commit(commits: &mut CommitReader<'_>, mut id: Oid) -> Result<Oid, BadRevision> {
    for _ in 0..64 {
        match commits.reader().read(id) {
            Ok((Kind::Commit, _)) => return Ok(id),
            Ok((Kind::Tag, data)) => match objects::tag_target(&data).0 {
                Some(t) => id = t,
                None => return Err(BadRevision(format!("tag {id} names no object"))),
            },
            Ok(_) => return Err(BadRevision(format!("{id} is not a commit"))),
            Err(e) => return Err(BadRevision(e.to_string())),
        }
    }
    Err(BadRevision(format!(
        "tag {id}: a chain of more than 64 tags"
    )))
}

fn resolve_with_libgit2(
    repo: &Repository,
    store: &Store,
    commits: &mut CommitReader<'_>,
    rev: &str,
) -> Result<Oid, BadRevision> {
    let reader = commits.reader();
    let mut buf = Vec::new();
    for id in store.loose_ids() {
        if let Err(e @ ReadError::Damaged { .. }) = reader.read_into(id, &mut buf) {
            return Err(BadRevision(format!(
                "{e}; name the revision by branch, tag or commit id (with ~N or ^N) \
                 instead, which nmleaks resolves without reading damaged objects"
            )));
        }
    }
    let obj = repo
        .revparse_single(if rev.is_empty() { "HEAD" } else { rev })
        .map_err(|e| BadRevision(e.message().to_string()))?;
    peel_to_commit(commits, obj.id())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> Oid {
        Oid::from_bytes(&[n; 20]).unwrap()
    }

    fn graph(edges: &[(u8, &[u8], i64)]) -> Commits {
        edges
            .iter()
            .map(|(c, ps, t)| {
                (
                    id(*c),
                    CommitRec {
                        tree: None,
                        parents: ps.iter().map(|p| id(*p)).collect(),
                        time: *t,
                    },
                )
            })
            .collect()
    }

    #[test]
    fn a_missing_parent_ends_one_path_and_every_ref_is_walked() {
        // 1 <- 2 <- 3 (main); 9 (broken) names the missing 7 and the present 2.
        let g = graph(&[(1, &[], 10), (2, &[1], 20), (3, &[2], 30), (9, &[7, 2], 40)]);
        let starts = [
            ("refs/heads/broken".to_string(), id(9)),
            ("refs/heads/main".to_string(), id(3)),
        ];
        let (seen, broken) = reachable(&g, &starts);
        assert_eq!(seen.len(), 4);
        assert_eq!(
            broken,
            [Broken {
                commit: id(9),
                via: "refs/heads/broken".to_string(),
                parents: vec![id(7)]
            }]
        );
    }

    #[test]
    fn parents_keep_their_order_without_repeats() {
        assert_eq!(
            first_of_each(vec![id(3), id(1), id(3), id(2), id(1)]),
            [id(3), id(1), id(2)]
        );
    }

    #[test]
    fn topological_order_puts_parents_first_even_against_the_clock() {
        // 2's clock is behind its parent's.
        let g = graph(&[(1, &[], 50), (2, &[1], 10), (3, &[2], 60), (4, &[1], 55)]);
        let nodes: OidSet = g.keys().copied().collect();
        assert_eq!(topo_order(&g, &nodes), [id(1), id(2), id(4), id(3)]);
    }
}
