//! Unit tests of the parsers: every construct of both formats, malformed
//! input with its line numbers, and Prometheus's own test data.

use super::float::NORMAL_NAN_BITS;
use super::*;
use crate::model::labels::ScratchBuilder;

/// An owned, comparable form of one parsed entry.
#[derive(Debug, PartialEq)]
enum Parsed {
    Type(String, MetricType),
    Help(String, String),
    Unit(String, String),
    Comment,
    Series {
        raw: String,
        labels: Labels,
        timestamp_ms: Option<i64>,
        value_bits: u64,
        exemplar: Option<Exemplar>,
    },
}

fn series(
    labels: &[(&str, &str)],
    value: f64,
    timestamp_ms: Option<i64>,
) -> (Labels, u64, Option<i64>) {
    (Labels::from_pairs(labels), value.to_bits(), timestamp_ms)
}

fn parse_with(parser: &mut Parser<'_>) -> Result<Vec<Parsed>, ParseError> {
    let mut builder = ScratchBuilder::default();
    let mut parsed = Vec::new();
    while let Some(entry) = parser.next()? {
        parsed.push(match entry {
            Entry::Type {
                family,
                metric_type,
            } => Parsed::Type(family.to_string(), metric_type),
            Entry::Help { family, help } => Parsed::Help(family.to_string(), help.into_owned()),
            Entry::Unit { family, unit } => Parsed::Unit(family.to_string(), unit.to_string()),
            Entry::Comment => Parsed::Comment,
            Entry::Series {
                series,
                timestamp_ms,
                value,
            } => {
                parser.series_labels(&mut builder);
                Parsed::Series {
                    raw: String::from_utf8_lossy(series).into_owned(),
                    labels: builder.labels(),
                    timestamp_ms,
                    value_bits: value.to_bits(),
                    exemplar: parser.exemplar(),
                }
            }
        });
    }
    Ok(parsed)
}

fn parse(body: &str, format: Format) -> Result<Vec<Parsed>, ParseError> {
    parse_with(&mut Parser::new(body.as_bytes(), format))
}

/// The (labels, value bits, timestamp) of every series in `body`.
fn samples(body: &str, format: Format) -> Vec<(Labels, u64, Option<i64>)> {
    let parsed = match parse(body, format) {
        Ok(parsed) => parsed,
        Err(error) => panic!("{body:?} failed: {error}"),
    };
    parsed
        .into_iter()
        .filter_map(|entry| match entry {
            Parsed::Series {
                labels,
                value_bits,
                timestamp_ms,
                ..
            } => Some((labels, value_bits, timestamp_ms)),
            _ => None,
        })
        .collect()
}

fn error_of(body: &str, format: Format) -> ParseError {
    match parse(body, format) {
        Ok(parsed) => panic!("{body:?} parsed but should fail: {parsed:?}"),
        Err(error) => error,
    }
}

const TEXT: Format = Format::PrometheusText;
const OM: Format = Format::OpenMetrics;

#[test]
fn content_type_negotiation() {
    let cases = [
        (
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
            OM,
        ),
        ("application/openmetrics-text", OM),
        ("Application/OpenMetrics-Text;version=0.0.1", OM),
        ("text/plain; version=0.0.4; charset=utf-8", TEXT),
        ("text/plain", TEXT),
        ("", TEXT),
        ("garbage;;;", TEXT),
    ];
    for (content_type, expected) in cases {
        assert_eq!(
            Format::from_content_type(content_type),
            expected,
            "{content_type}"
        );
    }
    for format in [TEXT, OM] {
        assert_eq!(Format::from_content_type(format.content_type()), format);
    }
}

