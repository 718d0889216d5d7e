//! Errors as one line each: Polars' messages span paragraphs of hints, a user needs the first.

use polars::prelude::PolarsError;

/// The first paragraph of a Polars error, on one line.
pub(crate) fn polars_msg(err: &PolarsError) -> String {
    let text = err.to_string();
    let first = text.split("\n\n").next().unwrap_or_default();
    cut_quoted(&one_line(first))
}

/// The longest excerpt of the input quoted in an error, in bytes: Polars quotes a bad field
/// whole, and a field may be megabytes long.
const MAX_EXCERPT: usize = 80;

/// `text` with each excerpt between backquotes cut to about [`MAX_EXCERPT`] bytes, so that the
/// words after it (the column, the type) stay in the line.
fn cut_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4 * MAX_EXCERPT));
    for (i, part) in text.split('`').enumerate() {
        if i > 0 {
            out.push('`');
        }
        if i % 2 == 1 && part.len() > MAX_EXCERPT {
            let mut cut = MAX_EXCERPT;
            while !part.is_char_boundary(cut) {
                cut -= 1;
            }
            out.push_str(&part[..cut]);
            out.push_str("...");
        } else {
            out.push_str(part);
        }
    }
    out
}

/// `text` with its line breaks shown as `\n`, so that an error is always exactly one line.
pub(crate) fn one_line(text: &str) -> String {
    text.trim_end().replace('\r', "\\r").replace('\n', "\\n")
}

/// Whether `err` comes from writing to a closed pipe.
pub(crate) fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

/// The longest error line printed, in bytes, before it is cut: an excerpt of a bad file must not
/// become a screenful.
const MAX_LINE: usize = 240;

/// [`one_line`], cut to about [`MAX_LINE`] bytes.
pub(crate) fn short(text: &str) -> String {
    let mut line = one_line(text);
    if line.len() > MAX_LINE {
        let mut cut = MAX_LINE;
        while !line.is_char_boundary(cut) {
            cut -= 1;
        }
        line.truncate(cut);
        line.push_str("...");
    }
    line
}
