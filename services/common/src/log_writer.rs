//! Log output written off the calling thread. Formatting a line stays with
//! the caller (a copy into a shared buffer), but the `write(2)` moves to a
//! background thread that writes everything pending in one call at most
//! every few milliseconds. A busy gateway logs one access line per call, so
//! this turns thousands of system calls a second on the request path into a
//! few hundred off it.
//!
//! Lines are dropped (and the count logged) only if the writer falls more
//! than [`MAX_PENDING_BYTES`] behind. Dropping the [`LogWriterGuard`] writes
//! what is pending; a process killed outright loses at most the last
//! [`FLUSH_INTERVAL`] of lines.

use std::io::Write;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

pub const MAX_PENDING_BYTES: usize = 8 * 1024 * 1024;
pub const FLUSH_INTERVAL: Duration = Duration::from_millis(5);

/// A `MakeWriter` for tracing-subscriber's fmt layer.
#[derive(Clone)]
pub struct LogWriter {
    shared: Arc<Shared>,
}

struct Shared {
    pending: Mutex<Pending>,
    wake: Condvar,
}

#[derive(Default)]
struct Pending {
    bytes: Vec<u8>,
    dropped_lines: u64,
    /// The writer thread waits on the condition variable (nothing pending).
    parked: bool,
    closing: bool,
}

/// Stops the writer thread after it has written everything pending.
#[must_use = "dropping the guard stops log output"]
pub struct LogWriterGuard {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl LogWriter {
    /// A writer to standard output.
    pub fn stdout() -> std::io::Result<(Self, LogWriterGuard)> {
        let shared = Arc::new(Shared { pending: Mutex::new(Pending::default()), wake: Condvar::new() });
        let thread = std::thread::Builder::new().name("log-writer".to_owned()).spawn({
            let shared = shared.clone();
            move || write_until_closed(&shared, &mut std::io::stdout())
        })?;
        Ok((Self { shared: shared.clone() }, LogWriterGuard { shared, thread: Some(thread) }))
    }
}

impl Shared {
    fn pending(&self) -> MutexGuard<'_, Pending> {
        self.pending.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn write_until_closed(shared: &Shared, out: &mut impl Write) {
    let mut batch = Vec::new();
    loop {
        let (dropped, closing) = {
            let mut pending = shared.pending();
            while pending.bytes.is_empty() && !pending.closing {
                pending.parked = true;
                pending = shared.wake.wait(pending).unwrap_or_else(PoisonError::into_inner);
            }
            pending.parked = false;
            std::mem::swap(&mut batch, &mut pending.bytes);
            (std::mem::take(&mut pending.dropped_lines), pending.closing)
        };
        if dropped > 0 {
            let _ = writeln!(out, "log writer fell behind: {dropped} lines dropped");
        }
        // Nowhere to report a failed log write; the next batch tries again.
        let _ = out.write_all(&batch).and_then(|()| out.flush());
        batch.clear();
        if closing {
            let pending = shared.pending();
            if pending.bytes.is_empty() {
                return;
            }
            continue;
        }
        // Let lines gather: under load one write carries many of them.
        std::thread::sleep(FLUSH_INTERVAL);
    }
}

impl Drop for LogWriterGuard {
    fn drop(&mut self) {
        self.shared.pending().closing = true;
        self.shared.wake.notify_one();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// One event's output; tracing-subscriber writes each line in one call.
pub struct LineSink<'a> {
    shared: &'a Shared,
}

impl Write for LineSink<'_> {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        let mut pending = self.shared.pending();
        if pending.bytes.len() + bytes.len() > MAX_PENDING_BYTES {
            pending.dropped_lines += 1;
            return Ok(bytes.len());
        }
        pending.bytes.extend_from_slice(bytes);
        if std::mem::take(&mut pending.parked) {
            drop(pending);
            self.shared.wake.notify_one();
        }
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> tracing_subscriber::fmt::MakeWriter<'a> for LogWriter {
    type Writer = LineSink<'a>;

    fn make_writer(&'a self) -> Self::Writer {
        LineSink { shared: &self.shared }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects what the writer thread writes.
    #[derive(Clone, Default)]
    struct Collected(Arc<Mutex<Vec<u8>>>);

    impl Write for Collected {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }

        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn every_line_arrives_in_order_and_closing_writes_what_is_pending() {
        use tracing_subscriber::fmt::MakeWriter;
        let shared = Arc::new(Shared { pending: Mutex::new(Pending::default()), wake: Condvar::new() });
        let collected = Collected::default();
        let thread = std::thread::spawn({
            let (shared, mut out) = (shared.clone(), collected.clone());
            move || write_until_closed(&shared, &mut out)
        });
        let writer = LogWriter { shared: shared.clone() };
        for line in 0..1_000 {
            writer.make_writer().write_all(format!("line {line}\n").as_bytes()).unwrap();
        }
        drop(LogWriterGuard { shared, thread: Some(thread) });
        let text = String::from_utf8(collected.0.lock().unwrap().clone()).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 1_000);
        assert!(lines.iter().enumerate().all(|(index, line)| *line == format!("line {index}")));
    }

    #[test]
    fn a_writer_too_far_behind_drops_lines_and_says_so() {
        let shared = Shared { pending: Mutex::new(Pending::default()), wake: Condvar::new() };
        let mut sink = LineSink { shared: &shared };
        let line = vec![b'x'; 1024];
        for _ in 0..(MAX_PENDING_BYTES / 1024 + 3) {
            sink.write_all(&line).unwrap();
        }
        assert_eq!(shared.pending().dropped_lines, 3);
        assert_eq!(shared.pending().bytes.len(), MAX_PENDING_BYTES);
        shared.pending().closing = true;
        let mut out = Vec::new();
        write_until_closed(&shared, &mut out);
        assert!(String::from_utf8_lossy(&out).starts_with("log writer fell behind: 3 lines dropped"));
    }
}
