//! Real Kubernetes inputs (seeded from every case file) under structured
//! mutations (`portcullis_fuzz::mutate`), through the generic JSON entry.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    if let Some(input) = portcullis_fuzz::mutate::mutated(data) {
        portcullis_fuzz::check_evaluate(&input);
    }
});
