//! Standard input as one blob (`nmleaks scan -`), read in chunks like a large file.

use crossbeam_channel::Sender;

use super::{Event, Problem, Stats};
use crate::finding::Origin;
use crate::matcher::Matcher;
use crate::scan::Scanner;

/// Scans standard input to its end.
pub fn scan(
    matcher: &Matcher,
    show_secrets: bool,
    decoding: crate::scan::Decoding,
    stats: &Stats,
    tx: &Sender<Event>,
) {
    let mut scanner = Scanner::new(matcher, show_secrets).decoding(decoding);
    let sink = tx.clone();
    scanner.set_sink(move |hits| {
        let _ = sink.send(Event::Hits(hits));
    });
    let mut hits = Vec::new();
    let result = scanner.scan_reader(std::io::stdin().lock(), &Origin::Stdin, &mut hits);
    if !hits.is_empty() {
        let _ = tx.send(Event::Hits(hits));
    }
    super::send_scan_problems(&mut scanner, "<stdin>", tx);
    match result {
        Ok(n) => stats.add(n),
        Err(e) => {
            let _ = tx.send(Problem::error(format!("cannot read standard input: {e}")));
        }
    }
}
