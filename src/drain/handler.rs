//! A handler on the drainer: its processor chain, renderer, writer and reusable batch buffer.
//!
//! File and stream destinations are written by an I/O thread of their own ("kolog-io"): the
//! drainer renders the next batch while the previous one is in the kernel, and a destination
//! that stops taking bytes holds that thread, not the drainer. Batches are handed over
//! by moving the buffer (no copy), at most [`MAX_IN_FLIGHT`] at a time (then the drainer
//! waits, and the rings fill up as under any slow destination); the buffers come back for
//! reuse. A write failure is reported by the I/O thread and counted when the drainer collects
//! the batch (at the latest by the next flush or at shutdown). `KOLOG_IO_THREAD=0` writes on
//! the drainer thread instead.

use std::collections::BTreeSet;
use std::io;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, SyncSender, TryRecvError};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use super::shared::DrainDeadline;
use crate::process::{Chain, Outcome};
use crate::render::{JsonTemplate, LoggerJson, Renderer};
use crate::write::Writer;
use crate::{EventDict, Level};

/// Bytes buffered before a handler writes mid-pass.
const WRITE_THRESHOLD: usize = 1 << 20;
/// With an I/O thread: smaller batches keep rendering and writing overlapped.
const THREADED_WRITE_THRESHOLD: usize = 256 << 10;
/// Batches handed to an I/O thread and not yet returned.
const MAX_IN_FLIGHT: usize = 2;
/// While waiting for an I/O thread, how often shutdown's deadline is checked.
const DEADLINE_CHECK: std::time::Duration = std::time::Duration::from_millis(20);

pub(crate) struct Handler {
    pub chain: Chain,
    pub renderer: Renderer,
    destination: Destination,
    buf: Vec<u8>,
    ends: Vec<usize>,
    /// The destination throws records away: they are not rendered.
    discards: bool,
    /// No processors, or only static ones (`Chain::is_static`).
    encodable: bool,
    /// For messages: `<logger>[<index>]` and the handler type.
    label: String,
    /// The records of the batch being buffered that other handlers took too: (index in the
    /// batch, the record's number; see [`SharedRecords`]).
    shared: Vec<(u32, u64)>,
    /// The drainer's records counted as failed, for records several handlers took.
    failed_shared: SharedFailed,
    /// The handler's registration of its file (see `write::LiveFiles`), given back once the
    /// file is closed.
    file: Option<crate::write::FileLease>,
}

/// Records routed to several handlers (numbered by the drainer, in delivery order) already
/// counted as failed: a record is failed when any of its handlers failed it, counted once.
pub(crate) type SharedFailed = Arc<Mutex<BTreeSet<u64>>>;

/// Of a batch of `n` records whose last `failed` failed, how many are failures not counted
/// yet: a record other handlers took too (`shared`: index in the batch, number) counts only
/// the first time one of its handlers fails it.
fn newly_failed(counted: &SharedFailed, n: usize, failed: u64, shared: &[(u32, u64)]) -> u64 {
    if failed == 0 || shared.is_empty() {
        return failed;
    }
    let first = n.saturating_sub(failed as usize);
    let mut counted = counted.lock().unwrap_or_else(|e| e.into_inner());
    let mut newly = failed;
    for &(i, number) in shared {
        if i as usize >= first && !counted.insert(number) {
            newly -= 1;
        }
    }
    newly
}

/// Where a handler's batches are written.
enum Destination {
    /// On the drainer thread.
    Inline(Box<dyn Writer>, Failures),
    /// By the handler's I/O thread.
    Thread(IoLane),
}

/// Write failures of one destination, reported once per burst.
struct Failures {
    label: String,
    /// Whether the last write, flush or close failed (a burst of failures is going on).
    failing: bool,
    /// Records that failed to write since the last success.
    lost: u64,
    /// Records that failed before the last recovery, not yet reported at the destination.
    recovered: u64,
}

impl Failures {
    fn new(label: &str) -> Failures {
        Failures {
            label: label.to_owned(),
            failing: false,
            lost: 0,
            recovered: 0,
        }
    }

