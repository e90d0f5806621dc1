//! The string formats the API server enforces for custom resources (the `strfmt` registry that
//! kube-openapi validates with). Formats not listed here are accepted as annotations only, as
//! the server does for formats it does not know.

use std::net::{Ipv4Addr, Ipv6Addr};

/// `Some(true/false)` when `format` is enforced, `None` when the format is not checked.
pub(crate) fn check(format: &str, s: &str) -> Option<bool> {
    let ok = match format {
        "date-time" | "datetime" => is_date_time(s),
        "date" => is_date(s),
        "byte" => is_base64(s),
        "uuid" => is_uuid(s),
        "uuid3" | "uuid4" | "uuid5" => {
            is_uuid(s)
                && s.as_bytes()
                    .get(14)
                    .is_some_and(|v| *v == format.as_bytes()[4])
        }
        "ipv4" => s.parse::<Ipv4Addr>().is_ok(),
        "ipv6" => s.parse::<Ipv6Addr>().is_ok(),
        "cidr" => is_cidr(s),
        "mac" => is_mac(s),
        "hostname" => is_hostname(s),
        _ => return None,
    };
    Some(ok)
}

fn digits(s: &str, n: usize) -> bool {
    s.len() == n && s.bytes().all(|b| b.is_ascii_digit())
}

fn is_date(s: &str) -> bool {
    let parts: Vec<&str> = s.split('-').collect();
    if parts.len() != 3 || !digits(parts[0], 4) || !digits(parts[1], 2) || !digits(parts[2], 2) {
        return false;
    }
    let month: u32 = parts[1].parse().unwrap_or(0);
    let day: u32 = parts[2].parse().unwrap_or(0);
    (1..=12).contains(&month) && (1..=31).contains(&day)
}

/// RFC 3339 `date-time`: `2006-01-02T15:04:05[.frac](Z|±hh:mm)`; `t`/`z` and a space separator
/// are accepted as Go's strfmt accepts them.
fn is_date_time(s: &str) -> bool {
    if s.len() < 20 {
        return false;
    }
    let (date, rest) = s.split_at(10);
    if !is_date(date) {
        return false;
    }
    let mut rest = rest.chars();
    if !matches!(rest.next(), Some('T' | 't' | ' ')) {
        return false;
    }
    let rest: String = rest.collect();
    let (time, zone) = match rest.find(['Z', 'z', '+', '-']) {
        Some(i) => rest.split_at(i),
        None => return false,
    };
    let (hms, frac) = match time.split_once('.') {
        Some((hms, frac)) => (hms, Some(frac)),
        None => (time, None),
    };
    let hms: Vec<&str> = hms.split(':').collect();
    if hms.len() != 3 || !hms.iter().all(|p| digits(p, 2)) {
        return false;
    }
    if frac.is_some_and(|f| f.is_empty() || !f.bytes().all(|b| b.is_ascii_digit())) {
        return false;
    }
    match zone {
        "Z" | "z" => true,
        z => {
            let z = &z[1..];
            z.len() == 5 && digits(&z[..2], 2) && z.as_bytes()[2] == b':' && digits(&z[3..], 2)
        }
    }
}

fn is_base64(s: &str) -> bool {
    let bytes = s.as_bytes();
    if !bytes.len().is_multiple_of(4) {
        return false;
    }
    let body = s.trim_end_matches('=');
    bytes.len() - body.len() <= 2
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'+' || b == b'/')
}

fn is_uuid(s: &str) -> bool {
    let groups: Vec<&str> = s.split('-').collect();
    groups.len() == 5
        && groups
            .iter()
            .zip([8, 4, 4, 4, 12])
            .all(|(g, n)| g.len() == n && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else {
        return false;
    };
    let Ok(bits) = bits.parse::<u8>() else {
        return false;
    };
    if ip.parse::<Ipv4Addr>().is_ok() {
        bits <= 32
    } else {
        ip.parse::<Ipv6Addr>().is_ok() && bits <= 128
    }
}

fn is_mac(s: &str) -> bool {
    let sep = if s.contains(':') { ':' } else { '-' };
    let groups: Vec<&str> = s.split(sep).collect();
    matches!(groups.len(), 6 | 8 | 20)
        && groups
            .iter()
            .all(|g| g.len() == 2 && g.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// RFC 1123 host name: dot-separated labels of letters, digits and inner hyphens.
fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 255
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && !label.starts_with('-')
                && !label.ends_with('-')
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        })
}

#[cfg(test)]
mod tests {
    use super::check;

    #[test]
    fn enforced_formats_accept_and_refuse() {
        let cases = [
            ("date-time", "2024-01-02T03:04:05Z", "2024-01-02 nope"),
            (
                "date-time",
                "2024-01-02T03:04:05.123+02:00",
                "2024-13-02T03:04:05Z",
            ),
            ("date", "2024-02-29", "2024-2-29"),
            ("byte", "aGVsbG8=", "aGVsbG8"),
            (
                "uuid",
                "123e4567-e89b-12d3-a456-426614174000",
                "123e4567e89b12d3a456426614174000",
            ),
            ("ipv4", "10.0.0.1", "10.0.0.256"),
            ("ipv6", "::1", "1::2::3"),
            ("cidr", "10.0.0.0/8", "10.0.0.0/33"),
            ("mac", "01:23:45:67:89:ab", "01:23:45:67:89"),
            ("hostname", "vault.example.com", "-bad.example.com"),
        ];
        for (format, good, bad) in cases {
            assert_eq!(check(format, good), Some(true), "{format} {good}");
            assert_eq!(check(format, bad), Some(false), "{format} {bad}");
        }
        assert_eq!(check("password", "anything"), None);
    }
}
