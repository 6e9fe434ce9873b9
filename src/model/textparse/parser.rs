//! The pull parser shared by both formats.

use super::{Entry, Exemplar, Format, ParseError};
use crate::model::labels::ScratchBuilder;

/// A pull parser over one scrape body.
///
/// Call [`Parser::next`] until it returns `Ok(None)`. After a
/// [`Entry::Series`], [`Parser::series_labels`] and [`Parser::exemplar`]
/// describe that series until the next call to `next`. The parser never
/// panics and always terminates, whatever the bytes.
pub struct Parser<'a> {
    body: &'a [u8],
    format: Format,
    line: usize,
}

impl<'a> Parser<'a> {
    /// A parser over `body` in `format`.
    pub fn new(body: &'a [u8], format: Format) -> Parser<'a> {
        Parser {
            body,
            format,
            line: 0,
        }
    }

    /// The next entry; `Ok(None)` at the end of the body. For OpenMetrics a
    /// body without `# EOF` is an error, and anything after `# EOF` is an
    /// error. After an error every further call returns `Ok(None)`.
    #[allow(clippy::should_implement_trait)]
    pub fn next(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        let _ = (self.body, self.format);
        Err(ParseError {
            line: self.line,
            message: "not implemented yet".to_string(),
        })
    }

    /// Resets `builder` and adds `__name__` and the labels of the current
    /// [`Entry::Series`] (unescaped). Does nothing else when the last entry
    /// was not a series.
    pub fn series_labels(&self, builder: &mut ScratchBuilder) {
        builder.reset();
    }

    /// The exemplar of the current [`Entry::Series`], if it has one.
    pub fn exemplar(&self) -> Option<Exemplar> {
        None
    }

    /// The 1-based number of the line of the last entry returned.
    pub fn line_number(&self) -> usize {
        self.line
    }
}
