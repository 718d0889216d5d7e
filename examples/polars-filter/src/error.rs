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
            out.push_str(&part[..floor_char_boundary(part, MAX_EXCERPT)]);
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

/// How much of a long line's end [`short`] keeps: the cause ("File name too long") comes last.
const KEPT_END: usize = 120;

/// [`one_line`], cut to about [`MAX_LINE`] bytes. The cut is in the middle: the start says what
/// failed, the end why. (The values in a line, codes and paths, are shortened where the line is
/// made, by [`code`] and [`path`], so this cut is a last resort.)
pub(crate) fn short(text: &str) -> String {
    let line = one_line(text);
    if line.len() <= MAX_LINE {
        return line;
    }
    let head = floor_char_boundary(&line, MAX_LINE - KEPT_END);
    let mut tail = line.len() - KEPT_END;
    while !line.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{} ... {}", &line[..head], &line[tail..])
}

/// The longest code or path component quoted whole in a message, in bytes.
const MAX_VALUE: usize = 40;

/// A code as a message quotes it: whole when short, else its start, `...` and its length, so that
/// a code of 300 bytes never pushes the reason out of the line.
pub(crate) fn code(code: &str) -> String {
    if code.len() <= MAX_VALUE {
        return code.to_owned();
    }
    let cut = floor_char_boundary(code, MAX_VALUE - 8);
    format!("{}...({} bytes)", &code[..cut], code.len())
}

/// A path as a message quotes it: each component longer than [`MAX_VALUE`] bytes (a file named
/// after a long code) shortened as [`code`] does.
pub(crate) fn path(path: &std::path::Path) -> String {
    let text = path.display().to_string();
    if text.split('/').all(|part| part.len() <= MAX_VALUE) {
        return text;
    }
    text.split('/').map(code).collect::<Vec<_>>().join("/")
}

/// The largest char boundary of `text` at or below `at`.
fn floor_char_boundary(text: &str, at: usize) -> usize {
    let mut cut = at.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_line_keeps_its_start_and_its_end() {
        let line = format!("cannot write {}: File name too long", "é".repeat(200));
        let cut = short(&line);
        assert!(cut.len() <= MAX_LINE + 8, "{} bytes", cut.len());
        assert!(cut.starts_with("cannot write é"), "{cut}");
        assert!(cut.ends_with(": File name too long"), "{cut}");
        assert_eq!(short("short"), "short");
    }

    #[test]
    fn long_codes_and_path_components_are_shortened() {
        assert_eq!(code("0001"), "0001");
        let long = "x".repeat(300);
        assert_eq!(code(&long), format!("{}...(300 bytes)", &long[..32]));
        let shown = path(std::path::Path::new(&format!("out/{long}.csv")));
        assert_eq!(shown, format!("out/{}...(304 bytes)", &long[..32]));
    }
}
