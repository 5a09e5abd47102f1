//! Multi-row statements on SQLite: one statement writes many rows, so a batch costs a few
//! statements (each a round trip to sqlx's connection thread) instead of one or more per row.
//!
//! Invariants:
//! - A batch is cut into chunks whose sizes are powers of two, largest first, at most
//!   [`MAX_ROWS`]: a statement's text depends only on its chunk size, so each kind of statement
//!   has at most `log2(MAX_ROWS) + 1` texts, built once ([`Statements`]) and prepared once per
//!   connection (sqlx's statement cache).
//! - Parameters are numbered explicitly (`?N`): the first `shared` numbers are the statement's
//!   own parameters, then each row's `columns` numbers in row order; rows keep their order in
//!   the `VALUES` list, and each row may start with its literal position (for an `ORDER BY`).
//! - A chunk's parameters stay far below SQLite's limit (32,766): `MAX_ROWS` × a dozen columns.

/// The most rows one statement writes.
pub(super) const MAX_ROWS: usize = 64;

/// The texts of one kind of multi-row statement, by chunk size (kept in a `LazyLock` static).
pub(super) struct Statements {
    /// Index `i` holds the text for `2^i` rows.
    by_size: Vec<String>,
}

/// How to build one kind of statement.
pub(super) struct Shape {
    /// The statement with `{rows}` where the `VALUES` rows go.
    pub(super) template: &'static str,
    /// Parameters numbered before the rows' (`?1` … `?shared`).
    pub(super) shared: usize,
    /// Parameters per row.
    pub(super) columns: usize,
    /// Whether each row starts with its position (0, 1, …) as a literal.
    pub(super) positioned: bool,
}

impl Statements {
    /// Builds the texts of `shape` for every chunk size.
    pub(super) fn build(shape: &Shape) -> Statements {
        let by_size = std::iter::successors(Some(1usize), |size| Some(size * 2))
            .take_while(|&size| size <= MAX_ROWS)
            .map(|size| shape.template.replace("{rows}", &values(shape, size)))
            .collect();
        Statements { by_size }
    }

    /// The text for a chunk of `rows` rows (a size [`chunks`] produces).
    pub(super) fn for_rows(&self, rows: usize) -> &str {
        let index = rows.max(1).ilog2() as usize;
        self.by_size
            .get(index)
            .or(self.by_size.last())
            .map_or("", String::as_str)
    }
}

/// The `VALUES` rows of a chunk of `rows` rows.
fn values(shape: &Shape, rows: usize) -> String {
    let mut text = String::new();
    let mut next = shape.shared + 1;
    for row in 0..rows {
        if row > 0 {
            text.push_str(",\n       ");
        }
        text.push('(');
        let mut cells: Vec<String> = Vec::with_capacity(shape.columns + 1);
        if shape.positioned {
            cells.push(row.to_string());
        }
        for _ in 0..shape.columns {
            cells.push(format!("?{next}"));
            next += 1;
        }
        text.push_str(&cells.join(", "));
        text.push(')');
    }
    text
}

/// Cuts `items` into chunks whose sizes are powers of two, largest first, at most [`MAX_ROWS`].
pub(super) fn chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let size = (1usize << rest.len().ilog2()).min(MAX_ROWS);
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        Some(chunk)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chunks_are_powers_of_two_largest_first_and_keep_order() {
        let items: Vec<usize> = (0..(MAX_ROWS * 2 + 13)).collect();
        let sizes: Vec<usize> = chunks(&items).map(<[usize]>::len).collect();
        assert_eq!(sizes, [MAX_ROWS, MAX_ROWS, 8, 4, 1]);
        let rejoined: Vec<usize> = chunks(&items).flatten().copied().collect();
        assert_eq!(rejoined, items);
        assert_eq!(chunks::<u8>(&[]).count(), 0);
    }

    #[test]
    fn rows_number_their_parameters_after_the_shared_ones() {
        let shape = Shape {
            template: "INSERT INTO t SELECT * FROM (VALUES {rows}) WHERE ?1 = ?2",
            shared: 2,
            columns: 2,
            positioned: true,
        };
        let statements = Statements::build(&shape);
        assert_eq!(
            statements.for_rows(2),
            "INSERT INTO t SELECT * FROM (VALUES (0, ?3, ?4),\n       (1, ?5, ?6)) WHERE ?1 = ?2"
        );
        let plain = Statements::build(&Shape {
            template: "VALUES {rows}",
            shared: 0,
            columns: 1,
            positioned: false,
        });
        assert_eq!(plain.for_rows(1), "VALUES (?1)");
        assert_eq!(plain.for_rows(MAX_ROWS).matches('?').count(), MAX_ROWS);
    }
}
