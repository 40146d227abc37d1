//! ClamAV's clamd, asked with `INSTREAM` (the message sent in length-prefixed chunks), as
//! clamdscan and clamav-milter ask it.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::scanner::{ScanError, connect, io};

/// Octets per chunk of the stream (clamd's own clients send as much).
const CHUNK: usize = 64 * 1024;

/// What clamd found in a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VirusScan {
    Clean,
    /// The name of the signature that matched.
    Infected(String),
}

/// Scans `message` with the clamd at `address`.
pub async fn scan(address: &str, message: &[u8]) -> Result<VirusScan, ScanError> {
    let mut stream = connect(address).await?;
    let fail = io(address);
    stream.write_all(b"zINSTREAM\0").await.map_err(&fail)?;
    for chunk in message.chunks(CHUNK) {
        let len = u32::try_from(chunk.len()).unwrap_or(u32::MAX).to_be_bytes();
        stream.write_all(&len).await.map_err(&fail)?;
        stream.write_all(chunk).await.map_err(&fail)?;
    }
    stream.write_all(&[0; 4]).await.map_err(&fail)?;
    let mut answer = Vec::new();
    (&mut stream)
        .take(4096)
        .read_to_end(&mut answer)
        .await
        .map_err(&fail)?;
    parse(address, &answer)
}

/// `stream: OK`, `stream: <name> FOUND`, or an error line; NUL-terminated.
fn parse(address: &str, answer: &[u8]) -> Result<VirusScan, ScanError> {
    let text = String::from_utf8_lossy(answer);
    let text = text.trim_end_matches(['\0', '\n']).trim();
    let verdict = text.strip_prefix("stream:").map(str::trim);
    match verdict {
        Some("OK") => Ok(VirusScan::Clean),
        Some(v) if v.ends_with(" FOUND") => Ok(VirusScan::Infected(
            v.trim_end_matches(" FOUND").trim().to_owned(),
        )),
        _ => Err(ScanError::Answer {
            address: address.to_owned(),
            answer: text.to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_clamd_writes_them() {
        assert_eq!(parse("c", b"stream: OK\0").unwrap(), VirusScan::Clean);
        assert_eq!(
            parse("c", b"stream: Eicar-Signature FOUND\0").unwrap(),
            VirusScan::Infected("Eicar-Signature".into())
        );
        assert!(parse("c", b"INSTREAM size limit exceeded. ERROR\0").is_err());
    }
}
