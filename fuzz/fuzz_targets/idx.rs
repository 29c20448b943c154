//! The IDX reader on arbitrary bytes: from memory, from a stream (raw or gzip), and from a
//! file (where the gzip trailer's size hint is used).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tapegrad_fuzz_entry::idx(data);
});
