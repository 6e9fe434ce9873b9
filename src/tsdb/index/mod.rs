//! The inverted index: postings lists per label pair, and the evaluation of
//! label matchers against them. Used by the head and by loaded blocks.

mod postings;

pub use postings::{MemPostings, intersect, merge_union, postings_for_matchers, subtract};