    /// Writes a batch; returns how many records failed.
    fn write(&mut self, writer: &mut dyn Writer, buf: &[u8], ends: &[usize]) -> u64 {
        match writer.write(buf, ends) {
            Ok(()) => {
                if self.failing {
                    crate::error::report(format_args!(
                        "kolog: handler {} recovered after {} failed records",
                        self.label, self.lost
                    ));
                    self.recovered += self.lost;
                    self.failing = false;
                    self.lost = 0;
                }
                0
            }
            Err(e) => {
                let n = ends.len().saturating_sub(e.written) as u64;
                self.report(&e.error, n);
                n
            }
        }
    }

    fn flush(&mut self, writer: &mut dyn Writer) {
        if let Err(e) = writer.flush() {
            self.report(&e, 0);
        }
    }

    fn close(&mut self, writer: &mut dyn Writer) {
        if let Err(e) = writer.close() {
            self.report(&e, 0);
        }
    }

    #[cold]
    fn report(&mut self, e: &io::Error, records: u64) {
        if !self.failing {
            crate::error::report(format_args!(
                "kolog: handler {} failed to write {records} records: {e} (further failures are counted in stats().failed until it recovers)",
                self.label
            ));
        }
        self.failing = true;
        self.lost += records;
    }
}

enum Job {
    Write(Vec<u8>, Vec<usize>),
    Flush,
    Close,
}

enum Done {
    /// A batch was written (or failed: the count); its buffers come back for reuse. The last
    /// count: records that had failed before this write succeeded (the destination is back).
    Wrote(Vec<u8>, Vec<usize>, u64, u64),
    Flushed,
    Closed,
}

/// The drainer's end of a handler's I/O thread.
struct IoLane {
    jobs: SyncSender<Job>,
    done: Receiver<Done>,
    spares: Vec<(Vec<u8>, Vec<usize>)>,
    /// Batches sent and not yet returned: their record counts and shared records.
    in_flight: std::collections::VecDeque<(u64, Vec<(u32, u64)>)>,
    /// Emptied shared-record lists of batches that came back, for reuse.
    shared_spares: Vec<Vec<(u32, u64)>>,
    failed_shared: SharedFailed,
    /// Records that had failed before the destination came back, not yet reported there.
    recovered: u64,
    thread: Option<JoinHandle<()>>,
    /// Past it, the drainer stops waiting for a destination that takes no more bytes.
    deadline: Arc<DrainDeadline>,
    /// The deadline passed while the I/O thread was still writing: its batches were counted
    /// as failed and nothing more is handed to it.
    abandoned: bool,
}

impl IoLane {
    fn spawn(
        label: &str,
        writer: Box<dyn Writer>,
        deadline: Arc<DrainDeadline>,
    ) -> Result<IoLane, Box<dyn Writer>> {
        // Room for every batch in flight plus a flush and a close: the drainer never blocks
        // on sending.
        let (jobs, jobs_rx) = mpsc::sync_channel::<Job>(MAX_IN_FLIGHT + 2);
        let (done_tx, done) = mpsc::channel::<Done>();
        let (writer_tx, writer_rx) = mpsc::channel::<Box<dyn Writer>>();
        let mut failures = Failures::new(label);
        let spawned = std::thread::Builder::new()
            .name("kolog-io".into())
            .spawn(move || {
                crate::write::block_write_signals();
                let Ok(mut writer) = writer_rx.recv() else {
                    return;
                };
                for job in jobs_rx {
                    let reply = match job {
                        Job::Write(mut buf, mut ends) => {
                            let failed = failures.write(writer.as_mut(), &buf, &ends);
                            buf.clear();
                            ends.clear();
                            Done::Wrote(buf, ends, failed, std::mem::take(&mut failures.recovered))
                        }
                        Job::Flush => {
                            failures.flush(writer.as_mut());
                            Done::Flushed
                        }
                        Job::Close => {
                            failures.close(writer.as_mut());
                            let _ = done_tx.send(Done::Closed);
                            return;
                        }
                    };
                    if done_tx.send(reply).is_err() {
                        return;
                    }
                }
            });
        match spawned {
            Ok(thread) => {
                if let Err(mpsc::SendError(w)) = writer_tx.send(writer) {
                    return Err(w);
                }
                Ok(IoLane {
                    jobs,
                    done,
                    spares: Vec::new(),
                    in_flight: Default::default(),
                    shared_spares: Vec::new(),
                    failed_shared: SharedFailed::default(),
                    recovered: 0,
                    thread: Some(thread),
                    deadline,
                    abandoned: false,
                })
            }
            Err(_) => Err(writer),
        }
    }

