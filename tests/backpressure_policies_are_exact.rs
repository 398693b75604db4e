//! The three backpressure policies, with a deliberately slow handler: `block` loses nothing
//! and never blocks an executor thread, `drop` and `drop_oldest` count exactly what they
//! discard.
mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use kolog::config::{
    HandlerConfig, HandlerKind, LoggerConfig, ProcessorConfig, RendererConfig, RendererKind,
};
use kolog::process::Action;
use kolog::{
    ainfo, info, BackpressurePolicy, Kolog, Level, LoggingSystemConfig, QueueConfig, Sink,
};

/// A processor that busy-waits `spin_ns` per record.
fn register_slow() {
    kolog::register_processor("test_slow", |params| {
        let ns = params["spin_ns"].as_u64().unwrap_or(1000);
        Ok(Box::new(move |_: &mut kolog::EventDict<'_>| {
            let t = Instant::now();
            while t.elapsed() < Duration::from_nanos(ns) {
                std::hint::spin_loop();
            }
            Action::Keep
        }))
    });
}

/// A gate: the processor blocks on records whose event is "gate" until opened.
struct Gate {
    open: Mutex<bool>,
    cond: Condvar,
    entered: AtomicBool,
}

static GATE: Gate = Gate {
    open: Mutex::new(false),
    cond: Condvar::new(),
    entered: AtomicBool::new(false),
};

fn register_gate() {
    kolog::register_processor("test_gate", |_| {
        Ok(Box::new(|ev: &mut kolog::EventDict<'_>| {
            if ev.event == "gate" {
                GATE.entered.store(true, Ordering::SeqCst);
                let mut open = GATE.open.lock().unwrap();
                while !*open {
                    open = GATE.cond.wait(open).unwrap();
                }
            }
            Action::Keep
        }))
    });
}

fn open_gate() {
    *GATE.open.lock().unwrap() = true;
    GATE.cond.notify_all();
}

fn system(
    policy: BackpressurePolicy,
    max_queue_size: usize,
    processor: ProcessorConfig,
) -> LoggingSystemConfig {
    LoggingSystemConfig {
        loggers: vec![LoggerConfig {
            name: "root".into(),
            level: Some(Level::Info),
            handlers: vec![HandlerConfig {
                kind: HandlerKind::Null,
                renderer: RendererConfig::new(RendererKind::StreamPlain),
                processors: vec![processor],
            }],
            context: Default::default(),
        }],
        default_level: Level::Info,
        queue: QueueConfig {
            max_queue_size,
            backpressure_policy: policy,
            drain_timeout: Duration::from_secs(30),
        },
    }
}

fn slow(spin_ns: u64) -> ProcessorConfig {
    register_slow();
    ProcessorConfig::Custom {
        name: "test_slow".into(),
        params: serde_json::json!({ "spin_ns": spin_ns }),
    }
}

/// Checks that the sink holds exactly `per_producer` records from each producer, in order.
fn assert_all_in_order(sink: &Sink, producers: u64, per_producer: u64) {
    let mut next = vec![0u64; producers as usize];
    for r in sink.records() {
        let p = r.get("p").unwrap().as_u64().unwrap() as usize;
        let i = r.get("i").unwrap().as_u64().unwrap();
        assert_eq!(i, next[p], "producer {p} out of order");
        next[p] += 1;
    }
    assert!(next.iter().all(|&n| n == per_producer), "{next:?}");
}

