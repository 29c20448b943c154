//! Safetensors weights, arbitrary or well-formed with other names, shapes and element types,
//! loaded into a small model of Dense layers.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    tapegrad_fuzz_entry::weights(data);
});