    /// Takes in a reply; returns the records that failed, and whether it was `until`.
    fn take(&mut self, reply: Done, until: fn(&Done) -> bool) -> (u64, bool) {
        let hit = until(&reply);
        match reply {
            Done::Wrote(buf, ends, failed, recovered) => {
                let failed = match self.in_flight.pop_front() {
                    Some((n, mut shared)) => {
                        let failed = newly_failed(&self.failed_shared, n as usize, failed, &shared);
                        shared.clear();
                        self.shared_spares.push(shared);
                        failed
                    }
                    None => failed,
                };
                self.spares.push((buf, ends));
                self.recovered += recovered;
                (failed, hit)
            }
            _ => (0, hit),
        }
    }

    /// Collects the replies that have arrived; returns the records that failed.
    fn poll(&mut self) -> u64 {
        let mut failed = 0;
        loop {
            match self.done.try_recv() {
                Ok(reply) => failed += self.take(reply, |_| false).0,
                Err(TryRecvError::Empty) => return failed,
                Err(TryRecvError::Disconnected) => return failed + self.lost(),
            }
        }
    }

    /// Waits for the reply `until` says is the one; returns the records that failed. Once
    /// shutdown's `drain_timeout` has run out, it waits no more: the destination takes no
    /// bytes (a pipe nobody reads, a hung file system), and what is in flight is counted as
    /// failed ([`IoLane::abandon`]).
    fn wait(&mut self, until: fn(&Done) -> bool) -> u64 {
        let mut failed = 0;
        loop {
            match self.done.recv_timeout(DEADLINE_CHECK) {
                Ok(reply) => {
                    let (f, hit) = self.take(reply, until);
                    failed += f;
                    if hit {
                        return failed;
                    }
                }
                Err(RecvTimeoutError::Timeout) => {
                    if self.deadline.passed() {
                        return failed + self.abandon();
                    }
                }
                Err(RecvTimeoutError::Disconnected) => return failed + self.lost(),
            }
        }
    }

    /// Gives up on the I/O thread, stuck in a write past shutdown's deadline: its batches in
    /// flight are failures, and later ones are counted as failed without being handed over.
    #[cold]
    fn abandon(&mut self) -> u64 {
        if !self.abandoned {
            crate::error::report(format_args!(
                "kolog: a handler's destination took no bytes until drain_timeout ran out; its unwritten records are counted as failed"
            ));
        }
        self.abandoned = true;
        self.lost()
    }

    /// The I/O thread is gone (it cannot panic in normal operation): its batches in flight
    /// are failures.
    #[cold]
    fn lost(&mut self) -> u64 {
        let counted = &self.failed_shared;
        self.in_flight
            .drain(..)
            .map(|(n, shared)| newly_failed(counted, n as usize, n, &shared))
            .sum()
    }

    /// Hands a batch over, swapping in a spare buffer. Returns the records that failed (of
    /// this or earlier batches).
    fn send(
        &mut self,
        buf: &mut Vec<u8>,
        ends: &mut Vec<usize>,
        shared: &mut Vec<(u32, u64)>,
    ) -> u64 {
        let mut failed = 0;
        if self.in_flight.len() >= MAX_IN_FLIGHT {
            failed += self.wait(|d| matches!(d, Done::Wrote(..)));
        }
        if self.abandoned {
            let n = ends.len();
            let lost = newly_failed(&self.failed_shared, n, n as u64, shared);
            buf.clear();
            ends.clear();
            shared.clear();
            return failed + lost;
        }
        let (mut spare_buf, mut spare_ends) = self
            .spares
            .pop()
            .unwrap_or_else(|| (Vec::with_capacity(buf.capacity()), Vec::with_capacity(1024)));
        std::mem::swap(buf, &mut spare_buf);
        std::mem::swap(ends, &mut spare_ends);
        let n = spare_ends.len() as u64;
        let shared = std::mem::replace(shared, self.shared_spares.pop().unwrap_or_default());
        match self.jobs.send(Job::Write(spare_buf, spare_ends)) {
            Ok(()) => self.in_flight.push_back((n, shared)),
            Err(_) => failed += newly_failed(&self.failed_shared, n as usize, n, &shared),
        }
        failed + self.poll()
    }

    fn flush(&mut self) -> u64 {
        if self.abandoned {
            return 0;
        }
        if self.jobs.send(Job::Flush).is_err() {
            return self.lost();
        }
        self.wait(|d| matches!(d, Done::Flushed))
    }

