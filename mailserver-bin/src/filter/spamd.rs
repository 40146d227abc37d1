//! SpamAssassin's spamd, asked with `SYMBOLS` over its SPAMC/1.5 protocol, as spamc asks it:
//! the score, the threshold of its own configuration, and the names of the rules that hit.

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use super::scanner::{ScanError, connect, io};

/// spamd's verdict on a message.
#[derive(Debug, Clone, PartialEq)]
pub struct SpamScore {
    pub score: f64,
    /// spamd's own `required_score`.
    pub required: f64,
    /// The rules that hit.
    pub tests: Vec<String>,
}

/// Scans `message` with the spamd at `address`.
pub async fn scan(address: &str, message: &[u8]) -> Result<SpamScore, ScanError> {
    let mut stream = connect(address).await?;
    let fail = io(address);
    let request = format!(
        "SYMBOLS SPAMC/1.5\r\nContent-length: {}\r\n\r\n",
        message.len()
    );
    stream.write_all(request.as_bytes()).await.map_err(&fail)?;
    stream.write_all(message).await.map_err(&fail)?;
    stream.shutdown().await.map_err(&fail)?;
    let mut answer = Vec::new();
    (&mut stream)
        .take(64 * 1024)
        .read_to_end(&mut answer)
        .await
        .map_err(&fail)?;
    parse(&answer).ok_or_else(|| ScanError::Answer {
        address: address.to_owned(),
        answer: String::from_utf8_lossy(&answer[..answer.len().min(200)]).into_owned(),
    })
}

/// `SPAMD/1.1 0 EX_OK`, headers with `Spam: True ; 1000.0 / 5.0`, an empty line, then the
/// rule names separated by commas.
fn parse(answer: &[u8]) -> Option<SpamScore> {
    let text = std::str::from_utf8(answer).ok()?;
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((text, ""));
    let mut lines = head.lines();
    let status = lines.next()?;
    let mut words = status.split_whitespace();
    if !words.next()?.starts_with("SPAMD/") || words.next()? != "0" {
        return None;
    }
    let spam = lines.find_map(|l| {
        let (name, value) = l.split_once(':')?;
        name.trim().eq_ignore_ascii_case("spam").then_some(value)
    })?;
    let (_, numbers) = spam.split_once(';')?;
    let (score, required) = numbers.split_once('/')?;
    Some(SpamScore {
        score: score.trim().parse().ok()?,
        required: required.trim().parse().ok()?,
        tests: body
            .split(',')
            .map(str::trim)
            .filter(|t| !t.is_empty())
            .map(str::to_owned)
            .collect(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_are_read_as_spamd_writes_them() {
        let answer = b"SPAMD/1.1 0 EX_OK\r\nContent-length: 20\r\nSpam: True ; 1000.0 / 5.0\r\n\r\nGTUBE,MISSING_DATE\r\n";
        assert_eq!(
            parse(answer).unwrap(),
            SpamScore {
                score: 1000.0,
                required: 5.0,
                tests: vec!["GTUBE".into(), "MISSING_DATE".into()],
            }
        );
        let ham = b"SPAMD/1.1 0 EX_OK\r\nSpam: False ; -0.1 / 5.0\r\n\r\n";
        assert_eq!(parse(ham).unwrap().tests.len(), 0);
        assert!(parse(b"SPAMD/1.0 76 Bad header line: x\r\n").is_none());
    }
}
