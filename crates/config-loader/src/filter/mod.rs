//! The disk filter language (placeholder until the full implementation lands).
#![allow(missing_docs)]

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DiskFilter(String);
pub struct FilterError {
    pub message: String,
    pub offset: usize,
    pub len: usize,
    pub help: Option<String>,
}
pub struct FilterWarning {
    pub message: String,
    pub offset: usize,
    pub len: usize,
    pub help: Option<String>,
}
impl DiskFilter {
    pub fn parse(s: &str) -> Result<DiskFilter, Vec<FilterError>> {
        if s.contains("bad") {
            return Err(vec![FilterError {
                message: "bad".into(),
                offset: s.find("bad").unwrap_or(0),
                len: 3,
                help: None,
            }]);
        }
        Ok(DiskFilter(s.into()))
    }
    pub fn source(&self) -> &str {
        &self.0
    }
    pub fn warnings(&self) -> Vec<FilterWarning> {
        Vec::new()
    }
}
