//! libFuzzer target: every reading entry point of pdf-sign on arbitrary bytes.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    pdf_sign_fuzz::run(data);
});