    fn close(&mut self) -> u64 {
        if self.abandoned || self.jobs.send(Job::Close).is_err() {
            return self.lost();
        }
        let failed = self.wait(|d| matches!(d, Done::Closed));
        if !self.abandoned {
            if let Some(t) = self.thread.take() {
                let _ = t.join();
            }
        }
        failed
    }
}

/// What happened to one record in one handler.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    Buffered,
    Filtered,
    Failed,
}

impl Handler {
    pub(crate) fn new(
        label: String,
        chain: Chain,
        renderer: Renderer,
        writer: Box<dyn Writer>,
        deadline: Arc<DrainDeadline>,
        file: Option<crate::write::FileLease>,
    ) -> Handler {
        let io_thread = std::env::var_os("KOLOG_IO_THREAD").is_none_or(|v| v != "0");
        Handler::with_io_thread(label, chain, renderer, writer, deadline, file, io_thread)
    }

    /// [`Handler::new`], with an I/O thread for a writer that offloads its writes if
    /// `io_thread` (`KOLOG_IO_THREAD` decides for `new`).
    fn with_io_thread(
        label: String,
        chain: Chain,
        renderer: Renderer,
        writer: Box<dyn Writer>,
        deadline: Arc<DrainDeadline>,
        file: Option<crate::write::FileLease>,
        io_thread: bool,
    ) -> Handler {
        let discards = writer.discards();
        let threaded = writer.offload() && io_thread;
        let inline = |writer| Destination::Inline(writer, Failures::new(&label));
        let destination = if threaded {
            IoLane::spawn(&label, writer, deadline).map_or_else(inline, Destination::Thread)
        } else {
            inline(writer)
        };
        Handler {
            renderer,
            destination,
            buf: Vec::with_capacity(64 * 1024),
            ends: Vec::with_capacity(1024),
            discards,
            encodable: chain.is_static(),
            chain,
            label,
            shared: Vec::new(),
            failed_shared: SharedFailed::default(),
            file,
        }
    }

    /// Makes the handler count failures of records several handlers took in `counted`, the
    /// drainer's (see [`SharedFailed`]).
    pub(crate) fn count_shared_failures_in(&mut self, counted: &SharedFailed) {
        self.failed_shared = counted.clone();
        if let Destination::Thread(lane) = &mut self.destination {
            lane.failed_shared = counted.clone();
        }
    }

    /// The number of the oldest record other handlers took too that this handler has not
    /// finished writing (buffered, or in flight on its I/O thread).
    pub(crate) fn oldest_shared(&self) -> Option<u64> {
        let in_flight = match &self.destination {
            Destination::Thread(lane) => lane.in_flight.iter().find_map(|(_, s)| s.first()),
            Destination::Inline(..) => None,
        };
        in_flight.or(self.shared.first()).map(|&(_, number)| number)
    }

    /// Runs the chain and renders into the batch buffer. Returns the number of records that
    /// failed if the buffer had to be written mid-pass and the write failed.
    /// `shared`: the record's number when other handlers take it too.
    pub(crate) fn accept(
        &mut self,
        event: &mut EventDict<'_>,
        shared: Option<u64>,
    ) -> (Delivery, u64) {
        match self.chain.run(event) {
            Outcome::Keep => {}
            Outcome::Filtered => return (Delivery::Filtered, 0),
            Outcome::Panicked => {
                self.report_processor_panic();
                return (Delivery::Failed, 0);
            }
        }
        if self.discards {
            return (Delivery::Buffered, 0);
        }
        self.renderer.render(event, &mut self.buf);
        self.buffered(shared)
    }

    /// Whether plain events can be rendered for this handler straight from their encoded
    /// values ([`Handler::accept_encoded`]): a single-line JSON or a plain renderer (or a
    /// destination that discards), and no processors or only static ones.
    #[inline]
    pub(crate) fn takes_encoded(&mut self) -> bool {
        self.encodable
            && (self.discards
                || self.renderer.encoded_json().is_some()
                || self.renderer.plain().is_some())
    }

