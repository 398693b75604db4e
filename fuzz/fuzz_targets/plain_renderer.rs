#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| kolog::__fuzz::plain_renderer(data));
