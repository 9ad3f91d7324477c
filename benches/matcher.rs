//! Throughput of [`Matcher::find`] over about 1 GiB of source text held in memory.
//!
//! `cargo bench --bench matcher`. The text is the files under `NMLEAKS_BENCH_SRC` (a directory,
//! for example a clone of git/git; `.git/` is skipped), repeated until the buffer is full, or,
//! when that is unset, generated source-like lines from a seeded generator. `NMLEAKS_BENCH_BYTES`
//! sets the size (default 1 GiB). A few keys are planted at known places and the run fails unless
//! each is found where it was planted, so a matcher that finds nothing cannot look fast.
//!
//! Prints the best of three runs, in GB/s, of the bare prefilter (`memmem` over the stem `nm_`)
//! and of the whole matcher. Issue 2's target: above 10 GB/s. Single-threaded; no criterion, so
//! `harness = false`.

use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

use memchr::memmem;
use nmleaks::matcher::Matcher;
use nmleaks::testkeys::Rng;

const RUNS: usize = 3;

fn main() {
    let size = std::env::var("NMLEAKS_BENCH_BYTES")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1usize << 30);
    let matcher = Matcher::new(nmleaks::rules::load(&[] as &[&str]).expect("built-in rules"));
    let (mut hay, what) = match std::env::var_os("NMLEAKS_BENCH_SRC") {
        Some(dir) => (
            from_dir(Path::new(&dir), size),
            format!("files under {}", dir.to_string_lossy()),
        ),
        None => (generated(size), "generated source text".to_string()),
    };
    let planted = plant_keys(&mut hay);
    let found: Vec<(usize, usize)> = matcher
        .find_all(&hay)
        .iter()
        .map(|m| (m.start, m.end))
        .collect();
    for key in &planted {
        assert!(found.contains(key), "planted key at {key:?} not found");
    }
    let baseline = found.len();
    println!(
        "matcher bench: {:.2} GiB of {what}; {baseline} keys found ({} planted); best of {RUNS}",
        as_f64(hay.len()) / f64::from(1u32 << 30),
        planted.len()
    );

    // References: a scan for a byte that never occurs (the memory-bandwidth ceiling on this
    // machine) and memmem over the longer literal `nm_live_` alone.
    let ceiling = best(|| memchr::memchr_iter(0x01, black_box(&hay)).count());
    report("reference: memchr of an absent byte", hay.len(), ceiling);
    let live = memmem::Finder::new(b"nm_live_");
    let one = best(|| live.find_iter(black_box(&hay)).count());
    report("reference: memmem \"nm_live_\"", hay.len(), one);
    let stem = memmem::Finder::new(b"nm_");
    let prefilter = best(|| stem.find_iter(black_box(&hay)).count());
    report("prefilter only (memmem \"nm_\")", hay.len(), prefilter);
    let full = best(|| {
        let mut n = 0usize;
        matcher.find(black_box(&hay), 0..hay.len(), true, |_| n += 1);
        assert_eq!(n, baseline);
        n
    });
    report("Matcher::find (prefilter + confirm)", hay.len(), full);
    // What every scan runs unless --no-decode: the prefixes and their base64 and hex literals
    // in one automaton (no encoded key is planted: this is the cost for plain text).
    let hinted = best(|| {
        let (mut n, mut hints) = (0usize, 0usize);
        matcher.find_hinted(black_box(&hay), 0..hay.len(), true, 0, |f| match f {
            nmleaks::matcher::Found::Key(_) => n += 1,
            nmleaks::matcher::Found::Hint(_) => hints += 1,
        });
        assert_eq!(n, baseline);
        n + hints
    });
    report(
        "Matcher::find_hinted (plus encoded literals)",
        hay.len(),
        hinted,
    );
}

/// Wall time and, where Linux tells it, this thread's CPU time.
#[derive(Clone, Copy)]
struct Timing {
    wall: Duration,
    cpu: Option<Duration>,
}

/// The fastest of [`RUNS`] runs of `f`, by wall time and by CPU time (each its own best).
fn best(mut f: impl FnMut() -> usize) -> Timing {
    let runs: Vec<Timing> = (0..RUNS)
        .map(|_| {
            let (t, c) = (Instant::now(), thread_cpu());
            black_box(f());
            Timing {
                wall: t.elapsed(),
                cpu: c.zip(thread_cpu()).map(|(a, b)| b.saturating_sub(a)),
            }
        })
        .collect();
    Timing {
        wall: runs.iter().map(|t| t.wall).min().expect("at least one run"),
        cpu: runs.iter().filter_map(|t| t.cpu).min(),
    }
}

