//! Input formats shared by the fuzz targets and the seed-corpus generator.
//!
//! Each target reads plain bytes in a small framing that the seed
//! generator (`src/bin/seed_corpora.rs`) can write from the repository's
//! examples and fixtures, so that the corpora start from real inputs.

/// The separator between the parts of an input.
pub const SEP: u8 = 0;

/// `filter` input: the expression, then [`SEP`], then bytes describing the
/// disk it is evaluated against.
pub fn split_filter(data: &[u8]) -> (&[u8], &[u8]) {
    match data.iter().position(|b| *b == SEP) {
        Some(at) => (&data[..at], &data[at + 1..]),
        None => (data, &[]),
    }
}

/// Encodes a `filter` input.
pub fn filter_input(expr: &str) -> Vec<u8> {
    let mut out = expr.as_bytes().to_vec();
    out.push(SEP);
    out
}

/// One scripted HTTP response of the `responses` target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Scripted {
    /// The HTTP status (200 unless the segment starts with three digits
    /// between 200 and 599).
    pub status: u16,
    /// The body.
    pub body: Vec<u8>,
}

/// `responses` input: one byte choosing the call, then the responses to
/// its successive requests, separated by [`SEP`]; each is an optional
/// three-digit status followed by the body.
pub fn split_responses(data: &[u8]) -> Option<(u8, Vec<Scripted>)> {
    let (&call, rest) = data.split_first()?;
    let responses = rest
        .split(|b| *b == SEP)
        .map(|segment| {
            let status = segment
                .get(..3)
                .and_then(|d| std::str::from_utf8(d).ok())
                .and_then(|d| d.parse::<u16>().ok())
                .filter(|s| (200..=599).contains(s));
            match status {
                Some(status) => Scripted {
                    status,
                    body: segment[3..].to_vec(),
                },
                None => Scripted {
                    status: 200,
                    body: segment.to_vec(),
                },
            }
        })
        .collect();
    Some((call, responses))
}

/// Encodes a `responses` input.
pub fn responses_input(call: u8, responses: &[(u16, &[u8])]) -> Vec<u8> {
    let mut out = vec![call];
    for (i, (status, body)) in responses.iter().enumerate() {
        if i > 0 {
            out.push(SEP);
        }
        out.extend_from_slice(status.to_string().as_bytes());
        out.extend(body.iter().copied().filter(|b| *b != SEP));
    }
    out
}
