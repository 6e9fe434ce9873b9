//! `promshard check config` and `promshard check rules`, behaving like
//! `promtool check config` / `promtool check rules`.
