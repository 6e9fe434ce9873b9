//! `--log.format=logfmt`: log lines as node_exporter writes them
//! (`ts=… level=info msg="…" key=value`), one per event.

use std::fmt;

use tracing::field::{Field, Visit};
use tracing::{Event, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::time::{FormatTime, SystemTime};
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// Formats events as logfmt key=value pairs.
pub struct LogfmtFormat;

impl<S, N> FormatEvent<S, N> for LogfmtFormat
where
    S: Subscriber + for<'lookup> LookupSpan<'lookup>,
    N: for<'writer> FormatFields<'writer> + 'static,
{
    fn format_event(
        &self,
        _context: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let mut timestamp = String::new();
        SystemTime.format_time(&mut Writer::new(&mut timestamp))?;
        let metadata = event.metadata();
        write!(
            writer,
            "ts={} level={} caller={}",
            timestamp,
            metadata.level().as_str().to_ascii_lowercase(),
            metadata.target()
        )?;
        let mut fields = LogfmtFields::default();
        event.record(&mut fields);
        if let Some(message) = &fields.message {
            writer.write_str(" msg=")?;
            write_value(&mut writer, message)?;
        }
        writer.write_str(&fields.rest)?;
        writer.write_char('\n')
    }
}

#[derive(Default)]
struct LogfmtFields {
    message: Option<String>,
    rest: String,
}

impl Visit for LogfmtFields {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.record(field, value.to_owned());
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.record(field, format!("{value:?}"));
    }
}

impl LogfmtFields {
    fn record(&mut self, field: &Field, value: String) {
        if field.name() == "message" {
            self.message = Some(value);
            return;
        }
        self.rest.push(' ');
        self.rest.push_str(field.name());
        self.rest.push('=');
        let _ = write_value(&mut self.rest, &value);
    }
}

/// Writes `value` bare when it is a plain token, else quoted with `"` and `\` escaped.
fn write_value(output: &mut impl fmt::Write, value: &str) -> fmt::Result {
    let is_plain = !value.is_empty()
        && !value.chars().any(|character| {
            character == ' ' || character == '=' || character == '"' || character.is_control()
        });
    if is_plain {
        return output.write_str(value);
    }
    output.write_char('"')?;
    for character in value.chars() {
        match character {
            '"' => output.write_str("\\\"")?,
            '\\' => output.write_str("\\\\")?,
            '\n' => output.write_str("\\n")?,
            other => output.write_char(other)?,
        }
    }
    output.write_char('"')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_quoted_only_when_they_must_be() {
        let cases = [
            ("127.0.0.1:9100", "127.0.0.1:9100"),
            ("two words", "\"two words\""),
            ("a=b", "\"a=b\""),
            ("say \"hi\"\n", "\"say \\\"hi\\\"\\n\""),
            ("", "\"\""),
        ];
        for (value, expected) in cases {
            let mut output = String::new();
            write_value(&mut output, value).unwrap();
            assert_eq!(output, expected);
        }
    }
}
