//! The preferred HTTP date format, IMF-fixdate (RFC 9110 §5.6.7: `Sun, 06 Nov 1994 08:49:37
//! GMT`), read and written directly: the cache reads a stored response's `Date` on every hit
//! and writes `Expires` on most answers. The two obsolete formats a recipient must also accept
//! are read by `httpdate` (see `rfc::freshness::http_date`); tests compare both ways with it.

/// The last second an HTTP date can name (9999-12-31 23:59:59).
pub const LAST_SECOND: u64 = 253_402_300_799;

/// Day names by days since the epoch modulo 7 (1970-01-01 was a Thursday).
const DAYS: [[u8; 3]; 7] = [*b"Thu", *b"Fri", *b"Sat", *b"Sun", *b"Mon", *b"Tue", *b"Wed"];
const MONTHS: [[u8; 3]; 12] = [
    *b"Jan", *b"Feb", *b"Mar", *b"Apr", *b"May", *b"Jun", *b"Jul", *b"Aug", *b"Sep", *b"Oct", *b"Nov",
    *b"Dec",
];

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's `days_from_civil`).
fn days_from_civil(year: u64, month: u64, day: u64) -> u64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).saturating_sub(719_468)
}

/// The date of a day since 1970-01-01 (`civil_from_days`): year, month 1–12, day 1–31.
fn civil_from_days(days: u64) -> (u64, u64, u64) {
    let z = days + 719_468;
    let era = z / 146_097;
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + u64::from(month <= 2), month, day)
}

/// `secs` since the epoch as an IMF-fixdate (at most [`LAST_SECOND`]).
pub fn format(secs: u64) -> String {
    let secs = secs.min(LAST_SECOND);
    let days = secs / 86_400;
    let (year, month, day) = civil_from_days(days);
    let in_day = secs % 86_400;
    let digit = |n: u64| b'0' + (n % 10) as u8;
    let [w0, w1, w2] = DAYS.get((days % 7) as usize).copied().unwrap_or(*b"Thu");
    let [m0, m1, m2] = MONTHS.get(month.saturating_sub(1) as usize).copied().unwrap_or(*b"Jan");
    let (hour, minute, second) = (in_day / 3600, in_day / 60 % 60, in_day % 60);
    let out: [u8; 29] = [
        w0,
        w1,
        w2,
        b',',
        b' ',
        digit(day / 10),
        digit(day),
        b' ',
        m0,
        m1,
        m2,
        b' ',
        digit(year / 1000),
        digit(year / 100),
        digit(year / 10),
        digit(year),
        b' ',
        digit(hour / 10),
        digit(hour),
        b':',
        digit(minute / 10),
        digit(minute),
        b':',
        digit(second / 10),
        digit(second),
        b' ',
        b'G',
        b'M',
        b'T',
    ];
    String::from_utf8(out.to_vec()).unwrap_or_default()
}

/// The value of two ASCII digits.
fn two_digits(tens: u8, ones: u8) -> Option<u64> {
    if tens.is_ascii_digit() && ones.is_ascii_digit() {
        Some(u64::from(tens - b'0') * 10 + u64::from(ones - b'0'))
    } else {
        None
    }
}