    /// Readies `template` for a record of `logger` at `level` to this handler (index `id`);
    /// false when the record must take the general path.
    #[inline]
    pub(crate) fn prepare_encoded(
        &mut self,
        template: &mut JsonTemplate,
        level: Level,
        logger: &LoggerJson<'_>,
        id: usize,
    ) -> bool {
        let chain = (!self.chain.is_empty()).then_some(&self.chain);
        match self.renderer.plain() {
            Some(plain) if !self.discards => {
                template.prepare_plain(level, logger, id, chain, plain)
            }
            _ => template.prepare(level, logger, id, chain),
        }
    }

    /// Renders a plain event straight from its encoded values (only when
    /// [`Handler::takes_encoded`]). `None` when the values need the general path.
    #[inline]
    /// `template` must have been prepared for this handler (`JsonTemplate::prepare` with
    /// `id`, this handler's index).
    pub(crate) fn accept_encoded(
        &mut self,
        id: usize,
        unix_nanos: u64,
        level: Level,
        template: &JsonTemplate,
        values: &[u8],
        shared: Option<u64>,
    ) -> Option<(Delivery, u64)> {
        if !self.chain.keeps_level(level) {
            return Some((Delivery::Filtered, 0));
        }
        if self.discards {
            return Some((Delivery::Buffered, 0));
        }
        let rendered = match &mut self.renderer {
            Renderer::Plain(plain) => {
                let line = template.plain_line(id)?;
                plain.render_encoded(&mut self.buf, unix_nanos, line, values)
            }
            Renderer::Json(json) => {
                json.render_encoded(&mut self.buf, unix_nanos, template, values, id)
            }
        };
        if !rendered {
            return None;
        }
        Some(self.buffered(shared))
    }

    /// Records the end of the record just rendered; writes mid-pass past the threshold.
    #[inline]
    fn buffered(&mut self, shared: Option<u64>) -> (Delivery, u64) {
        if let Some(number) = shared {
            self.shared.push((self.ends.len() as u32, number));
        }
        self.ends.push(self.buf.len());
        let threshold = match self.destination {
            Destination::Inline(..) => WRITE_THRESHOLD,
            Destination::Thread(_) => THREADED_WRITE_THRESHOLD,
        };
        let failed = if self.buf.len() >= threshold {
            self.write_batch()
        } else {
            0
        };
        (Delivery::Buffered, failed)
    }

    /// Renders for a sink instead of the destination (the chain runs as usual).
    pub(crate) fn render_for_sink(
        &mut self,
        event: &mut EventDict<'_>,
        out: &mut Vec<u8>,
    ) -> Outcome {
        let outcome = self.chain.run(event);
        if outcome == Outcome::Keep {
            self.renderer.render(event, out);
        } else if outcome == Outcome::Panicked {
            self.report_processor_panic();
        }
        outcome
    }

    /// Writes the buffered batch (or hands it to the I/O thread). Returns how many records
    /// failed: of this batch, or with an I/O thread, of batches handed over earlier.
    pub(crate) fn write_batch(&mut self) -> u64 {
        match &mut self.destination {
            Destination::Inline(writer, failures) => {
                if self.ends.is_empty() {
                    return 0;
                }
                let failed = failures.write(writer.as_mut(), &self.buf, &self.ends);
                let failed =
                    newly_failed(&self.failed_shared, self.ends.len(), failed, &self.shared);
                self.buf.clear();
                self.ends.clear();
                self.shared.clear();
                failed
            }
            Destination::Thread(lane) => {
                if self.ends.is_empty() {
                    return lane.poll();
                }
                lane.send(&mut self.buf, &mut self.ends, &mut self.shared)
            }
        }
    }

    /// Makes everything handed over so far visible at the destination. Returns how many
    /// records failed to write (with an I/O thread: batches collected now).
    pub(crate) fn flush(&mut self) -> u64 {
        match &mut self.destination {
            Destination::Inline(writer, failures) => {
                failures.flush(writer.as_mut());
                0
            }
            Destination::Thread(lane) => lane.flush(),
        }
    }

    /// How many records had failed before the destination came back, since the last call: the
    /// drainer then writes a WARNING about them there (DESIGN §4: a failure is reported
    /// through the next successful write).
    pub(crate) fn take_recovered(&mut self) -> u64 {
        match &mut self.destination {
            Destination::Inline(_, failures) => std::mem::take(&mut failures.recovered),
            Destination::Thread(lane) => std::mem::take(&mut lane.recovered),
        }
    }

    /// The handler's name in reports (its type and destination).
    pub(crate) fn label(&self) -> &str {
        &self.label
    }

