//! Text a stranger controls (a guest's outcome reasons and log lines, a
//! server's error bodies), made safe to store, print and send: cut to a
//! bounded size and with every control character escaped. Both the
//! sandbox (`wasm::guest_text`) and the native sinks' HTTP layer
//! (`sinks::util::http`) use it.

/// `text` with every control character escaped, cut to at most `max`
/// bytes of escaped text, plus a short `… (N more bytes cut)` marker when
/// it was longer.
///
/// Escaped: C0 and C1 control characters and DEL (`\n`, `\r`, `\t` as
/// themselves, the rest as `\u{..}`), a backslash (doubled, so no text can
/// pass for an escape made here), and the Unicode bidirectional overrides,
/// which can reorder what a terminal shows.
pub(crate) fn bound_and_escape(text: &str, max: usize) -> String {
    let mut out = String::with_capacity(text.len().min(max));
    for (offset, c) in text.char_indices() {
        let before = out.len();
        push_escaped(&mut out, c);
        if out.len() > max {
            out.truncate(before);
            let cut = text.len() - offset;
            out.push_str(&format!("… ({cut} more bytes cut)"));
            return out;
        }
    }
    out
}

fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        // A guest's own backslash is doubled, so what it wrote can never
        // pass for an escape the host made.
        '\\' => out.push_str("\\\\"),
        c if c.is_control() || is_bidi_control(c) => {
            out.push_str(&format!("\\u{{{:x}}}", c as u32));
        }
        c => out.push(c),
    }
}

/// Characters that change the display order of the text around them, and
/// the Unicode line and paragraph separators.
fn is_bidi_control(c: char) -> bool {
    matches!(
        c,
        '\u{202a}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{200e}'
            | '\u{200f}'
            | '\u{061c}'
            | '\u{2028}'
            | '\u{2029}'
    )
}
