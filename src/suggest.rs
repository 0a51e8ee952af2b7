//! "Did you mean": the closest candidate to a misspelt name.

/// The candidate nearest to `word`, if it is near enough to be a typo.
pub fn did_you_mean<'a>(
    word: &str,
    candidates: impl IntoIterator<Item = &'a str>,
) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    let candidates: Vec<&'a str> = candidates.into_iter().collect();
    let near = candidates
        .iter()
        .map(|c| (strsim::damerau_levenshtein(word, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c);
    // `cidr_blok` for `cidr`: a known name with something appended; `key`
    // for `kms_key`: a known name's last word.
    near.or_else(|| {
        candidates
            .iter()
            .filter(|c| c.len() >= 3 && (word.starts_with(**c) || c.starts_with(word)))
            .max_by_key(|c| c.len())
            .or_else(|| {
                let tail = format!("_{word}");
                candidates
                    .iter()
                    .filter(|c| word.len() >= 3 && c.ends_with(&tail))
                    .min_by_key(|c| c.len())
            })
            .copied()
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn finds_typo() {
        assert_eq!(
            super::did_you_mean("cidr_blok", ["cidr", "cidr_block", "tags"]),
            Some("cidr_block")
        );
        assert_eq!(super::did_you_mean("zzzzzz", ["cidr", "tags"]), None);
        assert_eq!(
            super::did_you_mean("cidr_blok", ["cidr", "dns", "tags"]),
            Some("cidr")
        );
        assert_eq!(
            super::did_you_mean("key", ["tag", "kms_key", "fail_on"]),
            Some("kms_key")
        );
    }
}
