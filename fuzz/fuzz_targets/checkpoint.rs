//! The safetensors weights and checkpoint loaders on arbitrary bytes.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tapegrad_fuzz_entry::checkpoint(data);
});
