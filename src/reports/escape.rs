//! Text into Markdown: every label, annotation and name is attacker-controlled, so what a
//! template shows is escaped unless it says otherwise.

/// One line of literal text: Markdown's punctuation backslash-escaped (CommonMark renders `\*`
/// as `*`), HTML's too, and line breaks made spaces, so it can sit in a list item or a table cell
/// without starting a heading, a link, an image, raw HTML or a new cell.
pub fn inline(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '~' | '&' | '#' | '!' => {
                out.push('\\');
                out.push(c);
            }
            '\r' | '\n' | '\t' => out.push(' '),
            c if c.is_control() => {}
            c => out.push(c),
        }
    }
    out
}

/// Text people wrote as Markdown (notes, edited sections): kept as Markdown, but no raw HTML
/// (`<` and `&` escaped) and no line that could end the section with a heading of its own.
pub fn block(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.trim().lines().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let trimmed = line.trim_start();
        out.push_str(&line[..line.len() - trimmed.len()]);
        if trimmed.starts_with('#') {
            out.push('\\');
        }
        for c in trimmed.chars() {
            match c {
                '<' | '>' | '&' => {
                    out.push('\\');
                    out.push(c);
                }
                c if c.is_control() && c != '\t' => {}
                c => out.push(c),
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inline_text_cannot_make_markup() {
        assert_eq!(
            inline("![x](http://evil) <script> | a\nb # *c* `d`"),
            "\\!\\[x\\](http://evil) \\<script\\> \\| a b \\# \\*c\\* \\`d\\`"
        );
        assert_eq!(inline("web-1 5xx.rate"), "web-1 5xx.rate");
    }

    #[test]
    fn written_markdown_stays_but_html_and_headings_do_not() {
        assert_eq!(
            block("  the *disk* filled\n# Not a heading\n<img src=x>  "),
            "the *disk* filled\n\\# Not a heading\n\\<img src=x\\>"
        );
    }
}
