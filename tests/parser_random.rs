//! Randomised robustness of the exposition parsers: random bytes and mutated
//! valid bodies never panic, always terminate, and every error carries a
//! line number that exists in the input.

use promshard::model::ScratchBuilder;
use promshard::model::textparse::{Entry, Format, Parser};
use proptest::prelude::*;

const VALID_TEXT: &str = "# HELP http_requests_total Requests \\\\ with \\n escapes.\n\
# TYPE http_requests_total counter\n\
http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
{\"my.metric\", \"label.name\"=\"v\\\"q\"} +Inf\n\
job:rate5m{a=\"b\",} NaN\n\
# TYPE h histogram\n\
h_bucket{le=\"0.5\"} 3\n\
h_bucket{le=\"+Inf\"} 4 1\n\
\n\
# free comment\n";

const VALID_OPENMETRICS: &str = "# TYPE foo_seconds histogram\n\
# UNIT foo_seconds seconds\n\
# HELP foo_seconds Latency \\\"quoted\\\".\n\
foo_seconds_bucket{le=\"0.1\"} 8 # {trace_id=\"abc\"} 0.067 1520879607.789\n\
foo_seconds_bucket{le=\"+Inf\"} 17 1520879607.5\n\
foo_seconds_count 17\n\
foo_seconds_created 1520430000.123\n\
{\"a.b\",c=\"d\"} 1e3\n\
# EOF\n";

/// Drains a parser, exercising every accessor; returns the entry count.
fn drain(body: &[u8], format: Format) -> usize {
    let lines = body.iter().filter(|&&b| b == b'\n').count() + 1;
    let mut parser = Parser::new(body, format);
    let mut builder = ScratchBuilder::default();
    let mut entries = 0;
    // Every entry consumes at least one byte, so this bound is never hit by
    // a terminating parser; hitting it means an infinite loop.
    for _ in 0..=body.len() + 1 {
        match parser.next() {
            Ok(Some(entry)) => {
                entries += 1;
                if let Entry::Series { .. } = entry {
                    parser.series_labels(&mut builder);
                    let _ = builder.labels();
                    let _ = parser.exemplar();
                }
            }
            Ok(None) => return entries,
            Err(error) => {
                assert!(
                    (1..=lines).contains(&error.line),
                    "error line {} outside 1..={lines}: {error}",
                    error.line
                );
                assert_eq!(
                    parser.next(),
                    Ok(None),
                    "parser must stay ended after an error"
                );
                return entries;
            }
        }
    }
    panic!(
        "parser did not terminate on {:?}",
        String::from_utf8_lossy(body)
    );
}

fn format_strategy() -> impl Strategy<Value = Format> {
    prop_oneof![Just(Format::PrometheusText), Just(Format::OpenMetrics)]
}

/// Bytes that matter to the grammar, so random input reaches deep states.
fn grammar_byte() -> impl Strategy<Value = u8> {
    prop_oneof![
        4 => prop::sample::select(b"{}=,\"\\# \t\n.:_+-eEaN0123456789".to_vec()),
        1 => any::<u8>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, .. ProptestConfig::default() })]

    #[test]
    fn random_bytes_never_panic(body in prop::collection::vec(any::<u8>(), 0..256), format in format_strategy()) {
        drain(&body, format);
    }

    #[test]
    fn grammar_shaped_bytes_never_panic(body in prop::collection::vec(grammar_byte(), 0..256), format in format_strategy()) {
        drain(&body, format);
    }

    #[test]
    fn mutated_valid_bodies_never_panic(
        use_openmetrics in any::<bool>(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), 0u8..3, grammar_byte()), 1..8),
    ) {
        let (valid, format) = if use_openmetrics {
            (VALID_OPENMETRICS, Format::OpenMetrics)
        } else {
            (VALID_TEXT, Format::PrometheusText)
        };
        let mut body = valid.as_bytes().to_vec();
        for (index, kind, byte) in edits {
            let at = index.index(body.len() + 1);
            match kind {
                0 if at < body.len() => body[at] = byte,
                1 => body.insert(at, byte),
                _ if at < body.len() => { body.remove(at); }
                _ => body.push(byte),
            }
        }
        drain(&body, format);
    }

    #[test]
    fn truncated_valid_bodies_never_panic(cut in 0usize..400, use_openmetrics in any::<bool>()) {
        let (valid, format) = if use_openmetrics {
            (VALID_OPENMETRICS, Format::OpenMetrics)
        } else {
            (VALID_TEXT, Format::PrometheusText)
        };
        let body = &valid.as_bytes()[..cut.min(valid.len())];
        drain(body, format);
    }
}

#[test]
fn the_valid_seeds_parse_completely() {
    assert_eq!(drain(VALID_TEXT.as_bytes(), Format::PrometheusText), 9);
    assert_eq!(drain(VALID_OPENMETRICS.as_bytes(), Format::OpenMetrics), 8);
    let mut parser = Parser::new(VALID_OPENMETRICS.as_bytes(), Format::OpenMetrics);
    let mut entries = 0;
    while let Ok(Some(_)) = parser.next() {
        entries += 1;
    }
    assert_eq!(entries, 8, "the OpenMetrics seed must parse without error");
}