#[test]
fn text_format_metadata_series_and_timestamps() {
    let body = "# HELP http_requests_total The total number of HTTP requests.\n\
                # TYPE http_requests_total counter\n\
                http_requests_total{method=\"post\",code=\"200\"} 1027 1395066363000\n\
                http_requests_total{method=\"post\",code=\"400\"}    3   1395066363000\n\
                \n\
                # A free comment\n\
                #no-space comment\n\
                metric_without_timestamp_and_labels 12.47\n";
    let parsed = match parse(body, TEXT) {
        Ok(parsed) => parsed,
        Err(error) => panic!("{error}"),
    };
    assert_eq!(
        parsed[0],
        Parsed::Help(
            "http_requests_total".into(),
            "The total number of HTTP requests.".into()
        )
    );
    assert_eq!(
        parsed[1],
        Parsed::Type("http_requests_total".into(), MetricType::Counter)
    );
    assert_eq!(parsed[4], Parsed::Comment);
    assert_eq!(parsed[5], Parsed::Comment);
    assert_eq!(
        samples(body, TEXT),
        vec![
            series(
                &[
                    ("__name__", "http_requests_total"),
                    ("method", "post"),
                    ("code", "200")
                ],
                1027.0,
                Some(1395066363000)
            ),
            series(
                &[
                    ("__name__", "http_requests_total"),
                    ("method", "post"),
                    ("code", "400")
                ],
                3.0,
                Some(1395066363000)
            ),
            series(
                &[("__name__", "metric_without_timestamp_and_labels")],
                12.47,
                None
            ),
        ]
    );
}

#[test]
fn text_format_whitespace_rules() {
    // Leading blanks, blanks inside braces, tabs, trailing blanks, a
    // missing final line break, and blank lines are all accepted.
    let body = "  \t\n  a{ x = \"1\" , y=\"2\" ,}\t2 \t\n\nb 3 100   \n\t\nc{} 4";
    assert_eq!(
        samples(body, TEXT),
        vec![
            series(&[("__name__", "a"), ("x", "1"), ("y", "2")], 2.0, None),
            series(&[("__name__", "b")], 3.0, Some(100)),
            series(&[("__name__", "c")], 4.0, None),
        ]
    );
}

#[test]
fn series_bytes_are_the_name_and_labels_as_written() {
    let body = "a{x=\"1\"} 1 5\nb 2\n{\"c.d\"} 3\n";
    let raws: Vec<String> = match parse(body, TEXT) {
        Ok(parsed) => parsed
            .into_iter()
            .filter_map(|p| match p {
                Parsed::Series { raw, .. } => Some(raw),
                _ => None,
            })
            .collect(),
        Err(error) => panic!("{error}"),
    };
    assert_eq!(raws, vec!["a{x=\"1\"}", "b", "{\"c.d\"}"]);
}

#[test]
fn colons_in_metric_names() {
    let body = "job:http_requests:rate5m{job=\"api\"} 0.5\n:leading_colon 1\n";
    assert_eq!(
        samples(body, TEXT),
        vec![
            series(
                &[("__name__", "job:http_requests:rate5m"), ("job", "api")],
                0.5,
                None
            ),
            series(&[("__name__", ":leading_colon")], 1.0, None),
        ]
    );
}

#[test]
fn escapes_in_label_values_and_help() {
    let body = "# HELP m A \\\\ backslash, a \\n newline, a \\\" quote kept.\n\
                m{path=\"C:\\\\dir\",msg=\"say \\\"hi\\\"\\nbye\",tab=\"a\\tb\"} 1\n";
    let parsed = match parse(body, TEXT) {
        Ok(parsed) => parsed,
        Err(error) => panic!("{error}"),
    };
    // The text format's HELP keeps `\"` as written.
    assert_eq!(
        parsed[0],
        Parsed::Help(
            "m".into(),
            "A \\ backslash, a \n newline, a \\\" quote kept.".into()
        )
    );
    assert_eq!(
        samples(body, TEXT),
        vec![series(
            &[
                ("__name__", "m"),
                ("path", "C:\\dir"),
                ("msg", "say \"hi\"\nbye"),
                ("tab", "a\\tb")
            ],
            1.0,
            None
        )]
    );
    // OpenMetrics HELP also unescapes `\"`.
    let om = "# HELP m say \\\"hi\\\"\n# EOF\n";
    assert_eq!(
        parse(om, OM).ok(),
        Some(vec![Parsed::Help("m".into(), "say \"hi\"".into())])
    );
}

