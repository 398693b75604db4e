//! The floor to beat: serialise the record with serde_json into a `BufWriter<File>` on the
//! caller's own thread (a mutex around it for several producers), no queue, no second thread.

use std::fs::File;
use std::hint::black_box;
use std::io::{BufWriter, Write};
use std::path::Path;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;

use super::{Options, Peer, IP, LATENCY_MS};

/// One line: a timestamp (µs since the epoch), level, logger, event and the three fields.
#[derive(Serialize)]
struct Line<'a> {
    timestamp: u64,
    level: &'a str,
    logger: &'a str,
    event: &'a str,
    user_id: u64,
    ip: &'a str,
    latency_ms: f64,
}

pub struct BaselinePeer {
    out: Mutex<BufWriter<File>>,
}

impl Peer for BaselinePeer {
    fn start(file: &Path, _: &Options) -> BaselinePeer {
        let file = File::create(file).expect("create log file");
        BaselinePeer {
            out: Mutex::new(BufWriter::new(file)),
        }
    }

    #[inline(always)]
    fn log(&self, i: u64) {
        let timestamp = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_micros() as u64);
        let line = Line {
            timestamp,
            level: "INFO",
            logger: "root",
            event: "request handled",
            user_id: black_box(i),
            ip: black_box(IP),
            latency_ms: black_box(LATENCY_MS),
        };
        let mut out = self.out.lock().expect("baseline writer");
        serde_json::to_writer(&mut *out, &line).expect("serialise");
        out.write_all(b"\n").expect("write");
    }

    fn finish(self) -> Option<u64> {
        let mut out = self.out.into_inner().expect("baseline writer");
        out.flush().expect("flush");
        None
    }
}
