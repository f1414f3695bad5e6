//! The record log: decision records and audit events, appended as framed
//! JSON to segment files, with sled keeping only small indexes that point
//! into it (a [`Loc`]).
//!
//! Why: a record is about 2 KB. Kept as a sled value, it was copied into a
//! leaf, re-serialized into sled's log at every split of that leaf, and
//! split again and again (sled splits a leaf every 16 entries): sled was a
//! third of the time spent deciding a kill. Appending it here is one copy.
//!
//! Durability: [`RecordLog::sync`] writes the buffer and fsyncs the
//! segment, and returns only once everything appended before it is
//! durable. Sled may make an index durable before the frame it points at
//! (it flushes on its own), so after a crash an index may point past what
//! the log made durable. Frames carry a CRC and a kind byte
//! ([`KIND_RECORD`], [`KIND_AUDIT`], [`KIND_INDEX`]), so the frames a crash
//! left unindexed can be found again ([`RecordLog::frames_from`]). Every
//! open starts a new segment, so an offset is never written twice: an
//! index entry left by a crash points past a segment's end or at a torn
//! frame, reads as missing ([`RecordLog::read`] gives `None`), and the
//! store treats the record as never written.

use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::{Condvar, Mutex, MutexGuard};

/// A frame holding a decision record.
pub const KIND_RECORD: u8 = 1;
/// A frame holding an audit event.
pub const KIND_AUDIT: u8 = 2;
/// A frame holding a group of index entries (see `groups`).
pub const KIND_INDEX: u8 = 3;

/// Frame header: payload length and CRC-32 of kind and payload (both
/// little-endian), then the kind.
const HEADER: usize = 9;
/// The largest payload a frame may hold (records are at most tens of KB,
/// index groups under a megabyte).
const MAX_FRAME: usize = 64 << 20;
/// The buffer is written to the file when it grows past this.
const WRITE_AT: usize = 1 << 20;
/// A new segment is started when the current one grows past this.
pub const SEGMENT_BYTES: u64 = 256 << 20;

/// Where a frame starts: segment number and byte offset, 12 bytes when
/// stored as an index value. Ordered as the log is: by segment, then offset.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Loc {
    pub segment: u32,
    pub offset: u64,
}

impl Loc {
    pub fn to_bytes(self) -> [u8; 12] {
        let mut b = [0; 12];
        b[..4].copy_from_slice(&self.segment.to_be_bytes());
        b[4..].copy_from_slice(&self.offset.to_be_bytes());
        b
    }

    /// `None` for a value that is not a location (an older layout).
    pub fn from_bytes(b: &[u8]) -> Option<Loc> {
        let b: &[u8; 12] = b.try_into().ok()?;
        let (s, o) = b.split_at(4);
        Some(Loc {
            segment: u32::from_be_bytes(s.try_into().ok()?),
            offset: u64::from_be_bytes(o.try_into().ok()?),
        })
    }
}

type Guard<'a> = MutexGuard<'a, Writer>;

struct Writer {
    segment: u32,
    file: Arc<File>,
    /// Bytes already in the file (written, perhaps not yet synced).
    written: u64,
    /// Bytes of the file already filled with zeros and synced, ahead of
    /// `written`: appending inside them changes no block allocation nor
    /// the file's size, so a sync has only data to write, no metadata to
    /// journal (syncs that had to stalled for hundreds of milliseconds).
    allocated: u64,
    /// The segment whose next [`PREALLOCATE`] bytes past `allocated` the
    /// zeroing thread is filling now (outside the lock).
    zeroing: Option<u32>,
    /// Frames appended since the last write to the file.
    buf: Vec<u8>,
    /// Bytes of this segment known durable: a sync's fsync has returned
    /// after they were written.
    synced: u64,
    /// The newest time (ms) a frame of this segment carries, for
    /// retention; `None` once a record or audit frame came without one
    /// (the segment is then aged by its file's modification time).
    newest_ms: Option<i64>,
}

pub struct RecordLog {
    dir: PathBuf,
    /// A new segment is started when the current one grows past this.
    segment_bytes: u64,
    writer: Mutex<Writer>,
    /// Wakes the zeroing thread: fewer than [`AHEAD`] zeroed bytes left.
    want_zeros: Condvar,
    /// Wakes appenders waiting for the zeroing thread to finish.
    zeroed: Condvar,
    /// Read handles of earlier segments, opened on first use.
    readers: Mutex<HashMap<u32, Arc<File>>>,
}

fn segment_path(dir: &Path, segment: u32) -> PathBuf {
    dir.join(format!("{segment:08}.log"))
}