#[test]
fn quoted_utf8_metric_and_label_names() {
    let body = "# HELP \"my.metric\" Dots in the name.\n\
                # TYPE \"my.metric\" gauge\n\
                {\"my.metric\", \"label.name\"=\"v\", plain=\"p\"} 1\n\
                {\"label.first\"=\"x\", \"my.metric\"} 2\n\
                {\"ünïcödé\"} 3\n\
                {\"esc\\\"aped\", \"a\\\\b\"=\"c\"} 4\n";
    let parsed = match parse(body, TEXT) {
        Ok(parsed) => parsed,
        Err(error) => panic!("{error}"),
    };
    assert_eq!(
        parsed[0],
        Parsed::Help("my.metric".into(), "Dots in the name.".into())
    );
    assert_eq!(
        parsed[1],
        Parsed::Type("my.metric".into(), MetricType::Gauge)
    );
    assert_eq!(
        samples(body, TEXT),
        vec![
            series(
                &[
                    ("__name__", "my.metric"),
                    ("label.name", "v"),
                    ("plain", "p")
                ],
                1.0,
                None
            ),
            series(
                &[("__name__", "my.metric"), ("label.first", "x")],
                2.0,
                None
            ),
            series(&[("__name__", "ünïcödé")], 3.0, None),
            series(&[("__name__", "esc\"aped"), ("a\\b", "c")], 4.0, None),
        ]
    );
    let om = "{\"my.metric\",\"label.name\"=\"v\"} 1\n# EOF\n";
    assert_eq!(
        samples(om, OM),
        vec![series(
            &[("__name__", "my.metric"), ("label.name", "v")],
            1.0,
            None
        )]
    );
}

#[test]
fn special_and_exponent_values() {
    let body = "a NaN\nb +Inf\nc -Inf\nd 1.5e-3\ne -2E+2\nf .5\ng inf\nh 1e-400\n";
    let values: Vec<u64> = samples(body, TEXT).into_iter().map(|s| s.1).collect();
    assert_eq!(
        values,
        vec![
            NORMAL_NAN_BITS,
            f64::INFINITY.to_bits(),
            f64::NEG_INFINITY.to_bits(),
            1.5e-3f64.to_bits(),
            (-200.0f64).to_bits(),
            0.5f64.to_bits(),
            f64::INFINITY.to_bits(),
            0.0f64.to_bits(),
        ]
    );
}

#[test]
fn nan_never_becomes_a_staleness_marker() {
    for body in ["a NaN\n", "a nan\n", "a NAN\n"] {
        let value = samples(body, TEXT)[0].1;
        assert!(!crate::model::is_stale_nan(f64::from_bits(value)));
        assert_eq!(value, NORMAL_NAN_BITS);
    }
}

