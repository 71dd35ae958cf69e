#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    xskfwd_fuzz::l3(data);
});
