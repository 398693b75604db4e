//! `filter_markup`: strips Rich-style markup tags.
//!
//! As in Rich, a tag is `[` followed by a lowercase ASCII letter, `#`, `/` or `@`, up to the
//! next `]` with no `[` in between: `[bold]`, `[bold red]`, `[/bold]`, `[/]`,
//! `[link=https://x]`, `[#ff0000]`. Rich's pattern is `[a-z#/@]`: `[INFO]`, `[GET]`,
//! `[Errno 2]` or `[True]` are text, not tags, and stay.
//! A `[` preceded by an odd number of backslashes is escaped: one backslash is removed and the
//! bracket kept (`\[bold]` → `[bold]`). Text such as `[1, 2]` or `[ x ]` is not a tag.

use std::borrow::Cow;

/// `s` without markup; borrows when there is nothing to strip.
pub(crate) fn strip(s: &str) -> Cow<'_, str> {
    if !s.contains('[') {
        return Cow::Borrowed(s);
    }
    let b = s.as_bytes();
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    let mut changed = false;
    let mut run_start = 0;
    while i < b.len() {
        if b[i] != b'[' {
            i += 1;
            continue;
        }
        let backslashes = b[..i].iter().rev().take_while(|&&c| c == b'\\').count();
        if backslashes % 2 == 1 {
            // Escaped: drop one backslash, keep the bracket.
            out.push_str(&s[run_start..i - 1]);
            out.push('[');
            changed = true;
            i += 1;
            run_start = i;
            continue;
        }
        let is_tag_start = b
            .get(i + 1)
            .is_some_and(|c| c.is_ascii_lowercase() || matches!(c, b'#' | b'/' | b'@'));
        let close = s[i + 1..].find([']', '[']).map(|j| i + 1 + j);
        match close {
            Some(j) if is_tag_start && b[j] == b']' => {
                out.push_str(&s[run_start..i]);
                changed = true;
                i = j + 1;
                run_start = i;
            }
            _ => i += 1,
        }
    }
    if !changed {
        return Cow::Borrowed(s);
    }
    out.push_str(&s[run_start..]);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::strip;

    #[test]
    fn strips_tags_and_keeps_escapes_and_plain_brackets() {
        assert_eq!(strip("[bold red]Alert[/] done"), "Alert done");
        assert_eq!(strip("[link=https://x.org]site[/link]"), "site");
        assert_eq!(strip("[#ff0000]red[/#ff0000] [@click]"), "red ");
        assert_eq!(strip(r"use \[bold] literally"), "use [bold] literally");
        assert_eq!(strip(r"two \\[bold]x"), r"two \\x");
        assert_eq!(
            strip("list [1, 2] and [ x ] stay"),
            "list [1, 2] and [ x ] stay"
        );
        assert_eq!(strip("unclosed [bold"), "unclosed [bold");
        assert_eq!(strip("[a[b]c]"), "[ac]");
        assert!(matches!(strip("no markup"), std::borrow::Cow::Borrowed(_)));
        assert!(matches!(strip("[1] kept"), std::borrow::Cow::Borrowed(_)));
    }
}