    /// Writes what is buffered and releases the destination. Returns how many records failed.
    pub(crate) fn close(&mut self) -> u64 {
        let failed = self.write_batch();
        let failed = failed
            + match &mut self.destination {
                Destination::Inline(writer, failures) => {
                    failures.close(writer.as_mut());
                    0
                }
                Destination::Thread(lane) => lane.close(),
            };
        // The file is closed: a later factory may truncate it.
        self.file = None;
        failed
    }

    /// Closes the destination and drops the processors of a handler no route uses any more;
    /// it stays in the table (handlers are found by index) as a `null` one. Returns how many
    /// records failed to write.
    pub(crate) fn retire(&mut self) -> u64 {
        let failed = self.close();
        self.destination = Destination::Inline(
            Box::new(crate::write::NullWriter),
            Failures::new(&self.label),
        );
        self.discards = true;
        self.chain = Chain::default();
        self.encodable = true;
        self.buf = Vec::new();
        self.ends = Vec::new();
        failed
    }

    #[cold]
    fn report_processor_panic(&mut self) {
        crate::error::report(format_args!(
            "kolog: a processor of handler {} panicked; the record is counted as failed",
            self.label
        ));
    }
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use super::*;
    use crate::config::{RendererConfig, RendererKind};
    use crate::write::WriteError;

    /// Records what it is given; fails every batch whose first byte is `!`.
    struct Recording {
        lines: Arc<Mutex<Vec<u8>>>,
        flushes: Arc<Mutex<u32>>,
    }

    impl Writer for Recording {
        fn write(&mut self, buf: &[u8], _ends: &[usize]) -> Result<(), WriteError> {
            if buf.first() == Some(&b'!') {
                return Err(io::Error::other("refused").into());
            }
            self.lines.lock().unwrap().extend_from_slice(buf);
            Ok(())
        }
        fn flush(&mut self) -> io::Result<()> {
            *self.flushes.lock().unwrap() += 1;
            Ok(())
        }
        fn offload(&self) -> bool {
            true
        }
    }

    fn handler(lines: &Arc<Mutex<Vec<u8>>>, flushes: &Arc<Mutex<u32>>) -> Handler {
        let renderer =
            Renderer::build(&RendererConfig::new(RendererKind::FileJson), false).unwrap();
        let writer = Recording {
            lines: lines.clone(),
            flushes: flushes.clone(),
        };
        // With an I/O thread whatever `KOLOG_IO_THREAD` says: the tests here are about it.
        Handler::with_io_thread(
            "test[0]".into(),
            Chain::build(&[]).unwrap(),
            renderer,
            Box::new(writer),
            Arc::new(DrainDeadline::new(std::time::Duration::from_secs(5))),
            None,
            true,
        )
    }

    fn stage(h: &mut Handler, records: &[&[u8]]) {
        for r in records {
            h.buf.extend_from_slice(r);
            h.ends.push(h.buf.len());
        }
    }

    #[test]
    fn io_thread_writes_in_order_and_counts_every_failed_record() {
        let lines = Arc::new(Mutex::new(Vec::new()));
        let flushes = Arc::new(Mutex::new(0));
        let mut h = handler(&lines, &flushes);
        assert!(matches!(h.destination, Destination::Thread(_)));
        let mut failed = 0;
        let mut expected = Vec::new();
        for batch in 0..50u32 {
            if batch % 5 == 4 {
                // Three records the writer refuses.
                stage(&mut h, &[b"!a\n", b"b\n", b"c\n"]);
            } else {
                let line = format!("{batch}\n");
                expected.extend_from_slice(line.as_bytes());
                stage(&mut h, &[line.as_bytes()]);
            }
            failed += h.write_batch();
            // Never more than MAX_IN_FLIGHT batches away.
            if let Destination::Thread(lane) = &h.destination {
                assert!(lane.in_flight.len() <= MAX_IN_FLIGHT);
            }
        }
        failed += h.flush();
        assert_eq!(failed, 10 * 3);
        assert_eq!(*lines.lock().unwrap(), expected);
        assert_eq!(*flushes.lock().unwrap(), 1);
        stage(&mut h, &[b"last\n"]);
        assert_eq!(h.close(), 0);
        expected.extend_from_slice(b"last\n");
        assert_eq!(*lines.lock().unwrap(), expected);
        // close: Writer::close defaults to flush.
        assert_eq!(*flushes.lock().unwrap(), 2);
    }
}
