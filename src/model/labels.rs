//! Label sets: the identity of a series.
//!
//! A [`Labels`] value is a set of `name="value"` pairs sorted by name, with no
//! duplicate names and no empty values (an empty value means "absent", as in
//! Prometheus). It is stored in a single shared allocation, so cloning is a
//! reference-count increment and an active series costs one small buffer.
//!
//! Encoding of the buffer: for each pair in name order, `varint(len(name))`,
//! the name bytes, `varint(len(value))`, the value bytes. The encoding is
//! canonical, so byte equality is label-set equality and the stable hash
//! ([`Labels::stable_hash`]) is the same on every node.

use std::cmp::Ordering;
use std::fmt;
use std::sync::Arc;

/// The reserved label that holds a series' metric name.
pub const METRIC_NAME: &str = "__name__";
/// The label that names the target's address before relabeling.
pub const ADDRESS_LABEL: &str = "__address__";
/// The `instance` label, set from `__address__` when absent.
pub const INSTANCE_LABEL: &str = "instance";
/// The `job` label.
pub const JOB_LABEL: &str = "job";

/// One borrowed label pair.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Label<'a> {
    /// The label name.
    pub name: &'a str,
    /// The label value; never empty inside a [`Labels`].
    pub value: &'a str,
}

/// An immutable, sorted set of label pairs in one shared buffer.
#[derive(Clone)]
pub struct Labels {
    data: Arc<[u8]>,
}

impl Default for Labels {
    fn default() -> Self {
        Self::empty()
    }
}

fn put_varint(buf: &mut Vec<u8>, mut n: usize) {
    while n >= 0x80 {
        buf.push((n as u8) | 0x80);
        n >>= 7;
    }
    buf.push(n as u8);
}

#[inline]
fn get_varint(buf: &[u8], pos: &mut usize) -> usize {
    let mut n = 0usize;
    let mut shift = 0;
    loop {
        let b = buf[*pos];
        *pos += 1;
        n |= ((b & 0x7f) as usize) << shift;
        if b < 0x80 {
            return n;
        }
        shift += 7;
    }
}

impl Labels {
    /// The empty label set.
    pub fn empty() -> Self {
        static EMPTY: std::sync::OnceLock<Arc<[u8]>> = std::sync::OnceLock::new();
        Labels {
            data: EMPTY.get_or_init(|| Arc::from(Vec::new())).clone(),
        }
    }

    /// Builds a label set from pairs in any order. Later duplicates of a name
    /// win; pairs with an empty value are dropped.
    pub fn from_pairs<N: AsRef<str>, V: AsRef<str>>(pairs: &[(N, V)]) -> Self {
        let mut builder = ScratchBuilder::with_capacity(pairs.len());
        for (name, value) in pairs {
            builder.add(name.as_ref(), value.as_ref());
        }
        builder.labels()
    }

