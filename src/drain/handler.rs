//! A handler on the drainer: its processor chain, renderer, writer and reusable batch buffer.

use std::io;

use crate::process::{Chain, Outcome};
use crate::render::{JsonTemplate, Renderer};
use crate::write::Writer;
use crate::{EventDict, Level};

/// Bytes buffered before a handler writes mid-pass.
const WRITE_THRESHOLD: usize = 1 << 20;

pub(crate) struct Handler {
    /// For messages: `<logger>[<index>]` and the handler type.
    pub label: String,
    pub chain: Chain,
    pub renderer: Renderer,
    writer: Box<dyn Writer>,
    buf: Vec<u8>,
    ends: Vec<usize>,
    /// Records that failed to write since the last success (one report per burst).
    failing: u64,
    /// The destination throws records away: they are not rendered.
    discards: bool,
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
    ) -> Handler {
        Handler {
            label,
            chain,
            renderer,
            discards: writer.discards(),
            writer,
            buf: Vec::with_capacity(64 * 1024),
            ends: Vec::with_capacity(1024),
            failing: 0,
        }
    }

    /// Runs the chain and renders into the batch buffer. Returns the number of records that
    /// failed if the buffer had to be written mid-pass and the write failed.
    pub(crate) fn accept(&mut self, event: &mut EventDict<'_>) -> (Delivery, u64) {
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
        self.buffered()
    }

    /// Whether plain events reach this handler unchanged and can be rendered straight from
    /// their encoded values ([`Handler::accept_encoded`]).
    #[inline]
    pub(crate) fn takes_encoded(&mut self) -> bool {
        self.chain.is_empty() && (self.discards || self.renderer.encoded_json().is_some())
    }

    /// Renders a plain event straight from its encoded values (only when
    /// [`Handler::takes_encoded`]). `None` when the values need the general path.
    #[inline]
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn accept_encoded(
        &mut self,
        unix_nanos: u64,
        level: Level,
        logger_id: u64,
        logger: &[u8],
        template: &mut JsonTemplate,
        values: &[u8],
    ) -> Option<(Delivery, u64)> {
        if self.discards {
            return Some((Delivery::Buffered, 0));
        }
        let json = self.renderer.encoded_json()?;
        if !json.render_encoded(
            &mut self.buf,
            unix_nanos,
            level,
            logger_id,
            logger,
            template,
            values,
        ) {
            return None;
        }
        Some(self.buffered())
    }

    /// Records the end of the record just rendered; writes mid-pass past the threshold.
    #[inline]
    fn buffered(&mut self) -> (Delivery, u64) {
        self.ends.push(self.buf.len());
        let failed = if self.buf.len() >= WRITE_THRESHOLD {
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

    /// Writes the buffered batch. Returns how many records failed.
    pub(crate) fn write_batch(&mut self) -> u64 {
        if self.ends.is_empty() {
            return 0;
        }
        let n = self.ends.len() as u64;
        let result = self.writer.write(&self.buf, &self.ends);
        self.buf.clear();
        self.ends.clear();
        match result {
            Ok(()) => {
                if self.failing > 0 {
                    eprintln!(
                        "kolog: handler {} recovered after {} failed records",
                        self.label, self.failing
                    );
                    self.failing = 0;
                }
                0
            }
            Err(e) => {
                self.report_write_error(&e, n);
                n
            }
        }
    }

    pub(crate) fn flush(&mut self) {
        if let Err(e) = self.writer.flush() {
            self.report_write_error(&e, 0);
        }
    }

    pub(crate) fn close(&mut self) -> u64 {
        let failed = self.write_batch();
        if let Err(e) = self.writer.close() {
            self.report_write_error(&e, 0);
        }
        failed
    }

    #[cold]
    fn report_write_error(&mut self, e: &io::Error, records: u64) {
        if self.failing == 0 {
            eprintln!(
                "kolog: handler {} failed to write {records} records: {e} (further failures are counted in stats().failed until it recovers)",
                self.label
            );
        }
        self.failing += records.max(1);
    }

    #[cold]
    fn report_processor_panic(&mut self) {
        eprintln!(
            "kolog: a processor of handler {} panicked; the record is counted as failed",
            self.label
        );
    }
}
