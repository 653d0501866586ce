//! Parsing: front matter into typed kinds, Markdown into HTML.

pub mod escape;
pub mod front_matter;
pub mod highlight;
pub mod kinds;
pub mod link;
pub mod markdown;
