//! Fuzzes the rules parser: any text given as a rules file either loads, and then builds a
//! matcher that `rules check` can run and that can scan the file's own text, or fails with
//! an error whose message is one line without raw control characters. It must never panic.

#![no_main]

use libfuzzer_sys::fuzz_target;
use nmleaks::finding::Origin;
use nmleaks::matcher::Matcher;
use nmleaks::scan::Scanner;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    match nmleaks::rules::parse(text, "fuzz.toml") {
        Ok(rules) => {
            let _ = nmleaks::matcher::check(&rules);
            let m = Matcher::new(rules);
            let mut hits = Vec::new();
            Scanner::new(&m, false).scan_bytes(text.as_bytes(), &Origin::Stdin, &mut hits);
        }
        Err(e) => {
            let msg = e.to_string();
            assert!(
                !msg.chars().any(nmleaks::sanitize::needs_escape),
                "raw control character in: {msg:?}"
            );
        }
    }
});
