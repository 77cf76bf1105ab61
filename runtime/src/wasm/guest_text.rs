//! Text a guest hands the host (outcome reasons, `start` errors, health
//! texts, log lines, stdout and stderr), made safe to store, print and send:
//! cut to a bounded size and with every control character escaped.
//!
//! A sink author may be an attacker: a 12 MiB reason copied into every
//! dead-letter line fills a disk, a newline forges a host log line, an ANSI
//! escape rewrites what a terminal shows. Every guest string passes through
//! [`lift_guest_text`] before the host keeps it.

/// Longest guest text the host keeps, in bytes, after escaping. Longer text
/// is cut at a character boundary and marked with how much was cut.
pub const MAX_GUEST_TEXT_BYTES: usize = 4 * 1024;

/// Bounds and escapes one guest string: at most [`MAX_GUEST_TEXT_BYTES`]
/// bytes of escaped text, plus a short `… (N more bytes cut)` marker when
/// the guest sent more.
///
/// Escaped: C0 and C1 control characters and DEL (`\n`, `\r`, `\t` as
/// themselves, the rest as `\u{..}`), and the Unicode bidirectional
/// overrides, which can reorder what a terminal shows.
pub fn lift_guest_text(text: &str) -> String {
    crate::untrusted_text::bound_and_escape(text, MAX_GUEST_TEXT_BYTES)
}

/// Like [`lift_guest_text`], for bytes that may not be UTF-8 (a guest's
/// stdout): invalid sequences become U+FFFD first.
pub(crate) fn lift_guest_bytes(bytes: &[u8]) -> String {
    lift_guest_text(&String::from_utf8_lossy(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_text_passes_unchanged() {
        assert_eq!(
            lift_guest_text("disk full: 3 of 4 written"),
            "disk full: 3 of 4 written"
        );
        assert_eq!(lift_guest_text("ünïcödé ✓"), "ünïcödé ✓");
    }

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(
            lift_guest_text("a\nERROR forged\r\t\u{1b}[2J\0\u{7f}\u{9b}"),
            "a\\nERROR forged\\r\\t\\u{1b}[2J\\u{0}\\u{7f}\\u{9b}"
        );
        assert_eq!(
            lift_guest_text("evil\u{202e}txt.exe"),
            "evil\\u{202e}txt.exe"
        );
    }

    #[test]
    fn long_text_is_cut_to_the_bound_after_escaping() {
        let nul = "\0".repeat(12 << 20);
        let lifted = lift_guest_text(&nul);
        assert!(
            lifted.len() <= MAX_GUEST_TEXT_BYTES + 40,
            "{}",
            lifted.len()
        );
        assert!(
            lifted.ends_with("more bytes cut)"),
            "{}",
            &lifted[lifted.len() - 40..]
        );
        let wide = "é".repeat(10_000);
        let lifted = lift_guest_text(&wide);
        assert!(lifted.len() <= MAX_GUEST_TEXT_BYTES + 40);
        assert!(lifted.starts_with("éé"));
    }

    #[test]
    fn invalid_utf8_becomes_replacement_characters() {
        assert_eq!(lift_guest_bytes(b"ok \xff\xfe\n"), "ok \u{fffd}\u{fffd}\\n");
    }
}
