//! Phone numbers in the clinic's words, found so the widget can make each a
//! tap-to-call link: a patient in a crisis should not have to copy "988"
//! out of a sentence. Pure and hand-written (a regex engine would cost the
//! widget more than its whole size margin).
//!
//! What counts, and where it leads:
//! - US numbers of ten digits, grouped 3-3-4 with `-`, `.` or a space, the
//!   area code optionally in parentheses, optionally after `1` or `+1`:
//!   "(555) 010-4477", "555-010-4477", "1-800-799-7233", "+1 555 010 4477",
//!   or unbroken ("5550104477") → `tel:+15550104477`;
//! - the three-digit lines "911" and "988" standing alone → `tel:911`;
//! - the Crisis Text Line "741741", which takes texts only → `sms:741741`.
//!
//! A number must stand alone: not inside a longer run of digits or letters
//! ("MRN 100234", "2024-911", "911am" are left as they are). Everything else
//! (dates, times, codes, prices) stays plain text.

use std::ops::Range;

/// A phone number found in a text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PhoneLink {
    /// Where it is, in bytes.
    pub range: Range<usize>,
    /// Where the link goes: `tel:` (digits only) or `sms:`.
    pub href: String,
}

/// Characters that glue a number to what is before it. ASCII only: the
/// Unicode letter tables would cost the widget kilobytes, and a number
/// right after "é" or "¡" is as standalone as any.
fn joins(c: u8) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-' | b'.' | b'/' | b':' | b',' | b'+' | b'@')
}

/// Every phone number in `text`, in order, not overlapping.
#[must_use]
pub fn find(text: &str) -> Phones<'_> {
    Phones {
        bytes: text.as_bytes(),
        at: 0,
    }
}

/// The phone numbers of a text, found one by one (see [`find`]).
#[derive(Debug, Clone)]
pub struct Phones<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl Iterator for Phones<'_> {
    type Item = PhoneLink;

    fn next(&mut self) -> Option<PhoneLink> {
        while let Some(&byte) = self.bytes.get(self.at) {
            let starts = matches!(byte, b'0'..=b'9' | b'(' | b'+')
                && !(self.at > 0 && self.bytes.get(self.at - 1).is_some_and(|&b| joins(b)));
            if let Some(link) = starts.then(|| number_at(self.bytes, self.at)).flatten() {
                self.at = link.range.end;
                return Some(link);
            }
            self.at += 1;
        }
        None
    }
}

/// A number that starts exactly at `start` and stands alone.
///
/// Written with fixed arrays and no formatting machinery: every byte of
/// code here is downloaded by every patient.
fn number_at(bytes: &[u8], start: usize) -> Option<PhoneLink> {
    let plus = bytes.get(start) == Some(&b'+');
    let mut at = start + usize::from(plus);
    // Up to five groups of digits, and which were in parentheses.
    let mut digits = [0u8; 12];
    let mut count = 0;
    let mut lengths = [0usize; 5];
    let mut parens = [false; 5];
    let mut groups = 0;
    let mut end = at;
    while groups < 5 {
        let open = bytes.get(at) == Some(&b'(');
        let from = at + usize::from(open);
        let mut to = from;
        while let Some(&digit @ b'0'..=b'9') = bytes.get(to) {
            *digits.get_mut(count)? = digit;
            count += 1;
            to += 1;
        }
        if to == from || (open && bytes.get(to) != Some(&b')')) {
            count -= to - from;
            break;
        }
        lengths[groups] = to - from;
        parens[groups] = open;
        groups += 1;
        end = to + usize::from(open);
        // One separator, then the next group must follow at once.
        at = end + usize::from(matches!(bytes.get(end), Some(b'-' | b'.' | b' ')));
        if !matches!(bytes.get(at), Some(b'0'..=b'9' | b'(')) {
            break;
        }
    }
    // What follows must not glue on either ("911am", "911-2024", "5.5").
    match bytes.get(end) {
        Some(c) if c.is_ascii_alphanumeric() || *c == b'_' => return None,
        Some(b'-' | b'.' | b'/' | b':' | b',')
            if bytes.get(end + 1).is_some_and(u8::is_ascii_alphanumeric) =>
        {
            return None
        }
        _ => {}
    }
    let digits = digits.get(..count)?;
    let leading_one = digits.first() == Some(&b'1');
    // Which group may be in parentheses (the area code), and whether the
    // number has the country code 1 in front.
    let (area, country) = match lengths.get(..groups)? {
        [3, 3, 4] => (0, false),
        [1, 3, 3, 4] if leading_one => (1, true),
        [10] => (usize::MAX, false),
        [11] if leading_one => (usize::MAX, true),
        [3] | [6] => {
            let scheme = match digits {
                b"911" | b"988" => "tel:",
                b"741741" => "sms:",
                _ => return None,
            };
            if plus || parens[0] {
                return None;
            }
            return Some(PhoneLink {
                range: start..end,
                href: link(scheme, digits),
            });
        }
        _ => return None,
    };
    let national = digits.get(usize::from(country)..)?;
    // A plus sign means an international number: only +1 is ours. North
    // American area codes never start with 0 or 1. (Exchanges are not
    // checked: the fictional 555-01xx numbers start with 0.)
    if (plus && !country)
        || parens.iter().enumerate().any(|(i, &p)| p && i != area)
        || !matches!(national.first(), Some(b'2'..=b'9'))
    {
        return None;
    }
    Some(PhoneLink {
        range: start..end,
        href: link("tel:+1", national),
    })
}

