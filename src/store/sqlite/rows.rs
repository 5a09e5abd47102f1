//! Multi-row statements with a bounded set of texts: a batch of `n` rows is written by one
//! statement per set bit of `n` (chunks of 256, 128, …, 2, 1 rows), so a batch of up to 511 rows
//! costs at most nine round trips to SQLite's connection thread instead of one per row, and each
//! kind of statement has at most nine texts, all of which stay in the connection's cache of
//! prepared statements.
//!
//! Invariant: chunks come in row order, so rows are applied in the order they were given.

/// The largest chunk; a power of two. With the widest row (the job upsert, 10 parameters) it
/// stays far below SQLite's limit of 32,766 parameters per statement.
pub(super) const MAX_CHUNK: usize = 256;

/// Splits `0..len` into consecutive ranges whose lengths are powers of two, largest first.
pub(super) fn chunks(len: usize) -> Vec<std::ops::Range<usize>> {
    let mut ranges = Vec::new();
    let mut start = 0;
    let mut size = MAX_CHUNK;
    while start < len {
        while size > len - start {
            size /= 2;
        }
        ranges.push(start..start + size);
        start += size;
    }
    ranges
}

/// `rows` parenthesised tuples for `VALUES`, each made by `row` from the number of its first
/// parameter (`first` for the first row, then every `width` parameters).
pub(super) fn values(
    rows: usize,
    first: usize,
    width: usize,
    row: impl Fn(usize) -> String,
) -> String {
    (0..rows)
        .map(|index| row(first + index * width))
        .collect::<Vec<_>>()
        .join(",\n")
}

/// The statement texts of one kind, one per chunk size, built once: `texts[k]` has `2^k` rows.
pub(super) struct Texts(std::sync::OnceLock<Vec<String>>);

impl Texts {
    pub(super) const fn new() -> Self {
        Texts(std::sync::OnceLock::new())
    }

    /// The text for a chunk of `rows` rows (a power of two up to [`MAX_CHUNK`]), built by
    /// `build(rows)` on first use.
    pub(super) fn get(&'static self, rows: usize, build: fn(usize) -> String) -> &'static str {
        let texts = self.0.get_or_init(|| {
            (0..=MAX_CHUNK.trailing_zeros())
                .map(|power| build(1 << power))
                .collect()
        });
        &texts[rows.trailing_zeros() as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_cover_the_rows_in_order_with_one_chunk_per_set_bit() {
        for len in [0, 1, 2, 3, 31, 32, 256, 257, 511, 512, 1000] {
            let ranges = chunks(len);
            let mut next = 0;
            for range in &ranges {
                assert_eq!(range.start, next);
                assert!(range.len().is_power_of_two() && range.len() <= MAX_CHUNK);
                next = range.end;
            }
            assert_eq!(next, len);
            if len < 2 * MAX_CHUNK {
                assert_eq!(ranges.len(), len.count_ones() as usize, "{len}");
            }
        }
    }

    #[test]
    fn values_number_parameters_row_after_row() {
        let text = values(2, 4, 3, |n| format!("(?{n}, ?{}, ?{})", n + 1, n + 2));
        assert_eq!(text, "(?4, ?5, ?6),\n(?7, ?8, ?9)");
    }
}
