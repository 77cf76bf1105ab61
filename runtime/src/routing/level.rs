//! Log levels as conditions compare them: a rank per level, with the
//! aliases other loggers write (`warning`, `err`, `critical`), in any case.

/// A level's rank: `trace` 1 … `fatal` 6; 0 means "not a level".
pub(crate) type LevelRank = u8;

/// The levels in rank order, for messages.
pub(crate) const LEVEL_NAMES: &str =
    "trace, debug, info, warn (warning), error (err), fatal (critical)";

/// The rank of a level name, or `None` if the text names no level.
pub(crate) fn level_rank(text: &[u8]) -> Option<LevelRank> {
    // Most loggers write the lower-case names: no case folding for them.
    match text {
        b"info" => return Some(3),
        b"warn" => return Some(4),
        b"error" => return Some(5),
        b"debug" => return Some(2),
        _ => {}
    }
    // Longest alias is 8 bytes ("critical"); anything longer is no level.
    if text.len() > 8 {
        return None;
    }
    let mut lower = [0u8; 8];
    for (slot, byte) in lower.iter_mut().zip(text) {
        *slot = byte.to_ascii_lowercase();
    }
    Some(match &lower[..text.len()] {
        b"trace" => 1,
        b"debug" => 2,
        b"info" => 3,
        b"warn" | b"warning" => 4,
        b"error" | b"err" => 5,
        b"fatal" | b"critical" => 6,
        _ => return None,
    })
}

/// The rank of a `tracing` level (what the `tracing` layer records).
pub(crate) fn tracing_rank(level: &tracing::Level) -> LevelRank {
    match *level {
        tracing::Level::TRACE => 1,
        tracing::Level::DEBUG => 2,
        tracing::Level::INFO => 3,
        tracing::Level::WARN => 4,
        tracing::Level::ERROR => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn aliases_and_case_map_to_one_rank() {
        assert_eq!(level_rank(b"WARNING"), level_rank(b"warn"));
        assert_eq!(level_rank(b"Critical"), level_rank(b"fatal"));
        assert_eq!(level_rank(b"err"), Some(5));
        assert_eq!(level_rank(b"verbose"), None);
        assert_eq!(level_rank(b"informational"), None);
        assert_eq!(level_rank(b""), None);
        assert_eq!(
            tracing_rank(&tracing::Level::WARN),
            level_rank(b"warn").unwrap()
        );
    }
}
