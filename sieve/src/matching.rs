//! Comparators (RFC 4790: i;octet, i;ascii-casemap, i;ascii-numeric) and match types
//! (`:is`, `:contains`, `:matches` with its captures, the relational `:value`).

use std::cmp::Ordering;

use crate::program::{Comparator, Match, MatchKind, Relation};

/// Whether `value` matches `key`; a successful `:matches` puts what it matched and what each
/// wildcard matched in `captures` (for `${0}` … `${9}`), when asked. `budget` counts the
/// backtracking steps of `:matches` down; at zero the match fails.
pub(crate) fn test(
    how: Match,
    value: &str,
    key: &str,
    captures: Option<&mut Vec<String>>,
    budget: &mut usize,
) -> bool {
    match how.kind {
        MatchKind::Is => compare(how.comparator, value, key) == Ordering::Equal,
        MatchKind::Contains => match how.comparator {
            Comparator::Octet => value.contains(key),
            _ => value
                .to_ascii_lowercase()
                .contains(&key.to_ascii_lowercase()),
        },
        MatchKind::Matches => {
            let (v, k): (Vec<char>, Vec<char>) = (value.chars().collect(), key.chars().collect());
            let mut found = Vec::new();
            let matched = glob(&v, &k, how.comparator, &mut found, budget);
            if matched && let Some(captures) = captures {
                captures.clear();
                captures.push(value.to_owned());
                captures.extend(found.into_iter().rev());
            }
            matched
        }
        MatchKind::Regex => match regex(key, how.comparator) {
            Ok(re) => regex_test(&re, value, captures),
            Err(_) => false,
        },
        MatchKind::Value(r) | MatchKind::Count(r) => holds(r, compare(how.comparator, value, key)),
    }
}

/// The expression `pattern` (POSIX extended, as `:regex` takes it) under `comparator`:
/// i;ascii-casemap ignores ASCII case, i;octet does not. Matched over octets, without
/// Unicode classes, and bounded in size (a script must not make the server build a huge
/// automaton).
pub(crate) fn regex(
    pattern: &str,
    comparator: Comparator,
) -> Result<regex::bytes::Regex, regex::Error> {
    regex::bytes::RegexBuilder::new(pattern)
        .unicode(false)
        .case_insensitive(comparator == Comparator::AsciiCasemap)
        .size_limit(1 << 20)
        .dfa_size_limit(1 << 20)
        .build()
}

/// Whether `re` matches somewhere in `value`; the groups go to `captures` when asked.
pub(crate) fn regex_test(
    re: &regex::bytes::Regex,
    value: &str,
    captures: Option<&mut Vec<String>>,
) -> bool {
    match captures {
        None => re.is_match(value.as_bytes()),
        Some(out) => match re.captures(value.as_bytes()) {
            None => false,
            Some(groups) => {
                out.clear();
                out.extend(groups.iter().map(|g| {
                    g.map_or_else(String::new, |m| {
                        String::from_utf8_lossy(m.as_bytes()).into_owned()
                    })
                }));
                true
            }
        },
    }
}

/// Whether `ordering` (of a value against a key) is what `relation` asks for.
pub(crate) fn holds(relation: Relation, ordering: Ordering) -> bool {
    match relation {
        Relation::Gt => ordering == Ordering::Greater,
        Relation::Ge => ordering != Ordering::Less,
        Relation::Lt => ordering == Ordering::Less,
        Relation::Le => ordering != Ordering::Greater,
        Relation::Eq => ordering == Ordering::Equal,
        Relation::Ne => ordering != Ordering::Equal,
    }
}

/// `value` against `key` under `comparator`.
pub(crate) fn compare(comparator: Comparator, value: &str, key: &str) -> Ordering {
    match comparator {
        Comparator::Octet => value.as_bytes().cmp(key.as_bytes()),
        Comparator::AsciiCasemap => value
            .bytes()
            .map(|b| b.to_ascii_lowercase())
            .cmp(key.bytes().map(|b| b.to_ascii_lowercase())),
        Comparator::AsciiNumeric => numeric(value).cmp(&numeric(key)),
    }
}

