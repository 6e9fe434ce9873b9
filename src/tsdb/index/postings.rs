//! In-memory postings: for every `name="value"` pair, the sorted list of
//! series references carrying it.

use std::collections::HashMap;

use crate::model::{Labels, MatchType, Matcher};

/// Postings lists keyed by label name, then value. Reference lists are
/// sorted ascending and unique.
#[derive(Debug, Default)]
pub struct MemPostings {
    by_name: HashMap<Box<str>, HashMap<Box<str>, Vec<u64>>>,
    all: Vec<u64>,
}

fn insert_sorted(list: &mut Vec<u64>, series_ref: u64) {
    match list.last() {
        Some(&last) if last >= series_ref => {
            if let Err(position) = list.binary_search(&series_ref) {
                list.insert(position, series_ref);
            }
        }
        _ => list.push(series_ref),
    }
}

impl MemPostings {
    /// An empty index.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds a series under every one of its label pairs.
    pub fn add(&mut self, series_ref: u64, labels: &Labels) {
        insert_sorted(&mut self.all, series_ref);
        for label in labels.iter() {
            let values = match self.by_name.get_mut(label.name) {
                Some(values) => values,
                None => self.by_name.entry(label.name.into()).or_default(),
            };
            let list = match values.get_mut(label.value) {
                Some(list) => list,
                None => values.entry(label.value.into()).or_default(),
            };
            insert_sorted(list, series_ref);
        }
    }

    /// Removes a series (given its labels) from every list.
    pub fn delete(&mut self, series_ref: u64, labels: &Labels) {
        if let Ok(position) = self.all.binary_search(&series_ref) {
            self.all.remove(position);
        }
        for label in labels.iter() {
            let Some(values) = self.by_name.get_mut(label.name) else {
                continue;
            };
            if let Some(list) = values.get_mut(label.value) {
                if let Ok(position) = list.binary_search(&series_ref) {
                    list.remove(position);
                }
                if list.is_empty() {
                    values.remove(label.value);
                }
            }
            if values.is_empty() {
                self.by_name.remove(label.name);
            }
        }
    }

    /// Every series reference.
    pub fn all(&self) -> &[u64] {
        &self.all
    }

    /// The series carrying `name="value"`.
    pub fn get(&self, name: &str, value: &str) -> &[u64] {
        self.by_name
            .get(name)
            .and_then(|values| values.get(value))
            .map_or(&[], |list| list.as_slice())
    }

    /// Every label name (unsorted).
    pub fn label_names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(|name| &**name)
    }

    /// Every value of `name` with its postings (unsorted).
    pub fn values_of(&self, name: &str) -> impl Iterator<Item = (&str, &[u64])> {
        self.by_name
            .get(name)
            .into_iter()
            .flat_map(|values| values.iter().map(|(v, list)| (&**v, list.as_slice())))
    }

    /// Number of distinct values of `name`.
    pub fn value_count(&self, name: &str) -> usize {
        self.by_name.get(name).map_or(0, |values| values.len())
    }

    /// Number of distinct label pairs.
    pub fn label_pair_count(&self) -> usize {
        self.by_name.values().map(|values| values.len()).sum()
    }
}

/// The intersection of two sorted lists.
pub fn intersect(left: &[u64], right: &[u64]) -> Vec<u64> {
    let (small, large) = if left.len() <= right.len() {
        (left, right)
    } else {
        (right, left)
    };
    let mut out = Vec::with_capacity(small.len());
    let mut start = 0;
    for &value in small {
        let rest = &large[start..];
        // Galloping would be faster for very skewed sizes; binary search on
        // the remainder is close enough and simple.
        match rest.binary_search(&value) {
            Ok(found) => {
                out.push(value);
                start += found + 1;
            }
            Err(insert_at) => start += insert_at,
        }
        if start >= large.len() {
            break;
        }
    }
    out
}

/// `left` without the references in `right` (both sorted).
pub fn subtract(left: &[u64], right: &[u64]) -> Vec<u64> {
    let mut out = Vec::with_capacity(left.len());
    let mut right_index = 0;
    for &value in left {
        while right_index < right.len() && right[right_index] < value {
            right_index += 1;
        }
        if right_index < right.len() && right[right_index] == value {
            continue;
        }
        out.push(value);
    }
    out
}

/// The sorted, unique union of several sorted lists.
pub fn merge_union(lists: Vec<&[u64]>) -> Vec<u64> {
    match lists.len() {
        0 => Vec::new(),
        1 => lists[0].to_vec(),
        _ => {
            let mut out: Vec<u64> = lists.iter().flat_map(|l| l.iter().copied()).collect();
            out.sort_unstable();
            out.dedup();
            out
        }
    }
}

/// The union of the postings of every value of `matcher.name` for which
/// `wanted(value)` holds, using the matcher's literal shape when it has one.
fn postings_for_values<'a>(
    index: &'a MemPostings,
    matcher: &Matcher,
    wanted: impl Fn(&str) -> bool,
) -> Vec<&'a [u64]> {
    let positive_literals = match matcher.match_type {
        MatchType::Equal => Some(vec![matcher.value.clone()]),
        MatchType::Regex => matcher.set_matches(),
        _ => None,
    };
    if let Some(literals) = positive_literals
        && literals.iter().all(|literal| wanted(literal))
    {
        return literals
            .iter()
            .map(|literal| index.get(&matcher.name, literal))
            .filter(|list| !list.is_empty())
            .collect();
    }
    let prefix = match matcher.match_type {
        MatchType::Regex => matcher.literal_prefix(),
        _ => None,
    };
    index
        .values_of(&matcher.name)
        .filter(|(value, _)| prefix.is_none_or(|p| value.starts_with(p)) && wanted(value))
        .map(|(_, list)| list)
        .collect()
}