/// CPU time this thread has run, from `/proc/thread-self/schedstat` (nanoseconds, Linux).
/// On a shared machine wall time also counts time spent waiting for a core; CPU time does not.
fn thread_cpu() -> Option<Duration> {
    let stat = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns = stat.split_whitespace().next()?.parse().ok()?;
    Some(Duration::from_nanos(ns))
}

fn report(name: &str, bytes: usize, t: Timing) {
    let rate = |d: Duration| as_f64(bytes) / d.as_secs_f64() / 1e9;
    let cpu = t.cpu.map_or_else(String::new, |c| {
        format!(
            "  cpu {:>8.1} ms  {:>6.2} GB/s",
            c.as_secs_f64() * 1e3,
            rate(c)
        )
    });
    println!(
        "  {name:<38} wall {:>8.1} ms  {:>6.2} GB/s{cpu}",
        t.wall.as_secs_f64() * 1e3,
        rate(t.wall)
    );
}

/// A byte count as a float, for rates.
#[allow(clippy::cast_precision_loss)] // exact below 2^53 bytes, far above any buffer here
fn as_f64(bytes: usize) -> f64 {
    bytes as f64
}

/// The files under `dir`, in path order, repeated until `size` bytes.
fn from_dir(dir: &Path, size: usize) -> Vec<u8> {
    let mut files = Vec::new();
    collect(dir, &mut files);
    files.sort();
    let mut out = Vec::with_capacity(size);
    'fill: loop {
        let before = out.len();
        for f in &files {
            let Ok(bytes) = std::fs::read(f) else {
                continue;
            };
            let room = size - out.len();
            out.extend_from_slice(&bytes[..bytes.len().min(room)]);
            if out.len() == size {
                break 'fill;
            }
        }
        assert!(
            out.len() > before,
            "no readable files under {}",
            dir.display()
        );
    }
    out
}

fn collect(dir: &Path, files: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        let Ok(ft) = entry.file_type() else {
            continue;
        };
        if ft.is_dir() && entry.file_name() != ".git" {
            collect(&path, files);
        } else if ft.is_file() {
            files.push(path);
        }
    }
}

/// Source-like lines (indentation, identifiers, calls, comments, string literals) from a
/// seeded generator, `size` bytes.
fn generated(size: usize) -> Vec<u8> {
    const WORDS: &[&str] = &[
        "if", "else", "return", "static", "const", "struct", "int", "char", "size_t", "len", "buf",
        "ret", "err", "path", "name", "value", "config", "strbuf", "object", "commit", "tree",
        "index", "repo", "the", "and", "of", "to", "is", "for", "while", "NULL", "die", "error",
        "warning", "parse", "read", "write", "free", "alloc", "opt", "argv", "argc",
    ];
    const PUNCT: &[&str] = &[
        " ", " ", " ", ", ", "(", ")", "->", ".", " = ", ";", " == ", "_",
    ];
    let mut rng = Rng::new(42);
    let mut out = Vec::with_capacity(size + 256);
    while out.len() < size {
        let indent = rng.below(4);
        out.extend(std::iter::repeat_n(b'\t', indent));
        match rng.below(10) {
            0 => out.extend_from_slice(b"/* "),
            1 => out.extend_from_slice(b"\""),
            _ => {}
        }
        for _ in 0..3 + rng.below(9) {
            out.extend_from_slice(WORDS[rng.below(WORDS.len())].as_bytes());
            out.extend_from_slice(PUNCT[rng.below(PUNCT.len())].as_bytes());
        }
        if rng.below(50) == 0 {
            out.extend_from_slice(rng.hex(40).as_bytes());
        }
        out.push(b'\n');
    }
    out.truncate(size);
    out
}

/// Writes a few keys over the text at spread-out line starts; returns their extents.
fn plant_keys(hay: &mut [u8]) -> Vec<(usize, usize)> {
    let mut rng = Rng::new(7);
    let n = 16;
    let mut planted = Vec::new();
    for i in 0..n {
        let at = hay.len() / (n + 1) * (i + 1);
        let Some(line) = memchr::memchr(b'\n', &hay[at..]).map(|j| at + j + 1) else {
            continue;
        };
        let key = rng.live_key();
        let text = format!("key = \"{key}\"\n");
        if line + text.len() <= hay.len() {
            hay[line..line + text.len()].copy_from_slice(text.as_bytes());
            planted.push((line + 7, line + 7 + key.len()));
        }
    }
    planted
}
