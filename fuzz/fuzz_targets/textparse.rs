//! Feeds arbitrary bytes to both exposition parsers: they must never panic
//! and must stay ended after an error or the end.
#![no_main]

use libfuzzer_sys::fuzz_target;
use promshard::model::ScratchBuilder;
use promshard::model::textparse::{Entry, Format, Parser};

fuzz_target!(|data: &[u8]| {
    let mut builder = ScratchBuilder::default();
    for format in [Format::PrometheusText, Format::OpenMetrics] {
        let mut parser = Parser::new(data, format);
        loop {
            match parser.next() {
                Ok(Some(Entry::Series { .. })) => {
                    parser.series_labels(&mut builder);
                    let _ = builder.labels();
                    let _ = parser.exemplar();
                }
                Ok(Some(_)) => {}
                Ok(None) | Err(_) => break,
            }
        }
        assert_eq!(parser.next(), Ok(None));
    }
});
