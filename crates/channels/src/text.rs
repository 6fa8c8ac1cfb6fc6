/// Splits `body` into pieces of at most `max_chars` characters, breaking after a
/// newline or a space where one falls in the second half of a piece, so words stay
/// whole where they can.
pub fn split_text(body: &str, max_chars: usize) -> Vec<String> {
    let max_chars = max_chars.max(1);
    let mut pieces = Vec::new();
    let mut rest = body;
    while rest.chars().count() > max_chars {
        let hard_end = rest
            .char_indices()
            .nth(max_chars)
            .map(|(i, _)| i)
            .unwrap_or(rest.len());
        let window = &rest[..hard_end];
        let soft_end = window
            .rfind('\n')
            .or_else(|| window.rfind(' '))
            .filter(|&i| window[..i].chars().count() >= max_chars / 2)
            .map(|i| i + 1);
        let end = soft_end.unwrap_or(hard_end);
        pieces.push(rest[..end].trim_end().to_owned());
        rest = &rest[end..];
    }
    if !rest.trim().is_empty() {
        pieces.push(rest.trim_end().to_owned());
    } else if pieces.is_empty() {
        pieces.push(rest.to_owned());
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::split_text;

    #[test]
    fn short_text_is_one_piece() {
        assert_eq!(split_text("hello", 4096), vec!["hello"]);
    }

    #[test]
    fn long_text_splits_on_words_within_the_limit() {
        let body = "word ".repeat(2000);
        let pieces = split_text(&body, 4096);
        assert_eq!(pieces.len(), 3);
        assert!(pieces.iter().all(|p| p.chars().count() <= 4096));
        assert!(pieces
            .iter()
            .all(|p| !p.starts_with(' ') && p.ends_with("word")));
        assert_eq!(pieces.concat().replace(' ', ""), body.replace(' ', ""));
    }

    #[test]
    fn counts_characters_not_bytes() {
        let body = "न".repeat(5000);
        let pieces = split_text(&body, 4096);
        assert_eq!(pieces.len(), 2);
        assert_eq!(pieces[0].chars().count(), 4096);
        assert_eq!(pieces[1].chars().count(), 904);
    }
}
