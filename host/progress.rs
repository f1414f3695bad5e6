//! Progress of a long command on a terminal: a line on stderr that says
//! how far it got, and nothing at all when stderr is not a terminal (piped
//! or redirected), so scripts and logs see only the results.

use std::time::Duration;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};

/// A counter of things done, shown while a command runs.
pub struct Progress {
    bar: ProgressBar,
}

impl Progress {
    /// Counts `what` (e.g. "kills replayed"); `total` when it is known.
    pub fn counting(what: &str, total: Option<u64>) -> Progress {
        let bar = match total {
            Some(n) => ProgressBar::with_draw_target(Some(n), ProgressDrawTarget::stderr()),
            None => ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr()),
        };
        let template = match total {
            Some(_) => "{bar:30} {human_pos}/{human_len} {msg} ({elapsed}, ETA {eta})",
            None => "{spinner} {human_pos} {msg} ({elapsed})",
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        bar.set_message(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar }
    }

    /// A task with no count (e.g. "compiling x.wasm"): a spinner and the
    /// time it has taken.
    pub fn working(what: &str) -> Progress {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
        if let Ok(style) = ProgressStyle::with_template("{spinner} {msg} ({elapsed})") {
            bar.set_style(style);
        }
        bar.set_message(what.to_string());
        bar.enable_steady_tick(Duration::from_millis(200));
        Progress { bar }
    }

    pub fn set(&self, done: u64) {
        self.bar.set_position(done);
    }

    /// Removes the line (the command prints its results after).
    pub fn finish(&self) {
        self.bar.finish_and_clear();
    }
}

impl Drop for Progress {
    fn drop(&mut self) {
        if !self.bar.is_finished() {
            self.bar.finish_and_clear();
        }
    }
}

/// A writer that counts the lines written through it on a [`Progress`].
pub struct CountingLines<W> {
    inner: W,
    progress: Progress,
    lines: u64,
}

impl<W> CountingLines<W> {
    pub fn new(inner: W, progress: Progress) -> CountingLines<W> {
        CountingLines {
            inner,
            progress,
            lines: 0,
        }
    }
}

impl<W: std::io::Write> std::io::Write for CountingLines<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        let new = buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
        if new > 0 {
            self.lines += new;
            self.progress.set(self.lines);
        }
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}
