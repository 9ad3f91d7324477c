//! Property tests of looking inside: encoded keys against the keys planted, and hostile
//! containers against the decoders.
//!
//! A random key, behind 0 to 2 random bytes (each byte alignment of base64), encoded as base64
//! (either alphabet, padded or not, wrapped at any width of whole 4-character groups from 16
//! columns, indented or not) or
//! hex (either case), between random text that holds no base64 of its own, scanned whole and as
//! a reader cut into random chunks: the key is found exactly once, at the encoded text's first
//! character. And bytes that start with each format's magic and go on at random (a damaged
//! archive, a stream cut anywhere) are scanned without a decoder panicking (the panic would be
//! contained, and said as "a decoder failed": that is what is checked) and in bounded time.

use base64::Engine as _;
use proptest::prelude::*;

use crate::finding::Origin;
use crate::matcher::Matcher;
use crate::scan::{Chunking, Scanner};
use crate::testkeys::{Rng, Trickle};

fn matcher() -> &'static Matcher {
    static M: std::sync::OnceLock<Matcher> = std::sync::OnceLock::new();
    M.get_or_init(|| Matcher::new(crate::rules::load(&[] as &[&str]).unwrap()))
}

/// Text around an encoding: words and punctuation that base64 cannot run into.
fn prose() -> impl Strategy<Value = String> {
    proptest::collection::vec(
        prop_oneof![
            Just(" ".to_string()),
            Just("\n".to_string()),
            Just(": ".to_string()),
            Just("\"".to_string()),
            Just("token=".to_string()),
            "[a-z]{1,8}".prop_map(|w| format!("{w} ")),
        ],
        0..12,
    )
    .prop_map(|v| v.concat())
}

#[derive(Debug, Clone)]
enum Encoding {
    Base64 {
        url: bool,
        pad: bool,
        wrap: Option<usize>,
        indent: bool,
    },
    Hex {
        upper: bool,
    },
}

fn encoding() -> impl Strategy<Value = Encoding> {
    prop_oneof![
        // Encoders wrap at a whole number of 4-character groups (76, 64).
        (
            any::<bool>(),
            any::<bool>(),
            proptest::option::of((4usize..23).prop_map(|n| 4 * n)),
            any::<bool>()
        )
            .prop_map(|(url, pad, wrap, indent)| Encoding::Base64 {
                url,
                pad,
                wrap,
                indent
            }),
        any::<bool>().prop_map(|upper| Encoding::Hex { upper }),
    ]
}

fn encode(e: &Encoding, bytes: &[u8]) -> String {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
    match *e {
        Encoding::Base64 {
            url,
            pad,
            wrap,
            indent,
        } => {
            let s = match (url, pad) {
                (false, true) => STANDARD.encode(bytes),
                (false, false) => STANDARD_NO_PAD.encode(bytes),
                (true, true) => URL_SAFE.encode(bytes),
                (true, false) => URL_SAFE_NO_PAD.encode(bytes),
            };
            let Some(w) = wrap else { return s };
            let sep = if indent { "\n    " } else { "\n" };
            s.as_bytes()
                .chunks(w)
                .map(|c| std::str::from_utf8(c).unwrap())
                .collect::<Vec<_>>()
                .join(sep)
        }
        Encoding::Hex { upper } => bytes.iter().fold(String::new(), |mut s, b| {
            use std::fmt::Write as _;
            let _ = if upper {
                write!(s, "{b:02X}")
            } else {
                write!(s, "{b:02x}")
            };
            s
        }),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn an_encoded_key_is_found_once_at_its_encoding(
        seed in any::<u64>(),
        lead in proptest::collection::vec(b' '..=b'~', 0..3),
        // After the key, bytes that end it (a letter or digit would lengthen it).
        tail in proptest::collection::vec(prop_oneof![Just(b' '), Just(b'"'), Just(b'\n'), Just(b';'), Just(b'}')], 0..6),
        e in encoding(),
        before in prose(),
        after in prose(),
        chunk in 1usize..300,
        step in 1usize..500,
    ) {
        let key = Rng::new(seed).live_key();
        let mut plain = lead.clone();
        plain.extend_from_slice(key.as_bytes());
        plain.extend_from_slice(&tail);
        let enc = encode(&e, &plain);
        let text = format!("{before}{enc}\n{after}");
        let start = before.len();
        let m = matcher();
        let mut whole = Vec::new();
        let mut s = Scanner::new(m, true);
        s.scan_bytes(text.as_bytes(), &Origin::Stdin, &mut whole);
        let keys: Vec<&str> = whole.iter().map(|h| h.secret.expose()).collect();
        prop_assert_eq!(&keys, &[key.as_str()], "in {:?}", text);
        let at = whole[0].location.offset as usize;
        prop_assert!(at >= start && at < start + enc.len(), "at {} in {:?}", at, text);
        prop_assert!(s.take_problems().is_empty());
        // As a reader in random chunks: the same key, the same place.
        let chunking = Chunking { chunk, overlap: 4096 };
        let mut read = Vec::new();
        Scanner::with_chunking(m, true, chunking)
            .scan_reader(Trickle(text.as_bytes(), step), &Origin::Stdin, &mut read)
            .unwrap();
        let got: Vec<(&str, u64)> = read.iter().map(|h| (h.secret.expose(), h.location.offset)).collect();
        prop_assert_eq!(got, vec![(key.as_str(), at as u64)]);
    }

    #[test]
    fn hostile_containers_never_make_a_decoder_fail(
        magic in 0usize..7,
        body in proptest::collection::vec(any::<u8>(), 0..3000),
    ) {
        let mut tar = vec![0u8; 512];
        tar[257..263].copy_from_slice(b"ustar\0");
        tar[0..4].copy_from_slice(b"a/.e");
        tar[124..135].copy_from_slice(b"00000001000");
        let magics: [&[u8]; 7] = [
            &[0x1f, 0x8b, 0x08, 0],
            b"BZh91AY&SY",
            &[0xfd, b'7', b'z', b'X', b'Z', 0],
            &[0x28, 0xb5, 0x2f, 0xfd],
            b"PK\x03\x04",
            &tar,
            b"PK\x03\x04\x14\x00\x00\x00\x08\x00",
        ];
        let mut data = magics[magic].to_vec();
        data.extend_from_slice(&body);
        let mut out = Vec::new();
        let mut s = Scanner::new(matcher(), false);
        s.scan_bytes(&data, &Origin::Stdin, &mut out);
        let _ = s.scan_reader(&data[..], &Origin::Stdin, &mut out);
        let problems = s.take_problems();
        prop_assert!(
            problems.iter().all(|p| !p.contains("a decoder failed")),
            "{:?}", problems
        );
    }
}
