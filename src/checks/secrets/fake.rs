//! Fake credentials for tests and fixtures: a template such as `ghp_{b62:30}{crc}` expands into a
//! value of the right shape (with a valid checksum where `{crc}` asks for one), deterministic
//! for a given seed. Fixture files hold templates, never values, so that no hosting provider's
//! push protection ever sees a credential-shaped string in this repository.

use sha2::{Digest, Sha256};

use super::patterns::base62_crc32;

const B62: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const B64: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const B64URL: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B32: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const BECH32: &[u8] = b"QPZRY9X8GF2TVDW0S3JN54KHCE6MUA7L";

fn alphabet(class: &str) -> Option<&'static [u8]> {
    Some(match class {
        "b62" => B62,
        "b64" => B64,
        "b64url" => B64URL,
        "b32" => B32,
        "bech32" => BECH32,
        "hex" => b"0123456789abcdef",
        "HEX" => b"0123456789ABCDEF",
        "upper" => b"ABCDEFGHIJKLMNOPQRSTUVWXYZ",
        "lower" => b"abcdefghijklmnopqrstuvwxyz",
        "digits" => b"0123456789",
        _ => return None,
    })
}

/// Expands a template. Unknown `{..}` parts are kept as written.
pub fn expand(template: &str, seed: &str) -> String {
    let mut out = String::new();
    let mut last_segment = String::new();
    let mut counter = 0u32;
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let Some(close) = rest[open..].find('}') else {
            break;
        };
        let spec = &rest[open + 1..open + close];
        rest = &rest[open + close + 1..];
        if spec == "crc" {
            out.push_str(&base62_crc32(&last_segment));
            continue;
        }
        if let Some(bytes) = spec.strip_prefix("bech32key:").and_then(|n| n.parse().ok()) {
            out.push_str(&bech32_data(&out, bytes, seed));
            continue;
        }
        let parsed = spec
            .split_once(':')
            .and_then(|(class, n)| Some((alphabet(class)?, n.parse::<usize>().ok()?)));
        let Some((chars, len)) = parsed else {
            out.push('{');
            out.push_str(spec);
            out.push('}');
            continue;
        };
        let mut segment = String::with_capacity(len);
        while segment.len() < len {
            counter += 1;
            let digest = Sha256::digest(format!("{seed}/{template}/{counter}").as_bytes());
            for byte in digest {
                if segment.len() < len {
                    segment.push(chars[byte as usize % chars.len()] as char);
                }
            }
        }
        out.push_str(&segment);
        last_segment = segment;
    }
    out.push_str(rest);
    out
}

/// `bytes` random bytes in upper-case bech32 with their checksum, for the human-readable part
/// that `before` ends with (`AGE-SECRET-KEY-1`: the part, then the separator `1`).
fn bech32_data(before: &str, bytes: usize, seed: &str) -> String {
    let word = before
        .rsplit(|c: char| !(c.is_ascii_alphanumeric() || c == '-'))
        .next()
        .unwrap_or_default();
    let hrp = word.strip_suffix('1').unwrap_or(word);
    let data: Vec<u8> = (0u32..)
        .flat_map(|n| Sha256::digest(format!("{seed}/bech32/{n}").as_bytes()))
        .take(bytes)
        .collect();
    let encoded = bech32::Hrp::parse(hrp)
        .ok()
        .and_then(|hrp| bech32::encode_upper::<bech32::Bech32>(hrp, &data).ok())
        .unwrap_or_default();
    encoded.get(hrp.len() + 1..).unwrap_or_default().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn templates_expand_deterministically() {
        let a = expand("ghp_{b62:30}{crc}", "x");
        assert_eq!(a, expand("ghp_{b62:30}{crc}", "x"));
        assert_ne!(a, expand("ghp_{b62:30}{crc}", "y"));
        assert_eq!(a.len(), 40);
        assert_eq!(&a[34..], base62_crc32(&a[4..34]));
        assert_eq!(expand("AKIA{b32:16}{nope}", "s").len(), 26);
    }
}
