//! Reading a file: its bytes (only the sniff of a binary file), decoded as text with notes on
//! what was odd about them.

use crate::source::FileKind;
use crate::walk::Candidate;

/// Bytes looked at to decide whether a file is binary.
pub const BINARY_SNIFF: usize = 8 * 1024;

/// A file read as text, with what was odd about its bytes.
pub struct Text {
    pub text: String,
    pub notes: Vec<String>,
    /// Why the file is not parsed, when that is known before its analysis (a Cargo manifest
    /// the Cargo model could not read).
    pub not_parsed: Option<String>,
}

/// Why a binary file is skipped.
pub fn binary_reason() -> String {
    format!(
        "binary (a NUL byte in its first {} KiB)",
        BINARY_SNIFF / 1024
    )
}

/// Reads a file as text: `None` for binary content.
pub fn read_text(candidate: &Candidate) -> Result<Option<Text>, String> {
    Ok(decode(read(candidate)?, FileKind::of(&candidate.path)))
}

/// Reads a file's bytes; of a binary file (`is_binary`), only its first 8 KiB, which is all
/// that is ever looked at: a repository's archives and libraries are not read through.
pub fn read(candidate: &Candidate) -> Result<Vec<u8>, String> {
    use std::io::Read;
    let read = || -> std::io::Result<Vec<u8>> {
        let mut file = std::fs::File::open(&candidate.abs)?;
        // The size from the walk is a hint: the file may have grown or shrunk since.
        let size = usize::try_from(candidate.size).unwrap_or(0);
        let mut bytes = Vec::with_capacity(size.min(BINARY_SNIFF));
        (&mut file)
            .take(BINARY_SNIFF as u64)
            .read_to_end(&mut bytes)?;
        if bytes.len() == BINARY_SNIFF && !is_binary(&bytes) {
            // A size too large to reserve is left to the reads to grow into.
            let _ = bytes.try_reserve_exact(size.saturating_add(1).saturating_sub(bytes.len()));
            file.read_to_end(&mut bytes)?;
        }
        Ok(bytes)
    };
    crate::timings::time(crate::timings::Step::Read, read).map_err(|e| format!("cannot read: {e}"))
}

/// Whether bytes are binary content (a NUL byte in the first 8 KiB); see `decode`.
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes[..bytes.len().min(BINARY_SNIFF)].contains(&0)
}

/// Decodes a file's bytes: `None` for binary content (a NUL byte in the first 8 KiB).
pub fn decode(bytes: Vec<u8>, kind: FileKind) -> Option<Text> {
    if is_binary(&bytes) {
        return None;
    }
    let mut notes = Vec::new();
    // An empty source or configuration file is worth a word; an empty `.gitkeep` is not.
    if kind != FileKind::Text && bytes.iter().all(u8::is_ascii_whitespace) {
        notes.push(if bytes.is_empty() {
            "empty file".to_string()
        } else {
            "only whitespace".to_string()
        });
    }
    let mut text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let at = e.utf8_error().valid_up_to();
            let bytes = e.as_bytes();
            let line = 1 + bytes[..at].iter().filter(|&&b| b == b'\n').count();
            notes.push(format!(
                "not valid UTF-8 (first at line {line}, byte {at}): invalid bytes read as U+FFFD"
            ));
            String::from_utf8_lossy(bytes).into_owned()
        }
    };
    // A byte-order mark is dropped by some parsers (syn) and counted by others: drop it here
    // so that every parser and every span agree on positions.
    if text.starts_with('\u{feff}') {
        text.drain(..'\u{feff}'.len_utf8());
        notes.push("starts with a UTF-8 byte-order mark (ignored)".to_string());
    }
    line_ending_notes(&text, &mut notes);
    Some(Text {
        text,
        notes,
        not_parsed: None,
    })
}

fn line_ending_notes(text: &str, notes: &mut Vec<String>) {
    // Most files hold no CR at all: one fast count settles them.
    let cr = memchr::memchr_iter(b'\r', text.as_bytes()).count();
    let crlf = if cr == 0 {
        0
    } else {
        memchr::memmem::find_iter(text.as_bytes(), b"\r\n").count()
    };
    let lone_cr = cr - crlf;
    if crlf > 0 {
        notes.push("CRLF line endings (read as LF)".to_string());
    }
    if lone_cr > 0 {
        notes.push(format!(
            "{lone_cr} lone CR line ending(s): lines are counted at LF only"
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_binary_file_is_read_only_as_far_as_its_sniff() {
        let dir = tempfile::tempdir().unwrap();
        let candidate = |name: &str, bytes: &[u8]| {
            let abs = dir.path().join(name);
            std::fs::write(&abs, bytes).unwrap();
            Candidate {
                path: name.to_string(),
                abs,
                size: bytes.len() as u64,
                stamp: None,
            }
        };
        let mut archive = vec![b'a'; 3 * BINARY_SNIFF];
        archive[10] = 0;
        let read_archive = read(&candidate("lib.a", &archive)).unwrap();
        assert_eq!(read_archive.len(), BINARY_SNIFF);
        assert!(is_binary(&read_archive));
        // A NUL past the sniff does not make a file binary: it is read whole.
        let mut late_nul = vec![b'a'; 3 * BINARY_SNIFF];
        late_nul[BINARY_SNIFF + 1] = 0;
        assert_eq!(read(&candidate("late.txt", &late_nul)).unwrap(), late_nul);
        for len in [0, 5, BINARY_SNIFF - 1, BINARY_SNIFF, BINARY_SNIFF + 1] {
            let text = vec![b'x'; len];
            assert_eq!(read(&candidate("t.txt", &text)).unwrap(), text, "{len}");
        }
        // The walk's size is a hint: a file that grew since is still read whole.
        let mut grown = candidate("grown.txt", b"short");
        std::fs::write(&grown.abs, vec![b'y'; 2 * BINARY_SNIFF]).unwrap();
        assert_eq!(read(&grown).unwrap().len(), 2 * BINARY_SNIFF);
        grown.size = u64::MAX;
        assert_eq!(read(&grown).unwrap().len(), 2 * BINARY_SNIFF);
    }
}
