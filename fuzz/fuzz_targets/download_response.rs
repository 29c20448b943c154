//! The download's handling of an HTTP response: status, lengths, ranges, cut bodies, a full
//! disk, and the verification of the gzip file that arrives.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tapegrad_fuzz_entry::download_response(data);
});
