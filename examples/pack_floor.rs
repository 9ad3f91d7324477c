//! The floor of a history audit: gix-pack's delta-tree traversal of every pack in a git
//! directory, doing nothing with the bytes but count them. `bench/git.sh` runs it beside
//! `nmleaks git` on the same packs and prints nmleaks' ratio to it.
//!
//!     cargo run --release --example pack_floor -- GIT_DIR [THREADS] [--search] [--trees]
//!
//! With `--search` it also runs `memchr::memmem` for the key prefix over every blob: the floor
//! plus the literal search, the least any scanner of every blob must do. With `--trees` it
//! also walks every entry of every tree (mode, name, id), the least any audit that places
//! blobs in commits must add without an index of which trees hold which blob: git has none.
//! It uses the options `nmleaks git` traverses with (no checksums, objects over 64 MiB left
//! out), so the difference between the two is what nmleaks does with the bytes.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(git_dir) = args.next() else {
        eprintln!("usage: pack_floor GIT_DIR [THREADS] [--search]");
        std::process::exit(2);
    };
    let rest: Vec<String> = args.collect();
    let search = rest.iter().any(|a| a == "--search");
    let trees = rest.iter().any(|a| a == "--trees");
    let entries = AtomicU64::new(0);
    let threads: usize = rest
        .iter()
        .find_map(|t| t.parse().ok())
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, usize::from));
    // The key prefix, from parts so this file holds no key-shaped literal.
    let needle = format!("nm_{}_", "live");
    let finder = memchr::memmem::Finder::new(needle.as_bytes());
    let hits = AtomicU64::new(0);
    let pack_dir = std::path::Path::new(&git_dir).join("objects/pack");
    let mut idx: Vec<_> = std::fs::read_dir(&pack_dir)
        .unwrap_or_else(|e| panic!("{}: {e}", pack_dir.display()))
        .filter_map(Result::ok)
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "idx"))
        .collect();
    idx.sort();
    let (objects, bytes) = (AtomicU64::new(0), AtomicU64::new(0));
    let start = std::time::Instant::now();
    for path in &idx {
        let index = gix_pack::index::File::at(path, gix_hash::Kind::Sha1).expect("pack index");
        let pack = gix_pack::data::File::at(path.with_extension("pack"), gix_hash::Kind::Sha1)
            .expect("pack");
        let options = gix_pack::index::traverse::Options {
            traversal: gix_pack::index::traverse::Algorithm::DeltaTreeLookup,
            thread_limit: Some(threads),
            check: gix_pack::index::traverse::SafetyCheck::SkipFileAndObjectChecksumVerificationAndNoAbortOnDecodeError,
            alloc_limit_bytes: Some(64 << 20),
            make_pack_lookup_cache: || gix_pack::cache::Never,
        };
        let interrupt = AtomicBool::new(false);
        index
            .traverse(
                &pack,
                &mut gix_utils::progress::Discard,
                &interrupt,
                |kind,
                 data: &[u8],
                 _entry: &gix_pack::index::Entry,
                 _: &dyn gix_utils::progress::Progress| {
                    objects.fetch_add(1, Ordering::Relaxed);
                    if search && kind == gix_object::Kind::Blob && finder.find(data).is_some() {
                        hits.fetch_add(1, Ordering::Relaxed);
                    }
                    if trees && kind == gix_object::Kind::Tree {
                        entries.fetch_add(tree_entries(data), Ordering::Relaxed);
                    }
                    bytes.fetch_add(std::hint::black_box(data).len() as u64, Ordering::Relaxed);
                    Ok(())
                },
                options,
            )
            .expect("traversal");
    }
    println!(
        "pack floor{}{}: {} objects, {} MiB inflated, {:.3} s on {threads} threads",
        if trees {
            format!(" + tree walk ({} entries)", entries.load(Ordering::Relaxed))
        } else {
            String::new()
        },
        if search {
            format!(
                " + search ({} blobs hold the prefix)",
                hits.load(Ordering::Relaxed)
            )
        } else {
            String::new()
        },
        objects.load(Ordering::Relaxed),
        bytes.load(Ordering::Relaxed) >> 20,
        start.elapsed().as_secs_f64()
    );
}

/// The entries of a tree (`MODE NAME\0` then a 20-byte id, repeated), each id read.
fn tree_entries(mut data: &[u8]) -> u64 {
    let mut n = 0;
    let mut ids = 0u8;
    while let Some(nul) = memchr::memchr(0, data) {
        let Some(id) = data.get(nul + 1..nul + 21) else {
            break;
        };
        ids ^= std::hint::black_box(id)[0];
        n += 1;
        data = &data[nul + 21..];
    }
    std::hint::black_box(ids);
    n
}