/// The file beside a finished segment holding the newest time its frames
/// carry (milliseconds since 1970, as text), written when the segment is
/// finished (rolled or closed cleanly).
fn newest_path(dir: &Path, segment: u32) -> PathBuf {
    dir.join(format!("{segment:08}.newest"))
}

fn open_segment(dir: &Path, segment: u32) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create_new(true)
        .open(segment_path(dir, segment))
}

impl RecordLog {
    /// Opens the log in `dir` (created if missing) and starts a new
    /// segment after every one used before. The segment the last run wrote
    /// first has the zeros a crash left behind its data cut (see
    /// [`data_end`]), and is removed if that leaves nothing; so are empty
    /// segments of older versions.
    pub fn open(dir: &Path) -> std::io::Result<Arc<RecordLog>> {
        RecordLog::open_with(dir, SEGMENT_BYTES)
    }

    /// [`RecordLog::open`], starting a new segment past `segment_bytes`
    /// (tests of retention use small segments).
    pub fn open_with(dir: &Path, segment_bytes: u64) -> std::io::Result<Arc<RecordLog>> {
        std::fs::create_dir_all(dir)?;
        let mut segments = Vec::new();
        for entry in std::fs::read_dir(dir)? {
            let name = entry?.file_name();
            if let Some(n) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".log"))
                .and_then(|n| n.parse::<u32>().ok())
            {
                segments.push(n);
            }
        }
        segments.sort_unstable();
        let newest = segments.last().copied().unwrap_or(0);
        if let Some(&last) = segments.last() {
            trim(&segment_path(dir, last))?;
        }
        for &n in &segments {
            let path = segment_path(dir, n);
            if std::fs::metadata(&path)?.len() == 0 {
                std::fs::remove_file(&path)?;
                remove_if_there(&newest_path(dir, n))?;
            }
        }
        // A number is never used twice, even once its segment is removed:
        // an index entry a crash left pointing into it must not come to
        // point at another run's frame.
        let segment = (newest + 1).max(read_next(dir)?);
        write_next(dir, segment + 1)?;
        let file = Arc::new(open_segment(dir, segment)?);
        File::open(dir)?.sync_all()?;
        let log = Arc::new(RecordLog {
            dir: dir.to_path_buf(),
            segment_bytes,
            writer: Mutex::new(Writer {
                segment,
                file,
                written: 0,
                allocated: 0,
                zeroing: None,
                buf: Vec::with_capacity(WRITE_AT + (64 << 10)),
                synced: 0,
                newest_ms: Some(i64::MIN),
            }),
            want_zeros: Condvar::new(),
            zeroed: Condvar::new(),
            readers: Mutex::new(HashMap::new()),
        });
        spawn_zeroing(Arc::downgrade(&log))?;
        Ok(log)
    }

    fn writer(&self) -> MutexGuard<'_, Writer> {
        self.writer.lock()
    }

    /// Where the next frame will go.
    pub fn end(&self) -> Loc {
        let w = self.writer();
        Loc {
            segment: w.segment,
            offset: w.written + w.buf.len() as u64,
        }
    }

    /// Appends one frame; durable after the next [`RecordLog::sync`]. A
    /// frame appended without its time (see [`RecordLog::append_at`])
    /// leaves its segment to be aged by its file's modification time.
    #[cfg(test)]
    pub fn append(&self, kind: u8, payload: &[u8]) -> std::io::Result<Loc> {
        self.append_at(kind, payload, None)
    }

    /// Appends one frame carrying the time `at_ms` (a decision's, an audit
    /// event's; for an index group, its newest entry's), which retention
    /// reads off its segment once the segment is finished.
    pub fn append_at(&self, kind: u8, payload: &[u8], at_ms: Option<i64>) -> std::io::Result<Loc> {
        let len = u32::try_from(payload.len())
            .ok()
            .filter(|l| *l as usize <= MAX_FRAME)
            .ok_or_else(|| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, "record over 64 MiB")
            })?;
        let mut w = self.writer();
        if w.written >= self.segment_bytes {
            w = self.roll(w)?;
        }
        w.newest_ms = match (w.newest_ms, at_ms) {
            (Some(newest), Some(at)) => Some(newest.max(at)),
            _ => None,
        };
        let loc = Loc {
            segment: w.segment,
            offset: w.written + w.buf.len() as u64,
        };
        w.buf.extend_from_slice(&len.to_le_bytes());
        w.buf.extend_from_slice(&crc(kind, payload).to_le_bytes());
        w.buf.push(kind);
        w.buf.extend_from_slice(payload);
        if w.buf.len() >= WRITE_AT {
            drop(self.write_out(w)?);
        }
        Ok(loc)
    }

    /// Finishes the current segment (written and synced) and starts the next.
    fn roll<'a>(&'a self, w: Guard<'a>) -> std::io::Result<Guard<'a>> {
        let mut w = self.write_out(w)?;
        // The zeros written ahead of the data are cut, as at a clean
        // close: a finished segment holds its frames only. The zeroing
        // thread is let finish first (it would write them back).
        while w.zeroing == Some(w.segment) {
            self.zeroed.wait(&mut w);
        }
        w.file.set_len(w.written)?;
        w.file.sync_all()?;
        write_newest(&self.dir, w.segment, w.newest_ms)?;
        let segment = w.segment + 1;
        write_next(&self.dir, segment + 1)?;
        w.file = Arc::new(open_segment(&self.dir, segment)?);
        File::open(&self.dir)?.sync_all()?;
        w.segment = segment;
        w.written = 0;
        w.allocated = 0;
        w.synced = 0;
        w.newest_ms = Some(i64::MIN);
        Ok(w)
    }

    /// Writes the buffer to the file (into the page cache), always inside
    /// bytes already zeroed: it waits for the zeroing thread when that is
    /// filling the bytes it needs, and fills them itself when it is not.
    fn write_out<'a>(&'a self, mut w: Guard<'a>) -> std::io::Result<Guard<'a>> {
        if w.buf.is_empty() {
            return Ok(w);
        }
        let end = w.written + w.buf.len() as u64;
        while end > w.allocated {
            if w.zeroing == Some(w.segment) {
                self.zeroed.wait(&mut w);
            } else {
                let grow = (end - w.allocated).div_ceil(PREALLOCATE) * PREALLOCATE;
                fill_zeros(&w.file, w.allocated, grow)?;
                w.allocated += grow;
            }
        }
        w.file.write_all_at(&w.buf, w.written)?;
        w.written = end;
        w.buf.clear();
        if w.allocated - w.written < AHEAD && w.zeroing.is_none() {
            self.want_zeros.notify_one();
        }
        Ok(w)
    }

    /// Makes every frame appended so far durable. The write happens under
    /// the lock (it only copies into the page cache); the fsync outside it,
    /// so appends go on meanwhile. Returns only once the frames are
    /// durable, also when a concurrent sync wrote them out: that one's
    /// fsync may not have returned yet, so this one syncs too unless it has.
    pub fn sync(&self) -> std::io::Result<()> {
        let (file, segment, target) = {
            let w = self.write_out(self.writer())?;
            if w.synced >= w.written {
                return Ok(());
            }
            (w.file.clone(), w.segment, w.written)
        };
        file.sync_data()?;
        let mut w = self.writer();
        if w.segment == segment {
            w.synced = w.synced.max(target);
        }
        Ok(())
    }

    /// How far the log is durable: every frame before this location.
    pub fn durable(&self) -> Loc {
        let w = self.writer();
        Loc {
            segment: w.segment,
            offset: w.synced,
        }
    }

    /// The payload of the frame at `loc`; `None` when there is no whole,
    /// intact frame there (an index entry a crash left without its record).
    pub fn read(&self, loc: Loc) -> std::io::Result<Option<Vec<u8>>> {
        let file = {
            let mut w = self.writer();
            if loc.segment == w.segment {
                if loc.offset >= w.written {
                    w = self.write_out(w)?;
                }
                Some(w.file.clone())
            } else {
                None
            }
        };
        let file = match file {
            Some(f) => f,
            None => match self.reader(loc.segment)? {
                Some(f) => f,
                None => return Ok(None),
            },
        };
        let mut header = [0u8; HEADER];
        if !read_exact_at(&file, &mut header, loc.offset)? {
            return Ok(None);
        }
        let (len, sum, kind) = parse_header(&header);
        if len > MAX_FRAME {
            // Not a header Medic wrote: do not allocate what it claims.
            return Ok(None);
        }
        let mut payload = vec![0u8; len];
        if !read_exact_at(&file, &mut payload, loc.offset + HEADER as u64)?
            || crc(kind, &payload) != sum
        {
            return Ok(None);
        }
        Ok(Some(payload))
    }

    /// Every intact frame from `from` to the end of the segments before the
    /// one this log was opened on, in order: what a crash may have left
    /// unindexed. A segment is read up to its first torn frame, a frame at
    /// a time from `from` on (read whole, a 256 MiB segment stayed in the
    /// process's memory after every start).
    pub fn frames_from(&self, from: Loc) -> std::io::Result<Vec<(Loc, u8, Vec<u8>)>> {
        let current = self.writer().segment;
        let mut out = Vec::new();
        for segment in from.segment.max(1)..current {
            let start = if segment == from.segment {
                from.offset
            } else {
                0
            };
            let Some(mut frames) = Frames::open(&segment_path(&self.dir, segment), start)? else {
                continue;
            };
            while let Some((offset, kind, payload)) = frames.next_frame()? {
                out.push((Loc { segment, offset }, kind, payload));
            }
        }
        Ok(out)
    }

    fn reader(&self, segment: u32) -> std::io::Result<Option<Arc<File>>> {
        let mut readers = self.readers.lock();
        if let Some(f) = readers.get(&segment) {
            return Ok(Some(f.clone()));
        }
        match File::open(segment_path(&self.dir, segment)) {
            Ok(f) => {
                let f = Arc::new(f);
                if readers.len() >= MAX_READERS {
                    // Bounded descriptors: the others reopen when read.
                    readers.clear();
                }
                readers.insert(segment, f.clone());
                Ok(Some(f))
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }
}

impl RecordLog {
    /// The segments before the current one, oldest first, with the newest
    /// time their frames carry: from the file written when the segment was
    /// finished, else (a segment a crash left, or one written before this
    /// was kept) its file's modification time, which no frame in it is
    /// newer than.
    pub fn finished_segments(&self) -> std::io::Result<Vec<(u32, i64)>> {
        let current = self.writer().segment;
        let mut out = Vec::new();
        for entry in std::fs::read_dir(&self.dir)? {
            let entry = entry?;
            let name = entry.file_name();
            let Some(n) = name
                .to_str()
                .and_then(|n| n.strip_suffix(".log"))
                .and_then(|n| n.parse::<u32>().ok())
                .filter(|n| *n < current)
            else {
                continue;
            };
            let newest = match std::fs::read_to_string(newest_path(&self.dir, n)) {
                Ok(s) => s.trim().parse::<i64>().ok(),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(e),
            };
            let newest = match newest {
                Some(ms) => ms,
                None => {
                    let modified = entry.metadata()?.modified()?;
                    let since = modified
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap_or_default();
                    i64::try_from(since.as_millis()).unwrap_or(i64::MAX)
                }
            };
            out.push((n, newest));
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Removes a finished segment (never the current one), closing this
    /// log's read handle on it so its disk space is freed. Returns its size.
    pub fn remove_segment(&self, segment: u32) -> std::io::Result<u64> {
        if segment >= self.writer().segment {
            return Ok(0);
        }
        self.readers.lock().remove(&segment);
        let path = segment_path(&self.dir, segment);
        let size = match std::fs::metadata(&path) {
            Ok(m) => m.len(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(e),
        };
        remove_if_there(&path)?;
        remove_if_there(&newest_path(&self.dir, segment))?;
        Ok(size)
    }
}

fn remove_if_there(path: &Path) -> std::io::Result<()> {
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

/// Records the newest time a finished segment's frames carry (nothing
/// when some frame's time is unknown: the segment is aged by its file).
fn write_newest(dir: &Path, segment: u32, newest_ms: Option<i64>) -> std::io::Result<()> {
    if let Some(ms) = newest_ms {
        // Whole or absent after a crash, never a cut number (which would
        // age the segment wrongly): written aside, synced, renamed.
        let aside = dir.join(format!("{segment:08}.newest.new"));
        {
            let mut f = File::create(&aside)?;
            std::io::Write::write_all(&mut f, ms.to_string().as_bytes())?;
            f.sync_all()?;
        }
        std::fs::rename(&aside, newest_path(dir, segment))?;
    }
    Ok(())
}

/// Read handles of earlier segments kept open at most.
const MAX_READERS: usize = 32;

/// The file holding the next segment number to use.
fn next_path(dir: &Path) -> PathBuf {
    dir.join("next-segment")
}

fn read_next(dir: &Path) -> std::io::Result<u32> {
    match std::fs::read_to_string(next_path(dir)) {
        Ok(s) => Ok(s.trim().parse().unwrap_or(0)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(e),
    }
}

/// Records `next` durably (written aside, then renamed over the old).
fn write_next(dir: &Path, next: u32) -> std::io::Result<()> {
    let aside = dir.join("next-segment.new");
    {
        let mut f = File::create(&aside)?;
        std::io::Write::write_all(&mut f, next.to_string().as_bytes())?;
        f.sync_all()?;
    }
    std::fs::rename(&aside, next_path(dir))?;
    File::open(dir)?.sync_all()
}

/// The intact frames of a segment's `bytes` from `start` on, up to the
/// first torn one: (offset, kind, payload).
#[cfg(test)]
fn intact_frames(bytes: &[u8], start: usize) -> impl Iterator<Item = (usize, u8, &[u8])> {
    let mut at = start;
    std::iter::from_fn(move || {
        let (len, sum, kind) = parse_header(bytes.get(at..at + HEADER)?);
        let payload = bytes.get(at + HEADER..at + HEADER + len)?;
        if crc(kind, payload) != sum {
            return None;
        }
        let frame = (at, kind, payload);
        at += HEADER + len;
        Some(frame)
    })
}

/// Where the data of a segment a run left ends, give or take: past its
/// last intact frame, and past its last non-zero byte rounded up to a
/// [`PREALLOCATE`] step. Frames after a torn one may still be read (sled
/// may point at them), so nothing before the last non-zero byte is cut;
/// what is cut are the zeros written ahead of the data.
#[cfg(test)]
fn data_end(bytes: &[u8]) -> usize {
    let at = intact_frames(bytes, 0)
        .last()
        .map_or(0, |(at, _, payload)| at + HEADER + payload.len());
    let step = PREALLOCATE as usize;
    let nonzero = bytes
        .iter()
        .rposition(|b| *b != 0)
        .map_or(0, |i| (i + 1).div_ceil(step) * step);
    at.max(nonzero).min(bytes.len())
}

/// The intact frames of a segment file from an offset on, read one at a
/// time up to the first torn one (as [`intact_frames`] reads bytes in
/// memory).
struct Frames {
    file: std::io::BufReader<File>,
    at: u64,
}

impl Frames {
    /// `None` when the segment is not there.
    fn open(path: &Path, start: u64) -> std::io::Result<Option<Frames>> {
        let mut file = match File::open(path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(e),
        };
        std::io::Seek::seek(&mut file, std::io::SeekFrom::Start(start))?;
        Ok(Some(Frames {
            file: std::io::BufReader::with_capacity(1 << 20, file),
            at: start,
        }))
    }

    /// The next intact frame: (offset, kind, payload).
    fn next_frame(&mut self) -> std::io::Result<Option<(u64, u8, Vec<u8>)>> {
        let mut header = [0u8; HEADER];
        if !read_full(&mut self.file, &mut header)? {
            return Ok(None);
        }
        let (len, sum, kind) = parse_header(&header);
        if len > MAX_FRAME {
            return Ok(None);
        }
        let mut payload = vec![0u8; len];
        if !read_full(&mut self.file, &mut payload)? || crc(kind, &payload) != sum {
            return Ok(None);
        }
        let at = self.at;
        self.at += (HEADER + len) as u64;
        Ok(Some((at, kind, payload)))
    }
}

/// Fills `buf`; `false` when the reader ends first.
fn read_full(r: &mut impl std::io::Read, buf: &mut [u8]) -> std::io::Result<bool> {
    let mut done = 0;
    while done < buf.len() {
        match r.read(&mut buf[done..]) {
            Ok(0) => return Ok(false),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

/// [`data_end`] of a segment file, read a frame at a time (its frames),
/// then backwards from its end (the zeros).
fn data_end_of(path: &Path) -> std::io::Result<u64> {
    let mut at = 0;
    if let Some(mut frames) = Frames::open(path, 0)? {
        while let Some((offset, _, payload)) = frames.next_frame()? {
            at = offset + (HEADER + payload.len()) as u64;
        }
    }
    let file = File::open(path)?;
    let len = file.metadata()?.len();
    let mut nonzero = 0;
    let mut chunk = vec![0u8; 64 << 10];
    let mut end = len;
    while end > 0 {
        let from = end.saturating_sub(chunk.len() as u64);
        let part = &mut chunk[..(end - from) as usize];
        if !read_exact_at(&file, part, from)? {
            break;
        }
        if let Some(i) = part.iter().rposition(|b| *b != 0) {
            nonzero = (from + i as u64 + 1).div_ceil(PREALLOCATE) * PREALLOCATE;
            break;
        }
        end = from;
    }
    Ok(at.max(nonzero).min(len))
}

/// Cuts the zeros behind a segment's data (none behind one closed cleanly:
/// its newest time was written after it was cut).
fn trim(path: &Path) -> std::io::Result<()> {
    if path.with_extension("newest").exists() {
        return Ok(());
    }
    let end = data_end_of(path)?;
    let f = OpenOptions::new().write(true).open(path)?;
    // Only ever shorter: the run that wrote it may be closing it (in this
    // process) and cutting it itself.
    if f.metadata()?.len() > end {
        f.set_len(end)?;
        f.sync_all()?;
    }
    Ok(())
}

impl Drop for RecordLog {
    /// A clean close leaves no zeros behind the data, and no segment with
    /// nothing in it.
    fn drop(&mut self) {
        let w = self.writer.lock();
        let done = (|| -> std::io::Result<()> {
            w.file.write_all_at(&w.buf, w.written)?;
            let end = w.written + w.buf.len() as u64;
            if end == 0 {
                // A later open may have removed it already.
                match std::fs::remove_file(segment_path(&self.dir, w.segment)) {
                    Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
                    _ => {}
                }
            } else {
                w.file.set_len(end)?;
                w.file.sync_all()?;
                write_newest(&self.dir, w.segment, w.newest_ms)?;
            }
            Ok(())
        })();
        if let Err(e) = done {
            tracing::warn!(error = %e, segment = w.segment, "Could not close the record log's segment cleanly; the next open trims it");
        }
    }
}

fn crc(kind: u8, payload: &[u8]) -> u32 {
    let mut h = crc32fast::Hasher::new();
    h.update(&[kind]);
    h.update(payload);
    h.finalize()
}

/// Length, checksum and kind from a frame header.
fn parse_header(h: &[u8]) -> (usize, u32, u8) {
    let word = |i: usize| {
        h.get(i..i + 4)
            .and_then(|b| <[u8; 4]>::try_from(b).ok())
            .map_or(0, u32::from_le_bytes)
    };
    (word(0) as usize, word(4), h.get(8).copied().unwrap_or(0))
}

/// Zeros written ahead of the data at a time, each step made durable on
/// its own. Small on purpose: a sync of the log that starts while a step
/// is in flight waits for that step's zeros and the file's new length to
/// be written too. With 4 MiB steps nearly every slow sync of the log (3 to
/// 39 ms, against 0.5 ms on average) coincided with the end of a step; with
/// 512 KiB steps they all but went (docs/benchmarks-history.md, issue 3).
const PREALLOCATE: u64 = 512 << 10;
/// The zeroing thread keeps this much zeroed past the data.
const AHEAD: u64 = 8 << 20;

/// Writes `len` zeros at `from` and makes them durable.
fn fill_zeros(file: &File, from: u64, len: u64) -> std::io::Result<()> {
    // From one small block of zeros: a fresh 4 MiB buffer cost a thousand
    // page faults each time.
    static ZEROS: [u8; 64 << 10] = [0; 64 << 10];
    let mut at = from;
    while at < from + len {
        let n = (from + len - at).min(ZEROS.len() as u64);
        file.write_all_at(&ZEROS[..n as usize], at)?;
        at += n;
    }
    file.sync_data()
}

/// Keeps [`AHEAD`] bytes past the data of the current segment filled with
/// zeros, a [`PREALLOCATE`] step at a time, outside the writer's lock:
/// filled under it, each step and its fsync held every append back (the
/// log's p99 tail). Ends with the log.
fn spawn_zeroing(log: Weak<RecordLog>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("medic-log-zeros".into())
        .spawn(move || {
            loop {
                let Some(log) = log.upgrade() else { return };
                let job = {
                    let mut w = log.writer();
                    // Only for a log written to (not every store opened).
                    let wanted = |w: &Writer| {
                        w.written > 0
                            && w.zeroing.is_none()
                            && w.allocated.saturating_sub(w.written) < AHEAD
                    };
                    if !wanted(&w) {
                        // Woken by an append that wants zeros, or now and
                        // then to notice the log is gone.
                        log.want_zeros
                            .wait_for(&mut w, Duration::from_millis(200));
                    }
                    if wanted(&w) {
                        w.zeroing = Some(w.segment);
                        Some((w.file.clone(), w.segment, w.allocated))
                    } else {
                        None
                    }
                };
                let Some((file, segment, from)) = job else {
                    continue;
                };
                let filled = fill_zeros(&file, from, PREALLOCATE);
                {
                    let mut w = log.writer();
                    w.zeroing = None;
                    if filled.is_ok() && w.segment == segment && w.allocated == from {
                        w.allocated += PREALLOCATE;
                    }
                }
                log.zeroed.notify_all();
                if let Err(e) = filled {
                    tracing::warn!(error = %e, "Could not fill the record log ahead with zeros; appends will fill it themselves");
                    drop(log);
                    std::thread::sleep(Duration::from_secs(1));
                }
            }
        })?;
    Ok(())
}

/// Fills `buf` from `offset`; `false` when the file ends first.
fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> std::io::Result<bool> {
    let mut done = 0;
    while done < buf.len() {
        match file.read_at(&mut buf[done..], offset + done as u64) {
            Ok(0) => return Ok(false),
            Ok(n) => done += n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The segment files in `dir`, with their sizes.
    fn segments(dir: &Path) -> Vec<(String, u64)> {
        let mut out: Vec<(String, u64)> = std::fs::read_dir(dir)
            .expect("dir")
            .map(|e| e.expect("entry"))
            .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
            .map(|e| {
                (
                    e.file_name().to_string_lossy().into_owned(),
                    e.metadata().expect("metadata").len(),
                )
            })
            .collect();
        out.sort();
        out
    }

    #[test]
    fn closes_and_opens_leave_no_zeros_no_empty_segments_and_reuse_no_number() {
        let dir = tempfile::tempdir().expect("tempdir");
        let first = {
            let log = RecordLog::open(dir.path()).expect("open");
            let a = log.append(KIND_RECORD, &vec![1u8; 5000]).expect("append");
            log.sync().expect("sync");
            a
        };
        // Eighteen restarts that write nothing.
        for _ in 0..18 {
            drop(RecordLog::open(dir.path()).expect("open"));
        }
        // The last handle may be the zeroing thread's, let go within its
        // 200 ms wait.
        let want = vec![("00000001.log".to_string(), (HEADER + 5000) as u64)];
        let deadline = std::time::Instant::now() + Duration::from_secs(5);
        while segments(dir.path()) != want && std::time::Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(
            segments(dir.path()),
            want,
            "one segment, no zeros behind its frame"
        );
        let log = RecordLog::open(dir.path()).expect("open");
        assert_eq!(log.read(first).expect("read"), Some(vec![1u8; 5000]));
        let b = log.append(KIND_RECORD, b"later").expect("append");
        assert_eq!(
            b.segment, 20,
            "the numbers of removed segments are not used again"
        );
    }

    #[test]
    fn frames_after_a_torn_one_are_kept_and_only_zeros_cut() {
        let mut bytes = Vec::new();
        for payload in [&b"first"[..], b"second"] {
            bytes.extend_from_slice(&(payload.len() as u32).to_le_bytes());
            bytes.extend_from_slice(&crc(KIND_RECORD, payload).to_le_bytes());
            bytes.push(KIND_RECORD);
            bytes.extend_from_slice(payload);
        }
        bytes[HEADER] ^= 0xff; // the first frame torn
        let data = bytes.len();
        bytes.resize(3 * PREALLOCATE as usize, 0);
        // Up to the step holding the last non-zero byte: the second frame
        // stays readable.
        assert_eq!(data_end(&bytes), PREALLOCATE as usize);
        assert!(data <= PREALLOCATE as usize);
        assert_eq!(data_end(&[0u8; 4096]), 0, "all zeros: nothing to keep");
        // Read from a file a frame at a time, the same.
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("00000001.log");
        std::fs::write(&path, &bytes).expect("write");
        assert_eq!(data_end_of(&path).expect("end"), PREALLOCATE);
        std::fs::write(&path, [0u8; 4096]).expect("write");
        assert_eq!(data_end_of(&path).expect("end"), 0);
    }

    #[test]
    fn an_open_cuts_the_zeros_a_crash_left_behind_the_data() {
        let written = tempfile::tempdir().expect("tempdir");
        let log = RecordLog::open(written.path()).expect("open");
        let a = log.append(KIND_RECORD, &vec![3u8; 4000]).expect("append");
        log.append(KIND_AUDIT, b"second").expect("append");
        log.sync().expect("sync");
        // What a crash leaves: the frames, then zeros written ahead (copied
        // while the log is open, so its close does not tidy them away).
        let crashed = tempfile::tempdir().expect("tempdir");
        let mut bytes = std::fs::read(segment_path(written.path(), 1)).expect("read");
        let data = 2 * HEADER + 4000 + 6;
        bytes.resize(data + (1 << 20), 0);
        std::fs::write(segment_path(crashed.path(), 1), &bytes).expect("write");
        drop(log);
        let log = RecordLog::open(crashed.path()).expect("open");
        assert_eq!(
            std::fs::metadata(segment_path(crashed.path(), 1))
                .expect("metadata")
                .len(),
            PREALLOCATE,
            "the zeros past the step holding the data are cut"
        );
        assert!(data as u64 <= PREALLOCATE);
        assert_eq!(log.read(a).expect("read"), Some(vec![3u8; 4000]));
    }

    #[test]
    fn appended_frames_read_back_before_and_after_a_sync_and_across_opens() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = RecordLog::open(dir.path()).expect("open");
        let a = log.append(KIND_RECORD, b"first").expect("append");
        let b = log.append(KIND_AUDIT, &vec![7u8; 3000]).expect("append");
        assert_eq!(log.read(a).expect("read").as_deref(), Some(&b"first"[..]));
        log.sync().expect("sync");
        assert_eq!(log.read(b).expect("read"), Some(vec![7u8; 3000]));
        drop(log);
        let log = RecordLog::open(dir.path()).expect("reopen");
        let c = log.append(KIND_RECORD, b"third").expect("append");
        assert_eq!(c.segment, a.segment + 1, "a reopened log starts a segment");
        assert_eq!(log.read(a).expect("read").as_deref(), Some(&b"first"[..]));
        assert_eq!(Loc::from_bytes(&c.to_bytes()), Some(c));
        let frames = log.frames_from(b).expect("frames");
        assert_eq!(frames.len(), 1, "the frames from b on, in earlier segments");
        assert_eq!((frames[0].0, frames[0].1), (b, KIND_AUDIT));
        assert_eq!(frames[0].2, vec![7u8; 3000]);
        assert_eq!(
            log.frames_from(Loc {
                segment: 0,
                offset: 0
            })
            .expect("frames")
            .len(),
            2
        );
    }

    #[test]
    fn a_location_past_the_end_or_at_a_torn_frame_reads_as_missing() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = RecordLog::open(dir.path()).expect("open");
        let a = log.append(KIND_RECORD, b"whole").expect("append");
        let b = log.append(KIND_RECORD, b"torn record").expect("append");
        log.sync().expect("sync");
        drop(log);
        // A crash tore the second frame: its last bytes never reached disk
        // (the zeros written ahead of the data are still there; a clean
        // close cut them, unless the zeroing thread still held the log, so
        // they are put back as a crash leaves them).
        let path = segment_path(dir.path(), a.segment);
        let end = b.offset + HEADER as u64 + 11;
        let f = OpenOptions::new().write(true).open(&path).expect("open");
        if f.metadata().expect("meta").len() <= end {
            f.set_len(PREALLOCATE).expect("zeros");
        }
        f.write_all_at(&[0; 3], end - 3).expect("tear");
        let log = RecordLog::open(dir.path()).expect("reopen");
        assert_eq!(log.read(a).expect("read").as_deref(), Some(&b"whole"[..]));
        assert_eq!(log.read(b).expect("read"), None);
        let found = log.frames_from(a).expect("frames");
        assert_eq!(found.len(), 1, "the scan stops at the torn frame");
        for offset in [end, end + 100, 1 << 40] {
            let beyond = Loc {
                segment: a.segment,
                offset,
            };
            assert_eq!(log.read(beyond).expect("read"), None, "{offset}");
        }
        let no_segment = Loc {
            segment: 999,
            offset: 0,
        };
        assert_eq!(log.read(no_segment).expect("read"), None);
        // A header claiming a giant payload is not believed (nor allocated).
        f.write_all_at(&u32::MAX.to_le_bytes(), b.offset)
            .expect("write");
        assert_eq!(log.read(b).expect("read"), None);
        // A flipped byte fails the checksum.
        f.write_at(b"W", a.offset + HEADER as u64).expect("write");
        assert_eq!(log.read(a).expect("read"), None);
    }
    #[test]
    fn zeros_are_kept_ahead_by_their_thread_and_never_overwrite_data() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = RecordLog::open(dir.path()).expect("open");
        let path = segment_path(dir.path(), log.end().segment);
        // 24 MiB of distinct frames, synced now and then, while the thread
        // fills ahead of them.
        let mut locs = Vec::new();
        for i in 0..6_000u32 {
            let payload: Vec<u8> = (0..4096u32).map(|j| (i ^ j) as u8).collect();
            locs.push((log.append(KIND_RECORD, &payload).expect("append"), payload));
            if i % 500 == 0 {
                log.sync().expect("sync");
            }
        }
        log.sync().expect("sync");
        let data_end = log.end().offset;
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while std::fs::metadata(&path).expect("meta").len() < data_end + AHEAD {
            assert!(std::time::Instant::now() < deadline, "zeros not kept ahead");
            std::thread::sleep(Duration::from_millis(10));
        }
        for (loc, payload) in &locs {
            assert_eq!(log.read(*loc).expect("read").as_ref(), Some(payload));
        }
        drop(log);
        let log = RecordLog::open(dir.path()).expect("reopen");
        let frames = log.frames_from(locs[0].0).expect("frames");
        assert_eq!(frames.len(), locs.len(), "every frame, then zeros");
    }

    #[test]
    fn a_sync_returns_only_once_what_was_appended_before_it_is_durable() {
        let dir = tempfile::tempdir().expect("tempdir");
        let log = RecordLog::open(dir.path()).expect("open");
        let a = log.append(KIND_RECORD, b"one").expect("append");
        assert_eq!(log.durable(), a, "nothing durable before a sync");
        log.sync().expect("sync");
        assert_eq!(log.durable(), log.end());
        // Syncs racing each other: one may write out the other's frames and
        // still be in its fsync when the other looks.
        std::thread::scope(|s| {
            for t in 0..4u8 {
                let log = &log;
                s.spawn(move || {
                    for i in 0..200u32 {
                        let payload = vec![t; 100 + i as usize];
                        let at = log.append(KIND_RECORD, &payload).expect("append");
                        log.sync().expect("sync");
                        let durable = log.durable();
                        let end = Loc {
                            offset: at.offset + (HEADER + payload.len()) as u64,
                            ..at
                        };
                        assert!(durable >= end, "{durable:?} short of {end:?}");
                    }
                });
            }
        });
    }
}
