//! Runs every fuzz target's function over its committed corpus (`fuzz/corpus/<target>/`), plus
//! a few thousand deterministic pseudo-random inputs, so `cargo test` exercises the fuzz
//! properties on stable. The long runs use `cargo +nightly fuzz run <target>` (see README).

use std::path::Path;

type Target = fn(&[u8]);

const TARGETS: [(&str, Target); 4] = [
    ("json_renderer", kolog::__fuzz::json_renderer),
    ("plain_renderer", kolog::__fuzz::plain_renderer),
    ("config", kolog::__fuzz::config),
    ("record_decoder", kolog::__fuzz::record_decoder),
];

#[test]
fn every_target_passes_its_corpus() {
    for (name, target) in TARGETS {
        let dir = Path::new("fuzz/corpus").join(name);
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
            let path = entry.unwrap().path();
            if path.is_file() {
                target(&std::fs::read(&path).unwrap());
                n += 1;
            }
        }
        assert!(n >= 3, "{name}: corpus has {n} inputs");
    }
}

#[test]
fn every_target_survives_pseudo_random_inputs() {
    let mut state = 0x2545_F491_4F6C_DD1Du64;
    let mut next = || {
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for (_, target) in TARGETS {
        for _ in 0..2_000 {
            let len = (next() % 200) as usize;
            let data: Vec<u8> = (0..len).map(|_| next() as u8).collect();
            target(&data);
        }
    }
}
