//! AFL++ target: every reading entry point of pdf-sign on arbitrary bytes.

fn main() {
    // Make the key before the fork server starts, not once per child.
    pdf_sign_fuzz::keys();
    afl::fuzz!(|data: &[u8]| {
        pdf_sign_fuzz::run(data);
    });
}