    /// Encodes pairs that are already sorted by name, unique and non-empty.
    /// Callers that cannot promise this use [`Labels::from_pairs`].
    fn from_sorted_unique<'a>(
        pairs: impl Iterator<Item = (&'a str, &'a str)>,
        size_hint: usize,
    ) -> Self {
        let mut buf = Vec::with_capacity(size_hint);
        for (name, value) in pairs {
            put_varint(&mut buf, name.len());
            buf.extend_from_slice(name.as_bytes());
            put_varint(&mut buf, value.len());
            buf.extend_from_slice(value.as_bytes());
        }
        Labels {
            data: Arc::from(buf),
        }
    }

    /// Iterates over the pairs in name order.
    pub fn iter(&self) -> LabelsIter<'_> {
        LabelsIter {
            data: &self.data,
            pos: 0,
        }
    }

    /// The value of `name`, or `None` when absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        for label in self.iter() {
            match label.name.cmp(name) {
                Ordering::Less => continue,
                Ordering::Equal => return Some(label.value),
                Ordering::Greater => return None,
            }
        }
        None
    }

    /// The value of `name`, or `""` when absent (Prometheus's `Get`).
    pub fn get_or_empty(&self, name: &str) -> &str {
        self.get(name).unwrap_or("")
    }

    /// Whether the set has a label called `name`.
    pub fn has(&self, name: &str) -> bool {
        self.get(name).is_some()
    }

    /// The metric name (`__name__`), if any.
    pub fn metric_name(&self) -> Option<&str> {
        self.get(METRIC_NAME)
    }

    /// Number of pairs.
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether the set has no pairs.
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }

    /// Size of the encoded buffer in bytes (for memory accounting).
    pub fn encoded_len(&self) -> usize {
        self.data.len()
    }

    /// The canonical encoding. Equal label sets have equal encodings.
    pub fn as_bytes(&self) -> &[u8] {
        &self.data
    }

    /// A hash of the whole set that is stable across processes, versions and
    /// machines (xxh3 over the canonical encoding).
    pub fn stable_hash(&self) -> u64 {
        xxhash_rust::xxh3::xxh3_64(&self.data)
    }

    /// A stable hash of only the named labels (`names` need not be sorted).
    pub fn hash_for_labels(&self, names: &[impl AsRef<str>]) -> u64 {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for label in self.iter() {
            if names.iter().any(|n| n.as_ref() == label.name) {
                hash_pair(&mut hasher, label);
            }
        }
        hasher.digest()
    }

    /// A stable hash of every label except the named ones and `__name__`.
    pub fn hash_without_labels(&self, names: &[impl AsRef<str>]) -> u64 {
        let mut hasher = xxhash_rust::xxh3::Xxh3::new();
        for label in self.iter() {
            if label.name == METRIC_NAME || names.iter().any(|n| n.as_ref() == label.name) {
                continue;
            }
            hash_pair(&mut hasher, label);
        }
        hasher.digest()
    }

    /// A new set with only the named labels.
    pub fn keep_only(&self, names: &[impl AsRef<str>]) -> Labels {
        self.filter(|l| names.iter().any(|n| n.as_ref() == l.name))
    }

    /// A new set without the named labels.
    pub fn without(&self, names: &[impl AsRef<str>]) -> Labels {
        self.filter(|l| !names.iter().any(|n| n.as_ref() == l.name))
    }

    /// A new set without `__name__`.
    pub fn without_metric_name(&self) -> Labels {
        if !self.has(METRIC_NAME) {
            return self.clone();
        }
        self.filter(|l| l.name != METRIC_NAME)
    }

    /// A new set with the pairs for which `keep` returns true.
    pub fn filter(&self, mut keep: impl FnMut(&Label<'_>) -> bool) -> Labels {
        let kept: Vec<Label<'_>> = self.iter().filter(|l| keep(l)).collect();
        if kept.len() == self.len() {
            return self.clone();
        }
        Labels::from_sorted_unique(kept.iter().map(|l| (l.name, l.value)), self.data.len())
    }

    /// A builder that starts from this set.
    pub fn builder(&self) -> LabelsBuilder {
        LabelsBuilder::new(self)
    }

    /// Owned pairs, for serialisation and tests.
    pub fn to_pairs(&self) -> Vec<(String, String)> {
        self.iter()
            .map(|l| (l.name.to_string(), l.value.to_string()))
            .collect()
    }
}

fn hash_pair(hasher: &mut xxhash_rust::xxh3::Xxh3, label: Label<'_>) {
    hasher.update(label.name.as_bytes());
    hasher.update(&[0xff]);
    hasher.update(label.value.as_bytes());
    hasher.update(&[0xff]);
}

/// Iterator over the pairs of a [`Labels`].
pub struct LabelsIter<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> Iterator for LabelsIter<'a> {
    type Item = Label<'a>;

    #[inline]
    fn next(&mut self) -> Option<Label<'a>> {
        if self.pos >= self.data.len() {
            return None;
        }
        let name = read_str(self.data, &mut self.pos);
        let value = read_str(self.data, &mut self.pos);
        Some(Label { name, value })
    }
}

#[inline]
fn read_str<'a>(data: &'a [u8], pos: &mut usize) -> &'a str {
    let len = get_varint(data, pos);
    let bytes = &data[*pos..*pos + len];
    *pos += len;
    // SAFETY: a `Labels` buffer is only ever written by `from_sorted_unique`,
    // which copies whole `&str` values between length prefixes, so every
    // slice delimited by those prefixes is valid UTF-8.
    unsafe { std::str::from_utf8_unchecked(bytes) }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        self.data == other.data
    }
}

impl Eq for Labels {}

impl std::hash::Hash for Labels {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.data.hash(state)
    }
}

impl Ord for Labels {
    /// Prometheus's order: pairwise by name, then value; a prefix sorts first.
    fn cmp(&self, other: &Self) -> Ordering {
        let mut left = self.iter();
        let mut right = other.iter();
        loop {
            match (left.next(), right.next()) {
                (None, None) => return Ordering::Equal,
                (None, Some(_)) => return Ordering::Less,
                (Some(_), None) => return Ordering::Greater,
                (Some(a), Some(b)) => {
                    let ord = a.name.cmp(b.name).then_with(|| a.value.cmp(b.value));
                    if ord != Ordering::Equal {
                        return ord;
                    }
                }
            }
        }
    }
}

impl PartialOrd for Labels {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl fmt::Display for Labels {
    /// Prometheus's `Labels.String()`: `{__name__="up", job="node"}`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("{")?;
        for (i, label) in self.iter().enumerate() {
            if i > 0 {
                f.write_str(", ")?;
            }
            write!(f, "{}={:?}", label.name, label.value)?;
        }
        f.write_str("}")
    }
}