#[test]
fn histogram_le_and_summary_quantile_are_normalised() {
    let body = "# TYPE h histogram\n\
                h_bucket{le=\"1\"} 1\n\
                h_bucket{le=\"0.50\"} 1\n\
                h_bucket{le=\"+Inf\"} 2\n\
                h_bucket{le=\"1e6\"} 2\n\
                # TYPE s summary\n\
                s{quantile=\"0\"} 1\n\
                s{quantile=\"not-a-number\"} 1\n\
                # TYPE g gauge\n\
                g{le=\"1\"} 1\n";
    let les: Vec<String> = samples(body, TEXT)
        .into_iter()
        .map(|s| {
            s.0.get("le")
                .or(s.0.get("quantile"))
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert_eq!(
        les,
        vec!["1.0", "0.5", "+Inf", "1e+06", "0.0", "not-a-number", "1"]
    );
}

#[test]
fn openmetrics_exemplars_timestamps_units_and_eof() {
    let body = "# TYPE foo histogram\n\
                # UNIT foo seconds\n\
                # HELP foo Latency.\n\
                foo_seconds_bucket{le=\"0.1\"} 8 # {trace_id=\"KOO5S4vxi0o\"} 0.067 1520879607.789\n\
                foo_seconds_bucket{le=\"+Inf\"} 17 1520879607.5 # {id=\"x\"} 2\n\
                foo_seconds_count 17 1520879607\n\
                foo_seconds_created 1520430000.123\n\
                # EOF\n";
    let body = body.replace(
        "# TYPE foo histogram\n# UNIT foo seconds",
        "# TYPE foo_seconds histogram\n# UNIT foo_seconds seconds",
    );
    let body = body.replace("# HELP foo ", "# HELP foo_seconds ");
    let parsed = match parse(&body, OM) {
        Ok(parsed) => parsed,
        Err(error) => panic!("{error}"),
    };
    assert_eq!(
        parsed[1],
        Parsed::Unit("foo_seconds".into(), "seconds".into())
    );
    let Parsed::Series {
        exemplar: Some(exemplar),
        timestamp_ms: None,
        ..
    } = &parsed[3]
    else {
        panic!("expected an exemplar: {:?}", parsed[3]);
    };
    assert_eq!(
        exemplar.labels,
        Labels::from_pairs(&[("trace_id", "KOO5S4vxi0o")])
    );
    assert_eq!(exemplar.value, 0.067);
    assert_eq!(exemplar.timestamp_ms, Some(1520879607789));
    let Parsed::Series {
        exemplar: Some(second),
        timestamp_ms,
        ..
    } = &parsed[4]
    else {
        panic!("expected an exemplar: {:?}", parsed[4]);
    };
    assert_eq!(*timestamp_ms, Some(1520879607500));
    assert_eq!(second.timestamp_ms, None);
    assert_eq!(second.value, 2.0);
    let all = samples(&body, OM);
    assert_eq!(
        all[2],
        series(
            &[("__name__", "foo_seconds_count")],
            17.0,
            Some(1520879607000)
        )
    );
    // `_created` series are returned by default, as Prometheus 3 ingests them.
    assert_eq!(
        all[3],
        series(&[("__name__", "foo_seconds_created")], 1520430000.123, None)
    );
    let mut skipping = Parser::new(body.as_bytes(), OM).with_created_series_skipped(true);
    let skipped = match parse_with(&mut skipping) {
        Ok(parsed) => parsed,
        Err(error) => panic!("{error}"),
    };
    assert_eq!(skipped.len(), parsed.len() - 1);
}

#[test]
fn openmetrics_accepts_what_prometheus_accepts() {
    let cases = [
        // A counter sample without `_total` and exemplars outside counters
        // and buckets: Prometheus's parser does not check these.
        "# TYPE c counter\nc 1\n# EOF\n",
        "# TYPE g gauge\ng 1 # {a=\"b\"} 1\n# EOF\n",
        "# EOF",
        "# HELP m \n# EOF\n",
        "# UNIT m_bytes \n# EOF\n",
        "m{a=\"b\",} 1\n# EOF\n",
        "m{} 1\n# EOF\n",
        "m 1 # {} 1\n# EOF\n",
        "# TYPE s stateset\ns{s=\"a\"} 1\n# TYPE i info\ni_info{v=\"1\"} 1\n# EOF\n",
    ];
    for body in cases {
        if let Err(error) = parse(body, OM) {
            panic!("{body:?}: {error}");
        }
    }
}

#[test]
fn malformed_input_is_an_error_with_its_line() {
    let cases: &[(Format, &str, usize, &str)] = &[
        (TEXT, "a 1\nb{c=\"d\" 1\n", 2, "expected label name"),
        (TEXT, "a{b=\"c\",d} 1\n", 1, "expected '=' after label name"),
        (TEXT, "a{b=\"c} 1\n", 1, "unterminated quoted string"),
        (TEXT, "a{b=c} 1\n", 1, "expected quoted label value"),
        (TEXT, "a{1b=\"c\"} 1\n", 1, "expected label name"),
        (TEXT, "a{b=\"c\"}\n", 1, "expected value after metric"),
        (TEXT, "a\n", 1, "expected value after metric"),
        (TEXT, "a 1 2 3\n", 1, "expected end of line"),
        (TEXT, "a 1 -5\n", 1, "expected timestamp"),
        (TEXT, "a 1 1.5\n", 1, "expected end of line"),
        (
            TEXT,
            "a 1 99999999999999999999\n",
            1,
            "timestamp out of range",
        ),
        (TEXT, "a one\n", 1, "invalid value \"one\""),
        (TEXT, "a 0x1p3\n", 1, "invalid value"),
        (TEXT, "a 1e999\n", 1, "invalid value"),
        (TEXT, "a +NaN\n", 1, "invalid value"),
        (TEXT, "a 1\r\n", 1, "invalid value"),
        (TEXT, "\n\n1a 1\n", 3, "expected a metric name"),
        (TEXT, "{a=\"b\"} 1\n", 1, "metric name not set"),
        (TEXT, "{\"a\", \"b\"} 1\n", 1, "metric name already set"),
        (
            TEXT,
            "# TYPE a counterr\n",
            1,
            "invalid metric type \"counterr\"",
        ),
        (TEXT, "# TYPE a info\n", 1, "invalid metric type \"info\""),
        (TEXT, "# TYPE a counter extra\n", 1, "invalid metric type"),
        (TEXT, "# HELP 9 x\n", 1, "expected metric name after HELP"),
        (TEXT, "# HELP a\\\n", 1, "expected a blank"),
        (TEXT, "a{b=\"\\\n\"} 1\n", 1, "unterminated escape"),
        (TEXT, "a{b=\"x\ny\"} 1 abc\n", 2, "expected timestamp"),
        (TEXT, "a{b=\"\u{0}\u{1}\"}} 1\n", 1, "invalid value \"}\""),
        (TEXT, "a 1\nb 1 # {x=\"y\"} 1\n", 2, "expected timestamp"),
        (OM, "a 1\n", 2, "data does not end with # EOF"),
        (OM, "a 1", 1, "data does not end with # EOF"),
        (OM, "", 1, "data does not end with # EOF"),
        (OM, "a 1\n# EOF\nb 1\n", 3, "unexpected data after # EOF"),
        (OM, "a 1\n\nb 1\n# EOF\n", 2, "expected a metric name"),
        (
            OM,
            "# free comment\n# EOF\n",
            1,
            "other comments are not allowed",
        ),
        (OM, "a  1\n# EOF\n", 1, "expected value after metric"),
        (OM, "a 1 \n# EOF\n", 1, "expected timestamp or exemplar"),
        (
            OM,
            "a{b=\"c\", d=\"e\"} 1\n# EOF\n",
            1,
            "expected label name",
        ),
        (OM, "a{b=\"c\"d=\"e\"} 1\n# EOF\n", 1, "expected ',' or '}'"),
        (
            OM,
            "a{b=\"c\nd\"} 1\n# EOF\n",
            1,
            "line break in quoted string",
        ),
        (OM, "a 1 NaN\n# EOF\n", 1, "invalid timestamp"),
        (OM, "a 1 ct@5\n# EOF\n", 1, "expected timestamp or exemplar"),
        (
            OM,
            "a 1 # {b=\"c\"}\n# EOF\n",
            1,
            "expected a space and a value",
        ),
        (
            OM,
            "a 1 # {\"m\"} 1\n# EOF\n",
            1,
            "expected '=' after label name",
        ),
        (
            OM,
            "a 1 # {b=\"c\"} 1 Inf\n# EOF\n",
            1,
            "invalid exemplar timestamp",
        ),
        (
            OM,
            "a 1 # {b=\"c\"} 1 2 3\n# EOF\n",
            1,
            "expected end of line",
        ),
        (
            OM,
            "# TYPE a untyped\n# EOF\n",
            1,
            "invalid metric type \"untyped\"",
        ),
        (
            OM,
            "# TYPE a counter\n# UNIT a seconds\n# EOF\n",
            2,
            "not a suffix",
        ),
        (OM, "# UNIT a_xseconds seconds\n# EOF\n", 1, "not a suffix"),
        (OM, "# HELP a\n# EOF\n", 1, "expected text in HELP"),
        (OM, "# HELP a text", 1, "expected text in HELP"),
        (OM, "a 1\n#EOF\n", 2, "other comments are not allowed"),
        (OM, "a 1\n# EOF\n\n", 3, "unexpected data after # EOF"),
    ];
    for (format, body, line, message) in cases {
        let error = error_of(body, *format);
        assert_eq!(error.line, *line, "{body:?}: {error}");
        assert!(
            error.message.contains(message),
            "{body:?}: got {:?}, want {message:?}",
            error.message
        );
        assert_eq!(
            error.to_string(),
            format!("line {}: {}", error.line, error.message)
        );
    }
}

#[test]
fn after_an_error_the_parser_stays_ended() {
    let mut parser = Parser::new(b"a 1\nb{ 2\nc 3\n", TEXT);
    assert!(matches!(parser.next(), Ok(Some(Entry::Series { .. }))));
    assert!(parser.next().is_err());
    assert_eq!(parser.line_number(), 2);
    assert_eq!(parser.next(), Ok(None));
    assert_eq!(parser.next(), Ok(None));
}

#[test]
fn invalid_utf8_in_label_values_and_help_is_rejected() {
    let mut body = b"a{b=\"".to_vec();
    body.extend_from_slice(&[0xff, 0xfe]);
    body.extend_from_slice(b"\"} 1\n");
    let error = parse_with(&mut Parser::new(&body, TEXT)).err();
    assert_eq!(error.map(|e| e.line), Some(1));
    let mut help = b"a 1\n# HELP a ".to_vec();
    help.extend_from_slice(&[0xc3]);
    help.push(b'\n');
    let error = parse_with(&mut Parser::new(&help, TEXT)).err();
    assert_eq!(
        error.map(|e| e.message),
        Some("help text is not valid UTF-8".to_string())
    );
}

#[test]
fn accessors_are_empty_outside_series() {
    let mut parser = Parser::new(b"# HELP a x\na 1\n", TEXT);
    let mut builder = ScratchBuilder::default();
    assert!(matches!(parser.next(), Ok(Some(Entry::Help { .. }))));
    parser.series_labels(&mut builder);
    assert!(builder.is_empty());
    assert!(parser.exemplar().is_none());
    assert!(matches!(parser.next(), Ok(Some(Entry::Series { .. }))));
    parser.series_labels(&mut builder);
    assert_eq!(builder.labels(), Labels::from_pairs(&[("__name__", "a")]));
    assert_eq!(parser.line_number(), 2);
}

fn testdata(name: &str) -> Vec<u8> {
    let path = format!(
        "{}/../shared/testdata/exposition/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    match std::fs::read(&path) {
        Ok(bytes) => bytes,
        Err(error) => panic!("reading {path}: {error}"),
    }
}

#[test]
fn parses_prometheus_alltypes_text_testdata() {
    let body = testdata("alltypes.237mfs.prom.txt");
    let text = String::from_utf8_lossy(&body);
    let parsed = match parse(&text, TEXT) {
        Ok(parsed) => parsed,
        Err(error) => panic!("{error}"),
    };
    let count = |f: fn(&Parsed) -> bool| parsed.iter().filter(|p| f(p)).count();
    assert_eq!(count(|p| matches!(p, Parsed::Help(..))), 237);
    assert_eq!(count(|p| matches!(p, Parsed::Type(..))), 237);
    assert_eq!(count(|p| matches!(p, Parsed::Series { .. })), 1857);
    let all = samples(&text, TEXT);
    assert!(all.contains(&series(
        &[("__name__", "go_gc_duration_seconds"), ("quantile", "0.0")],
        7.6238e-05,
        None
    )));
    let wanted = Labels::from_pairs(&[
        ("__name__", "prometheus_http_request_duration_seconds_count"),
        ("handler", "/api/v1/targets"),
    ]);
    assert!(
        all.iter()
            .any(|s| s.0 == wanted && s.1 == 191.0f64.to_bits())
    );
    let bucket = Labels::from_pairs(&[
        ("__name__", "prometheus_http_response_size_bytes_bucket"),
        ("handler", "/api/v1/rules"),
        ("le", "100000.0"),
    ]);
    assert!(
        all.iter()
            .any(|s| s.0 == bucket && s.1 == 88662.0f64.to_bits())
    );
}

#[test]
fn parses_prometheus_alltypes_openmetrics_testdata() {
    let body = testdata("alltypes.5mfs.om.txt");
    let text = String::from_utf8_lossy(&body);
    let parsed = match parse(&text, OM) {
        Ok(parsed) => parsed,
        Err(error) => panic!("{error}"),
    };
    let series_count = parsed
        .iter()
        .filter(|p| matches!(p, Parsed::Series { .. }))
        .count();
    let expected_series = text
        .lines()
        .filter(|line| !line.starts_with('#') && !line.is_empty())
        .count();
    assert_eq!(series_count, expected_series);
    let exemplars = parsed
        .iter()
        .filter(|p| {
            matches!(
                p,
                Parsed::Series {
                    exemplar: Some(_),
                    ..
                }
            )
        })
        .count();
    assert!(exemplars > 0);
    let all = samples(&text, OM);
    assert!(all.contains(&series(
        &[("__name__", "rpc_requests_created"), ("service", "uniform")],
        1.7268398130168471e+09,
        None
    )));
    assert!(all.contains(&series(
        &[
            ("__name__", "go_build_info"),
            ("checksum", ""),
            ("path", ""),
            ("version", "")
        ],
        1.0,
        None
    )));
}
