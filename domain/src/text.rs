//! Checks shared by every aggregate's free-text fields.

use crate::error::DomainError;

/// Trimmed, non-empty, at most `max_chars`, no control characters.
pub fn required(field: &str, value: &str, max_chars: usize) -> Result<String, DomainError> {
    let trimmed = value.trim();
    if trimmed.is_empty() {
        return Err(DomainError::invalid(field, "must not be empty"));
    }
    bounded(field, trimmed, 0, max_chars)
}

/// Trimmed, between `min_chars` and `max_chars`; line breaks are allowed
/// (descriptions, comments), other control characters are not.
pub fn bounded(
    field: &str,
    value: &str,
    min_chars: usize,
    max_chars: usize,
) -> Result<String, DomainError> {
    let trimmed = value.trim();
    let chars = trimmed.chars().count();
    if chars < min_chars {
        return Err(DomainError::invalid(
            field,
            format!("must be at least {min_chars} characters"),
        ));
    }
    if chars > max_chars {
        return Err(DomainError::invalid(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    if trimmed
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
    {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(trimmed.to_owned())
}

/// A single line: like [`required`], and no line breaks either.
pub fn single_line(field: &str, value: &str, max_chars: usize) -> Result<String, DomainError> {
    let text = required(field, value, max_chars)?;
    if text.chars().any(char::is_control) {
        return Err(DomainError::invalid(
            field,
            "must not contain control characters",
        ));
    }
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trims_and_bounds() {
        assert_eq!(required("name", "  Lamp ", 10), Ok("Lamp".into()));
        assert!(required("name", "   ", 10).is_err());
        assert!(required("name", "x".repeat(11).as_str(), 10).is_err());
        assert!(bounded("comment", "ab", 3, 10).is_err());
        assert_eq!(bounded("comment", "a\nb c", 3, 10), Ok("a\nb c".into()));
        assert!(bounded("comment", "a\u{0}bc", 3, 10).is_err());
        assert!(single_line("name", "a\nb", 10).is_err());
    }
}