impl fmt::Debug for Labels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl serde::Serialize for Labels {
    /// Serialises as a JSON object, the shape of the Prometheus HTTP API.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(None)?;
        for label in self.iter() {
            map.serialize_entry(label.name, label.value)?;
        }
        map.end()
    }
}

impl<'de> serde::Deserialize<'de> for Labels {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let map = std::collections::BTreeMap::<String, String>::deserialize(deserializer)?;
        Ok(map.into_iter().collect())
    }
}

impl<N: AsRef<str>, V: AsRef<str>> FromIterator<(N, V)> for Labels {
    fn from_iter<T: IntoIterator<Item = (N, V)>>(iter: T) -> Self {
        let mut builder = ScratchBuilder::default();
        for (name, value) in iter {
            builder.add(name.as_ref(), value.as_ref());
        }
        builder.labels()
    }
}

/// Builds label sets with no per-label allocation: names and values are copied
/// into one reusable buffer, sorted, then encoded once. Meant to be reused
/// across series (call [`ScratchBuilder::reset`]), as the parser does.
#[derive(Default, Debug, Clone)]
pub struct ScratchBuilder {
    text: String,
    /// (name start, name end, value start, value end) into `text`.
    spans: Vec<(u32, u32, u32, u32)>,
    encoded: Vec<u8>,
}

impl ScratchBuilder {
    /// A builder with room for `labels` pairs.
    pub fn with_capacity(labels: usize) -> Self {
        ScratchBuilder {
            text: String::with_capacity(labels * 16),
            spans: Vec::with_capacity(labels),
            encoded: Vec::new(),
        }
    }

    /// Forgets all pairs, keeping the buffers.
    pub fn reset(&mut self) {
        self.text.clear();
        self.spans.clear();
    }

    /// Adds a pair. Order does not matter; an empty value is dropped; for a
    /// repeated name the last one added wins.
    pub fn add(&mut self, name: &str, value: &str) {
        if value.is_empty() {
            return;
        }
        let name_start = self.text.len() as u32;
        self.text.push_str(name);
        let name_end = self.text.len() as u32;
        self.text.push_str(value);
        let value_end = self.text.len() as u32;
        self.spans.push((name_start, name_end, name_end, value_end));
    }

    /// Number of pairs added so far (before de-duplication).
    pub fn len(&self) -> usize {
        self.spans.len()
    }

    /// Whether nothing has been added.
    pub fn is_empty(&self) -> bool {
        self.spans.is_empty()
    }

    /// Sorts, de-duplicates (last wins) and encodes the pairs added so far.
    /// The builder keeps its pairs; call [`ScratchBuilder::reset`] to reuse it.
    pub fn labels(&mut self) -> Labels {
        let text = &self.text;
        let name_of = |s: &(u32, u32, u32, u32)| &text[s.0 as usize..s.1 as usize];
        // Stable sort keeps insertion order among equal names, so "last wins"
        // means keeping the last of each run.
        if !self
            .spans
            .windows(2)
            .all(|w| name_of(&w[0]) < name_of(&w[1]))
        {
            self.spans.sort_by(|a, b| name_of(a).cmp(name_of(b)));
        }
        self.encoded.clear();
        let spans = &self.spans;
        for (i, span) in spans.iter().enumerate() {
            if i + 1 < spans.len() && name_of(&spans[i + 1]) == name_of(span) {
                continue;
            }
            let name = name_of(span);
            let value = &text[span.2 as usize..span.3 as usize];
            put_varint(&mut self.encoded, name.len());
            self.encoded.extend_from_slice(name.as_bytes());
            put_varint(&mut self.encoded, value.len());
            self.encoded.extend_from_slice(value.as_bytes());
        }
        Labels {
            data: Arc::from(self.encoded.as_slice()),
        }
    }
}

/// Edits a label set: set and delete names, then [`LabelsBuilder::build`].
/// Used by relabeling and by the query engine.
#[derive(Debug, Clone)]
pub struct LabelsBuilder {
    pairs: Vec<(String, String)>,
}

impl LabelsBuilder {
    /// A builder holding a copy of `base`.
    pub fn new(base: &Labels) -> Self {
        LabelsBuilder {
            pairs: base.to_pairs(),
        }
    }

    /// Replaces the content with `base`.
    pub fn reset(&mut self, base: &Labels) {
        self.pairs.clear();
        self.pairs.extend(
            base.iter()
                .map(|l| (l.name.to_string(), l.value.to_string())),
        );
    }

