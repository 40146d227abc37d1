//! DER (X.690) elements, as the few structures we write by hand need them: the DKIM public
//! key's SubjectPublicKeyInfo and CMS SignedData. A leaf.

/// A DER element: `tag`, its length (short form below 128, else long form), `content`.
pub fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lengths_take_as_many_octets_as_they_need() {
        assert_eq!(tlv(0x04, &[7; 3])[..2], [0x04, 3]);
        assert_eq!(tlv(0x04, &[7; 0x80])[..3], [0x04, 0x81, 0x80]);
        assert_eq!(tlv(0x04, &[7; 0x1234])[..4], [0x04, 0x82, 0x12, 0x34]);
    }
}
