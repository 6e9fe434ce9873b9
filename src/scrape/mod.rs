//! Scrape pools and loops.
