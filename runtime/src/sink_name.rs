//! The one rule every sink name follows, checked wherever a name enters:
//! TOML tables, URI `name=`, and the [`PipelineBuilder`](crate::PipelineBuilder).
//!
//! Names become file names (dead letters), log fields and environment
//! variable parts, so they are kept to characters that are safe in all three.

/// Longest sink name, in characters.
pub const MAX_SINK_NAME_LEN: usize = 64;

/// Checks a sink name: 1 to 64 ASCII letters, digits, `_`, `-` or `.`, not
/// starting with `.`. The error says what is wrong and what would be right.
pub fn check_sink_name(name: &str) -> Result<(), String> {
    let shown: String = name.chars().take(MAX_SINK_NAME_LEN + 1).collect();
    let shown = format!("{shown:?}");
    if name.is_empty() {
        return Err("a sink name may not be empty; use letters, digits, `_`, `-` or `.`, such as \"applog\"".into());
    }
    if name.len() > MAX_SINK_NAME_LEN {
        return Err(format!(
            "the sink name {shown}… is longer than {MAX_SINK_NAME_LEN} characters; choose a shorter one"
        ));
    }
    if let Some(bad) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')))
    {
        return Err(format!(
            "the sink name {shown} contains {bad:?}; a name may hold only letters, digits, `_`, `-` and `.`, such as \"app_log-2\""
        ));
    }
    if name.starts_with('.') {
        return Err(format!(
            "the sink name {shown} starts with `.`; start it with a letter, digit, `_` or `-`"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_one_rule() {
        for good in ["applog", "a", "app_log-2.v1", &"x".repeat(64)] {
            assert_eq!(check_sink_name(good), Ok(()), "{good}");
        }
        for bad in [
            "",
            "a/b",
            "..",
            ".hidden",
            "a b",
            "ünï",
            "a\nb",
            &"x".repeat(65),
            "a\0",
        ] {
            let err = check_sink_name(bad).unwrap_err();
            assert!(!err.contains('\n') && !err.contains('\0'), "{err}");
        }
    }
}