/// `scheme` followed by the ASCII `digits`.
fn link(scheme: &str, digits: &[u8]) -> String {
    let mut href = String::from(scheme);
    href.extend(digits.iter().map(|&d| char::from(d)));
    href
}

/// Whether a card button's `href` may become a link: `tel:` or `sms:`
/// (any case) and nothing but plain URL characters after it. Anything else
/// (`javascript:`, `https:`, a scheme hidden behind spaces) is shown as a
/// plain label.
#[must_use]
pub fn is_call_href(href: &str) -> bool {
    let (Some(scheme), Some(rest)) = (href.get(..4), href.get(4..)) else {
        return false;
    };
    (scheme.eq_ignore_ascii_case("tel:") || scheme.eq_ignore_ascii_case("sms:"))
        && !rest.is_empty()
        && rest.bytes().all(|b| {
            b.is_ascii_alphanumeric()
                || matches!(
                    b,
                    b'+' | b'-'
                        | b'.'
                        | b'('
                        | b')'
                        | b'*'
                        | b'#'
                        | b','
                        | b';'
                        | b'?'
                        | b'&'
                        | b'='
                        | b'%'
                )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (linked text, href) for every number found.
    fn links(text: &str) -> Vec<(&str, String)> {
        find(text).map(|l| (&text[l.range], l.href)).collect()
    }

    fn one(text: &str) -> (&str, String) {
        let mut all = links(text);
        assert_eq!(all.len(), 1, "{text:?}: {all:?}");
        all.remove(0)
    }

    #[test]
    fn the_clinic_and_hotline_numbers_become_links() {
        for (text, number, href) in [
            (
                "Call us at (555) 010-4477.",
                "(555) 010-4477",
                "tel:+15550104477",
            ),
            (
                "Call us at 555-010-4477 today",
                "555-010-4477",
                "tel:+15550104477",
            ),
            (
                "Hotline: 1-800-799-7233",
                "1-800-799-7233",
                "tel:+18007997233",
            ),
            (
                "Poison Control 1-800-222-1222.",
                "1-800-222-1222",
                "tel:+18002221222",
            ),
            (
                "o al 1 (800) 222-1222",
                "1 (800) 222-1222",
                "tel:+18002221222",
            ),
            ("+1 555 010 4477", "+1 555 010 4477", "tel:+15550104477"),
            ("+1-800-799-7233", "+1-800-799-7233", "tel:+18007997233"),
            ("555.010.4477", "555.010.4477", "tel:+15550104477"),
            ("(555)010-4477", "(555)010-4477", "tel:+15550104477"),
            ("llame al 5550104477", "5550104477", "tel:+15550104477"),
            ("+15550104477", "+15550104477", "tel:+15550104477"),
            ("In an emergency call 911.", "911", "tel:911"),
            ("llame o envíe un texto al 988", "988", "tel:988"),
            ("(988)", "988", "tel:988"),
            ("Text HOME to 741741.", "741741", "sms:741741"),
            ("¡Llame al 911!", "911", "tel:911"),
        ] {
            assert_eq!(one(text), (number, href.to_owned()), "{text}");
        }
    }

    #[test]
    fn several_numbers_in_one_reply_are_all_found_in_order() {
        let text = "Call 911 now. For a crisis call or text 988, or text HOME to 741741. \
                    The clinic: (555) 010-4477.";
        assert_eq!(
            links(text),
            [
                ("911", "tel:911".to_owned()),
                ("988", "tel:988".to_owned()),
                ("741741", "sms:741741".to_owned()),
                ("(555) 010-4477", "tel:+15550104477".to_owned()),
            ]
        );
    }

    #[test]
    fn dates_times_codes_and_other_digits_stay_text() {
        for text in [
            "Tue, Dec 1 · 2:30 PM",
            "born 03/02/1984",
            "your code is 123456",
            "MRN MGFC-100234",
            "room 9110",
            "9119",
            "2024-911",
            "911am",
            "x911",
            "$150.00",
            "1,988 patients",
            "version 9.88",
            "555-0104",
            "555-010-44770",
            "+44 20 7946 0958",
            "+911",
            "0550104477",
            "1-555-010-4477-9",
            "",
        ] {
            assert_eq!(links(text), [], "{text:?}");
        }
    }

    #[test]
    fn only_tel_and_sms_hrefs_become_links() {
        for good in [
            "tel:988",
            "tel:+18007997233",
            "sms:741741?&body=HOME",
            "SMS:988",
            "Tel:911",
        ] {
            assert!(is_call_href(good), "{good}");
        }
        for bad in [
            "javascript:alert(1)",
            "https://example.com",
            " tel:911",
            "tel:",
            "tel:911\"><script>",
            "tel:9 11",
            "data:text/html,x",
            "",
            "sms",
            "télé:911",
        ] {
            assert!(!is_call_href(bad), "{bad}");
        }
    }

    #[test]
    fn ranges_are_byte_offsets_in_text_with_accents() {
        let text = "Así que llame al 911, por favor.";
        let found: Vec<_> = find(text).collect();
        assert_eq!(found.len(), 1);
        assert_eq!(&text[found[0].range.clone()], "911");
    }
}
