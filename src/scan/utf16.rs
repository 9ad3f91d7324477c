//! UTF-16 text: recognising it and decoding it to UTF-8, incrementally.
//!
//! This is the scanner's first decoder: it turns a blob's bytes into other bytes (UTF-8 text)
//! to scan beside the blob's own, and [`super::lines::LineTracker`] maps offsets in the decoded
//! text back to the blob (two bytes per code unit, after the byte-order mark). Decoders of
//! other encodings plug in at the same seam: bytes in, bytes out, a way back to the offsets.

use super::BINARY_PROBE;

/// A UTF-16 encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Utf16 {
    /// Little-endian (Windows' "Unicode": PowerShell 5 redirections, .reg exports).
    Le,
    /// Big-endian.
    Be,
}

/// Whether a blob that starts with `start` is UTF-16 text, and which: a byte-order mark says
/// so (`FF FE` little-endian, `FE FF` big-endian); without one, binary-looking input (a NUL in
/// the probe) whose 2-byte units are at least half a printable ASCII character or whitespace
/// followed by a NUL is little-endian UTF-16. Text without NULs never needs the second look.
#[must_use]
pub fn utf16_encoding(start: &[u8], binary: bool) -> Option<Utf16> {
    if start.starts_with(&[0xFF, 0xFE]) {
        return Some(Utf16::Le);
    }
    if start.starts_with(&[0xFE, 0xFF]) {
        return Some(Utf16::Be);
    }
    if !binary {
        return None;
    }
    let probe = &start[..start.len().min(BINARY_PROBE)];
    let units = probe.len() / 2;
    let ascii = probe
        .chunks_exact(2)
        .filter(|u| {
            u[1] == 0 && (matches!(u[0], b'\t' | b'\n' | b'\r') || (0x20..0x7F).contains(&u[0]))
        })
        .count();
    // Generous on purpose: a wrong guess costs one decoding pass, never a key, since the
    // blob's own bytes are scanned as well.
    (units >= 8 && ascii * 2 >= units).then_some(Utf16::Le)
}

/// Incremental UTF-16 to UTF-8: bytes go in as they are read, in pieces of any length.
/// Unpaired surrogates and a final odd byte become U+FFFD. A leading byte-order mark is
/// dropped (its length is kept in `bom`, for offsets).
#[derive(Debug)]
pub(crate) struct Decoder {
    enc: Utf16,
    /// The first byte of a unit whose second has not arrived.
    odd: Option<u8>,
    /// A high surrogate waiting for its low half.
    high: Option<u16>,
    /// Whether the first unit was seen (a byte-order mark is dropped there).
    started: bool,
    /// Bytes of byte-order mark dropped: 0 or 2.
    pub(crate) bom: u64,
}

impl Decoder {
    pub(crate) fn new(enc: Utf16) -> Decoder {
        Decoder {
            enc,
            odd: None,
            high: None,
            started: false,
            bom: 0,
        }
    }

    pub(crate) fn push(&mut self, mut bytes: &[u8], out: &mut Vec<u8>) {
        if let (Some(a), Some(&b)) = (self.odd, bytes.first()) {
            self.odd = None;
            self.unit([a, b], out);
            bytes = &bytes[1..];
        }
        let mut units = bytes.chunks_exact(2);
        for u in &mut units {
            self.unit([u[0], u[1]], out);
        }
        if let [last] = units.remainder() {
            self.odd = Some(*last);
        }
    }

    pub(crate) fn finish(&mut self, out: &mut Vec<u8>) {
        if self.high.take().is_some() || self.odd.take().is_some() {
            push_char(char::REPLACEMENT_CHARACTER, out);
        }
    }

    fn unit(&mut self, pair: [u8; 2], out: &mut Vec<u8>) {
        let u = match self.enc {
            Utf16::Le => u16::from_le_bytes(pair),
            Utf16::Be => u16::from_be_bytes(pair),
        };
        if !self.started {
            self.started = true;
            if u == 0xFEFF {
                self.bom = 2;
                return;
            }
        }
        if let Some(high) = self.high.take() {
            if (0xDC00..0xE000).contains(&u) {
                let c = 0x10000 + ((u32::from(high) - 0xD800) << 10) + (u32::from(u) - 0xDC00);
                push_char(
                    char::from_u32(c).unwrap_or(char::REPLACEMENT_CHARACTER),
                    out,
                );
                return;
            }
            push_char(char::REPLACEMENT_CHARACTER, out);
        }
        if (0xD800..0xDC00).contains(&u) {
            self.high = Some(u);
        } else {
            push_char(
                char::from_u32(u32::from(u)).unwrap_or(char::REPLACEMENT_CHARACTER),
                out,
            );
        }
    }
}

fn push_char(c: char, out: &mut Vec<u8>) {
    out.extend_from_slice(c.encode_utf8(&mut [0; 4]).as_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scan::is_binary;

    fn utf16le(s: &str) -> Vec<u8> {
        s.encode_utf16().flat_map(u16::to_le_bytes).collect()
    }

    #[test]
    fn utf16_is_recognised_by_its_mark_or_by_nul_interleaved_ascii() {
        let text = utf16le("# settings for the deploy script\r\n");
        assert_eq!(
            utf16_encoding(&[0xFF, 0xFE, b'a', 0], true),
            Some(Utf16::Le)
        );
        assert_eq!(
            utf16_encoding(&[0xFE, 0xFF, 0, b'a'], false),
            Some(Utf16::Be)
        );
        assert_eq!(utf16_encoding(&text, is_binary(&text)), Some(Utf16::Le));
        assert_eq!(
            utf16_encoding(&[0u8; 4096], true),
            None,
            "zeros are not text"
        );
        assert_eq!(
            utf16_encoding(b"plain ascii text, long enough", false),
            None
        );
        let mut noisy = text.clone();
        noisy.extend_from_slice(&[0xC3, 0x28, 0x00, 0x01, 0x02, 0x03].repeat(40));
        assert_eq!(utf16_encoding(&noisy, true), None, "mostly not ASCII units");
    }

    #[test]
    fn the_decoder_joins_units_and_surrogates_split_across_pushes() {
        let text = "a😀b\u{e9}";
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(utf16le(text));
        bytes.extend_from_slice(&[0x00, 0xD8]); // a lone high surrogate at the end
        for cut in 0..bytes.len() {
            let mut d = Decoder::new(Utf16::Le);
            let mut out = Vec::new();
            d.push(&bytes[..cut], &mut out);
            d.push(&bytes[cut..], &mut out);
            d.finish(&mut out);
            assert_eq!(
                String::from_utf8(out).unwrap(),
                format!("{text}\u{fffd}"),
                "cut {cut}"
            );
            assert_eq!(d.bom, 2);
        }
    }
}