/// Reads an IMF-fixdate, exactly as written (day name, two-digit day, month name, four-digit
/// year, `GMT`) and naming a real second from 1970 to 9999 on the day of the week it gives;
/// `None` for anything else.
pub fn parse_imf_fixdate(text: &str) -> Option<u64> {
    let bytes: &[u8; 29] = text.as_bytes().try_into().ok()?;
    let [w0, w1, w2, b',', b' ', d1, d2, b' ', m0, m1, m2, b' ', y1, y2, y3, y4, b' ', h1, h2, b':', n1, n2, b':', s1, s2, b' ', b'G', b'M', b'T'] =
        *bytes
    else {
        return None;
    };
    let weekday = DAYS.iter().position(|d| *d == [w0, w1, w2])? as u64;
    let month = MONTHS.iter().position(|m| *m == [m0, m1, m2])? as u64 + 1;
    let day = two_digits(d1, d2)?;
    let year = two_digits(y1, y2)? * 100 + two_digits(y3, y4)?;
    let (hour, minute, second) = (two_digits(h1, h2)?, two_digits(n1, n2)?, two_digits(s1, s2)?);
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    if !(1970..=9999).contains(&year)
        || hour > 23
        || minute > 59
        || second > 59
        || day == 0
        || day > month_days
    {
        return None;
    }
    let days = days_from_civil(year, month, day);
    if days % 7 != weekday {
        return None;
    }
    Some(days * 86_400 + hour * 3600 + minute * 60 + second)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, UNIX_EPOCH};

    fn reference_format(secs: u64) -> String {
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(secs))
    }

    fn reference_parse(text: &str) -> Option<u64> {
        let t = httpdate::parse_http_date(text).ok()?;
        t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
    }

    /// Seconds spread over the whole range, with the ends and the leap days.
    fn samples() -> impl Iterator<Item = u64> {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let spread = (0..20_000).map(move |_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x % (LAST_SECOND + 1)
        });
        [0, 1, 86_399, 86_400, 951_782_400, 951_868_799, 4_107_542_400, LAST_SECOND].into_iter().chain(spread)
    }

    #[test]
    fn formats_as_httpdate_does() {
        for secs in samples() {
            assert_eq!(format(secs), reference_format(secs), "{secs}");
        }
        assert_eq!(format(u64::MAX), "Fri, 31 Dec 9999 23:59:59 GMT");
    }

    #[test]
    fn reads_every_date_it_writes() {
        for secs in samples() {
            assert_eq!(parse_imf_fixdate(&format(secs)), Some(secs), "{secs}");
        }
    }

    #[test]
    fn refuses_what_httpdate_refuses_and_reads_the_rest_alike() {
        let mut texts = vec![
            "Sun, 06 Nov 1994 08:49:37 GMT".to_string(),
            "Mon, 06 Nov 1994 08:49:37 GMT".to_string(), // wrong day of the week
            "Sun, 31 Nov 1994 08:49:37 GMT".to_string(), // no such day
            "Tue, 29 Feb 2000 00:00:00 GMT".to_string(),
            "Thu, 29 Feb 2001 00:00:00 GMT".to_string(),
            "Sun, 06 Nov 1994 24:00:00 GMT".to_string(),
            "Sun, 06 Nov 1994 08:60:37 GMT".to_string(),
            "Sun, 06 Nov 1994 08:49:60 GMT".to_string(),
            "Sun, 00 Nov 1994 08:49:37 GMT".to_string(),
            "Wed, 31 Dec 1969 23:59:59 GMT".to_string(),
            "sun, 06 Nov 1994 08:49:37 GMT".to_string(),
            "Sun, 06 nov 1994 08:49:37 GMT".to_string(),
            "Sun, 06 Nov 1994 08:49:37 UTC".to_string(),
            "Sun,  6 Nov 1994 08:49:37 GMT".to_string(),
            "Sun, 06 Nov 1994 08:49:37 GMT ".to_string(),
            "Sun, 06 Nov 1994 8:49:37 GMT".to_string(),
            "Sun, 06 Nov +994 08:49:37 GMT".to_string(),
            "Sunday, 06-Nov-94 08:49:37 GMT".to_string(),
            "Sun Nov  6 08:49:37 1994".to_string(),
        ];
        // Every one-byte change of a valid date.
        let valid = "Sat, 29 Feb 2020 23:59:59 GMT";
        for i in 0..valid.len() {
            for c in [b'0', b'9', b' ', b':', b'a', b'M', b','] {
                let mut bytes = valid.as_bytes().to_vec();
                bytes[i] = c;
                texts.extend(String::from_utf8(bytes).ok());
            }
        }
        for text in &texts {
            let reference = reference_parse(text);
            match parse_imf_fixdate(text) {
                Some(secs) => assert_eq!(Some(secs), reference, "{text}"),
                // What this refuses is either refused by httpdate too or not an IMF-fixdate.
                None => assert!(reference.is_none() || text.len() != 29, "{text}: {reference:?}"),
            }
        }
    }
}
