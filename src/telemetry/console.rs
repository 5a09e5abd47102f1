//! Sharing a terminal between log lines and a progress bar: while a bar is shown
//! ([`BarSlot::show`], the backfill's), each log line is written with the bar cleared first and
//! redrawn after (`indicatif`'s `suspend`), so lines never tear the bar or land in the middle
//! of it.
//!
//! The slot of stderr is one per process ([`BarSlot::stderr`]), as stderr is: the logging of the
//! one-shot commands writes through it ([`ConsoleWriter::stderr`]), and the backfill's bar is
//! shown in it.
//!
//! Invariant: a log line is written whole by one `write_all` while no bar is drawn on the same
//! terminal (the fmt layer formats a line, then writes it in one call).

use std::io::{self, Write};
use std::sync::{Arc, OnceLock, RwLock};

use indicatif::ProgressBar;
use tracing_subscriber::fmt::MakeWriter;

/// Where the bar currently drawn on a terminal is kept (none most of the time).
#[derive(Debug, Clone, Default)]
pub struct BarSlot(Arc<RwLock<Option<ProgressBar>>>);

impl BarSlot {
    /// The slot of the process's stderr.
    pub fn stderr() -> BarSlot {
        static STDERR: OnceLock<BarSlot> = OnceLock::new();
        STDERR.get_or_init(BarSlot::default).clone()
    }

    /// Shows `bar` (log lines suspend it from now on), or none.
    pub fn show(&self, bar: Option<ProgressBar>) {
        *self.0.write().unwrap_or_else(|p| p.into_inner()) = bar;
    }

    /// The bar shown, if any.
    fn bar(&self) -> Option<ProgressBar> {
        self.0.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// A `MakeWriter` writing each line through `make`, with the slot's bar suspended meanwhile.
#[derive(Debug, Clone)]
pub struct ConsoleWriter<M> {
    slot: BarSlot,
    make: M,
}

impl ConsoleWriter<fn() -> io::Stderr> {
    /// Lines to stderr, around the bar of [`BarSlot::stderr`].
    pub fn stderr() -> Self {
        ConsoleWriter {
            slot: BarSlot::stderr(),
            make: io::stderr,
        }
    }
}

impl<M> ConsoleWriter<M> {
    /// Lines to the writers `make` makes, around the bar of `slot`.
    pub fn new(slot: BarSlot, make: M) -> Self {
        ConsoleWriter { slot, make }
    }
}

impl<'a, M, W> MakeWriter<'a> for ConsoleWriter<M>
where
    M: Fn() -> W + 'a,
    W: Write,
{
    type Writer = Line<W>;

    fn make_writer(&'a self) -> Self::Writer {
        Line {
            bar: self.slot.bar(),
            inner: (self.make)(),
        }
    }
}

/// One log line's writer.
pub struct Line<W> {
    bar: Option<ProgressBar>,
    inner: W,
}

impl<W> Line<W> {
    /// Whether a bar is suspended around this line.
    pub fn shows_bar(&self) -> bool {
        self.bar.is_some()
    }
}

impl<W: Write> Write for Line<W> {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.write_all(bytes)?;
        Ok(bytes.len())
    }

    fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        let inner = &mut self.inner;
        match &self.bar {
            Some(bar) => bar.suspend(|| inner.write_all(bytes).and_then(|()| inner.flush())),
            None => inner.write_all(bytes),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}
