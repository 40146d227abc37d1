//! Dates for the `date` and `currentdate` tests (RFC 5260): header dates (RFC 5322 §3.3,
//! with the obsolete forms mail still carries) read into a point in time and a zone, and the
//! date parts a test compares, in any zone. No clock: the current time is the caller's.

/// A point in time with the zone it is shown in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DateTime {
    /// Seconds since 1970-01-01T00:00:00Z.
    pub unix: i64,
    /// The zone's offset from UTC, in minutes (east positive).
    pub offset_minutes: i32,
}

/// Days since 1970-01-01 of a civil date (Howard Hinnant's algorithm).
fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The civil date of a day count since 1970-01-01.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

const MONTHS: [&str; 12] = [
    "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
];

/// Reads an RFC 5322 date (`[Mon, ]1 Dec 2026 10:00[:00] +0100 (comment)`, two-digit years
/// and named zones included); `None` when it is not one.
pub fn parse(text: &str) -> Option<DateTime> {
    let text = match text.find('(') {
        Some(i) => &text[..i],
        None => text,
    };
    let text = text.split_once(',').map_or(text, |(_, rest)| rest);
    let mut words = text.split_whitespace();
    let day: u32 = words.next()?.parse().ok()?;
    let month = words.next()?.to_ascii_lowercase();
    let month = MONTHS.iter().position(|m| month.starts_with(m))? as u32 + 1;
    let year: i64 = words.next()?.parse().ok()?;
    let year = match year {
        0..=49 => 2000 + year,
        50..=999 => 1900 + year,
        y => y,
    };
    let mut time = words.next()?.split(':');
    let hour: i64 = time.next()?.parse().ok()?;
    let minute: i64 = time.next()?.parse().ok()?;
    let second: i64 = time.next().map_or(Some(0), |s| s.parse().ok())?;
    let offset = zone(words.next().unwrap_or("-0000"))?;
    if !(1..=31).contains(&day) || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let local = days_from_civil(year, month, day) * 86_400 + hour * 3600 + minute * 60 + second;
    Some(DateTime {
        unix: local - i64::from(offset) * 60,
        offset_minutes: offset,
    })
}

/// A zone as minutes east of UTC: `+hhmm`/`-hhmm`, or the names RFC 5322 §4.3 keeps.
pub fn zone(text: &str) -> Option<i32> {
    let b = text.as_bytes();
    if b.len() == 5 && (b[0] == b'+' || b[0] == b'-') && b[1..].iter().all(u8::is_ascii_digit) {
        let hours: i32 = text[1..3].parse().ok()?;
        let minutes: i32 = text[3..5].parse().ok()?;
        if minutes > 59 {
            return None;
        }
        let sign = if b[0] == b'-' { -1 } else { 1 };
        return Some(sign * (hours * 60 + minutes));
    }
    Some(match text.to_ascii_uppercase().as_str() {
        "UT" | "GMT" | "Z" => 0,
        "EDT" => -4 * 60,
        "EST" | "CDT" => -5 * 60,
        "CST" | "MDT" => -6 * 60,
        "MST" | "PDT" => -7 * 60,
        "PST" => -8 * 60,
        _ => return None,
    })
}

impl DateTime {
    /// The same moment shown in the zone `offset_minutes`.
    pub fn in_zone(self, offset_minutes: i32) -> Self {
        Self {
            unix: self.unix,
            offset_minutes,
        }
    }

    /// A date part of RFC 5260 §4.2 (`year`, `month`, `day`, `date`, `julian`, `hour`,
    /// `minute`, `second`, `time`, `iso8601`, `std11`, `zone`, `weekday`); `None` for an
    /// unknown part.
    pub fn part(self, name: &str) -> Option<String> {
        let local = self.unix + i64::from(self.offset_minutes) * 60;
        let days = local.div_euclid(86_400);
        let secs = local.rem_euclid(86_400);
        let (y, m, d) = civil_from_days(days);
        let (hh, mm, ss) = (secs / 3600, secs / 60 % 60, secs % 60);
        let off = self.offset_minutes;
        let zone = format!(
            "{}{:02}{:02}",
            if off < 0 { '-' } else { '+' },
            off.abs() / 60,
            off.abs() % 60
        );
        // 1970-01-01 was a Thursday (4).
        let weekday = (days + 4).rem_euclid(7);
        Some(match name.to_ascii_lowercase().as_str() {
            "year" => format!("{y:04}"),
            "month" => format!("{m:02}"),
            "day" => format!("{d:02}"),
            "date" => format!("{y:04}-{m:02}-{d:02}"),
            // The Modified Julian Day: days since 1858-11-17.
            "julian" => (days + 40_587).to_string(),
            "hour" => format!("{hh:02}"),
            "minute" => format!("{mm:02}"),
            "second" => format!("{ss:02}"),
            "time" => format!("{hh:02}:{mm:02}:{ss:02}"),
            "iso8601" => format!(
                "{y:04}-{m:02}-{d:02}T{hh:02}:{mm:02}:{ss:02}{}:{}",
                &zone[..3],
                &zone[3..]
            ),
            "std11" => {
                const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
                const NAMES: [&str; 12] = [
                    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov",
                    "Dec",
                ];
                format!(
                    "{}, {d:02} {} {y:04} {hh:02}:{mm:02}:{ss:02} {zone}",
                    DAYS[weekday as usize],
                    NAMES[(m - 1) as usize]
                )
            }
            "zone" => zone,
            "weekday" => weekday.to_string(),
            _ => return None,
        })
    }
}

/// Whether `name` is a date part of RFC 5260.
pub fn is_part(name: &str) -> bool {
    DateTime {
        unix: 0,
        offset_minutes: 0,
    }
    .part(name)
    .is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_and_their_parts() {
        let d = parse("Tue, 1 Dec 2026 23:30:05 -0500 (EST)").unwrap();
        assert_eq!(d.part("date").unwrap(), "2026-12-01");
        assert_eq!(d.part("zone").unwrap(), "-0500");
        assert_eq!(d.part("weekday").unwrap(), "2");
        let utc = d.in_zone(0);
        assert_eq!(utc.part("date").unwrap(), "2026-12-02");
        assert_eq!(utc.part("time").unwrap(), "04:30:05");
        assert_eq!(utc.part("iso8601").unwrap(), "2026-12-02T04:30:05+00:00");
        assert_eq!(
            utc.part("std11").unwrap(),
            "Wed, 02 Dec 2026 04:30:05 +0000"
        );
        // RFC 5260's example: the Modified Julian Day of 2008-05-09 is 54595.
        assert_eq!(
            parse("9 May 2008 12:00 GMT")
                .unwrap()
                .part("julian")
                .unwrap(),
            "54595"
        );
        assert_eq!(
            parse("1 Jan 99 00:00 +0000").unwrap().part("year").unwrap(),
            "1999"
        );
        assert!(parse("yesterday").is_none());
        assert!(parse("32 Jan 2026 10:00 +0000").is_none());
        assert!(!is_part("fortnight"));
    }
}