/// The sorted references of series matching every matcher. A missing label
/// matches as the empty string, so matchers that match `""` also select
/// series without the label. With no matchers, or only matchers that match
/// `""`, the search starts from every series.
pub fn postings_for_matchers(index: &MemPostings, matchers: &[Matcher]) -> Vec<u64> {
    let mut result: Option<Vec<u64>> = None;
    // Matchers that do not match "" restrict to series that have a matching
    // value: intersect with the union of those values' postings.
    for matcher in matchers.iter().filter(|m| !m.matches_empty()) {
        let lists = postings_for_values(index, matcher, |value| matcher.matches(value));
        let matched = merge_union(lists);
        result = Some(match result {
            None => matched,
            Some(current) => intersect(&current, &matched),
        });
        if result.as_ref().is_some_and(|r| r.is_empty()) {
            return Vec::new();
        }
    }
    let mut result = result.unwrap_or_else(|| index.all().to_vec());
    // Matchers that match "" keep series without the label and drop those
    // whose value does not match: subtract the postings of the non-matching
    // values.
    for matcher in matchers.iter().filter(|m| m.matches_empty()) {
        let excluded = match matcher.match_type {
            MatchType::NotEqual => merge_union(vec![index.get(&matcher.name, &matcher.value)]),
            _ => merge_union(postings_for_values(index, matcher, |value| {
                !matcher.matches(value)
            })),
        };
        if !excluded.is_empty() {
            result = subtract(&result, &excluded);
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::matcher::matches_all;

    fn sample_index() -> (MemPostings, Vec<Labels>) {
        let series = vec![
            Labels::from_pairs(&[("__name__", "up"), ("job", "api"), ("instance", "a:1")]),
            Labels::from_pairs(&[("__name__", "up"), ("job", "db"), ("instance", "b:1")]),
            Labels::from_pairs(&[("__name__", "up"), ("instance", "c:1")]),
            Labels::from_pairs(&[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("code", "200"),
            ]),
            Labels::from_pairs(&[
                ("__name__", "http_requests_total"),
                ("job", "api"),
                ("code", "500"),
            ]),
            Labels::from_pairs(&[
                ("__name__", "http_requests_total"),
                ("job", "apiserver"),
                ("code", ""),
            ]),
        ];
        let mut index = MemPostings::new();
        for (position, labels) in series.iter().enumerate() {
            index.add(position as u64 + 1, labels);
        }
        (index, series)
    }

    #[test]
    fn every_matcher_kind_selects_what_a_scan_selects() {
        let (index, series) = sample_index();
        let cases: Vec<Vec<(MatchType, &str, &str)>> = vec![
            vec![(MatchType::Equal, "job", "api")],
            vec![(MatchType::Equal, "job", "")],
            vec![(MatchType::Equal, "missing", "")],
            vec![(MatchType::Equal, "missing", "x")],
            vec![(MatchType::NotEqual, "job", "api")],
            vec![(MatchType::NotEqual, "job", "")],
            vec![(MatchType::Regex, "job", "api|db")],
            vec![(MatchType::Regex, "job", "api.*")],
            vec![(MatchType::Regex, "job", ".*")],
            vec![(MatchType::Regex, "job", ".+")],
            vec![(MatchType::Regex, "job", "|db")],
            vec![(MatchType::Regex, "job", "a.*|")],
            vec![(MatchType::Regex, "code", "5..")],
            vec![(MatchType::NotRegex, "job", "api.*")],
            vec![(MatchType::NotRegex, "job", ".*")],
            vec![(MatchType::NotRegex, "job", ".+")],
            vec![(MatchType::NotRegex, "job", "")],
            vec![(MatchType::NotRegex, "job", "db|")],
            vec![
                (MatchType::Equal, "__name__", "up"),
                (MatchType::NotEqual, "job", "db"),
            ],
            vec![
                (MatchType::Equal, "__name__", "http_requests_total"),
                (MatchType::Regex, "job", "api"),
                (MatchType::NotRegex, "code", "2.."),
            ],
            vec![
                (MatchType::Regex, "__name__", ".+"),
                (MatchType::Equal, "job", ""),
            ],
        ];
        for case in cases {
            let matchers: Vec<Matcher> = case
                .iter()
                .map(|(kind, name, value)| Matcher::new(*kind, *name, *value).unwrap())
                .collect();
            let expected: Vec<u64> = series
                .iter()
                .enumerate()
                .filter(|(_, labels)| matches_all(labels, &matchers))
                .map(|(position, _)| position as u64 + 1)
                .collect();
            assert_eq!(
                postings_for_matchers(&index, &matchers),
                expected,
                "matchers {matchers:?}"
            );
        }
    }

    #[test]
    fn delete_removes_series_and_empty_values() {
        let (mut index, series) = sample_index();
        index.delete(2, &series[1]);
        assert!(index.get("job", "db").is_empty());
        assert_eq!(index.values_of("job").count(), 2);
        assert!(!index.all().contains(&2));
    }

    #[test]
    fn set_operations_on_sorted_lists() {
        assert_eq!(intersect(&[1, 3, 5, 7], &[3, 4, 5, 8]), vec![3, 5]);
        assert_eq!(subtract(&[1, 3, 5, 7], &[3, 4, 5]), vec![1, 7]);
        assert_eq!(merge_union(vec![&[1, 5], &[2, 5, 9]]), vec![1, 2, 5, 9]);
        let mut list = vec![1, 5];
        insert_sorted(&mut list, 3);
        insert_sorted(&mut list, 5);
        assert_eq!(list, vec![1, 3, 5]);
    }
}
