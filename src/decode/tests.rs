//! Unit tests of payload decoding: the fixtures made by independent producers
//! (tests/fixtures/decode/make.py: Python's gzip, zlib and zstandard), detection, the owned view,
//! the tally, and properties (no input panics; what is compressed comes back).

use std::borrow::Cow;
use std::path::PathBuf;

use base64::Engine as _;
use bytes::Bytes;
use proptest::prelude::*;
use serde_json::Value;

use super::*;

fn fixture_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/decode")
}

fn fixture(name: &str) -> Vec<u8> {
    let path = fixture_dir().join(name);
    std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn b64(text: &str) -> Vec<u8> {
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .expect("fixture base64")
}

fn decoder(mode: Decode) -> Decoder {
    Decoder::new(Options::new(mode))
}

fn reason(name: &str) -> Reason {
    match name {
        "too_large" => Reason::TooLarge { limit: 0 },
        "truncated" => Reason::Truncated,
        "corrupt" => Reason::Corrupt,
        "trailing_data" => Reason::TrailingData,
        "needs_dictionary" => Reason::NeedsDictionary,
        "unrecognised" => Reason::Unrecognised,
        other => panic!("unknown reason {other} in cases.json"),
    }
}

/// Every case of cases.json: outcome, codec, reason and lines as Python worked them out.
#[test]
fn fixtures_decode_as_their_producers_meant() {
    let cases: Vec<Value> =
        serde_json::from_slice(&fixture("cases.json")).expect("cases.json is JSON");
    assert!(cases.len() >= 40, "cases.json has {} cases", cases.len());
    for case in &cases {
        let file = case["file"].as_str().expect("file");
        let mode: Decode = case["mode"].as_str().expect("mode").parse().expect("mode");
        let what = format!("{file} under {mode}: {}", case["note"]);
        let mut options = Options::new(mode);
        if let Some(cap) = case["max_decoded_size"].as_u64() {
            options.max_decoded_size = cap as usize;
        }
        let data = fixture(file);
        let mut decoder = Decoder::new(options);
        let decoded = decoder.decode(&data);
        let codec = case["codec"]
            .as_str()
            .map(|c| c.parse::<Codec>().expect("codec"));
        assert_eq!(decoded.codec(), codec, "{what}");
        let lines: Vec<&[u8]> = decoded.items().map(|item| item.line).collect();
        assert_eq!(lines.len(), decoded.len(), "{what}");
        match case["outcome"].as_str().expect("outcome") {
            "plain" => {
                assert!(matches!(decoded, Decoded::Plain(_)), "{what}: {decoded:?}");
                assert_eq!(lines, [&data[..]], "{what}");
            }
            "decompressed" => {
                assert!(
                    matches!(decoded, Decoded::Decompressed { .. }),
                    "{what}: {decoded:?}"
                );
                let expected: Vec<Vec<u8>> = match case["zeros"].as_u64() {
                    Some(n) => vec![vec![0; n as usize]],
                    None => case["lines"]
                        .as_array()
                        .expect("lines")
                        .iter()
                        .map(|l| b64(l.as_str().expect("line")))
                        .collect(),
                };
                assert_eq!(lines, expected, "{what}");
            }
            "logs" => {
                let Decoded::Logs { envelope, .. } = &decoded else {
                    panic!("{what}: {decoded:?}");
                };
                assert_eq!(envelope.owner, case["owner"].as_str().unwrap(), "{what}");
                assert_eq!(envelope.log_group, case["log_group"].as_str().unwrap());
                assert_eq!(envelope.log_stream, case["log_stream"].as_str().unwrap());
                let filters: Vec<&str> = case["subscription_filters"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|f| f.as_str().unwrap())
                    .collect();
                assert_eq!(envelope.subscription_filters, filters, "{what}");
                let events = case["events"].as_array().expect("events");
                assert_eq!(decoded.len(), events.len(), "{what}");
                for (item, want) in decoded.items().zip(events) {
                    let log = item.log.expect("a log event has its context");
                    assert_eq!(log.id(), want["id"].as_str().unwrap(), "{what}");
                    assert_eq!(log.timestamp_ms(), want["timestamp"].as_i64().unwrap());
                    assert_eq!(log.log_group(), envelope.log_group);
                    assert_eq!(
                        item.line,
                        b64(want["message"].as_str().unwrap()),
                        "{what}: {}",
                        String::from_utf8_lossy(item.line)
                    );
                }
            }
            "control" => {
                assert!(matches!(decoded, Decoded::Control { .. }), "{what}");
                assert!(lines.is_empty(), "{what}");
            }
            "failed" => {
                let failure = decoded
                    .failure()
                    .unwrap_or_else(|| panic!("{what}: {decoded:?}"));
                let want = reason(case["reason"].as_str().expect("reason"));
                match (failure.reason, want) {
                    (Reason::TooLarge { limit }, Reason::TooLarge { .. }) => {
                        assert_eq!(limit, options.max_decoded_size, "{what}")
                    }
                    (got, want) => assert_eq!(got, want, "{what}"),
                }
                assert_eq!(lines, [&data[..]], "{what}: passes through as stored");
            }
            other => panic!("unknown outcome {other}"),
        }
    }
}

#[test]
fn plain_records_are_borrowed_not_copied() {
    let line = br#"{"level":"info","msg":"hello"}"#;
    for mode in [Decode::Auto, Decode::None] {
        let mut d = decoder(mode);
        let decoded = d.decode(line);
        let Decoded::Plain(out) = decoded else {
            panic!("{mode}: {decoded:?}");
        };
        assert_eq!(out.as_ptr(), line.as_ptr(), "{mode}");
        assert_eq!(out.len(), line.len());
    }
    // Under none, even compressed data stays as stored.
    let gz = fixture("text.gz");
    assert_eq!(decoder(Decode::None).decode(&gz), Decoded::Plain(&gz));
}

#[test]
fn detect_knows_each_magic() {
    assert_eq!(detect(&fixture("text.gz")), Some(Codec::Gzip));
    assert_eq!(detect(&fixture("text.zlib")), Some(Codec::Zlib));
    assert_eq!(detect(&fixture("text_level1.zlib")), Some(Codec::Zlib));
    assert_eq!(detect(&fixture("cwl_data.zlib")), Some(Codec::Zlib));
    assert_eq!(detect(&fixture("text_window9.zlib")), Some(Codec::Zlib));
    assert_eq!(detect(&fixture("text.zst")), Some(Codec::Zstd));
    assert_eq!(detect(b""), None);
    assert_eq!(detect(b"\x1f"), None);
    assert_eq!(detect(b"\x1f\x8b"), Some(Codec::Gzip), "the magic alone");
    assert_eq!(detect(b"\x28\xb5\x2f"), None);
    assert_eq!(detect(b"hello"), None);
    assert_eq!(detect(b"{\"a\":1}"), None);
}

#[test]
fn zlib_detection_turns_away_what_cannot_be_zlib() {
    // Valid headers need a third byte (the first deflate block) to be taken for zlib.
    assert_eq!(detect(b"\x78\x9c"), None);
    assert_eq!(detect(b"\x78\x9c\x03\x00"), Some(Codec::Zlib));
    // Reserved block type 3 in the third byte.
    assert_eq!(detect(b"\x78\x9c\x06"), None);
    // FCHECK wrong; CM not 8; CINFO 8 (a 64 KiB window is not allowed).
    assert_eq!(detect(b"\x78\x9d\x03"), None);
    assert_eq!(detect(b"\x77\x9c\x03"), None);
    assert_eq!(detect(b"\x88\x1c\x03"), None);
    // FDICT: a preset dictionary ktail cannot have.
    assert_eq!(detect(b"\x78\xbb\x03"), None);
    assert!(
        Codec::Zlib.opens(b"\x78\xbb"),
        "an explicit zlib still tries it"
    );
    // Of the printable pairs that pass the header check, those with FDICT set stay plain...
    for text in ["x ", "x?", "x}", "80", "(4", "Hj", "X(", "h$"] {
        let line = format!("{text}abc");
        assert_eq!(detect(line.as_bytes()), None, "{line:?}");
    }
    // ...and the six without it are taken for zlib when the third byte allows: the documented
    // false alarm, which then passes through as stored with a reason.
    for text in ["(S", "8O", "HK", "XG", "hC", "x^"] {
        let line = format!("{text} is text");
        assert_eq!(detect(line.as_bytes()), Some(Codec::Zlib), "{line:?}");
        let mut d = decoder(Decode::Auto);
        let decoded = d.decode(line.as_bytes());
        assert_eq!(decoded.items().next().unwrap().line, line.as_bytes());
        assert!(decoded.failure().is_some(), "{line:?}: {decoded:?}");
    }
}

#[test]
fn modes_and_codecs_parse_and_print_their_names() {
    for mode in Decode::ALL {
        assert_eq!(mode.name().parse::<Decode>(), Ok(mode));
        assert_eq!(mode.to_string(), mode.name());
    }
    assert_eq!(Decode::default(), Decode::Auto);
    assert_eq!(
        "gz".parse::<Decode>().unwrap_err().to_string(),
        r#"unknown decode mode "gz" (expected auto, none, gzip, zlib or zstd)"#
    );
    for codec in Codec::ALL {
        assert_eq!(codec.name().parse::<Codec>(), Ok(codec));
    }
    assert!("none".parse::<Codec>().is_err());
    assert_eq!(Options::default().max_decoded_size, 64 * 1024 * 1024);
}

#[test]
fn failures_explain_themselves() {
    let cases = [
        (
            Codec::Gzip,
            Reason::TooLarge { limit: 64 << 20 },
            "gzip data larger than 64 MiB decompressed",
        ),
        (
            Codec::Zstd,
            Reason::TooLarge { limit: 1000 },
            "zstd data larger than 1000 bytes decompressed",
        ),
        (
            Codec::Zlib,
            Reason::TooLarge { limit: 1536 << 10 },
            "zlib data larger than 1536 KiB decompressed",
        ),
        (Codec::Zlib, Reason::Truncated, "truncated zlib data"),
        (Codec::Gzip, Reason::Corrupt, "corrupt gzip data"),
        (
            Codec::Zlib,
            Reason::TrailingData,
            "zlib data followed by other bytes",
        ),
        (
            Codec::Zstd,
            Reason::NeedsDictionary,
            "zstd data that needs a preset dictionary",
        ),
        (Codec::Gzip, Reason::Unrecognised, "not gzip data"),
    ];
    for (codec, reason, text) in cases {
        assert_eq!(Failure { codec, reason }.to_string(), text);
    }
}

#[test]
fn the_default_cap_stops_a_bomb_with_a_small_buffer() {
    for name in ["bomb.gz", "bomb.zst", "bomb_undeclared.zst"] {
        let data = fixture(name);
        let mut d = decoder(Decode::Auto);
        let decoded = d.decode(&data);
        assert_eq!(
            decoded.failure().map(|f| f.reason),
            Some(Reason::TooLarge {
                limit: DEFAULT_MAX_DECODED_SIZE
            }),
            "{name}"
        );
        // The buffer never grew far past the cap (a declared size is turned away at once).
        assert!(
            d.buffer.capacity() <= DEFAULT_MAX_DECODED_SIZE + (1 << 20),
            "{name}"
        );
        // The next record does not keep the bomb's memory.
        let text = fixture("text.gz");
        assert!(matches!(d.decode(&text), Decoded::Decompressed { .. }));
        assert!(d.buffer.capacity() <= RETAINED_BUFFER, "{name}");
    }
}

#[test]
fn a_small_cap_applies_to_every_codec() {
    let data = vec![b'a'; 10_000];
    for codec in Codec::ALL {
        let compressed = compress(codec, &data).unwrap();
        for (cap, fits) in [(10_000, true), (9_999, false), (0, false)] {
            let mut d = Decoder::new(Options {
                mode: Decode::Auto,
                max_decoded_size: cap,
            });
            let decoded = d.decode(&compressed);
            if fits {
                assert_eq!(decoded.items().next().unwrap().line, &data[..], "{codec}");
            } else {
                assert_eq!(
                    decoded.failure(),
                    Some(Failure {
                        codec,
                        reason: Reason::TooLarge { limit: cap }
                    }),
                    "{codec} cap {cap}"
                );
            }
        }
    }
    // An empty stream fits a zero cap.
    let empty = compress(Codec::Gzip, b"").unwrap();
    let mut d = Decoder::new(Options {
        mode: Decode::Auto,
        max_decoded_size: 0,
    });
    assert_eq!(
        d.decode(&empty),
        Decoded::Decompressed {
            codec: Codec::Gzip,
            data: b""
        }
    );
}

#[test]
fn one_decoder_decodes_records_of_every_kind_in_turn() {
    let mut d = decoder(Decode::Auto);
    let names = [
        "cwl_data.gz",
        "text.zst",
        "truncated.zlib",
        "text.zlib",
        "cwl_control.gz",
        "corrupt_checksum.zst",
        "cwl_data.zst",
        "text.txt",
        "truncated.gz",
        "multi_member.gz",
    ];
    let mut first = Vec::new();
    for name in names {
        let data = fixture(name);
        first.push(format!("{:?}", d.decode(&data)));
    }
    // The same again, in reverse, with the engines' state left over from the others.
    for (name, want) in names.iter().zip(&first).rev() {
        let data = fixture(name);
        assert_eq!(&format!("{:?}", d.decode(&data)), want, "{name}");
    }
}

#[test]
fn tally_counts_and_words_the_warning() {
    let mut d = decoder(Decode::Auto);
    let mut tally = Tally::new();
    for name in [
        "cwl_data.gz",
        "cwl_control.gz",
        "text.txt",
        "text.zst",
        "corrupt_crc.gz",
        "corrupt_body.gz",
        "truncated.zlib",
        "bomb.gz",
    ] {
        tally.add(&d.decode(&fixture(name)));
    }
    assert_eq!(tally.records, 8);
    assert_eq!(tally.plain, 1);
    assert_eq!(tally.decompressed, 3);
    assert_eq!((tally.envelopes, tally.log_events), (1, 3));
    assert_eq!(tally.control_messages, 1);
    assert_eq!(tally.failed(), 4);
    assert_eq!(
        tally.warning().as_deref(),
        Some(
            "4 records could not be decoded and were passed through as stored: 2 corrupt gzip \
             data, 1 truncated zlib data, 1 gzip data larger than 64 MiB decompressed"
        )
    );
    let mut total = Tally::new();
    assert_eq!(total.warning(), None);
    total.merge(&tally);
    total.merge(&tally);
    assert_eq!(total.records, 16);
    assert_eq!(
        total.failures().next(),
        Some((
            Failure {
                codec: Codec::Gzip,
                reason: Reason::Corrupt
            },
            4
        ))
    );
    let mut one = Tally::new();
    one.add(&d.decode(&fixture("truncated.zst")));
    assert_eq!(
        one.warning().as_deref(),
        Some(
            "1 record could not be decoded and was passed through as stored: 1 truncated zstd data"
        )
    );
}

#[test]
fn owned_items_share_the_stored_record_and_the_decompressed_buffer() {
    let mut d = decoder(Decode::Auto);

    let stored = Bytes::from_static(b"plain line");
    let decoded = d.decode(&stored);
    let owned: Vec<OwnedItem> = decoded.owned_items(&stored).collect();
    assert_eq!(owned.len(), 1);
    assert_eq!(owned[0].line.as_ptr(), stored.as_ptr(), "no copy");
    assert_eq!(owned[0].log, None);

    let stored = Bytes::from(fixture("corrupt_crc.gz"));
    let decoded = d.decode(&stored);
    let owned: Vec<OwnedItem> = decoded.owned_items(&stored).collect();
    assert_eq!(owned[0].line.as_ptr(), stored.as_ptr(), "failed: as stored");

    // Given some other buffer with the same bytes, still right (copied).
    let other = Bytes::from_static(b"plain line");
    let decoded = d.decode(b"plain line");
    let owned: Vec<OwnedItem> = decoded.owned_items(&other).collect();
    assert_eq!(&owned[0].line[..], b"plain line");

    let stored = Bytes::from(fixture("cwl_data.gz"));
    let decoded = d.decode(&stored);
    let borrowed: Vec<Item<'_>> = decoded.items().collect();
    let owned: Vec<OwnedItem> = decoded.owned_items(&stored).collect();
    assert_eq!(owned.len(), 3);
    for (o, b) in owned.iter().zip(&borrowed) {
        assert_eq!(&o.line[..], b.line);
        let meta = o.log.as_ref().unwrap();
        let context = b.log.unwrap();
        assert_eq!(&*meta.id, context.id());
        assert_eq!(meta.timestamp_ms, context.timestamp_ms());
        assert_eq!(&*meta.source.log_group, "CloudTrail/logs");
        assert_eq!(&*meta.source.log_stream, context.log_stream());
        assert_eq!(&*meta.source.owner, "111111111111");
        assert_eq!(&meta.source.subscription_filters[..], ["RecipientStream"]);
    }
    assert!(
        std::sync::Arc::ptr_eq(
            &owned[0].log.as_ref().unwrap().source,
            &owned[2].log.as_ref().unwrap().source
        ),
        "one LogSource per envelope"
    );
    // The third message has no escapes: it is a slice of the same copy as... itself only; the
    // first two have escaped quotes and were unescaped into their own buffers.
    let Decoded::Logs { envelope, .. } = &decoded else {
        panic!()
    };
    assert!(matches!(envelope.log_events[0].message, Cow::Owned(_)));
    assert!(matches!(envelope.log_events[2].message, Cow::Borrowed(_)));

    let control = fixture("cwl_control.gz");
    assert_eq!(d.decode(&control).owned_items(&Bytes::new()).count(), 0);
}

#[test]
fn envelopes_serialize_back_to_the_same_json() {
    let data = fixture("cwl_data.json");
    let envelope: LogsEnvelope<'_> = serde_json::from_slice(&data).unwrap();
    assert_eq!(envelope.to_json(), data, "same fields, same order, compact");
    // Cut down to matching events, as the grep function forwards them.
    let mut kept = envelope.clone();
    kept.log_events.retain(|e| e.message.starts_with(b"plain"));
    let json = kept.to_json();
    let compressed = compress(Codec::Gzip, &json).unwrap();
    let mut d = decoder(Decode::Auto);
    let decoded = d.decode(&compressed);
    let lines: Vec<&[u8]> = decoded.items().map(|i| i.line).collect();
    assert_eq!(lines, ["plain text line, no escapes: ünïcödé ✓".as_bytes()]);
    // Messages that are not UTF-8 come out with U+FFFD, still valid JSON.
    let mut d = decoder(Decode::Auto);
    let raw = fixture("cwl_non_utf8.gz");
    let Decoded::Logs { envelope, .. } = d.decode(&raw) else {
        panic!()
    };
    let json = envelope.to_json();
    let back: Value = serde_json::from_slice(&json).unwrap();
    assert_eq!(
        back["logEvents"][0]["message"],
        "latin-1 caf\u{fffd} and \u{fffd}\u{fffd}"
    );
}

#[test]
fn json_that_is_not_an_envelope_is_one_line() {
    let cases: [&[u8]; 7] = [
        br#"{"messageType":"DATA_MESSAGE","logGroup":"g","logStream":"s"}"#,
        br#"{"messageType":"DATA_MESSAGE","logGroup":"g","logStream":"s","logEvents":[{"id":"1","timestamp":"1","message":"m"}]}"#,
        br#"{"messageType":"DATA_MESSAGE","logGroup":"g","logStream":"s","logEvents":[]} trailing"#,
        br#"{"messageType":"DATA_MESSAGE","logGroup":1,"logStream":"s","logEvents":[]}"#,
        br#"[{"messageType":"DATA_MESSAGE"}]"#,
        b"  \n",
        b"{",
    ];
    for json in cases {
        let compressed = compress(Codec::Zlib, json).unwrap();
        let mut d = decoder(Decode::Auto);
        let decoded = d.decode(&compressed);
        assert!(
            matches!(decoded, Decoded::Decompressed { data, .. } if data == json),
            "{}: {decoded:?}",
            String::from_utf8_lossy(json)
        );
    }
    // Minimal envelope: owner and subscriptionFilters may be missing; whitespace is fine.
    let minimal = b"\n {\"messageType\":\"DATA_MESSAGE\",\"logGroup\":\"g\",\"logStream\":\"s\",\"logEvents\":[]}\n";
    let compressed = compress(Codec::Zstd, minimal).unwrap();
    let mut d = decoder(Decode::Auto);
    let decoded = d.decode(&compressed);
    assert!(matches!(&decoded, Decoded::Logs { envelope, .. } if envelope.owner.is_empty()));
    assert!(decoded.is_empty(), "no events, no lines");
}

/// A CloudWatch Logs event as the property tests make them.
fn arb_event() -> impl Strategy<Value = (String, i64, String)> {
    ("[0-9]{0,56}", any::<i64>(), any::<String>())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// No input panics, in any mode, and the lines agree with what the outcome says.
    #[test]
    fn arbitrary_bytes_never_panic(data in proptest::collection::vec(any::<u8>(), 0..512)) {
        for mode in Decode::ALL {
            let mut d = Decoder::new(Options { mode, max_decoded_size: 1 << 16 });
            let decoded = d.decode(&data);
            let lines: Vec<_> = decoded.items().collect();
            prop_assert_eq!(lines.len(), decoded.len());
            if decoded.is_stored() {
                prop_assert_eq!(lines[0].line, &data[..]);
            }
            let _ = decoded.owned_items(&Bytes::new()).count();
        }
    }

    /// The same, for bytes behind each magic: into the decoders' own parsers.
    #[test]
    fn arbitrary_bytes_behind_a_magic_never_panic(
        which in 0usize..4,
        rest in proptest::collection::vec(any::<u8>(), 0..512),
    ) {
        let magic: &[u8] = [&GZIP_MAGIC[..], &ZSTD_MAGIC[..], b"\x78\x9c", b"\x78\x01"][which];
        let data = [magic, &rest[..]].concat();
        for mode in Decode::ALL {
            let mut d = Decoder::new(Options { mode, max_decoded_size: 1 << 16 });
            let decoded = d.decode(&data);
            prop_assert_eq!(decoded.items().count(), decoded.len());
        }
    }

    /// Valid fixtures with a few bytes changed or cut: never a panic, never a lost record.
    #[test]
    fn damaged_fixtures_never_panic(
        which in 0usize..7,
        flips in proptest::collection::vec((any::<proptest::sample::Index>(), any::<u8>()), 1..4),
        cut in proptest::option::of(any::<proptest::sample::Index>()),
    ) {
        let name = ["cwl_data.gz", "cwl_data.zlib", "cwl_data.zst", "lines.zst", "named.gz",
                    "frames.zst", "cwl_control.gz"][which];
        let mut data = fixture(name);
        for (at, byte) in flips {
            let i = at.index(data.len());
            data[i] ^= byte;
        }
        if let Some(cut) = cut {
            data.truncate(cut.index(data.len()));
        }
        let mut d = decoder(Decode::Auto);
        let decoded = d.decode(&data);
        let lines: Vec<_> = decoded.items().collect();
        prop_assert_eq!(lines.len(), decoded.len());
        if let Decoded::Failed { data: stored, .. } = decoded {
            prop_assert_eq!(stored, &data[..]);
        }
    }

    /// What ktail compresses, any codec, comes back byte for byte.
    #[test]
    fn compressed_data_round_trips(
        data in proptest::collection::vec(any::<u8>(), 0..4096),
        codec in proptest::sample::select(Codec::ALL.to_vec()),
    ) {
        let compressed = compress(codec, &data).unwrap();
        for mode in [Decode::Auto, Decode::ALL[2 + Codec::ALL.iter().position(|c| *c == codec).unwrap()]] {
            let mut d = decoder(mode);
            let decoded = d.decode(&compressed);
            prop_assert_eq!(decoded.codec(), Some(codec));
            prop_assert_eq!(decoded.failure(), None);
            // Data that happens to be an envelope is fine too; anything else is the one line.
            if let Decoded::Decompressed { data: out, .. } = decoded {
                prop_assert_eq!(out, &data[..]);
            }
        }
    }

    /// Envelopes with arbitrary messages (escapes, any Unicode) give those messages back.
    #[test]
    fn envelopes_give_back_every_message(
        events in proptest::collection::vec(arb_event(), 0..20),
        group in "[ -~]{0,40}",
        codec in proptest::sample::select(Codec::ALL.to_vec()),
    ) {
        let json = serde_json::json!({
            "owner": "123456789012",
            "logGroup": group,
            "logStream": "s",
            "subscriptionFilters": ["f"],
            "messageType": "DATA_MESSAGE",
            "logEvents": events.iter().map(|(id, ts, m)| serde_json::json!({
                "id": id, "timestamp": ts, "message": m,
            })).collect::<Vec<_>>(),
        });
        let compressed = compress(codec, &serde_json::to_vec(&json).unwrap()).unwrap();
        let mut d = decoder(Decode::Auto);
        let decoded = d.decode(&compressed);
        prop_assert_eq!(decoded.len(), events.len());
        for (item, (id, ts, message)) in decoded.items().zip(&events) {
            prop_assert_eq!(item.line, message.as_bytes());
            let log = item.log.unwrap();
            prop_assert_eq!(log.id(), id.as_str());
            prop_assert_eq!(log.timestamp_ms(), *ts);
            prop_assert_eq!(log.log_group(), group.as_str());
        }
    }
}

/// `(stored, lines)` of each call [`Decoder::decode_each`] makes for `data`.
fn each_of(d: &mut Decoder, data: &[u8], tally: &mut Tally) -> Vec<(Vec<u8>, Vec<Vec<u8>>)> {
    let mut calls = Vec::new();
    d.decode_each(&Bytes::copy_from_slice(data), tally, |stored, decoded| {
        let lines = decoded.items().map(|i| i.line.to_vec()).collect();
        calls.push((stored.to_vec(), lines));
    });
    calls
}

fn aggregate_of(users: &[&[u8]]) -> Vec<u8> {
    let mut agg = crate::kpl::Aggregator::new();
    for user in users {
        assert!(agg.add(user, "pk", None).is_none());
    }
    agg.flush().expect("an aggregate").data
}

#[test]
fn decode_each_hands_over_a_record_that_is_not_a_compressed_aggregate_as_it_is() {
    let mut d = decoder(Decode::Auto);
    let mut tally = Tally::new();
    for name in ["text.txt", "text.gz", "cwl_data.zst", "corrupt_crc.gz"] {
        let data = fixture(name);
        let calls = each_of(&mut d, &data, &mut tally);
        let want: Vec<Vec<u8>> = d.decode(&data).items().map(|i| i.line.to_vec()).collect();
        assert_eq!(calls, vec![(data, want)], "{name}");
    }
    assert!(
        each_of(&mut d, &fixture("cwl_control.gz"), &mut tally)[0]
            .1
            .is_empty()
    );
    assert_eq!((tally.records, tally.log_events), (5, 3));
}

#[test]
fn decode_each_opens_a_compressed_aggregate_and_decodes_its_records() {
    let text = fixture("text.gz");
    let envelope = fixture("cwl_data.gz");
    let users: [&[u8]; 3] = [b"inner plain line", &text, &envelope];
    let aggregate = aggregate_of(&users);
    for codec in [Codec::Gzip, Codec::Zlib, Codec::Zstd] {
        let compressed = compress(codec, &aggregate).unwrap();
        for mode in [Decode::Auto, Decode::None] {
            let mut d = decoder(mode);
            let mut tally = Tally::new();
            let calls = each_of(&mut d, &compressed, &mut tally);
            if mode == Decode::None {
                assert_eq!(calls, vec![(compressed.clone(), vec![compressed.clone()])]);
                continue;
            }
            let stored: Vec<&[u8]> = calls.iter().map(|(s, _)| s.as_slice()).collect();
            assert_eq!(
                stored, users,
                "{codec}: each record of the aggregate as stored"
            );
            assert_eq!(calls[0].1, vec![b"inner plain line".to_vec()]);
            assert_eq!(calls[1].1, vec![fixture("text.txt")]);
            assert_eq!(calls[2].1.len(), 3, "{codec}: the envelope's events");
            // The aggregate, then its three records (one plain, two decompressed).
            assert_eq!(
                (
                    tally.records,
                    tally.plain,
                    tally.decompressed,
                    tally.envelopes
                ),
                (4, 1, 3, 1),
                "{codec}"
            );
        }
    }
    // Forcing the aggregate's codec forces it on its records too: the plain one fails (and
    // passes through as stored), as any plain record does under an explicit codec.
    let mut d = decoder(Decode::Gzip);
    let mut tally = Tally::new();
    let calls = each_of(
        &mut d,
        &compress(Codec::Gzip, &aggregate).unwrap(),
        &mut tally,
    );
    assert_eq!(calls.len(), 3);
    assert_eq!(calls[0].1, vec![b"inner plain line".to_vec()]);
    assert_eq!(calls[1].1, vec![fixture("text.txt")]);
    assert_eq!(tally.failed(), 1);
}

#[test]
fn decode_each_opens_one_level_only_and_keeps_what_only_looks_aggregated() {
    let inner = compress(Codec::Gzip, &aggregate_of(&[b"deep a", b"deep b"])).unwrap();
    let outer = compress(Codec::Zstd, &aggregate_of(&[b"top", &inner])).unwrap();
    let mut d = decoder(Decode::Auto);
    let mut tally = Tally::new();
    let calls = each_of(&mut d, &outer, &mut tally);
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[1].0, inner);
    let line = &calls[1].1[0];
    assert!(
        line.starts_with(&crate::kpl::MAGIC),
        "the inner aggregate is its own line"
    );

    // The magic and length of an aggregate, but a bad digest: the decompressed bytes, once.
    let mut fake = aggregate_of(&[b"x", b"y"]);
    let last = fake.len() - 1;
    fake[last] ^= 0xff;
    let compressed = compress(Codec::Gzip, &fake).unwrap();
    let mut tally = Tally::new();
    let calls = each_of(&mut d, &compressed, &mut tally);
    assert_eq!(calls, vec![(compressed, vec![fake])]);
    assert_eq!(
        (tally.records, tally.decompressed, tally.failed()),
        (1, 1, 0)
    );
}