    /// The current value of `name`, or `""`.
    pub fn get(&self, name: &str) -> &str {
        match self.pairs.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) => &self.pairs[i].1,
            Err(_) => "",
        }
    }

    /// Sets `name` to `value`; an empty value deletes the label.
    pub fn set(&mut self, name: &str, value: &str) -> &mut Self {
        match self.pairs.binary_search_by(|(n, _)| n.as_str().cmp(name)) {
            Ok(i) if value.is_empty() => {
                self.pairs.remove(i);
            }
            Ok(i) => value.clone_into(&mut self.pairs[i].1),
            Err(_) if value.is_empty() => {}
            Err(i) => self.pairs.insert(i, (name.to_string(), value.to_string())),
        }
        self
    }

    /// Deletes the named labels.
    pub fn del(&mut self, names: &[&str]) -> &mut Self {
        self.pairs.retain(|(n, _)| !names.contains(&n.as_str()));
        self
    }

    /// Keeps only the labels for which `keep(name, value)` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&str, &str) -> bool) -> &mut Self {
        self.pairs.retain(|(n, v)| keep(n, v));
        self
    }

    /// Iterates over the current pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = Label<'_>> {
        self.pairs.iter().map(|(n, v)| Label { name: n, value: v })
    }

    /// The resulting label set.
    pub fn build(&self) -> Labels {
        let size = self.pairs.iter().map(|(n, v)| n.len() + v.len() + 2).sum();
        Labels::from_sorted_unique(
            self.pairs.iter().map(|(n, v)| (n.as_str(), v.as_str())),
            size,
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorts_dedups_and_drops_empty_values() {
        let labels = Labels::from_pairs(&[("b", "2"), ("a", "1"), ("c", ""), ("a", "3")]);
        assert_eq!(
            labels.to_pairs(),
            vec![("a".into(), "3".into()), ("b".into(), "2".into())]
        );
        assert_eq!(labels.get("a"), Some("3"));
        assert_eq!(labels.get("c"), None);
        assert_eq!(labels.len(), 2);
    }

    #[test]
    fn order_is_prometheus_order() {
        let short = Labels::from_pairs(&[("a", "1")]);
        let long = Labels::from_pairs(&[("a", "1"), ("b", "1")]);
        let other = Labels::from_pairs(&[("a", "2")]);
        assert!(short < long);
        assert!(long < other);
        // Byte order of the encoding would put the longer name "aa" (length
        // prefix 2) after "b" (length prefix 1); label order must not.
        let aa = Labels::from_pairs(&[("aa", "1")]);
        let b = Labels::from_pairs(&[("b", "1")]);
        assert!(aa < b);
    }

    #[test]
    fn long_strings_and_utf8_round_trip() {
        let long = "x".repeat(300);
        let labels = Labels::from_pairs(&[("name", long.as_str()), ("ü", "日本")]);
        assert_eq!(labels.get("name"), Some(long.as_str()));
        assert_eq!(labels.get("ü"), Some("日本"));
    }

    #[test]
    fn builder_sets_and_deletes() {
        let base = Labels::from_pairs(&[("job", "a"), ("instance", "x")]);
        let mut builder = base.builder();
        builder.set("zone", "eu").set("job", "").del(&["instance"]);
        assert_eq!(builder.build(), Labels::from_pairs(&[("zone", "eu")]));
    }

    #[test]
    fn stable_hash_depends_only_on_content() {
        let a = Labels::from_pairs(&[("a", "1"), ("b", "2")]);
        let b: Labels = [("b", "2"), ("a", "1")].into_iter().collect();
        assert_eq!(a, b);
        assert_eq!(a.stable_hash(), b.stable_hash());
        assert_ne!(
            a.stable_hash(),
            Labels::from_pairs(&[("a", "1")]).stable_hash()
        );
    }

    #[test]
    fn display_and_json() {
        let labels = Labels::from_pairs(&[("__name__", "up"), ("job", "n\"x")]);
        assert_eq!(labels.to_string(), r#"{__name__="up", job="n\"x"}"#);
        assert_eq!(
            serde_json::to_string(&labels).unwrap(),
            r#"{"__name__":"up","job":"n\"x"}"#
        );
    }

    #[test]
    fn grouping_hashes() {
        let a = Labels::from_pairs(&[("__name__", "m"), ("job", "j"), ("instance", "1")]);
        let b = Labels::from_pairs(&[("__name__", "n"), ("job", "j"), ("instance", "2")]);
        assert_eq!(a.hash_for_labels(&["job"]), b.hash_for_labels(&["job"]));
        assert_ne!(
            a.hash_without_labels(&["job"]),
            b.hash_without_labels(&["job"])
        );
        assert_eq!(
            a.hash_without_labels(&["instance"]),
            b.hash_without_labels(&["instance"])
        );
    }
}
