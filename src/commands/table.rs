//! The tables the commands print (`dlq list`, `webhook list`): left-aligned columns two spaces
//! apart, a header row, trailing spaces trimmed.
//!
//! Invariants: every cell is escaped and cut to its column's maximum width
//! ([`crate::printable::cell`]), so no value — an id of any length, a terminal escape sequence,
//! a newline — can break the layout, reach the terminal raw, or overflow the formatter; padding
//! is written by hand, never through a format width.

use crate::printable;

/// A table being built.
#[derive(Debug, Clone)]
pub struct Table {
    columns: Vec<Column>,
    rows: Vec<Vec<String>>,
}

#[derive(Debug, Clone)]
struct Column {
    title: &'static str,
    max_width: usize,
}

impl Table {
    /// A table with these `(title, maximum width in characters)` columns.
    pub fn new(columns: &[(&'static str, usize)]) -> Table {
        Table {
            columns: columns
                .iter()
                .map(|&(title, max_width)| Column { title, max_width })
                .collect(),
            rows: Vec::new(),
        }
    }

    /// Adds a row (missing cells are empty, extra ones dropped).
    pub fn row<I, S>(&mut self, cells: I)
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut cells = cells.into_iter();
        let row = self
            .columns
            .iter()
            .map(|column| {
                cells
                    .next()
                    .map(|cell| printable::cell(cell.as_ref(), column.max_width))
                    .unwrap_or_default()
            })
            .collect();
        self.rows.push(row);
    }

    /// The table as text, one line per row after the header.
    pub fn render(&self) -> String {
        let header: Vec<String> = self.columns.iter().map(|c| c.title.to_owned()).collect();
        let mut widths: Vec<usize> = header.iter().map(|title| title.chars().count()).collect();
        for row in &self.rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut text = String::new();
        for row in std::iter::once(&header).chain(&self.rows) {
            let mut line = String::new();
            for (index, (cell, width)) in row.iter().zip(&widths).enumerate() {
                if index > 0 {
                    line.push_str("  ");
                }
                line.push_str(cell);
                let padding = width.saturating_sub(cell.chars().count());
                line.extend(std::iter::repeat_n(' ', padding));
            }
            text.push_str(line.trim_end());
            text.push('\n');
        }
        text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_align_and_cells_are_bounded_and_escaped() {
        let mut table = Table::new(&[("ID", 8), ("NAME", 12), ("NOTE", 20)]);
        table.row(["1", "short", "fine"]);
        table.row(["22", "\u{1b}[2Jevil\nline", "x"]);
        table.row(["3".repeat(65_536), "n".to_owned(), "y".to_owned()]);
        let text = table.render();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4, "{text}");
        assert_eq!(lines[0], "ID        NAME          NOTE");
        assert_eq!(lines[1], "1         short         fine");
        assert_eq!(lines[2], "22        \\u{1b}[2Jev…  x");
        assert_eq!(lines[3], "3333333…  n             y");
        assert!(!text.contains('\u{1b}'));
    }

    #[test]
    fn missing_cells_are_empty() {
        let mut table = Table::new(&[("A", 5), ("B", 5)]);
        table.row(["only"]);
        assert_eq!(table.render(), "A     B\nonly\n");
    }
}