#[test]
fn exact_json_keeps_messages_that_are_not_utf8_byte_for_byte() {
    let mut d = decoder(Decode::Auto);
    let raw = fixture("cwl_non_utf8.gz");
    let Decoded::Logs { envelope, .. } = d.decode(&raw) else {
        panic!("cwl_non_utf8.gz is an envelope")
    };
    let want: Vec<Vec<u8>> = envelope
        .log_events
        .iter()
        .map(|e| e.message.to_vec())
        .collect();
    assert!(std::str::from_utf8(&want[0]).is_err() && std::str::from_utf8(&want[1]).is_err());
    // Read back as the tail side reads a forwarded envelope: the same bytes, the same fields.
    let mut d = decoder(Decode::Auto);
    for keep in [0..2, 0..1, 1..2] {
        let mut kept = envelope.clone();
        kept.log_events = envelope.log_events[keep.clone()].to_vec();
        let json = kept.to_json_exact();
        let compressed = compress(Codec::Gzip, &json).unwrap();
        let Decoded::Logs { envelope: back, .. } = d.decode(&compressed) else {
            panic!("still an envelope: {}", String::from_utf8_lossy(&json))
        };
        assert_eq!(back, kept);
        let messages: Vec<Vec<u8>> = back.log_events.iter().map(|e| e.message.to_vec()).collect();
        assert_eq!(messages, want[keep]);
    }
    // All UTF-8: exactly what to_json writes, valid JSON.
    let data = fixture("cwl_data.json");
    let envelope: LogsEnvelope<'_> = serde_json::from_slice(&data).unwrap();
    assert_eq!(envelope.to_json_exact(), data);
    let mut escapes = envelope.clone();
    escapes.log_events[0].message = Cow::Borrowed(b"quote \" backslash \\ tab \t nl \n \xff end");
    escapes.subscription_filters = vec!["a\"b".into(), "c".into()];
    let json = escapes.to_json_exact();
    let compressed = compress(Codec::Zstd, &json).unwrap();
    let Decoded::Logs { envelope: back, .. } = d.decode(&compressed) else {
        panic!("still an envelope: {}", String::from_utf8_lossy(&json))
    };
    assert_eq!(back, escapes);
}
