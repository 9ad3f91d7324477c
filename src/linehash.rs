//! `primaryLocationLineHash`, computed the way GitHub's SARIF upload computes it.
//!
//! GitHub code scanning tracks an alert across commits by this partial fingerprint. When a
//! SARIF file lacks it, `github/codeql-action/upload-sarif` fills it in from the checked-out
//! file; for history results the checked-out file is the wrong content, so nmleaks computes it
//! itself from the bytes it scanned. The algorithm, as documented and implemented in
//! github/codeql-action `src/fingerprints.ts` (function `hash`), is re-implemented here from
//! that description:
//!
//! * the file is read as text and processed as UTF-16 code units;
//! * spaces and tabs are skipped, and so is a line feed right after a carriage return; a
//!   carriage return counts as a line feed;
//! * a line's hash is a polynomial rolling hash (base 37, wrapping 64-bit arithmetic) of the
//!   100 processed units starting at the line's first processed unit; after the last unit a
//!   65535 marker and then zeros pad the window;
//! * the value is the unsigned hash in lower-case hex without leading zeros, then `:` and how
//!   many times that hash value has occurred so far in the file (1 for the first).

use std::collections::HashMap;

const BLOCK: usize = 100;
const BASE: u64 = 37;
const EOF_MARK: u64 = 65535;

/// The line hash of each 1-based line in `lines`, in the same order (`None` for a line the
/// content does not have).
#[must_use]
pub fn line_hashes(content: &[u8], lines: &[u64]) -> Vec<Option<String>> {
    let wanted: std::collections::HashSet<u64> = lines.iter().copied().collect();
    let mut found: HashMap<u64, String> = HashMap::new();
    hash_lines(content, |line, value| {
        if wanted.contains(&line) {
            found.entry(line).or_insert(value);
        }
    });
    lines.iter().map(|l| found.get(l).cloned()).collect()
}

/// Calls `out(line, hash)` for every line of `content`.
fn hash_lines(content: &[u8], mut out: impl FnMut(u64, String)) {
    let first_mod = (0..BLOCK).fold(1u64, |m, _| m.wrapping_mul(BASE));
    let mut window = [0u64; BLOCK];
    let mut line_at = [0u64; BLOCK]; // 0: no line starts at this slot
    let mut index = 0;
    let mut hash = 0u64;
    let mut line = 0u64;
    let mut line_start = true;
    let mut prev_cr = false;
    let mut counts: HashMap<u64, u32> = HashMap::new();

    let mut emit = |slot_line: u64, hash: u64| {
        let n = counts.entry(hash).or_insert(0);
        *n += 1;
        out(slot_line, format!("{hash:x}:{n}"));
    };
    let update = |current: u64, index: &mut usize, hash: &mut u64, window: &mut [u64; BLOCK]| {
        let begin = window[*index];
        window[*index] = current;
        *hash = BASE
            .wrapping_mul(*hash)
            .wrapping_add(current)
            .wrapping_sub(first_mod.wrapping_mul(begin));
        *index = (*index + 1) % BLOCK;
    };

    let text = String::from_utf8_lossy(content);
    let units = text
        .encode_utf16()
        .map(u64::from)
        .chain(std::iter::once(EOF_MARK));
    for mut current in units {
        if current == u64::from(b' ')
            || current == u64::from(b'\t')
            || (prev_cr && current == u64::from(b'\n'))
        {
            prev_cr = false;
            continue;
        }
        if current == u64::from(b'\r') {
            current = u64::from(b'\n');
            prev_cr = true;
        } else {
            prev_cr = false;
        }
        if line_at[index] != 0 {
            emit(line_at[index], hash);
            line_at[index] = 0;
        }
        if line_start {
            line_start = false;
            line += 1;
            line_at[index] = line;
        }
        if current == u64::from(b'\n') {
            line_start = true;
        }
        update(current, &mut index, &mut hash, &mut window);
    }
    for _ in 0..BLOCK {
        if line_at[index] != 0 {
            emit(line_at[index], hash);
            line_at[index] = 0;
        }
        update(0, &mut index, &mut hash, &mut window);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(content: &str) -> Vec<String> {
        let mut out = Vec::new();
        hash_lines(content.as_bytes(), |line, h| {
            assert_eq!(line as usize, out.len() + 1, "lines come in order");
            out.push(h);
        });
        out
    }

    // Expected values are the upstream test vectors of the reference implementation
    // (github/codeql-action, src/fingerprints.test.ts, test "hash").
    #[test]
    fn matches_the_reference_vectors() {
        assert_eq!(all(""), ["c129715d7a2bc9a3:1"]);
        assert_eq!(
            all(" a\nb\n  \t\tc\n d"),
            [
                "271789c17abda88f:1",
                "54703d4cd895b18:1",
                "180aee12dab6264:1",
                "a23a3dc5e078b07b:1"
            ]
        );
        let endings = [
            " hello; \t\nworld!!!\n\n\n  \t\tGreetings\n End\n",
            " hello; \t\nworld!!!\r\r\r  \t\tGreetings\r End\r",
            " hello; \t\r\nworld!!!\r\n\r\n\r\n  \t\tGreetings\r\n End\r\n",
            " hello; \t\nworld!!!\r\n\n\r  \t\tGreetings\r End\r\n",
        ];
        for text in endings {
            assert_eq!(
                all(text),
                [
                    "e9496ae3ebfced30:1",
                    "fb7c023a8b9ccb3f:1",
                    "ce8ba1a563dcdaca:1",
                    "e20e36e16fcb0cc8:1",
                    "b3edc88f2938467e:1",
                    "c8e28b0b4002a3a0:1",
                    "c129715d7a2bc9a3:1",
                ],
                "{text:?}"
            );
        }
        let repeated = all(&"Lorem ipsum dolor sit amet.\n".repeat(10));
        assert_eq!(repeated[0], "a7f2ff13bc495cf2:1");
        assert_eq!(repeated[5], "a7f2ff13bc495cf2:6");
        assert_eq!(repeated[6], "a7f2ff1481e87703:1");
        assert_eq!(repeated[10], "c129715d7a2bc9a3:1");
    }

    #[test]
    fn line_hashes_picks_the_asked_lines() {
        let text = "x = 2\nx = 1\nprint(x)\nx = 3\nprint(x)\nx = 4\nprint(x)\n";
        assert_eq!(
            line_hashes(text.as_bytes(), &[3, 1, 99]),
            [
                Some("1131fd5871777f34:1".to_string()),
                Some("e54938cc54b302f1:1".to_string()),
                None
            ]
        );
    }
}
