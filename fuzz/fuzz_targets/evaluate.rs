//! The generic JSON entry on arbitrary bytes: `evaluate_to_json`,
//! `evaluate_bytes` and the `PolicyCache` entry, with every invariant of
//! `portcullis_fuzz::check_evaluate`.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| portcullis_fuzz::check_evaluate(data));