#[test]
fn block_with_tokio_multi_thread_and_sync_threads_loses_nothing_and_never_blocks_the_executor() {
    let k = Kolog::from_config(system(BackpressurePolicy::Block, 64, slow(1_000))).unwrap();
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    let log = k.logger("svc").unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .enable_time()
        .build()
        .unwrap();
    let ticks = Arc::new(AtomicU64::new(0));
    let done = Arc::new(AtomicBool::new(false));
    let started = Instant::now();
    rt.block_on(async {
        let timer = {
            let (ticks, done) = (ticks.clone(), done.clone());
            tokio::spawn(async move {
                let mut iv = tokio::time::interval(Duration::from_millis(2));
                while !done.load(Ordering::Relaxed) {
                    iv.tick().await;
                    ticks.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let sync: Vec<_> = (4..6u64)
            .map(|p| {
                let log = log.clone();
                std::thread::spawn(move || {
                    for i in 0..50_000u64 {
                        info!(log, "sync", p, i);
                    }
                })
            })
            .collect();
        let tasks: Vec<_> = (0..4u64)
            .map(|p| {
                let log = log.clone();
                tokio::spawn(async move {
                    for i in 0..50_000u64 {
                        ainfo!(log, "async", p, i).await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        for t in sync {
            t.join().unwrap();
        }
        done.store(true, Ordering::Relaxed);
        timer.await.unwrap();
    });
    let elapsed = started.elapsed();
    k.flush();
    let stats = k.stats();
    assert_eq!(stats.enqueued, 300_000);
    assert_eq!(stats.written, 300_000);
    assert_eq!(stats.dropped, 0);
    assert_all_in_order(&sink, 6, 50_000);
    // 300,000 records at >= 1 us each keep producers waiting for >= 300 ms; the timer task on
    // the same runtime kept ticking every 2 ms meanwhile.
    let ticks = ticks.load(Ordering::Relaxed);
    assert!(elapsed >= Duration::from_millis(300));
    assert!(
        ticks as u128 >= elapsed.as_millis() / 8,
        "timer starved: {ticks} ticks in {elapsed:?}"
    );
}

#[test]
fn block_with_tokio_current_thread_loses_nothing() {
    let k = Kolog::from_config(system(BackpressurePolicy::Block, 32, slow(2_000))).unwrap();
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    let log = k.logger("svc").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let ticks = Arc::new(AtomicU64::new(0));
    rt.block_on(async {
        let done = Arc::new(AtomicBool::new(false));
        let timer = {
            let (ticks, done) = (ticks.clone(), done.clone());
            tokio::spawn(async move {
                while !done.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                    ticks.fetch_add(1, Ordering::Relaxed);
                }
            })
        };
        let tasks: Vec<_> = (0..4u64)
            .map(|p| {
                let log = log.clone();
                tokio::spawn(async move {
                    for i in 0..10_000u64 {
                        ainfo!(log, "async", p, i).await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap();
        }
        done.store(true, Ordering::Relaxed);
        timer.await.unwrap();
    });
    k.flush();
    assert_eq!(k.stats().written, 40_000);
    assert_eq!(k.stats().dropped, 0);
    assert_all_in_order(&sink, 4, 10_000);
    assert!(
        ticks.load(Ordering::Relaxed) >= 10,
        "the single executor thread kept running the timer"
    );
}

/// A minimal executor: polls every unfinished task when woken, parks otherwise.
struct ThreadWaker {
    thread: std::thread::Thread,
    woken: AtomicBool,
    wakes: AtomicU64,
}

impl Wake for ThreadWaker {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wakes.fetch_add(1, Ordering::Relaxed);
        self.woken.store(true, Ordering::Release);
        self.thread.unpark();
    }
}

fn run_all(mut tasks: Vec<Pin<Box<dyn Future<Output = ()>>>>) -> u64 {
    let w = Arc::new(ThreadWaker {
        thread: std::thread::current(),
        woken: AtomicBool::new(true),
        wakes: AtomicU64::new(0),
    });
    let waker = Waker::from(w.clone());
    let mut cx = Context::from_waker(&waker);
    while !tasks.is_empty() {
        if !w.woken.swap(false, Ordering::Acquire) {
            // park may return early (a token left by an earlier unpark): wait for the flag.
            let deadline = Instant::now() + Duration::from_secs(5);
            while !w.woken.load(Ordering::Acquire) {
                assert!(
                    Instant::now() < deadline,
                    "no wake-up within 5 s: a lost wake-up"
                );
                std::thread::park_timeout(Duration::from_millis(100));
            }
            continue;
        }
        tasks.retain_mut(|t| t.as_mut().poll(&mut cx) == Poll::Pending);
    }
    w.wakes.load(Ordering::Relaxed)
}

#[test]
fn block_with_a_hand_written_executor_wakes_through_the_waker() {
    let k = Kolog::from_config(system(BackpressurePolicy::Block, 32, slow(2_000))).unwrap();
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    let log = k.logger("svc").unwrap();
    let tasks: Vec<Pin<Box<dyn Future<Output = ()>>>> = (0..3u64)
        .map(|p| {
            let log = log.clone();
            Box::pin(async move {
                for i in 0..5_000u64 {
                    ainfo!(log, "async", p, i).await;
                }
            }) as Pin<Box<dyn Future<Output = ()>>>
        })
        .collect();
    let wakes = run_all(tasks);
    k.flush();
    assert_eq!(k.stats().written, 15_000);
    assert_all_in_order(&sink, 3, 5_000);
    assert!(
        wakes > 0,
        "the ring filled up, so futures waited and were woken"
    );
}

#[test]
fn drop_policy_accounts_for_every_record() {
    let k = Kolog::from_config(system(BackpressurePolicy::Drop, 16, slow(5_000))).unwrap();
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    let log = k.logger("svc").unwrap();
    let threads: Vec<_> = (0..4u64)
        .map(|p| {
            let log = log.clone();
            std::thread::spawn(move || {
                for i in 0..20_000u64 {
                    info!(log, "r", p, i);
                }
            })
        })
        .collect();
    for t in threads {
        t.join().unwrap();
    }
    k.flush();
    let s = k.stats();
    assert!(
        s.dropped_full > 0,
        "a 2 KiB ring and a slow handler must drop"
    );
    assert_eq!(s.written + s.dropped, 80_000);
    assert_eq!(s.dropped, s.dropped_full);
    assert_eq!(s.enqueued, s.written);
    // Per producer: the survivors are in order, and survivors + drops == attempts in total.
    let mut last = [None::<u64>; 4];
    let records: Vec<_> = sink
        .records()
        .into_iter()
        .filter(|r| r.get("logger").unwrap() != "kolog")
        .collect();
    for r in &records {
        let p = r.get("p").unwrap().as_u64().unwrap() as usize;
        let i = r.get("i").unwrap().as_u64().unwrap();
        assert!(last[p].is_none_or(|l| l < i));
        last[p] = Some(i);
    }
    assert_eq!(records.len() as u64, s.written);
}

#[test]
fn drops_are_reported_by_the_kolog_logger() {
    let k = Kolog::from_config(system(BackpressurePolicy::Drop, 16, slow(20_000))).unwrap();
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    let log = k.logger("svc").unwrap();
    for i in 0..2_000u64 {
        info!(log, "r", i);
    }
    let dropped = k.stats().dropped;
    assert!(dropped > 0);
    std::thread::sleep(Duration::from_millis(1300));
    k.flush();
    let reports: Vec<_> = sink
        .records()
        .into_iter()
        .filter(|r| r.get("logger").unwrap() == "kolog")
        .collect();
    assert_eq!(reports.len(), 1, "one report per interval with drops");
    let r = &reports[0];
    assert_eq!(r.get("level").unwrap(), "WARNING");
    assert_eq!(r.get("dropped").unwrap().as_u64().unwrap(), dropped);
    let event = r.get("event").unwrap().as_str().unwrap();
    assert!(
        event.starts_with(&format!("dropped {dropped} records since 20")) && event.ends_with('Z'),
        "{event}"
    );
}

#[test]
fn drop_oldest_keeps_exactly_the_newest_records_in_order() {
    register_gate();
    let gate = ProcessorConfig::Custom {
        name: "test_gate".into(),
        params: serde_json::json!({}),
    };
    // 32 records of typical size: a 4 KiB ring.
    let k = Kolog::from_config(system(BackpressurePolicy::DropOldest, 32, gate)).unwrap();
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    let log = k.logger("svc").unwrap();
    info!(log, "gate");
    while !GATE.entered.load(Ordering::SeqCst) {
        std::thread::yield_now();
    }
    // The drainer is held inside the gate record; nothing else is consumed meanwhile.
    for i in 0..10_000u64 {
        info!(log, "r", i);
    }
    let dropped = k.stats().dropped_oldest;
    open_gate();
    k.flush();
    let records = sink.records();
    assert_eq!(records[0].get("event").unwrap(), "gate");
    let survivors: Vec<u64> = records[1..]
        .iter()
        .map(|r| r.get("i").unwrap().as_u64().unwrap())
        .collect();
    assert!(!survivors.is_empty());
    let first = 10_000 - survivors.len() as u64;
    assert_eq!(
        survivors,
        (first..10_000).collect::<Vec<_>>(),
        "the newest, contiguous, in order"
    );
    assert_eq!(dropped, first, "every discarded record is counted");
    let s = k.stats();
    assert_eq!(s.dropped, first);
    assert_eq!(s.written, 1 + survivors.len() as u64);
}

#[test]
fn ainfo_life_times_the_future_and_returns_its_output() {
    let k = Kolog::from_config(system(BackpressurePolicy::Block, 1000, slow(0))).unwrap();
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    let log = k.logger("svc").unwrap();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    let out = rt.block_on(log.ainfo_life("API call", async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        42
    }));
    assert_eq!(out, 42);
    k.flush();
    let ev: Vec<String> = sink
        .records()
        .iter()
        .map(|r| r.get("event").unwrap().as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ev.len(), 2);
    assert_eq!(ev[0], "Begin: API call");
    assert!(
        ev[1].starts_with("End (0.1") && ev[1].ends_with("): API call"),
        "{}",
        ev[1]
    );
}

#[test]
fn a_dropped_pending_future_leaves_no_half_record() {
    let k = Kolog::from_config(system(BackpressurePolicy::Block, 1, slow(200_000))).unwrap();
    let sink = Sink::new();
    k.queue_manager().add_sink("root", sink.clone());
    let log = k.logger("svc").unwrap();
    let w = Arc::new(ThreadWaker {
        thread: std::thread::current(),
        woken: AtomicBool::new(false),
        wakes: AtomicU64::new(0),
    });
    let waker = Waker::from(w);
    let mut cx = Context::from_waker(&waker);
    // Fill the 4 KiB ring until a future has to wait, then cancel that one.
    let mut completed = 0u64;
    let mut cancelled = false;
    for i in 0..10_000u64 {
        let mut f = ainfo!(
            log,
            "r",
            i,
            pad = "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
        );
        if Pin::new(&mut f).poll(&mut cx).is_ready() {
            completed += 1;
        } else {
            drop(f);
            cancelled = true;
            break;
        }
    }
    assert!(cancelled, "the ring must fill up");
    k.flush();
    let s = k.stats();
    assert_eq!(s.enqueued, completed);
    assert_eq!(s.written, completed);
    assert_eq!(s.failed, 0);
    assert_eq!(sink.len() as u64, completed);
}
