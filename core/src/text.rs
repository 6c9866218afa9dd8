//! Text hygiene for names people read: labels, notes and file names. Bidi overrides and other
//! invisible format characters let a name display as something it is not (`invoice\u{202E}fdp.exe`
//! shows as `invoiceexe.pdf`), so the server refuses them in names it stores and strips them from
//! names it only passes on.

/// Whether `c` is a Unicode format character (general category Cf): bidi embeddings, overrides
/// and isolates, zero-width characters, the soft hyphen, the byte-order mark, tag characters…
///
/// The table is the complete Cf category of Unicode 16.
pub fn is_format_char(c: char) -> bool {
    matches!(
        c as u32,
        0x00AD
            | 0x0600..=0x0605
            | 0x061C
            | 0x06DD
            | 0x070F
            | 0x0890..=0x0891
            | 0x08E2
            | 0x180E
            | 0x200B..=0x200F
            | 0x202A..=0x202E
            | 0x2060..=0x2064
            | 0x2066..=0x206F
            | 0xFEFF
            | 0xFFF9..=0xFFFB
            | 0x110BD
            | 0x110CD
            | 0x13430..=0x1343F
            | 0x1BCA0..=0x1BCA3
            | 0x1D173..=0x1D17A
            | 0xE0001
            | 0xE0020..=0xE007F
    )
}

/// Whether `c` may not appear in a displayed name: a control or a format character.
pub fn is_hidden_char(c: char) -> bool {
    c.is_control() || is_format_char(c)
}

/// `s` without control and format characters, for names shown to someone who did not choose them.
pub fn strip_hidden(s: &str) -> String {
    s.chars().filter(|c| !is_hidden_char(*c)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_and_invisible_characters_are_format_characters() {
        for c in [
            '\u{00AD}',
            '\u{200B}',
            '\u{200E}',
            '\u{200F}',
            '\u{202A}',
            '\u{202E}',
            '\u{2060}',
            '\u{2066}',
            '\u{2069}',
            '\u{FEFF}',
            '\u{E0041}',
        ] {
            assert!(is_format_char(c), "{:04X}", c as u32);
        }
        for c in ['a', 'é', ' ', '-', '\u{00A0}', '日', '😀', '\u{0301}'] {
            assert!(!is_format_char(c), "{:04X}", c as u32);
        }
    }

    #[test]
    fn stripping_leaves_what_a_reader_sees() {
        assert_eq!(strip_hidden("invoice\u{202E}fdp.exe"), "invoicefdp.exe");
        assert_eq!(strip_hidden("a\u{1b}[31mb\u{200B}c"), "a[31mbc");
    }
}
