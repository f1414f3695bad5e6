//! Log lines written by a thread of their own, in batches.
//!
//! Deciding a kill logs two lines; writing each to stderr or a file as it is
//! made cost more than deciding the kill (see docs/benchmarks-history.md),
//! and a queue that wakes a writer thread for every line still spent about 6%
//! of the engine's time on wake-ups. Here a line is copied into a shared
//! buffer under a lock; the writer thread takes the whole buffer every
//! [`EVERY`], or as soon as it holds [`WAKE_AT`] bytes, and writes it at
//! once. Nothing is dropped: a buffer of [`LIMIT`] bytes holds further lines
//! back until the thread has taken it.

use std::io::Write;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Duration;

use parking_lot::{Condvar, Mutex, MutexGuard};

/// The longest a line waits before it is written.
const EVERY: Duration = Duration::from_millis(20);
/// The writer is woken early once this much is waiting.
const WAKE_AT: usize = 256 << 10;
/// Lines wait (the logging thread blocks) while this much is queued.
const LIMIT: usize = 16 << 20;

#[derive(Default)]
struct Queue {
    buf: Vec<u8>,
    closed: bool,
}

#[derive(Default)]
struct Shared {
    queue: Mutex<Queue>,
    /// Signalled for the writer thread: enough is queued, or closing.
    wake: Condvar,
    /// Signalled for loggers: the buffer was taken, there is room.
    room: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, Queue> {
        self.queue.lock()
    }
}

/// The handle loggers write through (cheap to clone).
#[derive(Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

/// Stops the writer thread when dropped, after it has written every line
/// queued so far.
pub struct LogWriterGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

/// Starts a thread writing to `output`; lines go through the returned
/// writer.
pub fn spawn(
    name: &str,
    mut output: impl Write + Send + 'static,
) -> std::io::Result<(LogWriter, LogWriterGuard)> {
    let shared = Arc::new(Shared::default());
    let theirs = shared.clone();
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || {
            let mut taken = Vec::new();
            loop {
                let closed = {
                    let mut q = theirs.lock();
                    if q.buf.is_empty() && !q.closed {
                        theirs.wake.wait_for(&mut q, EVERY);
                    }
                    std::mem::swap(&mut q.buf, &mut taken);
                    theirs.room.notify_all();
                    q.closed
                };
                if !taken.is_empty() {
                    // A failed write has nowhere to be logged; the lines
                    // are lost, the engine goes on.
                    let _ = output.write_all(&taken).and_then(|()| output.flush());
                    taken.clear();
                }
                if closed && theirs.lock().buf.is_empty() {
                    return;
                }
            }
        })?;
    Ok((
        LogWriter {
            shared: shared.clone(),
        },
        LogWriterGuard {
            shared,
            thread: Some(thread),
        },
    ))
}

impl Write for LogWriter {
    fn write(&mut self, line: &[u8]) -> std::io::Result<usize> {
        let mut q = self.shared.lock();
        while q.buf.len() >= LIMIT && !q.closed {
            self.shared.room.wait(&mut q);
        }
        let before = q.buf.len();
        q.buf.extend_from_slice(line);
        if before < WAKE_AT && q.buf.len() >= WAKE_AT {
            self.shared.wake.notify_one();
        }
        Ok(line.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LogWriter;
    fn make_writer(&'a self) -> LogWriter {
        self.clone()
    }
}

impl Drop for LogWriterGuard {
    fn drop(&mut self) {
        self.shared.lock().closed = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Records each write it is given.
    #[derive(Clone, Default)]
    struct Sink(Arc<Mutex<Vec<Vec<u8>>>>);

    impl Write for Sink {
        fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
            self.0.lock().push(b.to_vec());
            Ok(b.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn lines_from_many_threads_arrive_whole_in_batches_and_all_by_the_guards_drop() {
        let sink = Sink::default();
        let (writer, guard) = spawn("test-log-writer", sink.clone()).unwrap();
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let mut w = writer.clone();
                std::thread::spawn(move || {
                    for i in 0..5_000 {
                        w.write_all(format!("thread {t} line {i}\n").as_bytes())
                            .unwrap();
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        drop(guard);
        let writes = sink.0.lock();
        assert!(writes.len() < 20_000, "batched: {} writes", writes.len());
        let text = String::from_utf8(writes.concat()).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 20_000, "every line, none torn or lost");
        for t in 0..4 {
            let mine: Vec<&str> = lines
                .iter()
                .copied()
                .filter(|l| l.starts_with(&format!("thread {t} ")))
                .collect();
            let expected: Vec<String> =
                (0..5_000).map(|i| format!("thread {t} line {i}")).collect();
            assert_eq!(mine, expected, "each thread's lines in its order");
        }
    }

    #[test]
    fn a_line_is_written_soon_without_more_lines_behind_it() {
        let sink = Sink::default();
        let (mut writer, _guard) = spawn("test-log-writer", sink.clone()).unwrap();
        writer.write_all(b"alone\n").unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while sink.0.lock().is_empty() {
            assert!(std::time::Instant::now() < deadline, "never written");
            std::thread::sleep(Duration::from_millis(5));
        }
        assert_eq!(sink.0.lock().concat(), b"alone\n");
    }
}
