//! Reading the small files nmleaks reads whole: rules files, baselines, a repository's packed-refs.
//!
//! These are small, but a path can name anything: `--baseline /dev/zero`, `-o /dev/full` for a
//! baseline whose old notes are read back, a FIFO from `--rules <(…)`. Reading them whole with
//! `read_to_string` would grow memory without end; here a read stops past a cap and says so.
//! FIFOs and process substitution still work, since they end. The scanned input never comes
//! through here: [`crate::scan`] reads it in bounded chunks.

use std::io::{self, Read};
use std::path::Path;

/// The most a rules file or baseline may hold.
pub const MAX_LEN: u64 = 64 << 20;

/// Reads `path` as UTF-8 text of at most `max` bytes.
///
/// # Errors
/// The file cannot be opened or read, is not UTF-8, or is longer than `max` bytes (the error
/// says so, in words, with kind [`io::ErrorKind::FileTooLarge`]).
pub fn read(path: &Path, max: u64) -> io::Result<String> {
    String::from_utf8(read_bytes(path, max)?)
        .map_err(|_| io::Error::new(io::ErrorKind::InvalidData, "it is not UTF-8 text"))
}

/// Reads `path` as bytes, at most `max` of them (a repository's `packed-refs`).
///
/// # Errors
/// As [`read`], less the UTF-8 check.
pub fn read_bytes(path: &Path, max: u64) -> io::Result<Vec<u8>> {
    let file = std::fs::File::open(path)?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(io::Error::new(
            io::ErrorKind::FileTooLarge,
            format!("it is larger than {} MiB", max >> 20),
        ));
    }
    Ok(bytes)
}

/// The 1-based line and column (in bytes) of byte `offset` of `text`: where a parser's error
/// is, for a message.
#[must_use]
pub fn position(text: &str, offset: usize) -> (usize, usize) {
    let before = &text.as_bytes()[..offset.min(text.len())];
    let line = bytecount::count(before, b'\n') + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |i| i + 1);
    (line, before.len() - line_start + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_over_the_cap_is_refused_without_reading_it_all() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("big");
        std::fs::write(&p, vec![b'a'; 3000]).unwrap();
        let err = read(&p, 2048).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
        assert_eq!(read(&p, 3000).unwrap().len(), 3000);
    }

    #[cfg(unix)]
    #[test]
    fn an_endless_device_stops_at_the_cap() {
        let err = read(Path::new("/dev/zero"), 1 << 20).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::FileTooLarge);
    }

    #[test]
    fn bytes_that_are_not_utf8_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("bin");
        std::fs::write(&p, b"ok\xff").unwrap();
        assert_eq!(
            read(&p, 100).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
    }
}