/// RFC 4790 §9.1: the number the leading digits spell, any size; no digit first is
/// positive infinity, above every number.
fn numeric(s: &str) -> (bool, usize, &str) {
    let digits = s.len() - s.trim_start_matches(|c: char| c.is_ascii_digit()).len();
    if digits == 0 {
        return (true, 0, "");
    }
    let significant = s[..digits].trim_start_matches('0');
    (false, significant.len(), significant)
}

fn same(comparator: Comparator, a: char, b: char) -> bool {
    match comparator {
        Comparator::Octet => a == b,
        _ => a.eq_ignore_ascii_case(&b),
    }
}

/// `*` and `?` wildcards, `\` quoting the next character; each `*` takes as little as it
/// can, as Pigeonhole's does (`"?*frop*"` against `"frop...frop..."` gives `f`, `rop...`,
/// the rest). What each wildcard matched is pushed onto `found`, last first.
fn glob(
    value: &[char],
    key: &[char],
    comparator: Comparator,
    found: &mut Vec<String>,
    budget: &mut usize,
) -> bool {
    if *budget == 0 {
        return false;
    }
    *budget -= 1;
    match key.first() {
        None => value.is_empty(),
        Some('*') => {
            for take in 0..=value.len() {
                if glob(&value[take..], &key[1..], comparator, found, budget) {
                    found.push(value[..take].iter().collect());
                    return true;
                }
                if *budget == 0 {
                    return false;
                }
            }
            false
        }
        Some('?') => match value.first() {
            Some(c) => {
                let matched = glob(&value[1..], &key[1..], comparator, found, budget);
                if matched {
                    found.push(c.to_string());
                }
                matched
            }
            None => false,
        },
        Some(&k) => {
            let (literal, rest) = match (k, key.get(1)) {
                ('\\', Some(&next)) => (next, &key[2..]),
                _ => (k, &key[1..]),
            };
            match value.first() {
                Some(&c) if same(comparator, c, literal) => {
                    glob(&value[1..], rest, comparator, found, budget)
                }
                _ => false,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(kind: MatchKind, comparator: Comparator) -> Match {
        Match { kind, comparator }
    }

    #[test]
    fn matches_with_captures() {
        let mut caps = Vec::new();
        let mut budget = 10_000;
        let how = m(MatchKind::Matches, Comparator::AsciiCasemap);
        assert!(test(
            how,
            "joe@example.com",
            "*@*.com",
            Some(&mut caps),
            &mut budget
        ));
        assert_eq!(caps, ["joe@example.com", "joe", "example"]);
        assert!(test(how, "a*b", "a\\*?", Some(&mut caps), &mut budget));
        assert_eq!(caps, ["a*b", "b"]);
        assert!(!test(how, "ab", "a?b", None, &mut budget));
        // Not greedy: the first star takes as little as it can.
        assert!(test(how, "a.b.c", "*.*", Some(&mut caps), &mut budget));
        assert_eq!(caps, ["a.b.c", "a", "b.c"]);
        let mut none = 5;
        assert!(!test(how, &"a".repeat(50), "*a*a*a*b", None, &mut none));
    }

    #[test]
    fn comparators() {
        let num = |kind| m(kind, Comparator::AsciiNumeric);
        let mut b = 100;
        assert!(test(num(MatchKind::Is), "007", "7", None, &mut b));
        assert!(test(
            num(MatchKind::Value(Relation::Gt)),
            "x",
            "99999999999999999999999",
            None,
            &mut b
        ));
        assert!(!test(
            num(MatchKind::Value(Relation::Lt)),
            "10",
            "9x",
            None,
            &mut b
        ));
        assert!(test(
            m(MatchKind::Is, Comparator::AsciiCasemap),
            "ABC",
            "abc",
            None,
            &mut b
        ));
        assert!(!test(
            m(MatchKind::Is, Comparator::Octet),
            "ABC",
            "abc",
            None,
            &mut b
        ));
        assert!(test(
            m(MatchKind::Contains, Comparator::AsciiCasemap),
            "Hello World",
            "o w",
            None,
            &mut b
        ));
    }
}
