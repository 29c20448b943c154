//! The notMNIST archive reader (gzip + tar + PNG) on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tapegrad_fuzz_entry::notmnist_archive(data);
});
